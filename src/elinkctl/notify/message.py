"""What a notification says, rendered as concise Chinese for mail and for group robots.

A ``Message`` is built by ``check`` from a ticket and a due escalation or SLA
deadline. It deliberately has no field for the reporter's phone number: group
chats (robots, webhooks, commands) are read by many people who have no need
for a customer's contact details, so the number cannot leak by construction.
Email goes to named staff and may name the reporter and department; every other
channel gets ``for_group()``, which drops those too and masks anything that
looks like a phone number in free text (people type numbers into titles).
For an information-security incident (信息安全事件, ``security``) a group
chat gets only the ID, the priority and why it is told: no title, note,
status, handler or times.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from elinkctl.domain.glossary import NOTIFICATIONS, ROLES, STATUSES, zh


class Kind(StrEnum):
    """Why a notification is sent."""

    ESCALATION = "escalation"
    SLA_WARNING = "sla_warning"
    SLA_BREACH = "sla_breach"
    VENDOR_WARNING = "vendor_warning"
    VENDOR_OVERDUE = "vendor_overdue"
    PROGRESS_DUE = "progress_due"
    VISIT_MISSED = "visit_missed"
    PROMISE_PASSED = "promise_passed"
    KB_DECISION_DUE = "kb_decision_due"
    PROGRESS = "progress"
    TEST = "test"
    # Hand-offs and the reporter's notices (`elinkctl.domain.notices`).
    REGISTERED = "registered"
    ASSIGNED = "assigned"
    ESCALATED = "escalated"
    REOPENED = "reopened"
    TRANSFERRED = "transferred"
    REJECTED = "rejected"
    REDIRECTED = "redirected"
    RESOLVED = "resolved"
    CLOSED = "closed"
    DIGEST = "digest"


# Mainland mobiles (optionally +86, optionally grouped 3-4-4) and landlines with
# an area code. Masked in group text because reporters' numbers end up in titles.
_PHONE_RE = re.compile(
    r"(?<![\dA-Za-z])(?:(?:\+|00)?86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?!\d)"
    r"|(?<![\dA-Za-z])0\d{2,3}[ -]?\d{7,8}(?!\d)"
)
PHONE_MASK = "[号码已隐藏]"
WITHHELD = "不在群内发送，请用下面的命令查看"
"""What a group chat reads instead of a security incident's details."""


def mask_phones(text: str) -> str:
    """Replace anything shaped like a Chinese phone number with a fixed mask."""
    return _PHONE_RE.sub(PHONE_MASK, text)


