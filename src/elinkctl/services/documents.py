"""The procedure's two documents, built from a ticket's events.

- 《重大事件处理分析报告》 (`major_report`): the PM's analysis of a P1 for the
  customer. Everything the history knows is filled in; what only the PM can
  say (business impact, root-cause analysis, follow-up) is marked
  `PM_FILL` so a half-finished report can never pass for a finished one.
- 《技术服务单》 (`service_form`): the form an l1 engineer prints before an
  on-site visit and the user signs. Unknown values are blank lines to write on;
  after `visit --done` it shows what was recorded (start, end, work, who signed).

Pure: ticket, rules and ``now`` in, a `Document` out; rendering is elsewhere.
"""

from __future__ import annotations

import datetime as dt

from elinkctl.domain import visit
from elinkctl.domain.glossary import (
    CLOCKS,
    EVENTS,
    GRADES,
    INCIDENT_TYPES,
    PRIORITIES,
    ROLES,
    SOURCES,
    STATUSES,
    zh,
)
from elinkctl.domain.model import OPEN_STATUSES, Event, Priority, Ticket
from elinkctl.domain.sla import LATE, TIMELY, Clock, SlaRules, clocks
from elinkctl.errors import ElinkError
from elinkctl.render.doc import (
    PM_FILL,
    Blank,
    Block,
    Document,
    Fields,
    Para,
    Section,
    Signatures,
    Table,
)
from elinkctl.timeutil import format_duration

L2_FILL = "【待二线支持团队判断】"


class NotMajor(ElinkError):
    """A major incident report was asked for an incident that is not P1."""


def _t(value: dt.datetime | None, tz: dt.tzinfo) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else ""


def _s(value: object) -> str:
    return "" if value is None else str(value)


def _reporter(ticket: Ticket) -> tuple[str, str, str]:
    rep = ticket.fields.get("reporter") or {}
    return _s(rep.get("name")), _s(rep.get("phone")), _s(rep.get("department"))


def _last(ticket: Ticket, kind: str) -> Event | None:
    found = [e for e in ticket.events if e.type == kind]
    return found[-1] if found else None


def _first(ticket: Ticket, kind: str, **match: str) -> Event | None:
    for ev in ticket.events:
        if ev.type == kind and all(str(ev.get(k)) == v for k, v in match.items()):
            return ev
    return None


def describe_event(ev: Event, tz: dt.tzinfo) -> tuple[str, str]:
    """(环节 step, 说明 detail) of one event, in the words of the procedure."""
    d = ev.data
    kind = ev.type
    step = zh(EVENTS, kind)
    if kind == "created":
        detail = f"{_s(d.get('priority'))} 事件登记"
        if d.get("backfill"):
            detail += f"（先处理后补单，{_t(d.get('recorded_at'), tz)} 补录"
            detail += f"：{d['reason']}）" if d.get("reason") else "）"
        return step, detail
    if kind == "escalation":
        role = str(d.get("role"))
        who = ", ".join(map(str, d.get("recipients") or []))
        if role == "pm" and who:
            step = "通知项目经理"
        else:
            step = f"{step} → {zh(ROLES, role)}"
        # Truthful about who heard of it: a role nobody fills was notified to nobody.
        nobody = f"，未通知任何人（escalation.yaml 未配置{zh(ROLES, role)}）"
        told = f"，通知 {who}" if who else nobody
        return step, f"已过 {_s(d.get('after'))}" + told
    if kind == "accepted":
        return step, _s(d.get("note"))
    if kind == "assigned":
        tier = str(d.get("tier"))
        return step, f"→ {_s(d.get('to'))}（{zh(ROLES, tier)}）"
    if kind == "escalated":
        if d.get("tier") == "vendor":
            due = f"，须于 {_t(d.get('due'), tz)} 前回复" if d.get("due") else ""
            return "调用厂商支持", f"→ {_s(d.get('to'))}{due}：{_s(d.get('reason'))}"
        return "升级二线支持", (f"→ {_s(d.get('to'))}：" if d.get("to") else "") + _s(
            d.get("reason")
        )
    if kind == "resolved":
        text = _s(d.get("solution"))
        if d.get("cause"):
            text += f"（原因：{d['cause']}）"
        if d.get("kb"):
            text += f" [知识库 {d['kb']}]"
        return step, text
    if kind == "callback":
        sat = f"满意度 {d['satisfaction']}/5 " if d.get("satisfaction") else ""
        return step, sat + _s(d.get("note"))
    if kind == "visit_scheduled":
        return step, f"上门时间 {_t(d.get('visit_at'), tz)} " + _s(d.get("note"))
    if kind == "visit_done":
        return step, (
            f"{_t(d.get('start'), tz)}–{_t(d.get('end'), tz)} {_s(d.get('work'))}"
            f"（用户 {_s(d.get('signed_by'))} 签字确认）"
        )
    if kind == "attached":
        names = "、".join(_s(f.get("name")) for f in d.get("files") or [] if isinstance(f, dict))
        return step, names + (f"（{d['note']}）" if d.get("note") else "")
    if kind == "redirected":
        return step, f"→ {_s(d.get('to'))} " + _s(d.get("reason"))
    if kind == "edited":
        changes = d.get("changes") or {}
        text = "，".join(f"{k}: {v[0]} → {v[1]}" for k, v in changes.items())
        return step, text + (f"（{d['reason']}）" if d.get("reason") else "")
    if kind in ("sla_warning", "sla_breach"):
        clock = zh(CLOCKS, "response" if d.get("clock") == "response" else "resolution")
        return step, f"{clock}时限 {_t(d.get('deadline'), tz)}"
    text = d.get("reason") or d.get("text") or d.get("note") or d.get("summary") or ""
    return step, _s(text)


