"""Who may do what (issue 15): people, their roles, and the steps each role may take.

The seed gives every step a responsible role (服务台, 一线, 二线, 厂商,
项目经理, 管理层). escalation.yaml lists the people (``people:``, each with
optional ``aliases``, ``email``, ``phone``, ``roles`` and chat channels) and
the roles (``roles:`` role → people); a person's roles are the union of
both. ``permissions:`` maps a *step* to the roles that may take it; a step
not listed may be taken by anyone. `step_of` names the step an event is.

Checking is by event, so the same rule serves the CLI (every write, through
the store's transaction) and `verify` (every pushed commit). A person not
in the people list is checked only under ``strict_people: true`` (then
refused); without it an unknown name acts freely, so existing stores keep
working, and `config check` warns. The cron identity may only record what
`check` records.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from elinkctl.domain.model import Event, Ticket

CRON_IDENTITY = "elinkctl-check"
"""Who `check` records as, unless ``--as`` says otherwise."""

CHECK_EVENTS = frozenset(
    {
        "escalation",
        "sla_warning",
        "sla_breach",
        "vendor_warning",
        "vendor_overdue",
        "progress_due",
        "visit_missed",
        "promise_passed",
        "kb_decision_due",
    }
)
"""What `check` records; all the cron identity may record."""

DEFAULT_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "screening": ("desk", "pm"),  # accept, reject, redirect, transfer (受理/筛选)
    "pm_decision": ("pm",),  # accept or reject a transferred incident (pm_review)
    "dispatch": ("desk", "pm"),  # assign (派单)
    "escalate_pm": ("l1", "desk", "pm"),  # 事件升级: l1 hands the incident to the PM
    "escalate_l2": ("desk", "l1", "pm"),
    "escalate_vendor": ("l2", "pm"),  # 二线…与客户协商申请调用厂商; the PM dispatches too
    "major_confirm": ("pm",),
    "review": ("pm",),
    "report_issue": ("pm",),
    "callback": ("desk",),
    "close": ("desk",),
    "kb_decision": ("l2",),
    "priority_change": ("desk", "pm"),
}
"""The seed's responsibilities, step → roles (escalation.yaml ``permissions:`` overrides)."""

STEPS = tuple(DEFAULT_PERMISSIONS)


def step_of(event: Event, before: Ticket | None) -> str | None:
    """The step ``event`` takes, given the ticket before it (None: a new ticket)."""
    kind = event.type
    status = str(before.state.status) if before is not None else "new"
    if kind in ("accepted", "rejected"):
        return "pm_decision" if status == "pm_review" else "screening"
    if kind in ("redirected", "transferred"):
        return "screening"
    if kind == "assigned":
        return "dispatch"
    if kind == "escalated":
        tier = str(event.get("tier") or "")
        return {"pm": "escalate_pm", "l2": "escalate_l2", "vendor": "escalate_vendor"}.get(tier)
    if kind == "major_confirmed":
        return "major_confirm"
    if kind == "reviewed":
        return "review"
    if kind == "report_issued":
        return "report_issue"
    if kind == "callback":
        return "callback"
    if kind == "closed":
        return "close"
    if kind == "kb_decided":
        return "kb_decision"
    if kind == "edited" and "priority" in (event.get("changes") or {}):
        return "priority_change"
    return None


@dataclasses.dataclass(frozen=True)
class Permissions:
    """People, their roles and the permission table, parsed from escalation.yaml."""

    roles_of: Mapping[str, frozenset[str]]  # a person's name or alias -> roles
    canonical: Mapping[str, str]  # a name or alias -> the person's name
    table: Mapping[str, tuple[str, ...]]
    strict_people: bool = False
    cron_identity: str = CRON_IDENTITY
    rule_owners: tuple[str, ...] = ()

    def person(self, actor: str) -> str | None:
        """The listed person ``actor`` names (by name or alias), else None."""
        return self.canonical.get(actor.strip())

    def unknown_actor(self, actor: str) -> str | None:
        """A refusal for an actor not in the people list under strict_people."""
        if actor == self.cron_identity or not self.strict_people:
            return None
        if self.person(actor) is None:
            listed = ", ".join(sorted(set(self.canonical.values()))[:8]) or "nobody yet"
            return (
                f"{actor!r} is not in the people list of escalation.yaml "
                f"(strict_people: true); act as a listed person with --as (e.g. {listed})"
            )
        return None

    def refusal(self, actor: str, event: Event, before: Ticket | None) -> str | None:
        """Why ``actor`` may not record ``event`` (None: allowed)."""
        if actor == self.cron_identity:
            if event.type in CHECK_EVENTS:
                return None
            return (
                f"{actor} (the cron identity) may only record what check records, not {event.type}"
            )
        unknown = self.unknown_actor(actor)
        if unknown:
            return unknown
        step = step_of(event, before)
        if step is None:
            return None
        person = self.person(actor)
        if person is None:
            return None  # not strict: unknown names act freely (config check warns)
        needed = self.table.get(step, ())
        if not needed:
            return None
        held = self.roles_of.get(person, frozenset())
        if held & set(needed):
            return None
        return (
            f"{person} may not {step.replace('_', ' ')}: needs role "
            f"{' or '.join(needed)} (escalation.yaml permissions.{step}); "
            f"{person} has {', '.join(sorted(held)) or 'no role'}"
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Permissions:
        """From parsed escalation.yaml; shapes are checked by `config check`
        (anything malformed here is ignored rather than fatal)."""
        people = data.get("people") if isinstance(data.get("people"), Mapping) else {}
        roles_section = data.get("roles") if isinstance(data.get("roles"), Mapping) else {}
        roles: dict[str, set[str]] = {}
        canonical: dict[str, str] = {}
        for name, info in (people or {}).items():
            person = str(name)
            canonical[person] = person
            roles.setdefault(person, set())
            if isinstance(info, Mapping):
                for alias in _strings(info.get("aliases")):
                    canonical.setdefault(alias, person)
                roles[person].update(_strings(info.get("roles")))
        for role, members in (roles_section or {}).items():
            for member in _strings(members):
                person = canonical.get(member, member)
                canonical.setdefault(member, person)
                roles.setdefault(person, set()).add(str(role))
        table = dict(DEFAULT_PERMISSIONS)
        given = data.get("permissions")
        if isinstance(given, Mapping):
            for step, allowed in given.items():
                table[str(step)] = tuple(_strings(allowed))
        return cls(
            roles_of={p: frozenset(r) for p, r in roles.items()},
            canonical=canonical,
            table=table,
            strict_people=data.get("strict_people") is True,
            rule_owners=tuple(_strings(data.get("rule_owners"))),
        )


def _strings(value: object) -> Iterable[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str | int)]
    return []
