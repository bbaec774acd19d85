"""One vocabulary: every key has its words, and a status is named in one place only."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from elinkctl.domain import glossary, lifecycle
from elinkctl.domain.glossary import Term, en, zh
from elinkctl.domain.model import (
    ROLES,
    SOURCES,
    Grade,
    IncidentType,
    Priority,
    Status,
    Tier,
)
from elinkctl.notify.message import Kind

SRC = Path(__file__).resolve().parents[1] / "src" / "elinkctl"

# Events that record facts rather than move the process (not in lifecycle.ALLOWED).
FACT_EVENTS = (
    "created",
    "commented",
    "complained",
    "edited",
    "escalation",
    "sla_warning",
    "sla_breach",
    "superseded",
    "alert",
)


@pytest.mark.parametrize(
    ("vocabulary", "keys"),
    [
        (glossary.STATUSES, list(Status)),
        (glossary.INCIDENT_TYPES, list(IncidentType)),
        (glossary.PRIORITIES, list(Priority)),
        (glossary.ROLES, list(Tier)),
        (glossary.ROLES, ROLES),
        (glossary.GRADES, list(Grade)),
        (glossary.SOURCES, SOURCES),
        (glossary.CLOCKS, ("response", "resolution")),
        (glossary.EVENTS, (*lifecycle.ALLOWED, *FACT_EVENTS)),
        (glossary.NOTIFICATIONS, list(Kind)),
    ],
)
def test_every_key_has_both_labels(vocabulary: Mapping[str, Term], keys: Iterable[str]) -> None:
    for key in keys:
        assert key in vocabulary, key
        assert vocabulary[key].zh.strip() and vocabulary[key].en.strip(), key


@pytest.mark.parametrize(
    "vocabulary",
    [glossary.STATUSES, glossary.INCIDENT_TYPES, glossary.ROLES, glossary.SOURCES],
)
def test_a_word_names_one_key(vocabulary: Mapping[str, Term]) -> None:
    words = [term.zh for term in vocabulary.values()]
    assert len(words) == len(set(words))


def test_the_procedures_words_where_copies_disagreed() -> None:
    assert zh(glossary.STATUSES, Status.REJECTED) == "已退回"
    assert zh(glossary.STATUSES, Status.PM_REVIEW) == "待项目经理审核"
    assert zh(glossary.STATUSES, Status.REDIRECTED) == "已转其他流程"
    assert zh(glossary.EVENTS, "rejected") == "退回"


def test_lookup_by_plain_string_or_enum_and_unknown_keys_read_as_themselves() -> None:
    assert zh(glossary.STATUSES, "in_progress") == zh(glossary.STATUSES, Status.IN_PROGRESS)
    assert zh(glossary.ROLES, Tier.L2) == "二线支持团队"
    assert en(glossary.EVENTS, "transferred") == "to PM"
    assert zh(glossary.ROLES, "auditor") == "auditor"
    assert zh(glossary.ROLES, None) == "None"
    assert zh(glossary.INCIDENT_TYPES, "other", "") == ""


def _string_literals(path: Path) -> Iterable[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


# Not our labels: words that monitoring systems send, parsed as input.
# A reporter's reply is read for the words people write back ("已解决"); a
# query's request words (新建 "create") are search vocabulary, not the state.
FOREIGN = {
    ("ingest/alertmodel.py", "已解决"),
    ("domain/replies.py", "已解决"),
    ("kb/dictionary.py", "新建"),
}


def test_each_status_label_is_defined_once() -> None:
    """`grep` finds each Chinese state label in the glossary only: a module
    that needs one looks it up, so a word cannot drift apart again."""
    labels = {term.zh for term in glossary.STATUSES.values()}
    found = []
    foreign_seen = set()
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel == "domain/glossary.py":
            continue
        for line, text in _string_literals(path):
            if (rel, text) in FOREIGN:
                foreign_seen.add((rel, text))
            elif text in labels:
                found.append(f"{rel}:{line}: {text}")
    assert not found, "status labels defined outside domain/glossary.py:\n" + "\n".join(found)
    assert foreign_seen == FOREIGN, "an exception that no longer exists: drop it"


def test_the_walk_sees_the_source_tree() -> None:
    assert (SRC / "domain" / "glossary.py").is_file()
    assert sum(1 for _ in SRC.rglob("*.py")) > 20
