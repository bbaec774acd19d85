"""The words people read: Chinese and English labels of every closed set.

One entry per key, in the words of the procedure (E-Link-23-03, DESIGN §2),
so the terminal, notifications, documents, KB drafts and the stats report
call a state by the same name. Keys are the values stored in files and
printed in JSON (the enums of `elinkctl.domain.model`, the roles, sources
and event types); labels are for display only and never parsed back.

Look a word up with `zh` or `en`: an unknown key (a value written by a newer
version, or a hand edit) reads as itself, so display never fails on it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from elinkctl.domain.model import Grade, IncidentType, Priority, Status


@dataclasses.dataclass(frozen=True)
class Term:
    """One key's labels: ``zh`` for people, ``en`` where output is English."""

    zh: str
    en: str


STATUSES: Mapping[str, Term] = {
    Status.NEW: Term("新建", "new"),
    Status.PM_REVIEW: Term("待项目经理审核", "PM review"),
    Status.IN_PROGRESS: Term("处理中", "in progress"),
    Status.PENDING: Term("挂起", "pending"),
    Status.RESOLVED: Term("已解决", "resolved"),
    Status.CLOSED: Term("已关闭", "closed"),
    # 退回: the procedure's word for an out-of-scope incident sent back (§4 接受和筛选).
    Status.REJECTED: Term("已退回", "rejected"),
    # A change or a requirement goes to that process instead (走其他的申请).
    Status.REDIRECTED: Term("已转其他流程", "redirected"),
}

INCIDENT_TYPES: Mapping[str, Term] = {
    IncidentType.FAILURE: Term("故障", "failure"),
    IncidentType.REQUEST: Term("服务请求", "request"),
    IncidentType.CONSULTATION: Term("咨询", "consultation"),
}

PRIORITIES: Mapping[str, Term] = {
    Priority.P1: Term("重大事件", "major incident"),
    Priority.P2: Term("二级事件", "priority 2"),
    Priority.P3: Term("三级事件", "priority 3"),
    Priority.P4: Term("四级事件", "priority 4"),
}

# Roles of the escalation matrix. The tiers that hold a ticket (`Tier`) are
# roles too, so one vocabulary names both.
ROLES: Mapping[str, Term] = {
    "desk": Term("服务台", "service desk"),
    "l1": Term("一线工程师", "first-line engineer"),
    "l2": Term("二线支持团队", "second-line team"),
    "vendor": Term("厂商", "vendor"),
    "pm": Term("项目经理", "project manager"),
    "management": Term("管理层", "management"),
}

GRADES: Mapping[str, Term] = {
    Grade.HIGH: Term("高", "high"),
    Grade.MEDIUM: Term("中", "medium"),
    Grade.LOW: Term("低", "low"),
}

# 来源 of the procedure §5.1.
SOURCES: Mapping[str, Term] = {
    "phone": Term("热线电话", "phone"),
    "voicemail": Term("语音邮件", "voicemail"),
    "visit": Term("直接访问", "walk-in"),
    "letter": Term("信件", "letter"),
    "fax": Term("传真", "fax"),
    "email": Term("电子邮件", "email"),
    "inspection": Term("巡检发现", "inspection"),
    "monitoring": Term("监控告警", "monitoring"),
}

# The two SLA clocks (and KPIs): 事件及时响应率 and 事件及时解决率.
CLOCKS: Mapping[str, Term] = {
    "response": Term("响应", "response"),
    "resolution": Term("解决", "resolution"),
}