def _outcome_zh(clock: Clock) -> str:
    if clock.outcome == TIMELY:
        return "及时"
    if clock.outcome == LATE:
        return "超时"
    return "进行中（未到期）" if not clock.paused else "挂起中（计时暂停）"


def sla_rows(ticket: Ticket, rules: SlaRules, now: dt.datetime) -> list[list[str]]:
    """Response and resolution against target, for both documents."""
    tz = rules.tz
    rows = []
    for name, clock in zip(
        (f"{zh(CLOCKS, c)} {c}" for c in ("response", "resolution")),
        clocks(ticket, rules, now),
        strict=True,
    ):
        rows.append(
            [
                name,
                f"{clock.target_text}（{clock.calendar}）",
                _t(clock.deadline, tz) or "—",
                _t(clock.done_at, tz) or "—",
                format_duration(clock.used),
                _outcome_zh(clock),
            ]
        )
    return rows


SLA_HEADERS = ("指标", "目标（日历）", "时限", "完成时间", "计时用时", "结果")


def check_major(ticket: Ticket, force: bool) -> None:
    """The report is for 重大事件 (P1) only, unless the PM insists (--force)."""
    if ticket.priority != Priority.P1 and not force:
        raise NotMajor(
            f"{ticket.id} is {ticket.priority}, not a major incident "
            "(P1); use --force to write the report anyway"
        )


