"""`verify OLD..NEW`: check every commit of a pushed range against the rules.

Runs where the commits arrive — the shared remote's ``pre-receive`` hook
(a bare repository, the pushed objects still in quarantine) or a CI job —
so it reads git only, never a work tree. The cost is a few git processes
for the whole range, whatever the size of the store:

1. ``git rev-list --topo-order --reverse --parents`` with each commit's
   author and dates (parents before children);
2. one ``git diff-tree --stdin --always -r -z`` for every (commit, parent)
   pair: the changed paths with the blob IDs on both sides, so no tree is
   ever walked;
3. ``git merge-base`` per merge commit (for the merge driver's base);
4. one ``git cat-file --batch`` for every blob needed: the changed files,
   each commit's escalation.yaml, the merge bases' versions.

The rules themselves are `elinkctl.domain.verify`. An ID collision repaired
by `sync` spans two commits — the merge keeps the earlier incident at the
path, the next commit re-adds the other under a new ID — so displaced
incidents are carried along the range and their events, found again in
the new file, are history, not new steps; one never found again is a
finding.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

from elinkctl.domain import verify as rules
from elinkctl.domain.layout import KNOWLEDGE
from elinkctl.domain.model import Ticket
from elinkctl.errors import StoreError, UsageProblem
from elinkctl.store.gitrepo import Git
from elinkctl.store.trees import parse_batch

ESCALATION = "escalation.yaml"
STAGED = "staged"
"""The ``commit`` of a finding about what is staged (``verify --staged``)."""
_ZERO = frozenset("0")


@dataclasses.dataclass
class VerifyReport:
    """``verify --json``: how many commits were checked, and what is wrong."""

    commits: int = 0
    findings: list[rules.Finding] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, Any]:
        return {"commits": self.commits, "findings": [f.to_json() for f in self.findings]}


@dataclasses.dataclass(frozen=True)
class _Change:
    """One path of a commit compared with one parent: blob IDs (None: absent)."""

    path: str
    old: str | None
    new: str | None


@dataclasses.dataclass
class _Displaced:
    """An incident a merge's ID collision took out of ``path``, not yet seen again."""

    commit: str
    path: str
    ticket: Ticket


def _relevant(path: str) -> bool:
    return (
        rules.is_ticket_path(path)
        or rules.is_rule_path(path)
        or (path.startswith(f"{KNOWLEDGE}/") and path.endswith(".md"))
    )


def _is_zero(rev: str) -> bool:
    return bool(rev) and set(rev) <= _ZERO


def parse_range(spec: str) -> tuple[str | None, str]:
    """``OLD..NEW`` → (OLD or None for an all-zero ID, NEW)."""
    old, sep, new = spec.partition("..")
    if not sep or not old or not new or new.startswith("."):
        raise UsageProblem(f"{spec!r}: give a range OLD..NEW (as a pre-receive hook gets it)")
    return (None if _is_zero(old) else old), new


def verify_range(git: Git, spec: str, *, require_signed: bool = False) -> VerifyReport:
    """Check every commit of ``spec`` (``OLD..NEW``; an all-zero OLD: all of NEW's history)."""
    old, new = parse_range(spec)
    if _is_zero(new):
        return VerifyReport()  # a deleted branch: nothing arrives
    commits = _commits(git, old, new)
    report = VerifyReport(commits=len(commits))
    if not commits:
        return report
    changes = _changes(git, commits)
    bases = {c.id: _merge_base(git, c) for c in commits if len(c.parents) == 2}
    blobs = _read_blobs(git, _names(commits, changes, bases))
    in_range = {c.id for c in commits}
    escalation: dict[str, str | None] = {}  # commit -> the name of its escalation.yaml blob
    policies: dict[str | None, rules.Policy] = {}

    def policy(name: str | None) -> rules.Policy:
        if name not in policies:
            policies[name] = rules.Policy.from_text(blobs.get(name) if name else None)
        return policies[name]

    displaced: dict[str, _Displaced] = {}
    for commit in commits:
        per_parent = changes[commit.id]
        escalation[commit.id] = _escalation_name(commit, per_parent, escalation, in_range)
        before = _parent_escalation(commit, escalation, in_range)
        report.findings.extend(
            _check_commit(
                commit,
                per_parent,
                blobs,
                bases.get(commit.id),
                policy(escalation[commit.id]),
                policy(before),
                displaced,
            )
        )
        if require_signed:
            report.findings.extend(_signature(git, commit))
    for gone in displaced.values():
        report.findings.append(
            rules.Finding(
                gone.commit,
                gone.path,
                rules.APPEND_ONLY,
                f"incident {gone.ticket.id} ({gone.ticket.title}) lost its file to an ID "
                "collision in this merge and is not re-added under a new ID in this push "
                "(run elinkctl sync, which repairs it)",
            )
        )
    return report


