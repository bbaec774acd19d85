"""l2's knowledge-base decision on a resolved or closed incident.

二线支持团队在确认服务台关闭事件单后，判断是否需要将解决方案添加至知识库中:
once an incident is resolved or closed, l2 decides whether its solution
goes into the knowledge base, and the decision is one ``kb_decided`` event:

- ``{decision: article, article: KB-ID}``, recorded by `kb add --from ID` in
  the same commit as the article it wrote;
- ``{decision: none, reason}``, recorded by `kb decide ID --none --reason`.

An incident gets one decision. A second `kb decide` is refused, naming the
one recorded; an article written after a "none" decision supersedes it (l2
changed its mind, and the article is the better answer); a second article
from the same incident leaves the first decision as it is.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from elinkctl.domain.lifecycle import Change, record
from elinkctl.domain.model import Event, Status, Ticket
from elinkctl.errors import ElinkError, TransitionError, UsageProblem

EVENT = "kb_decided"
ARTICLE = "article"
NONE = "none"
DECIDABLE = frozenset({Status.RESOLVED, Status.CLOSED})


def last_decision(ticket: Ticket) -> Event | None:
    """The ``kb_decided`` event that stands (the last, as `derive_state` reads them)."""
    found = [e for e in ticket.events if e.type == EVENT]
    return found[-1] if found else None


def kind_of(decision: str | None) -> str | None:
    """``article``, ``none`` or None for a `State.kb_decision` value (the KPI fact)."""
    if decision is None:
        return None
    return NONE if decision == NONE else ARTICLE


def describe(ev: Event) -> str:
    """A decision as people read it: ``article KB-7KQ2M`` or ``none (reason)``."""
    if ev.get("decision") == ARTICLE or ev.get("article"):
        return f"article {ev.get('article')}"
    reason = ev.get("reason")
    return f"none ({reason})" if reason else "none"


def _decided_already(ticket: Ticket, ev: Event) -> ElinkError:
    when = ev.at.isoformat(timespec="minutes")
    return ElinkError(
        f"{ticket.id} already has a knowledge-base decision: {describe(ev)}, by {ev.by} at {when}"
    )


def _check_status(ticket: Ticket) -> None:
    status = ticket.state.status
    if status not in DECIDABLE:
        raise TransitionError(
            f"{ticket.id} is {status}: the knowledge-base decision is made once it is "
            "resolved or closed"
        )


def decide_none(ticket: Ticket, by: str, at: dt.datetime, now: dt.datetime, reason: str) -> Change:
    """l2 decides the solution needs no article (a one-off, or already covered)."""
    text = " ".join(reason.split())
    if not text:
        raise UsageProblem("--reason must not be empty: say why no article is needed")
    _check_status(ticket)
    standing = last_decision(ticket)
    if standing is not None:
        raise _decided_already(ticket, standing)
    return record(
        ticket, EVENT, by, at, now, f"KB decision: none ({text})", decision=NONE, reason=text
    )


def decide_article(
    ticket: Ticket, article_id: str, by: str, at: dt.datetime, now: dt.datetime
) -> tuple[Change | None, str | None]:
    """The decision `kb add --from` records with its article, and a note.

    Returns (None, note) when the incident already has an article decision:
    the new article is still added, the decision stays. A "none" decision is
    superseded, with a note saying so.
    """
    _check_status(ticket)
    standing = last_decision(ticket)
    note = None
    if standing is not None:
        if kind_of(ticket.state.kb_decision) == ARTICLE:
            return None, (
                f"note: {ticket.id} keeps its knowledge-base decision "
                f"({describe(standing)}, by {standing.by})"
            )
        note = f"note: {ticket.id}: this article replaces the decision {describe(standing)}"
    change = record(
        ticket,
        EVENT,
        by,
        at,
        now,
        f"KB decision: article {article_id}",
        decision=ARTICLE,
        article=article_id,
    )
    return change, note


# --- coverage (stats) -------------------------------------------------------------------

RULES = """\
- KB decisions (知识库决定): of the incidents closed now, how many have l2's
  decision — an article (kb add --from) or none needed (kb decide --none) —
  and how many have none yet (missing); coverage = decided / closed.
"""


@dataclasses.dataclass
class Coverage:
    """Of the closed incidents: decided for an article, decided none, or not yet.

    Folded from KPI facts (``status``, ``kb_decision``) like every KPI; two
    halves merged give the fold of the whole.
    """

    closed: int = 0
    article: int = 0
    none: int = 0

    def add(self, f: Mapping[str, Any]) -> None:
        if f.get("status") != str(Status.CLOSED):
            return
        self.closed += 1
        decision = f.get("kb_decision")
        if decision == ARTICLE:
            self.article += 1
        elif decision == NONE:
            self.none += 1

    def merge(self, other: Coverage) -> None:
        self.closed += other.closed
        self.article += other.article
        self.none += other.none

    @property
    def missing(self) -> int:
        return self.closed - self.article - self.none

    @property
    def rate(self) -> float | None:
        """Decided / closed; None when nothing is closed (not 0, which reads as a failure)."""
        return (self.article + self.none) / self.closed if self.closed else None

    def to_json(self) -> dict[str, Any]:
        return {
            "closed": self.closed,
            "article": self.article,
            "none": self.none,
            "missing": self.missing,
            "coverage": self.rate,
        }