def major_report(ticket: Ticket, rules: SlaRules, now: dt.datetime) -> Document:
    """《重大事件处理分析报告》 of one incident, as of ``now``."""
    tz = rules.tz
    s = ticket.state
    f = ticket.fields
    name, phone, dept = _reporter(ticket)
    resolved = _last(ticket, "resolved") if s.resolved_at else None
    created = ticket.events[0]
    end = s.resolved_at or now
    duration = format_duration(end - s.opened_at) + ("" if s.resolved_at else "（尚未解决）")
    urgency = f.get("urgency")
    summary = Fields(
        [
            ("事件编号", ticket.id),
            ("事件标题", ticket.title),
            ("事件类型", f"{zh(INCIDENT_TYPES, ticket.type)}（{ticket.type}）"),
            (
                "严重等级",
                f"{ticket.priority}"
                + (f"（{zh(PRIORITIES, Priority.P1)}）" if ticket.priority == Priority.P1 else "")
                + (
                    f"　紧急程度 {zh(GRADES, urgency)} × 影响面 {zh(GRADES, f.get('impact'))}"
                    if urgency
                    else ""
                ),
            ),
            ("当前状态", f"{zh(STATUSES, s.status)}（{s.status}）"),
            (
                "涉及系统 / 模块",
                " / ".join(x for x in (_s(f.get("system")), _s(f.get("module"))) if x),
            ),
            ("申报人", " ".join(x for x in (name, phone, dept) if x)),
            ("事件来源", zh(SOURCES, _s(f.get("source")))),
            (
                "发生/申告时间",
                _t(s.opened_at, tz) + ("（先处理后补单）" if created.get("backfill") else ""),
            ),
            ("响应时间", _t(s.responded_at, tz) or "—"),
            ("解决时间", _t(s.resolved_at, tz) or "—"),
            ("关闭时间", _t(s.closed_at, tz) or "—"),
            ("持续时间", duration),
            (
                "处理人",
                zh(ROLES, s.tier) + (f" / {s.assignee}" if s.assignee else ""),
            ),
        ]
    )
    flags = []
    if f.get("security"):
        flags.append("信息安全事件")
    if f.get("key_user"):
        flags.append("关键用户")
    summary_blocks: list[Block] = [summary]
    if flags:
        summary_blocks.append(Para("标记：" + "、".join(flags)))

    impact: list[Block] = [
        Para(_s(f.get("description")) or "（登记时未填写事件描述）"),
        Fields([("故障地点", _s(f.get("location"))), ("现场联系人", _s(f.get("contact")))]),
        Para("业务影响范围与程度：" + PM_FILL, placeholder=True),
    ]

    def milestone(label: str, ev: Event | None, detail: str = "") -> tuple[str, str]:
        if ev is None:
            return label, "—（无记录）"
        return label, f"{_t(ev.at, tz)} {ev.by}" + (f"：{detail}" if detail else "")

    def _notified(role_zh: str, ev: Event | None) -> tuple[str, str]:
        """The escalation milestone as it happened: who was told, or that
        nobody was (no one configured for the role)."""
        if ev is None:
            return f"升级至{role_zh}", "—（无记录）"
        who = "、".join(map(str, ev.get("recipients") or []))
        if who:
            return f"通知{role_zh}", f"{_t(ev.at, tz)} {ev.by}：通知 {who}"
        return f"升级至{role_zh}", f"{_t(ev.at, tz)} {ev.by}：未通知任何人（未配置{role_zh}）"

    pm = _first(ticket, "escalation", role="pm")
    assigned = _first(ticket, "assigned")
    l2 = _first(ticket, "escalated", tier="l2")
    vendor = _first(ticket, "escalated", tier="vendor")
    mgmt = _first(ticket, "escalation", role="management")
    confirmed = _last(ticket, "confirmed")
    callback = _last(ticket, "callback")
    milestones = Fields(
        [
            milestone("事件申告", created),
            _notified("项目经理", pm),
            milestone("派单", assigned, _s(assigned.get("to")) if assigned else ""),
            milestone("升级二线支持", l2, _s(l2.get("to")) if l2 else ""),
            milestone("调用厂商支持", vendor, _s(vendor.get("to")) if vendor else ""),
            _notified("管理层", mgmt),
            milestone("解决", resolved),
            milestone("用户确认", confirmed),
            milestone("回访", callback, describe_event(callback, tz)[1] if callback else ""),
        ]
    )
    rows = []
    for ev in ticket.events:
        step, detail = describe_event(ev, tz)
        rows.append([_t(ev.at, tz), step, ev.by, detail])
    timeline = Table(["时间", "环节", "人员", "说明"], rows)
    reached = [[e.after, zh(ROLES, e.role), _t(e.at, tz)] for e in s.escalations]

    process: list[Block] = [Para("关键节点："), milestones]
    if reached:
        process += [Para("管理升级："), Table(["已过时间", "升级至", "时间"], reached)]
    process += [Para("完整时间线（来自事件记录）："), timeline]

    cause = _s(resolved.get("cause")) if resolved else ""
    solution = _s(resolved.get("solution")) if resolved else ""
    follow: list[Block] = [Para("改进措施（责任人、完成时间）：" + PM_FILL, placeholder=True)]
    if s.reopened:
        follow.append(Para(f"本事件曾重新打开 {s.reopened} 次，请分析复发原因。"))
    if s.complaints:
        follow.append(Para(f"本事件收到投诉 {s.complaints} 次。"))
    kb = resolved.get("kb") if resolved else None
    follow.append(
        Para(
            f"解决方案参考知识库 {kb}。" if kb else "解决方案是否纳入知识库：" + L2_FILL,
            placeholder=not kb,
        )
    )

    sections = [
        Section("一、事件概要", summary_blocks),
        Section("二、事件影响", impact),
        Section("三、处理过程", process),
        Section("四、服务级别", [Table(list(SLA_HEADERS), sla_rows(ticket, rules, now))]),
        Section(
            "五、原因分析",
            [
                Para("直接原因（解决时记录）：" + (cause or "（未记录）")),
                Para("根本原因分析：" + PM_FILL, placeholder=True),
            ],
        ),
        Section(
            "六、解决方案",
            [
                Para(solution or "（事件尚未解决）"),
            ],
        ),
        Section("七、后续改进措施", follow),
        Section(
            "八、审核确认",
            [
                Para("项目经理审核意见：" + PM_FILL, placeholder=True),
                Signatures(["项目经理", "客户代表"]),
            ],
        ),
    ]
    return Document(
        title="重大事件处理分析报告",
        subtitle=f"Major incident report · {ticket.id} · {ticket.title}",
        meta=[("事件编号", ticket.id), ("报告日期", _t(now, tz)[:10]), ("编写人", "")],
        sections=sections,
        footer=(
            f"由 elinkctl 依据事件记录生成于 {_t(now, tz)}；标注 {PM_FILL} 的部分须由"
            "项目经理补充后方可提交客户。"
        ),
    )