def verify_staged(git: Git, now: dt.datetime) -> VerifyReport:
    """The staged changes, checked as the server will check the commit they
    become (by git's author, at ``now``): for a pre-commit hook. During a
    merge, against both sides, as a merge."""
    parents = [rev for rev in (_rev(git, "HEAD"), _rev(git, "MERGE_HEAD")) if rev]
    trees = parents or [
        git.run_bytes("hash-object", "-t", "tree", "--stdin", stdin=b"").decode().strip()
    ]
    per_parent = [
        _parse_raw(git.run_bytes("diff-index", "--cached", "-r", "-z", "--no-renames", tree),
                   headers=False)[0]
        for tree in trees
    ]  # fmt: skip
    ident = git.run_bytes("var", "GIT_AUTHOR_IDENT").decode("utf-8", "replace")
    commit = rules.Commit(STAGED, ident.split(" <", 1)[0].strip(), now, tuple(parents))
    base = _merge_base(git, commit) if len(parents) == 2 else None
    names = {f":{ESCALATION}": None}
    if parents:
        names[f"{parents[0]}:{ESCALATION}"] = None
    for block in per_parent:
        for change in block:
            names.update({oid: None for oid in (change.old, change.new) if oid})
    if base:
        names.update({f"{base}:{path}": None for path, _, _ in _merge_paths(per_parent)})
    blobs = _read_blobs(git, list(names))
    policy = rules.Policy.from_text(blobs.get(f":{ESCALATION}"))
    owners = rules.Policy.from_text(blobs.get(f"{parents[0]}:{ESCALATION}") if parents else None)
    report = VerifyReport(commits=1)
    report.findings = _check_commit(commit, per_parent, blobs, base, policy, owners, {})
    return report


def _rev(git: Git, name: str) -> str | None:
    try:
        out = git.run_bytes("rev-parse", "--verify", "--quiet", f"{name}^{{commit}}")
    except StoreError:
        return None
    return out.decode().strip() or None


# --- reading git ------------------------------------------------------------------------