def _one_line(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class Message:
    """One notification about one ticket.

    Strings are what people read, already formatted by the caller (``elapsed``
    via ``timeutil.format_duration``, ``deadline`` via ``timeutil.iso``), so that
    a queued message renders the same however late it is finally delivered.

    ``level`` is the escalation cell reached (``Message.level_for("30m",
    "management")`` → ``"30m → 管理层"``) or, for SLA kinds, the target
    (``"解决时限 4h"``). ``reporter`` and ``department`` appear only in email.
    ``security`` marks an information-security incident: its group version
    is ``withheld`` (see `for_group`).
    """

    ticket: str
    title: str
    priority: str
    kind: Kind
    level: str = ""
    elapsed: str = ""
    status: str = ""
    assignee: str = ""
    deadline: str = ""
    reporter: str = ""
    department: str = ""
    note: str = ""
    command: str = ""
    security: bool = False
    withheld: bool = False
    # A notice rendered from a template at queue time (`elinkctl.domain.notices`):
    # ``body``/``subject_line`` for the people told by name, ``group_body``/
    # ``group_subject`` for group chats (made from group-safe values only).
    body: str = ""
    subject_line: str = ""
    group_body: str = ""
    group_subject: str = ""
    mail_id: str = ""
    """A deterministic Message-ID (``<INC-….e7.resolved@desk>``), recorded on the
    ticket, so that the reporter's reply threads back and says what it answers."""

    def __post_init__(self) -> None:
        # Accept plain strings for kind (from JSON in the outbox, or from callers).
        object.__setattr__(self, "kind", Kind(self.kind))
        if not self.command:
            object.__setattr__(self, "command", f"elinkctl show {self.ticket}")

    @staticmethod
    def level_for(after: str, role: str) -> str:
        """The escalation cell as people say it: ``"30m → 管理层"``."""
        return f"{after} → {zh(ROLES, role)}"

    def for_group(self) -> Message:
        """The version for group chats: no reporter details, phone-like numbers
        masked; of a security incident only the ID, the priority and the kind."""
        if self.body:
            return dataclasses.replace(
                self,
                title=mask_phones(self.title) if not self.security else "",
                body=mask_phones(self.group_body or self.body),
                subject_line=mask_phones(self.group_subject or self.subject_line),
                group_body="",
                group_subject="",
                reporter="",
                department="",
                note="",
                assignee="" if self.security else mask_phones(self.assignee),
            )
        if self.security:
            return dataclasses.replace(
                self,
                title="",
                level="",
                elapsed="",
                status="",
                assignee="",
                deadline="",
                reporter="",
                department="",
                note="",
                withheld=True,
            )
        return dataclasses.replace(
            self,
            title=mask_phones(self.title),
            note=mask_phones(self.note),
            assignee=mask_phones(self.assignee),
            reporter="",
            department="",
        )

    # --- rendering -------------------------------------------------------

    @property
    def kind_label(self) -> str:
        """The kind in Chinese."""
        return zh(NOTIFICATIONS, self.kind)

    @property
    def status_label(self) -> str:
        """The status in Chinese when known, else as given."""
        return zh(STATUSES, self.status)

    def subject(self) -> str:
        """One line for a mail subject or a robot card title."""
        if self.subject_line:
            return _one_line(self.subject_line)
        return _one_line(f"[elinkctl] {self.kind_label} {self.priority} {self.ticket} {self.title}")

    def _facts(self, recipients: Sequence[str]) -> list[tuple[str, str]]:
        level_name = {
            Kind.ESCALATION: "升级",
            Kind.TEST: "说明",
            Kind.SLA_WARNING: "时限",
            Kind.SLA_BREACH: "时限",
            Kind.PROGRESS: "进展",
        }.get(self.kind, "提醒")
        facts: list[tuple[str, str]] = [
            ("事件", f"{self.ticket}「{_one_line(self.title)}」" if self.title else self.ticket),
            ("级别", self.priority),
            ("通知", self.kind_label),
        ]
        if self.withheld:
            if recipients:
                facts.append(("通知对象", "、".join(recipients)))
            return [*facts, ("详情", WITHHELD)]
        if self.level:
            facts.append((level_name, self.level))
        if self.elapsed:
            facts.append(("已历时", self.elapsed))
        if self.deadline:
            facts.append(("截止", self.deadline))
        if self.status:
            facts.append(("状态", self.status_label))
        facts.append(("处理人", self.assignee or "未分派"))
        if self.reporter or self.department:
            who = " / ".join(p for p in (self.reporter, self.department) if p)
            facts.append(("报告人", who))
        if recipients:
            facts.append(("通知对象", "、".join(recipients)))
        if self.note:
            facts.append(("备注", _one_line(self.note)))
        return facts

    def text(self, recipients: Sequence[str] = ()) -> str:
        """Plain-text body (mail, command stdin, generic webhooks)."""
        if self.body:
            return self.body.rstrip("\n") + "\n"
        lines = [f"{k}: {v}" for k, v in self._facts(recipients)]
        lines.append(f"查看: {self.command}")
        return "\n".join(lines) + "\n"

    def markdown(self, recipients: Sequence[str] = ()) -> str:
        """Markdown body for robots (the subset WeCom, DingTalk and Feishu all render)."""
        if self.body:
            return f"**{self.subject()}**\n\n" + self.body.rstrip("\n")
        head = _one_line(f"{self.kind_label} {self.priority} {self.ticket} {self.title}")
        lines = [f"**{head}**", ""]
        for key, value in self._facts(recipients)[1:]:
            lines.append(f"> {key}: {value}")
        lines += ["", f"查看: `{self.command}`"]
        return "\n".join(lines)

    def payload(self, recipients: Sequence[str] = ()) -> dict[str, Any]:
        """The JSON document for generic webhooks and commands (group-safe)."""
        safe = self.for_group()
        data = safe.to_dict()
        del data["reporter"], data["department"]
        data.update(
            source="elinkctl",
            recipients=list(recipients),
            subject=safe.subject(),
            text=safe.text(recipients),
            markdown=safe.markdown(recipients),
        )
        return data

    # --- persistence (the outbox stores messages as JSON) -----------------

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able fields."""
        data = dataclasses.asdict(self)
        data["kind"] = str(self.kind)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Message:
        """Inverse of ``to_dict``; unknown keys (from a newer version) are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def digest(messages: Sequence[Message], recipients: Sequence[str] = ()) -> Message:
    """Several notices for the same recipients as one message (one mail, one
    robot post): each part as it would have been sent alone, in queue order.

    The group version is made of each part's own group version, so a
    security incident among them is still withheld and no reporter detail
    reaches a robot."""
    if len(messages) == 1:
        return messages[0]
    tickets = list(dict.fromkeys(m.ticket for m in messages))
    head = "、".join(tickets[:3]) + (f" 等 {len(tickets)} 个事件" if len(tickets) > 3 else "")
    rule = "\n" + "─" * 16 + "\n"

    def part(i: int, m: Message, told: Sequence[str] = ()) -> str:
        return f"({i}/{len(messages)}) {m.subject()}\n{m.text(told)}"

    # The mail body is each part as mailed alone (without 通知对象: the
    # recipients here are the addresses it is sent to); robots name who is meant.
    safe = [m.for_group() for m in messages]
    safe_tickets = list(dict.fromkeys(m.ticket for m in safe))
    return Message(
        ticket=tickets[0],
        title="",
        priority=min((m.priority for m in messages), default=""),
        kind=Kind.DIGEST,
        subject_line=f"[elinkctl] {len(messages)} 条通知: {head}",
        body=rule.join(part(i, m) for i, m in enumerate(messages, 1)),
        group_subject=f"[elinkctl] {len(messages)} 条通知: " + "、".join(safe_tickets[:3]),
        group_body=rule.join(part(i, m, recipients) for i, m in enumerate(safe, 1)),
        command=f"elinkctl show {tickets[0]}" if len(tickets) == 1 else "elinkctl list --open",
    )