# What happened, as a step of the history. ``en`` is the terminal timeline's
# column (capitals mark what a reader must not miss).
EVENTS: Mapping[str, Term] = {
    "created": Term("登记", "registered"),
    "accepted": Term("受理", "accepted"),
    "rejected": Term("退回", "rejected"),
    "redirected": Term("转其他流程", "redirected"),
    "transferred": Term("转项目经理", "to PM"),
    "assigned": Term("派单", "assigned"),
    "contacted": Term("联系用户", "contacted"),
    "visit_scheduled": Term("预约上门", "visit booked"),
    "escalated": Term("升级", "escalated"),
    "pended": Term("挂起", "pending"),
    "resumed": Term("恢复处理", "resumed"),
    "resolved": Term("解决", "resolved"),
    "reopened": Term("重新打开", "reopened"),
    "confirmed": Term("用户确认", "confirmed"),
    "callback": Term("回访", "callback"),
    "closed": Term("关闭", "closed"),
    "commented": Term("备注", "comment"),
    "complained": Term("投诉", "COMPLAINT"),
    "edited": Term("修改", "edited"),
    "escalation": Term("管理升级", "ESCALATION"),
    "sla_warning": Term("SLA 即将超时", "SLA warning"),
    "sla_breach": Term("SLA 已超时", "SLA BREACH"),
    # A concurrent step from another clone that the merged history made impossible.
    "superseded": Term("作废", "superseded"),
    "alert": Term("告警", "alert"),
    # The major-incident steps (重大事件处理流程) and the rest of the people loop.
    "major_confirmed": Term("重大事件确认", "MAJOR confirmed"),
    "progress": Term("进展汇报", "progress report"),
    "reviewed": Term("项目经理审核", "PM review"),
    "report_issued": Term("报告已出具", "report issued"),
    "replied": Term("厂商回复", "vendor reply"),
    "visit_done": Term("上门服务完成", "visit done"),
    "attached": Term("附件", "attached"),
    "kb_decided": Term("知识库决定", "KB decision"),
    # Reminders `check` records (once each) when a step of the procedure is overdue.
    "vendor_warning": Term("厂商回复即将到期", "vendor reply due soon"),
    "vendor_overdue": Term("厂商回复已超时", "VENDOR OVERDUE"),
    "progress_due": Term("应汇报进展", "progress report due"),
    "visit_missed": Term("上门预约已过", "VISIT MISSED"),
    "promise_passed": Term("承诺处理时间已过", "PROMISE PASSED"),
    "kb_decision_due": Term("应做知识库决定", "KB decision due"),
}

# Why a notification is sent: the event it announces, or a test of a channel.
NOTIFICATIONS: Mapping[str, Term] = {
    "escalation": EVENTS["escalation"],
    "sla_warning": EVENTS["sla_warning"],
    "sla_breach": EVENTS["sla_breach"],
    "vendor_warning": EVENTS["vendor_warning"],
    "vendor_overdue": EVENTS["vendor_overdue"],
    "progress_due": EVENTS["progress_due"],
    "visit_missed": EVENTS["visit_missed"],
    "promise_passed": EVENTS["promise_passed"],
    "kb_decision_due": EVENTS["kb_decision_due"],
    "progress": EVENTS["progress"],
    "test": Term("测试通知", "test"),
    # Hand-offs and the reporter's notices (elinkctl.domain.notices).
    "registered": Term("事件已登记", "registered"),
    "assigned": EVENTS["assigned"],
    "escalated": EVENTS["escalated"],
    "reopened": EVENTS["reopened"],
    "transferred": EVENTS["transferred"],
    "rejected": EVENTS["rejected"],
    "redirected": EVENTS["redirected"],
    "resolved": Term("已解决，请确认", "resolved, please confirm"),
    "closed": Term("已关闭，请评价", "closed, please rate"),
    "digest": Term("事件通知汇总", "digest"),
}

# What `audit` finds in the history (elinkctl.domain.audit.KINDS).
AUDIT_FINDINGS: Mapping[str, Term] = {
    "late_response": Term("补录掩盖响应超时", "late record hides a late response"),
    "late_resolution": Term("补录掩盖解决超时", "late record hides a late resolution"),
    "late_record": Term("事后补录", "recorded late"),
    "timestamp_edit": Term("事件时间被改动", "event time edited"),
    "priority_edit": Term("优先级改动影响时效", "priority edit"),
    "close_unconfirmed": Term("未经用户确认关闭", "closed unconfirmed"),
    "callback_outside_desk": Term("非服务台回访", "callback outside the desk"),
}


def zh(vocabulary: Mapping[str, Term], key: object, default: str | None = None) -> str:
    """The Chinese label of ``key``; ``default`` (else the key) when it has none."""
    term = vocabulary.get(str(key))
    if term is not None:
        return term.zh
    return str(key) if default is None else default


def en(vocabulary: Mapping[str, Term], key: object, default: str | None = None) -> str:
    """The English label of ``key``; ``default`` (else the key) when it has none."""
    term = vocabulary.get(str(key))
    if term is not None:
        return term.en
    return str(key) if default is None else default