def _commits(git: Git, old: str | None, new: str) -> list[rules.Commit]:
    for rev in (new, old):
        if rev is not None:
            try:
                git.run_bytes("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
            except StoreError:
                raise UsageProblem(f"{rev}: not a commit in this repository") from None
    revs = [new] if old is None else [new, f"^{old}"]
    out = git.run_bytes(
        "rev-list", "--topo-order", "--reverse", "--parents", "--format=%an%x00%cI", *revs, "--"
    ).decode("utf-8", "replace")
    lines = out.split("\n")
    commits: list[rules.Commit] = []
    for header, meta in zip(lines[0::2], lines[1::2], strict=False):
        if not header.startswith("commit "):
            continue
        ids = header[len("commit ") :].split()
        author, _, date = meta.partition("\0")
        when = dt.datetime.fromisoformat(date.strip())
        commits.append(rules.Commit(ids[0], author, when, tuple(ids[1:])))
    return commits


def _changes(git: Git, commits: Sequence[rules.Commit]) -> dict[str, list[list[_Change]]]:
    """Per commit, per parent (one empty-parent list for a root): the relevant changes."""
    lines: list[str] = []
    for c in commits:
        lines.extend([f"{c.id} {p}" for p in c.parents] or [c.id])
    out = git.run_bytes(
        "diff-tree",
        "--stdin",
        "--always",
        "--root",
        "-r",
        "-z",
        "--no-renames",
        "--no-ext-diff",
        stdin=("\n".join(lines) + "\n").encode(),
    )
    blocks = _parse_raw(out, headers=True)
    if len(blocks) != len(lines):
        raise StoreError(f"git diff-tree: {len(blocks)} diffs for {len(lines)} commits")
    result: dict[str, list[list[_Change]]] = {}
    pos = 0
    for c in commits:
        count = max(len(c.parents), 1)
        result[c.id] = blocks[pos : pos + count]
        pos += count
    return result


def _parse_raw(out: bytes, *, headers: bool) -> list[list[_Change]]:
    """``git diff-tree``/``diff-index -r -z`` output: the relevant changes, one
    list per commit header (``headers``), else one list."""
    blocks: list[list[_Change]] = [] if headers else [[]]
    tokens = out.split(b"\0")
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.startswith(b":"):
            meta = token[1:].split(b" ")
            path = tokens[i + 1].decode("utf-8", "replace")
            if _relevant(path):
                old, new = meta[2].decode(), meta[3].decode()
                blocks[-1].append(
                    _Change(path, None if _is_zero(old) else old, None if _is_zero(new) else new)
                )
            i += 2
            continue
        if token.strip():
            blocks.append([])
        i += 1
    return blocks


def _merge_base(git: Git, commit: rules.Commit) -> str | None:
    try:
        out = git.run_bytes("merge-base", commit.parents[0], commit.parents[1])
    except StoreError:
        return None  # unrelated histories
    return out.decode().strip() or None


def _escalation_name(
    commit: rules.Commit,
    per_parent: list[list[_Change]],
    known: dict[str, str | None],
    in_range: set[str],
) -> str | None:
    """The blob (or ``rev:path``) name of escalation.yaml as ``commit`` leaves it."""
    for change in per_parent[0]:
        if change.path == ESCALATION:
            return change.new
    if not commit.parents:
        return None
    return _parent_escalation(commit, known, in_range)


def _parent_escalation(
    commit: rules.Commit, known: dict[str, str | None], in_range: set[str]
) -> str | None:
    if not commit.parents:
        return None
    first = commit.parents[0]
    return known[first] if first in in_range else f"{first}:{ESCALATION}"


def _names(
    commits: Sequence[rules.Commit],
    changes: dict[str, list[list[_Change]]],
    bases: dict[str, str | None],
) -> list[str]:
    """Every object `verify_range` will read, for one ``cat-file --batch``."""
    names: dict[str, None] = {}
    in_range = {c.id for c in commits}
    for commit in commits:
        per_parent = changes[commit.id]
        if commit.parents and commit.parents[0] not in in_range:
            names[f"{commit.parents[0]}:{ESCALATION}"] = None
        if len(per_parent) == 1:
            for change in per_parent[0]:
                for oid in (change.old, change.new):
                    if oid:
                        names[oid] = None
            continue
        for path, olds, new in _merge_paths(per_parent):
            for oid in (*olds, new):
                if oid:
                    names[oid] = None
            base = bases.get(commit.id)
            if base and len(olds) == 2 and None not in olds:
                names[f"{base}:{path}"] = None
        for _path, old, new in _displacing(per_parent):
            names[old] = None
            names[new] = None
    return list(names)


def _merge_paths(
    per_parent: list[list[_Change]],
) -> list[tuple[str, tuple[str | None, ...], str | None]]:
    """Paths a merge changed against every parent: (path, parents' blobs, result blob)."""
    maps = [{c.path: c for c in block} for block in per_parent]
    out = []
    for path, first in maps[0].items():
        if all(path in m for m in maps[1:]):
            out.append((path, tuple(m[path].old for m in maps), first.new))
    return out


def _displacing(per_parent: list[list[_Change]]) -> list[tuple[str, str, str]]:
    """Ticket paths where a merge's result replaced a parent's file: (path, old, new)."""
    out = []
    for block in per_parent:
        for change in block:
            if rules.is_ticket_path(change.path) and change.old and change.new:
                out.append((change.path, change.old, change.new))
    return out


def _read_blobs(git: Git, names: Sequence[str]) -> dict[str, str]:
    if not names:
        return {}
    out = git.run_bytes("cat-file", "--batch", stdin=("\n".join(names) + "\n").encode())
    blobs: dict[str, str] = {}
    for name, obj in zip(names, parse_batch(out, len(names)), strict=True):
        if obj is not None and obj[1] == "blob":
            blobs[name] = obj[2].decode("utf-8", "replace")
    return blobs


def _signature(git: Git, commit: rules.Commit) -> list[rules.Finding]:
    try:
        git.run_bytes("verify-commit", commit.id)
    except StoreError as exc:
        detail = str(exc).removeprefix("git verify-commit failed:").strip()
        return [
            rules.Finding(
                commit.id,
                rules.COMMIT_FILE,
                rules.SIGNATURE,
                f"no good signature ({detail or 'unsigned'})",
            )
        ]
    return []


# --- checking one commit ---------------------------------------------------------------------


def _check_commit(
    commit: rules.Commit,
    per_parent: list[list[_Change]],
    blobs: dict[str, str],
    base: str | None,
    policy: rules.Policy,
    owners: rules.Policy,
    displaced: dict[str, _Displaced],
) -> list[rules.Finding]:
    def text(name: str | None) -> str | None:
        return blobs.get(name) if name else None

    found: list[rules.Finding] = []
    if len(per_parent) > 1:
        _note_displaced(commit, per_parent, blobs, displaced)
        paths = _merge_paths(per_parent)
    else:
        paths = [(c.path, (c.old,), c.new) for c in per_parent[0]]
    for path, olds, new in paths:
        after = text(new)
        if new is not None and after is None:
            continue  # a submodule or non-blob: nothing of ours
        if rules.is_rule_path(path):
            found.extend(rules.check_rule_file(commit, path, after, owners))
        elif rules.is_ticket_path(path):
            parents = [text(o) for o in olds]
            found.extend(
                rules.check_ticket(
                    commit,
                    path,
                    parents,
                    after,
                    policy,
                    base=text(f"{base}:{path}") if base else None,
                    moved=_moved(after, displaced),
                )
            )
        elif after is not None:
            found.extend(_check_article(commit, path, after))
    return found


def _note_displaced(
    commit: rules.Commit,
    per_parent: list[list[_Change]],
    blobs: dict[str, str],
    displaced: dict[str, _Displaced],
) -> None:
    for path, old, new in _displacing(per_parent):
        before, after = blobs.get(old), blobs.get(new)
        if before is None or after is None or _created(before) == _created(after):
            continue
        loser, winner = rules.load_ticket(before), rules.load_ticket(after)
        if loser is None or winner is None:
            continue
        if rules.incident_key(loser) != rules.incident_key(winner):
            displaced[rules.incident_key(loser)] = _Displaced(commit.id, path, loser)


def _created(text: str) -> str:
    """The text of a ticket file's first event (cheap: equal text, same incident)."""
    start = text.find("\nevents:\n")
    if start < 0:
        return text
    end = text.find("\n- ", start + len("\nevents:\n") + 1)
    return text[start : end if end >= 0 else len(text)]


def _moved(after: str | None, displaced: dict[str, _Displaced]) -> list[Ticket]:
    """The displaced versions of the incident in ``after`` (consumed)."""
    if not displaced or after is None:
        return []
    ticket = rules.load_ticket(after)
    if ticket is None:
        return []
    found = displaced.pop(rules.incident_key(ticket), None)
    return [found.ticket] if found else []


def _check_article(commit: rules.Commit, path: str, text: str) -> list[rules.Finding]:
    from elinkctl.kb.article import ArticleError, parse_article

    try:
        parse_article(text, PurePosixPath(path))
    except ArticleError as exc:
        message = str(exc).removeprefix(f"{path}: ").removeprefix(f"{path} ")
        return [rules.Finding(commit.id, path, rules.SCHEMA, message)]
    return []
