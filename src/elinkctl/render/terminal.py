"""Tickets on the terminal: the JSON shapes of `show` and `list` (the CLI
contract, DESIGN §8), the readable `show` card with its timeline, and the
order `list` shows tickets in. No I/O here."""

from __future__ import annotations

import datetime as dt
from typing import Any

from elinkctl.domain import kbdecision
from elinkctl.domain.glossary import EVENTS, INCIDENT_TYPES, ROLES, STATUSES, en, zh
from elinkctl.domain.model import OPEN_STATUSES, Event, Status, Ticket
from elinkctl.timeutil import format_duration

PRIORITY_RANK = {"P1": 1, "P2": 2, "P3": 3, "P4": 4}


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def event_json(ev: Event) -> dict[str, Any]:
    return jsonable(ev.to_dict())  # type: ignore[no-any-return]


def show_json(ticket: Ticket) -> dict[str, Any]:
    """``show --json``: the contract's keys first, then every descriptive field."""
    s = ticket.state
    out: dict[str, Any] = {
        "id": ticket.id,
        "title": ticket.title,
        "type": ticket.type,
        "priority": ticket.priority,
        "status": str(s.status),
        "tier": s.tier,
        "assignee": s.assignee,
        "opened_at": _iso(s.opened_at),
        "responded_at": _iso(s.responded_at),
        "resolved_at": _iso(s.resolved_at),
        "closed_at": _iso(s.closed_at),
        "escalations": [
            {"role": e.role, "after": e.after, "at": _iso(e.at)} for e in s.escalations
        ],
        "events": [event_json(e) for e in ticket.events],
    }
    for key, value in ticket.fields.items():
        if key not in out:
            out[key] = jsonable(value)
    out["key_user"] = bool(ticket.fields.get("key_user"))
    out["security"] = bool(ticket.fields.get("security"))
    out["aliases"] = list(ticket.aliases)
    out["pending"] = [[_iso(a), _iso(b)] for a, b in s.pauses]
    out["reopened"] = s.reopened
    out["complaints"] = s.complaints
    out["satisfaction"] = s.satisfaction
    out["vendor"] = s.vendor
    out["vendor_due"] = _iso(s.vendor_due)
    out["visit_at"] = _iso(s.visit_at)
    out["visit_done_at"] = _iso(s.visit_done_at)
    from elinkctl.domain import visit  # here, not at the top: `list` never needs it

    out["attachments"] = [
        {"name": a.name, "size": a.size, "sha256": a.sha256, "at": _iso(a.at), "by": a.by}
        for a in visit.attached(ticket)
    ]
    out["confirmed_at"] = _iso(s.confirmed_at)
    out["callback_at"] = _iso(s.callback_at)
    out["kb_decision"] = s.kb_decision  # None, "none" or the article's ID
    out["kb_decided_at"] = _iso(s.kb_decided_at)
    out["vendor_replied_at"] = _iso(s.vendor_replied_at)
    out["promise_at"] = _iso(s.promise_at)
    out["ref"] = s.ref
    return out


def list_json(ticket: Ticket) -> dict[str, Any]:
    s = ticket.state
    return {
        "id": ticket.id,
        "title": ticket.title,
        "type": ticket.type,
        "priority": ticket.priority,
        "status": str(s.status),
        "assignee": s.assignee,
        "opened_at": _iso(s.opened_at),
        "tier": s.tier,
        "key_user": bool(ticket.fields.get("key_user")),
        "security": bool(ticket.fields.get("security")),
        "system": ticket.fields.get("system"),
        "promise_at": _iso(s.promise_at),
    }


def attention_key(ticket: Ticket) -> tuple[int, int, int, dt.datetime]:
    """Sort order of `list`: open before done, key users first, then priority,
    then the oldest (it has waited longest)."""
    return (
        0 if ticket.state.status in OPEN_STATUSES else 1,
        0 if ticket.fields.get("key_user") else 1,
        PRIORITY_RANK.get(ticket.priority, 9),
        ticket.opened_at,
    )


def local(value: dt.datetime | None, tz: dt.tzinfo) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else "—"


def age(opened: dt.datetime, now: dt.datetime) -> str:
    return format_duration(now - opened)


