"""Realistic stores for benchmarks, demos and tests: years of incidents.

``python scripts/generate.py DIR --tickets N --months M [--open K] [--seed S] [--no-publish]``

At the end the store's ticket index is built and published on the branch
``elinkctl-index`` (`publish`), as a desk's check host does every night;
``--no-publish`` leaves a store nobody ever published.

Every ticket is built through the domain (`lifecycle.register`,
`lifecycle.record`, `ticketfile.dumps`), so a generated store passes
``elinkctl fsck`` and exercises the same code paths as real work. Files are
written directly (not one commit per command, which would take hours at
100,000 tickets) and committed in bulk with the plain git binary.

Determinism: the plan (IDs, opening times, which tickets stay open, one
seed per ticket) is drawn in the parent process; workers only render, so
the same ``--seed`` gives the same store whatever the number of processes.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import random
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from elinkctl.domain import ids, lifecycle, ticketfile
from elinkctl.domain.model import Ticket
from elinkctl.progress import Progress, show_on

# --- the world the incidents happen in -------------------------------------------------

PRIORITY_WEIGHTS = (("P1", 3), ("P2", 17), ("P3", 50), ("P4", 30))
URGENCY_IMPACT = {
    "P1": [("high", "high")],
    "P2": [("high", "medium"), ("medium", "high")],
    "P3": [("high", "low"), ("medium", "medium"), ("low", "high")],
    "P4": [("medium", "low"), ("low", "medium"), ("low", "low")],
}
TYPE_WEIGHTS = (("failure", 60), ("request", 28), ("consultation", 12))
SOURCE_WEIGHTS = (
    ("phone", 45),
    ("email", 20),
    ("monitoring", 14),
    ("visit", 8),
    ("inspection", 7),
    ("voicemail", 4),
    ("letter", 1),
    ("fax", 1),
)
# system -> module -> (failure titles, request titles, consultation titles)
SYSTEMS: dict[str, dict[str, tuple[list[str], list[str], list[str]]]] = {
    "财务系统": {
        "登录": (
            ["财务系统无法登录", "登录后页面空白"],
            ["开通财务系统账号"],
            ["财务系统密码规则咨询"],
        ),
        "报销": (["报销单无法提交", "报销附件上传失败"], ["调整报销审批人"], ["差旅报销流程咨询"]),
        "总账": (["凭证过账报错", "月结卡在结转步骤"], ["新增会计科目"], ["凭证冲销操作咨询"]),
        "报表": (
            ["月结报表导出失败", "资产负债表数据不平"],
            ["新增报表模板"],
            ["报表取数口径咨询"],
        ),
    },
    "OA系统": {
        "流程审批": (["审批流程卡住", "待办不显示"], ["新建审批流程"], ["加签操作咨询"]),
        "公文": (["公文无法打开", "红头模板错乱"], ["公文模板调整"], ["公文归档咨询"]),
        "考勤": (["打卡记录丢失", "考勤统计错误"], ["补录考勤"], ["调休规则咨询"]),
    },
    "ERP": {
        "采购": (["采购订单无法保存", "供应商同步失败"], ["新增供应商"], ["采购审批权限咨询"]),
        "库存": (["库存数量不一致", "出库单报错"], ["盘点数据导入"], ["库存预警设置咨询"]),
        "销售订单": (
            ["销售订单价格取错", "发货单生成失败"],
            ["客户信息批量导入"],
            ["订单拆分咨询"],
        ),
    },
    "邮件系统": {
        "收发": (["邮件发不出去", "收不到外部邮件"], ["新建邮件组"], ["邮件召回咨询"]),
        "Outlook客户端": (
            ["Outlook频繁断开", "Outlook搜索失效"],
            ["配置Outlook客户端"],
            ["签名设置咨询"],
        ),
        "邮箱容量": (["邮箱已满无法收信"], ["申请扩容邮箱"], ["归档策略咨询"]),
    },
    "VPN": {
        "客户端": (
            ["VPN连接失败", "VPN连上后无法访问内网"],
            ["安装VPN客户端"],
            ["VPN使用说明咨询"],
        ),
        "证书": (["VPN证书过期"], ["更新VPN证书"], ["证书有效期咨询"]),
        "账号": (["VPN账号被锁定"], ["开通VPN账号"], ["VPN权限范围咨询"]),
    },
    "打印机": {
        "卡纸": (["打印机卡纸", "打印机不进纸"], ["更换硒鼓"], ["双面打印设置咨询"]),
        "驱动": (["打印机驱动安装失败", "打印乱码"], ["添加网络打印机"], ["驱动版本咨询"]),
        "网络打印": (["网络打印机脱机", "打印任务卡住"], ["配置扫描到邮箱"], ["打印配额咨询"]),
    },
    "网络": {
        "有线": (["办公室网络中断", "网速很慢"], ["新增网络端口"], ["网络接入规范咨询"]),
        "无线": (["无线网络连不上", "会议室WiFi信号差"], ["访客WiFi开通"], ["无线认证方式咨询"]),
        "交换机": (["交换机端口故障", "楼层交换机宕机"], ["交换机端口划VLAN"], ["网络拓扑咨询"]),
    },
    "数据库": {
        "性能": (["数据库响应缓慢", "慢查询导致系统卡顿"], ["数据库性能巡检"], ["索引优化咨询"]),
        "备份": (["数据库备份失败", "备份空间不足"], ["恢复测试数据"], ["备份策略咨询"]),
        "连接": (["数据库连接数耗尽", "应用连不上数据库"], ["新增数据库账号"], ["连接池配置咨询"]),
    },
}
SOLUTIONS = [
    "重置账号密码并指导用户登录",
    "清理浏览器缓存后恢复",
    "重启相关服务后恢复",
    "更新客户端版本",
    "更换故障硬件",
    "调整配置参数",
    "修复数据后恢复正常",
    "更新认证服务证书并重启",
    "协调厂商打补丁",
    "远程协助完成设置",
    "现场处理完成",
]
DESK = ["服务台-王芳", "服务台-李娜", "服务台-张敏", "服务台-刘静"]
L1 = ["张伟", "王强", "李军", "刘洋", "陈杰", "杨帆", "赵勇", "黄磊"]
L2 = ["周涛", "吴斌", "徐峰", "孙浩", "马超"]
VENDORS = ["用友厂商", "金蝶厂商", "华为厂商", "深信服厂商", "惠普厂商", "Oracle厂商"]
PM = "项目经理-郑丽"
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
)
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "霞",
    "平",
    "刚",
    "桂英",
    "文",
    "辉",
    "建华",
    "晓东",
    "海燕",
    "志强",
]
DEPARTMENTS = [
    "财务部",
    "人力资源部",
    "市场部",
    "销售部",
    "行政部",
    "采购部",
    "法务部",
    "生产部",
    "研发中心",
    "客服中心",
    "总经理办公室",
]
KEY_USERS = [
    ("孙总", "13900000001", "总经理办公室"),
    ("钱总", "13900000002", "财务部"),
    ("李董", "13900000003", "总经理办公室"),
    ("赵总监", "13900000004", "信息中心"),
]
# Wall-clock hours: (typical low, typical high, late low, late high) to resolve.
RESOLUTION_HOURS = {
    "P1": (0.3, 3.5, 4.5, 12.0),
    "P2": (0.5, 7.0, 9.0, 36.0),
    "P3": (0.5, 30.0, 80.0, 200.0),
    "P4": (1.0, 80.0, 190.0, 400.0),
}
RESPONSE_MINUTES = {"P1": 15, "P2": 30, "P3": 60, "P4": 240}
ESCALATION_MATRIX = {
    "P1": [(0.0, "0h", "pm"), (0.5, "30m", "management")],
    "P2": [(0.0, "0h", "l2"), (0.5, "30m", "pm"), (4.0, "4h", "management")],
    "P3": [(0.0, "0h", "l1"), (0.5, "30m", "l2"), (4.0, "4h", "pm"), (12.0, "12h", "management")],
    "P4": [(0.5, "30m", "l1"), (4.0, "4h", "l2"), (12.0, "12h", "pm"), (48.0, "2d", "management")],
}
OPEN_STATES = (("new", 12), ("in_progress", 55), ("pending", 28), ("pm_review", 5))


def _weighted(rng: random.Random, table: Sequence[tuple[str, int]]) -> str:
    return rng.choices([k for k, _ in table], weights=[w for _, w in table])[0]


@dataclasses.dataclass(frozen=True)
class Plan:
    """What the parent decides for one ticket; a worker renders it."""

    ticket_id: str
    opened_at: dt.datetime
    stay_open: bool
    seed: int


# --- one ticket through the domain ----------------------------------------------------


class _Builder:
    """Collects events, then records them in time order through `lifecycle.record`.

    Queuing first means escalation levels (decided up front) and lifecycle
    steps get event numbers in time order, as when cron and people record
    them as they happen; `record` still validates every step.
    """

    def __init__(self, change: lifecycle.Change, now: dt.datetime) -> None:
        self.ticket = change.ticket
        self.now = now
        self.queue: list[tuple[dt.datetime, int, str, str, dict[str, Any]]] = []

    def add(self, type_: str, by: str, at: dt.datetime, **data: Any) -> None:
        at = min(at, self.now).replace(microsecond=0)
        clean = {
            k: (v.replace(microsecond=0) if isinstance(v, dt.datetime) else v)
            for k, v in data.items()
        }
        self.queue.append((at, len(self.queue), type_, by, clean))

    def done(self) -> Ticket:
        ticket = self.ticket
        for at, _, type_, by, data in sorted(self.queue, key=lambda q: (q[0], q[1])):
            # Recorded as it happened (now = at): no step carries a recorded_at.
            ticket = lifecycle.record(ticket, type_, by, at, at, type_, **data).ticket
        self.queue.clear()
        self.ticket = ticket
        return ticket


def _hours(rng: random.Random, low: float, high: float) -> float:
    """Skewed towards the low end: most incidents are quick, a few drag on."""
    return low + (high - low) * rng.random() ** 2


def build_ticket(plan: Plan, now: dt.datetime, tz: dt.tzinfo) -> Ticket:
    """One incident's whole life, as the desk would have recorded it."""
    rng = random.Random(plan.seed)
    priority = _weighted(rng, PRIORITY_WEIGHTS)
    urgency, impact = rng.choice(URGENCY_IMPACT[priority])
    type_ = _weighted(rng, TYPE_WEIGHTS)
    system = rng.choice(list(SYSTEMS))
    module = rng.choice(list(SYSTEMS[system]))
    titles = SYSTEMS[system][module][("failure", "request", "consultation").index(type_)]
    source = (
        "monitoring"
        if type_ == "failure" and rng.random() < 0.15
        else _weighted(rng, SOURCE_WEIGHTS[:2] + SOURCE_WEIGHTS[3:])
    )
    key = rng.random() < 0.04
    if key:
        name, phone, dept = rng.choice(KEY_USERS)
    else:
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        phone = f"1{rng.choice('3578')}{rng.randrange(10**9):09d}"
        dept = rng.choice(DEPARTMENTS)
    fields: dict[str, Any] = {
        "title": rng.choice(titles),
        "type": type_,
        "priority": priority,
        "urgency": urgency,
        "impact": impact,
        "key_user": True if key else None,
        "security": True if system in ("VPN", "网络", "数据库") and rng.random() < 0.02 else None,
        "reporter": {"name": name, "phone": phone, "department": dept},
        "location": f"{rng.randrange(1, 21)}楼{rng.randrange(1, 30):02d}室",
        "system": system,
        "module": module,
        "source": source,
    }
    if rng.random() < 0.3:
        fields["description"] = (
            f"{fields['title']}，用户反馈影响日常工作。\n已尝试重启，问题仍然存在。"
        )
    desk = rng.choice(DESK)
    opened = plan.opened_at
    # Everything must have happened by now: an old ticket has all the time it
    # needs; a recent one is squeezed into what is left.
    room = (now - opened).total_seconds() / 3600
    recorded = opened
    if priority == "P1" and rng.random() < 0.3 and room > 2:
        recorded = opened + dt.timedelta(minutes=rng.uniform(10, 60))  # 先处理后补单
    change = lifecycle.register(
        plan.ticket_id,
        fields,
        desk,
        opened,
        recorded,
        recorded,  # registered then: only a backfill says when it was entered
        backfill_reason="先处理后补单" if recorded > opened else None,
    )
    b = _Builder(change, now)
    target = "closed"
    if plan.stay_open:
        target = _weighted(rng, OPEN_STATES)
    elif rng.random() < 0.03:
        target = rng.choice(("rejected", "rejected", "redirected"))

    # Offsets in hours from opening, scaled down to fit before now when needed.
    resp_min = RESPONSE_MINUTES[priority]
    late_resp = rng.random() < 0.07
    response = (
        rng.uniform(resp_min, resp_min * 4) if late_resp else rng.uniform(1, resp_min * 0.9)
    ) / 60
    if recorded > opened:  # the desk acts once the major incident is on record
        response = max(response, (recorded - opened).total_seconds() / 3600 + 0.05)
    lo, hi, late_lo, late_hi = RESOLUTION_HOURS[priority]
    resolve = _hours(rng, late_lo, late_hi) if rng.random() < 0.08 else _hours(rng, lo, hi)
    resolve = max(resolve, response + 0.2)
    pend = rng.random() < 0.08 or target == "pending"
    pause = rng.uniform(2, 72) if pend else 0.0
    reopen = target == "closed" and rng.random() < 0.03
    total = resolve + pause + (rng.uniform(1, 48) + resolve if reopen else 0) + 30
    if plan.stay_open:
        total = resolve + pause
    scale = min(1.0, max(room - 0.01, 0.0) / total) if total else 1.0

    def at(hours: float) -> dt.datetime:
        return opened + dt.timedelta(hours=hours * scale)

    # Escalation levels fire by elapsed wall time while unresolved, as `check` does.
    unresolved_until = at(resolve + pause) if target == "closed" else now
    if target in ("rejected", "redirected"):
        unresolved_until = at(response)
    for after_h, after, role in ESCALATION_MATRIX[priority]:
        fired = opened + dt.timedelta(hours=after_h)
        if fired < unresolved_until and fired <= now:
            b.add("escalation", "elinkctl", fired, role=role, after=after)
    if target == "new":
        return b.done()
    if target in ("rejected", "redirected"):
        if target == "rejected":
            b.add("rejected", desk, at(response), reason="不在服务协议范围内")
        else:
            to = rng.choice(("change", "requirement"))
            b.add("redirected", desk, at(response), to=to, reason="属于变更/需求，转相应流程")
        return b.done()
    if target == "pm_review" or rng.random() < 0.005:
        b.add("transferred", desk, at(response * 0.5), reason="客户坚持要求服务范围外支持")
        if target == "pm_review":
            return b.done()
        b.add("accepted", PM, at(response), note="项目经理同意支持")
    else:
        b.add("accepted", desk, at(response))
    by = desk
    simple = type_ == "consultation" or (type_ == "request" and rng.random() < 0.3)
    step = response
    if not simple or plan.stay_open:
        by = rng.choice(L1)
        step = response + (resolve - response) * 0.1
        b.add("assigned", desk, at(step), to=by, tier="l1")
        step += (resolve - response) * 0.1
        b.add("contacted", by, at(step), note="电话联系用户，远程查看")
        if rng.random() < 0.2:
            b.add("visit_scheduled", by, at(step), visit_at=at(step + (resolve - step) * 0.3))
        if rng.random() < 0.2:
            step += (resolve - step) * 0.3
            l2 = rng.choice(L2)
            b.add("escalated", by, at(step), tier="l2", to=l2, reason="一线无法解决，需二线支持")
            by = l2
            if rng.random() < 0.15:
                step += (resolve - step) * 0.2
                vendor = rng.choice(VENDORS)
                b.add(
                    "escalated",
                    by,
                    at(step),
                    tier="vendor",
                    to=vendor,
                    due=at(step + 24),
                    reason="需原厂支持（已征得客户同意）",
                )
                by = vendor
    if rng.random() < 0.01:
        b.add("complained", "服务台-王芳", at(step + 0.1), text="用户投诉处理太慢")
    if rng.random() < 0.1:
        b.add("commented", by, at(step + 0.05), text="已与用户确认问题现象")
    if pend:
        step += (resolve - step) * 0.3
        b.add(
            "pended",
            by,
            at(step),
            reason=rng.choice(("等待用户提供信息", "等待厂商回复", "用户出差")),
        )
        if target == "pending":
            return b.done()
        step += pause
        b.add("resumed", by, at(step))
    if plan.stay_open:
        return b.done()
    end = resolve + pause
    b.add("resolved", by, at(end), solution=rng.choice(SOLUTIONS))
    if reopen:
        end += rng.uniform(1, 48)
        b.add("reopened", desk, at(end), reason="用户反馈问题复现")
        end += resolve
        b.add("resolved", by, at(end), solution=rng.choice(SOLUTIONS))
    end += rng.uniform(0.2, 20)
    b.add("confirmed", desk, at(end))
    if rng.random() < 0.7:
        end += rng.uniform(0.5, 8)
        sat = rng.choices((5, 4, 3, 2, 1), weights=(55, 30, 10, 3, 2))[0]
        b.add("callback", desk, at(end), satisfaction=sat, note="回访用户，问题已解决")
    end += rng.uniform(0.1, 2)
    b.add("closed", desk, at(end))
    return b.done()