def field_engineer(ticket: Ticket) -> str:
    """Who goes on site: the last engineer dispatched or escalated to (l1/l2).

    The current assignee may be a vendor after `escalate --tier vendor`; the
    form is for our engineer, so vendors are skipped.
    """
    name = ""
    for ev in ticket.events:
        if ev.type in ("assigned", "escalated") and ev.get("to") and ev.get("tier") != "vendor":
            name = str(ev.get("to"))
    if not name and ticket.state.tier != "vendor":
        name = _s(ticket.state.assignee)
    return name


def _signed(ticket: Ticket, done: Event | None, tz: dt.tzinfo) -> list[Block]:
    """What the system already holds of the signed form: who signed, when it
    was entered, and the files attached (the scanned form)."""
    blocks: list[Block] = []
    if done is not None:
        blocks.append(
            Para(f"已签字确认：{_s(done.get('signed_by'))}（{_t(done.at, tz)}，{done.by} 录入）")
        )
    files = visit.attached(ticket)
    if files:
        blocks.append(Para("附件：" + "、".join(a.name for a in files)))
    return blocks


def service_form(ticket: Ticket, rules: SlaRules, now: dt.datetime) -> Document:
    """《技术服务单》: what the engineer needs on site, and room for the user to sign."""
    tz = rules.tz
    s = ticket.state
    f = ticket.fields
    name, phone, dept = _reporter(ticket)
    resolved = _last(ticket, "resolved") if s.resolved_at else None
    visited = visit.last_done(ticket)
    _, resolution = clocks(ticket, rules, now)
    notes = [
        f"{_t(ev.at, tz)} {ev.by}：{describe_event(ev, tz)[0]} {describe_event(ev, tz)[1]}".strip()
        for ev in ticket.events
        if ev.type in ("contacted", "commented", "visit_scheduled", "escalated", "pended")
        and (ev.get("note") or ev.get("text") or ev.get("reason") or ev.type == "visit_scheduled")
    ]
    work: list[Block]
    if resolved is not None:
        work = [
            Fields(
                [
                    ("处理内容", _s(resolved.get("solution"))),
                    ("故障原因", _s(resolved.get("cause"))),
                ]
            ),
            Para("补充说明："),
            Blank(2),
        ]
    elif visited is not None:
        work = [Para("补充说明："), Blank(2)]
    else:
        work = [Para("处理内容 / 故障原因（现场填写）："), Blank(5)]
    if visited is not None:
        work.insert(0, Fields([("现场工作", _s(visited.get("work")))]))
    if notes:
        work.insert(0, Para("已有记录：\n" + "\n".join(notes)))
    done = ("☑" if resolved is not None else "☐") + " 已解决　☐ 未解决（需升级）"
    sections = [
        Section(
            "申报信息",
            [
                Fields(
                    [
                        ("申报人", name),
                        ("联系电话", phone),
                        ("部门", dept),
                        ("服务地点", _s(f.get("location"))),
                        ("现场联系人", _s(f.get("contact"))),
                    ]
                )
            ],
        ),
        Section(
            "事件信息",
            [
                Fields(
                    [
                        ("事件标题", ticket.title),
                        (
                            "类型 / 优先级",
                            f"{zh(INCIDENT_TYPES, ticket.type)} / {ticket.priority}",
                        ),
                        ("涉及系统", _s(f.get("system"))),
                        ("所属模块", _s(f.get("module"))),
                        ("申告时间", _t(s.opened_at, tz)),
                        (
                            "解决时限",
                            _t(resolution.deadline, tz) if s.status in OPEN_STATUSES else "—",
                        ),
                        ("事件描述", _s(f.get("description"))),
                    ]
                )
            ],
        ),
        Section(
            "服务安排",
            [
                Fields(
                    [
                        (
                            "预约上门时间",
                            "未预约（直接上门）"
                            if visited is not None and s.visit_at is None
                            else _t(s.visit_at, tz),
                        ),
                        ("工程师", field_engineer(ticket)),
                        *([("厂商", _s(s.vendor))] if s.vendor else []),
                    ]
                )
            ],
        ),
        Section(
            "处理情况",
            [
                *work,
                Fields(
                    [
                        ("开始时间", _t(visited.get("start"), tz) if visited else ""),
                        ("结束时间", _t(visited.get("end") if visited else s.resolved_at, tz)),
                        ("处理结果", done),
                    ]
                ),
            ],
        ),
        Section(
            "用户确认",
            [
                Para("服务评价：☐ 非常满意　☐ 满意　☐ 一般　☐ 不满意"),
                Para("用户意见："),
                Blank(2),
                *_signed(ticket, visited, tz),
                Signatures(["用户", "工程师"]),
            ],
        ),
    ]
    return Document(
        title="技术服务单",
        subtitle=f"Service ticket form · {ticket.id}",
        meta=[("服务单号", ticket.id), ("打印时间", _t(now, tz))],
        sections=sections,
        footer="服务完成后请用户确认并签字；工程师回公司后将本单内容录入系统，纸质单存档。",
    )