def event_summary(ev: Event, tz: dt.tzinfo) -> str:
    """One line describing an event, for the timeline."""
    d = ev.data
    kind = ev.type
    if kind == "created":
        text = f"{d.get('priority', '')}"
        if d.get("backfill"):
            text += f" backfilled, recorded {local(d.get('recorded_at'), tz)}"
            if d.get("reason"):
                text += f" ({d['reason']})"
    elif kind == "assigned":
        text = f"→ {d.get('to')} ({zh(ROLES, d.get('tier'))})"
    elif kind == "escalated":
        text = f"→ {d.get('tier')}" + (f" {d.get('to')}" if d.get("to") else "")
        if d.get("due"):
            text += f", reply by {local(d.get('due'), tz)}"
        text += f": {d.get('reason', '')}"
    elif kind == "visit_scheduled":
        text = f"on site {local(d.get('visit_at'), tz)}"
    elif kind == "visit_done":
        text = _visit_done(ev, tz)
    elif kind == "attached":
        from elinkctl.domain.visit import format_size

        files = [f for f in d.get("files") or [] if isinstance(f, dict)]
        text = ", ".join(f"{f.get('name')} ({format_size(int(f.get('size') or 0))})" for f in files)
        text += f": {d['note']}" if d.get("note") else ""
    elif kind == "resolved":
        text = str(d.get("solution", ""))
        if d.get("kb"):
            text += f" [{d['kb']}]"
    elif kind == "callback":
        text = (f"satisfaction {d['satisfaction']}/5 " if d.get("satisfaction") else "") + str(
            d.get("note") or ""
        )
    elif kind == "edited":
        changes = d.get("changes") or {}
        text = ", ".join(f"{k}: {v[0]} → {v[1]}" for k, v in changes.items())
        if d.get("reason"):
            text += f" ({d['reason']})"
    elif kind == "escalation":
        text = f"{d.get('after')} → {zh(ROLES, d.get('role'))}"
        if d.get("recipients"):
            text += f" ({', '.join(map(str, d['recipients']))})"
    elif kind in ("sla_warning", "sla_breach"):
        text = f"{d.get('clock')} due {local(d.get('deadline'), tz)}"
    elif kind == "superseded":
        # A concurrent step from another clone that the merged history made
        # impossible (both desks accepted): kept for the record, not applied.
        text = f"{d.get('superseded')} (concurrent with another clone's step; not applied)"
    elif kind == "kb_decided":
        text = kbdecision.describe(ev)
    elif kind == "alert":
        text = f"{d.get('status', '')} {d.get('summary', '')}".strip()
    elif kind == "redirected":
        text = f"→ {d.get('to')} process" + (f" {d['ref']}" if d.get("ref") else "")
        text += f": {d['reason']}" if d.get("reason") else ""
    elif kind == "accepted" and d.get("promise"):
        text = f"promised by {local(d.get('promise'), tz)}" + (
            f": {d['note']}" if d.get("note") else ""
        )
    else:
        text = str(d.get("reason") or d.get("text") or d.get("note") or d.get("summary") or "")
    label = en(EVENTS, kind)
    return f"{label:<13} {text}".rstrip()


def _visit_done(ev: Event, tz: dt.tzinfo) -> str:
    """``14:05–15:10 signed by 张三: 更换硒鼓`` (the end's date only when it differs)."""
    start, end = local(ev.get("start"), tz), local(ev.get("end"), tz)
    if start[:10] == end[:10]:
        end = end[11:]
    work = str(ev.get("work") or "").strip().splitlines()
    text = f"{start}–{end} signed by {ev.get('signed_by')}"
    return text + (f": {work[0]}" if work else "")


def wcwidth_len(text: str) -> int:
    """Terminal columns of ``text`` (a Chinese character takes two)."""
    from wcwidth import wcswidth

    used = wcswidth(text)
    return used if used >= 0 else len(text)