# --- the plan ---------------------------------------------------------------------


def _opening_times(
    rng: random.Random, n: int, start: dt.datetime, now: dt.datetime, tz: dt.tzinfo
) -> list[dt.datetime]:
    """Times weighted like a real desk: working hours, fewer at night and on weekends."""
    span = (now - start).total_seconds()
    out: list[dt.datetime] = []
    while len(out) < n:
        t = start + dt.timedelta(seconds=rng.random() * span)
        local = t.astimezone(tz)
        weight = 1.0 if 8 <= local.hour < 19 else 0.12
        if local.weekday() >= 5:
            weight *= 0.25
        if rng.random() < weight:
            out.append(local.replace(microsecond=0))
    out.sort()
    return out


def make_plan(
    n: int,
    months: int,
    open_count: int,
    seed: int,
    now: dt.datetime,
    tz: dt.tzinfo,
    taken: set[str] | None = None,
) -> list[Plan]:
    """IDs, opening times and which tickets stay open; deterministic for a seed.

    The open ones are mostly the newest (a desk works its queue), with a
    few old stragglers so "oldest open" views have something to show.
    """
    if open_count > n:
        raise ValueError("--open cannot exceed --tickets")
    rng = random.Random(seed)
    start = now - dt.timedelta(days=months * 30.44)
    times = _opening_times(rng, n, start, now, tz)
    taken = set() if taken is None else taken
    plans_ids = []
    for t in times:
        tid = ids.new_id(t.date(), taken, rand=rng.randrange)
        taken.add(tid)
        plans_ids.append(tid)
    stragglers = min(open_count // 10, max(0, n - open_count))
    recent = open_count - stragglers
    open_idx = set(range(n - recent, n))
    pool = list(range(0, n - recent))
    open_idx.update(rng.sample(pool, stragglers))
    return [
        Plan(tid, t, i in open_idx, rng.randrange(2**63))
        for i, (tid, t) in enumerate(zip(plans_ids, times, strict=True))
    ]


# --- rendering and writing ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Job:
    root: str
    now: dt.datetime
    tz_name: str
    plans: list[Plan]


def _render(job: _Job) -> int:
    """Worker: build, dump and write a chunk of tickets; returns how many."""
    from elinkctl.timeutil import zone

    tz = zone(job.tz_name)
    root = Path(job.root)
    made: set[Path] = set()
    for plan in job.plans:
        ticket = build_ticket(plan, job.now, tz)
        year, month = ids.shard(ticket.id)
        folder = root / "tickets" / year / month
        if folder not in made:
            folder.mkdir(parents=True, exist_ok=True)
            made.add(folder)
        (folder / f"{ticket.id}.yaml").write_text(ticketfile.dumps(ticket), encoding="utf-8")
    return len(job.plans)


def _chunks(plans: list[Plan], size: int) -> Iterator[list[Plan]]:
    for i in range(0, len(plans), size):
        yield plans[i : i + size]


def render_all(
    root: Path,
    plans: list[Plan],
    now: dt.datetime,
    tz_name: str,
    processes: int,
    progress: Callable[[int], None],
) -> None:
    """Render in parallel; ``progress`` is told how many were written."""
    jobs = [_Job(str(root), now, tz_name, chunk) for chunk in _chunks(plans, 500)]
    if processes <= 1 or len(plans) < 2000:
        for job in jobs:
            progress(_render(job))
        return
    import multiprocessing

    ctx = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn")
    with ctx.Pool(processes) as pool:
        for done in pool.imap_unordered(_render, jobs):
            progress(done)


def _git(root: Path, *args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run(["git", *args], cwd=root, env=env, check=True, stdout=subprocess.DEVNULL)


def _add_key_users(root: Path) -> None:
    """A realistic store names its key users; the generated reporters use them."""
    sla = root / "sla.yaml"
    text = sla.read_text(encoding="utf-8")
    if "\nkey_users: []\n" in text:
        names = "".join(f"\n  - {n}" for n, _, _ in KEY_USERS)
        sla.write_text(
            text.replace("\nkey_users: []\n", f"\nkey_users:{names}\n"), encoding="utf-8"
        )


def generate(
    root: Path,
    tickets: int,
    months: int,
    open_count: int = 0,
    seed: int = 1,
    now: dt.datetime | None = None,
    actor: str | None = None,
    processes: int | None = None,
    progress: bool | None = None,
) -> list[str]:
    """Create (or extend) the store at ``root`` with ``tickets`` incidents; commit them.

    Returns the new IDs in opening order.
    """
    from elinkctl.config import load_config
    from elinkctl.services.setup import init_store
    from elinkctl.store.gitrepo import commit_env
    from elinkctl.timeutil import now_from_env

    actor = actor or os.environ.get("ELINKCTL_USER") or "elinkctl-generate"
    if not (root / "sla.yaml").exists():
        init_store(root, actor)
        _add_key_users(root)
        _git(root, "add", "sla.yaml")
        _git(
            root,
            "commit",
            "-q",
            "--no-verify",
            "-m",
            "sla.yaml: key users",
            env=commit_env(actor, "elinkctl@localhost"),
        )
    config = load_config(root)
    tz = config.tz
    now = (now or now_from_env(tz)).astimezone(tz).replace(microsecond=0)
    taken = set()
    base = root / "tickets"
    if base.is_dir():
        taken = {p.stem for p in base.glob("*/*/INC-*.yaml")}
    plans = make_plan(tickets, months, open_count, seed, now, tz, taken)
    bar = Progress(tickets, "rendering", progress)
    render_all(root, plans, now, str(getattr(tz, "key", tz)), processes or os.cpu_count() or 1, bar)
    bar.finish()
    env = commit_env(actor, "elinkctl@localhost")
    _git(root, "add", "--", "tickets")
    _git(
        root,
        "commit",
        "-q",
        "--no-verify",
        "-m",
        f"generated {tickets} incidents over {months} months ({open_count} open)",
        env=env,
    )
    return [p.ticket_id for p in plans]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python scripts/generate.py",
        description="Generate a realistic elinkctl store (for benchmarks and demos).",
    )
    parser.add_argument("dir", type=Path)
    parser.add_argument("--tickets", type=int, required=True)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--open", dest="open_count", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--now", help="ISO 8601 end of the period (default $ELINKCTL_NOW or now)")
    parser.add_argument("--processes", type=int, default=None)
    parser.add_argument(
        "--no-publish",
        dest="publish",
        action="store_false",
        help="do not build and publish the ticket index (the check host's nightly "
        "`elinkctl index publish`) at the end",
    )
    args = parser.parse_args(argv)
    if sys.stderr.isatty():
        show_on(sys.stderr)
    now = dt.datetime.fromisoformat(args.now) if args.now else None
    if now is not None and now.tzinfo is None:
        parser.error("--now needs an offset, e.g. 2026-11-23T10:00:00+08:00")
    try:
        generate(
            args.dir,
            args.tickets,
            args.months,
            args.open_count,
            args.seed,
            now,
            processes=args.processes,
        )
    except (ValueError, subprocess.CalledProcessError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return publish(args.dir, now) if args.publish else 0


def publish(root: Path, now: dt.datetime | None) -> int:
    """Do what a desk's check host does every night (docs/performance.md):
    build the ticket index and publish it on the branch ``elinkctl-index``,
    so that a clone of the generated store starts as a clone of a real desk
    does. ``--no-publish`` gives a store nobody ever published (a clone's
    first command then parses every ticket)."""
    env = dict(os.environ, ELINKCTL_STORE=str(root))
    env.setdefault("ELINKCTL_USER", "elinkctl-generate")
    if now is not None:
        env["ELINKCTL_NOW"] = now.isoformat()
    done = subprocess.run([sys.executable, "-m", "elinkctl", "index", "publish"], env=env)
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