def clip(text: str, width: int) -> str:
    """``text`` cut to at most ``width`` terminal columns, ``…`` marking a cut
    (a Chinese character takes two columns, so a title is cut by what it
    takes on screen, not by its number of characters)."""
    from wcwidth import wcwidth

    if wcwidth_len(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = max(wcwidth(ch), 0)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def fit_table(rows: list[list[str]], headers: list[str], width: int, **options: object) -> str:
    """A `tabulate` table at most ``width`` columns wide: the last column
    (a title) gets what the others leave, at least 10 columns, cut by
    display width (`clip`)."""
    from tabulate import tabulate

    if not rows:
        return tabulate(rows, headers=headers, disable_numparse=True, **options)  # type: ignore[arg-type]
    others = [  # tabulate gives a header two columns more than its text
        max([wcwidth_len(headers[i]) + 2] + [wcwidth_len(r[i]) for r in rows])
        for i in range(len(headers) - 1)
    ]
    room = max(width - sum(others) - 2 * (len(headers) - 1), 10)
    fitted = [[*r[:-1], clip(r[-1], room)] for r in rows]
    return tabulate(fitted, headers=headers, disable_numparse=True, **options)  # type: ignore[arg-type]


def wrap_list(line: str, width: int, indent: int = 2) -> str:
    """A long ``label: a, b, c`` line folded at its commas to ``width``
    columns, continuation lines indented (stats' by-status and vendor lines)."""
    if wcwidth_len(line) <= width:
        return line
    parts = line.split(", ")
    lines: list[str] = []
    label, colon, first = parts[0].partition(": ")
    if colon and wcwidth_len(parts[0]) > width:  # the label alone on its line
        lines.append(label + ":")
        parts[0] = " " * indent + first
    current = parts[0]
    for part in parts[1:]:
        candidate = f"{current}, {part}"
        if wcwidth_len(candidate) < width:  # room for the comma a fold leaves
            current = candidate
        else:
            lines.append(current + ",")
            current = " " * indent + part
    lines.append(current)
    return "\n".join(lines)


def pad(text: str, width: int) -> str:
    """Left-justify to a terminal width: a Chinese character takes two columns."""
    from wcwidth import wcswidth

    used = wcswidth(text)
    return text + " " * (width - used) if used >= 0 and used < width else text


def _kb_row(ticket: Ticket, tz: dt.tzinfo) -> str:
    """l2's knowledge-base decision; for a closed incident without one, how to make it."""
    ev = kbdecision.last_decision(ticket)
    if ev is not None:
        return f"{kbdecision.describe(ev)}  ({ev.by}, {local(ev.at, tz)})"
    if ticket.state.status == Status.CLOSED:
        tid = ticket.id
        return f"not decided (kb add --from {tid}, or kb decide {tid} --none --reason …)"
    return ""


def card(ticket: Ticket, tz: dt.tzinfo, now: dt.datetime) -> str:
    """The readable `show` card."""
    s = ticket.state
    f = ticket.fields
    lines = []
    flags = []
    if f.get("key_user"):
        flags.append("★ 关键用户")
    if f.get("security"):
        flags.append("⚠ 信息安全事件")
    head = f"{ticket.id}  {ticket.title}"
    lines.append(head + ("   " + "  ".join(flags) if flags else ""))
    status = f"{s.status} ({zh(STATUSES, s.status, '')})"
    owner = f"{zh(ROLES, s.tier)}" + (f" / {s.assignee}" if s.assignee else "")
    rows: list[tuple[str, str]] = [
        ("status", status),
        (
            "priority",
            f"{ticket.priority}   type {ticket.type} ({zh(INCIDENT_TYPES, ticket.type, '')})"
            + (
                f"   urgency {f.get('urgency')} × impact {f.get('impact')}"
                if f.get("urgency")
                else ""
            ),
        ),
        ("with", owner),
    ]
    rep = f.get("reporter") or {}
    if rep:
        rows.append(
            (
                "reporter",
                " ".join(str(rep[k]) for k in ("name", "phone", "department") if rep.get(k)),
            )
        )
    if f.get("location") or f.get("contact"):
        rows.append(
            (
                "location",
                " ".join(
                    x
                    for x in (
                        f.get("location"),
                        f.get("contact") and f"(on site: {f.get('contact')})",
                    )
                    if x
                ),
            )
        )
    if f.get("system"):
        rows.append(
            ("system", str(f.get("system")) + (f" / {f.get('module')}" if f.get("module") else ""))
        )
    if f.get("source"):
        rows.append(("source", str(f.get("source"))))
    rows.append(("opened", f"{local(s.opened_at, tz)}  ({age(s.opened_at, now)} ago)"))
    rows.append(("responded", local(s.responded_at, tz)))
    rows.append(("resolved", local(s.resolved_at, tz)))
    if s.closed_at:
        rows.append(("closed", local(s.closed_at, tz)))
    kb = _kb_row(ticket, tz)
    if kb:
        rows.append(("kb", kb))
    if s.vendor:
        rows.append(
            (
                "vendor",
                f"{s.vendor}"
                + (f", reply due {local(s.vendor_due, tz)}" if s.vendor_due else "")
                + (f", replied {local(s.vendor_replied_at, tz)}" if s.vendor_replied_at else ""),
            )
        )
    from elinkctl.domain import visit  # here, not at the top: `list` never needs it

    done = visit.last_done(ticket)
    if s.visit_at or done:
        booked = local(s.visit_at, tz) if s.visit_at else "walk-in"
        rows.append(("visit", booked + (f"   done {_visit_done(done, tz)}" if done else "")))
    if s.promise_at:
        passed = s.status in OPEN_STATUSES and now > s.promise_at
        rows.append(("promised", local(s.promise_at, tz) + ("  (passed)" if passed else "")))
    if s.ref:
        rows.append(("ref", s.ref))
    if s.escalations:
        rows.append(
            (
                "escalated",
                ", ".join(f"{e.after}→{zh(ROLES, e.role)}" for e in s.escalations),
            )
        )
    if ticket.aliases:
        rows.append(("aliases", ", ".join(ticket.aliases)))
    width = max(len(k) for k, _ in rows)
    lines += [f"  {k:<{width}}  {v}" for k, v in rows]
    if f.get("description"):
        lines.append("")
        lines.append("description:")
        lines += [f"  {line}" for line in str(f["description"]).splitlines()]
    files = visit.attached(ticket)
    if files:
        lines.append("")
        lines.append("attachments:")
        width = max(wcwidth_len(a.name) for a in files)
        lines += [
            f"  {pad(a.name, width)}  {visit.format_size(a.size):>9}  sha256 {a.sha256[:12]}"
            for a in files
        ]
    lines.append("")
    lines.append("timeline:")
    # One column for the names, as wide as the widest (elinkctl-check is 14),
    # so every summary starts at the same place.
    who = max((wcwidth_len(ev.by) for ev in ticket.events), default=0)
    for ev in ticket.events:
        lines.append(f"  {local(ev.at, tz)}  {pad(ev.by, who)}  {event_summary(ev, tz)}")
    return "\n".join(lines)
