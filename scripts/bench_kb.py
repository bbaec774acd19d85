#!/usr/bin/env python3
"""Benchmark knowledge-base search: 2,000 articles + 10,000 resolved incidents.

    .venv/bin/python scripts/bench_kb.py [--articles 2000] [--tickets 10000] [--runs 5]

Generates synthetic Chinese/English operations text (deterministic seed),
then times, as medians of --runs: building the index from `Doc`s,
`to_bytes`, `from_bytes`, and single queries (a mix of short, long, mixed
Chinese/English and no-hit queries). "cold query" is what a `kb search`
process pays with a cached index: from_bytes + one query.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from elinkctl.kb import Doc, SearchIndex  # noqa: E402

SYSTEMS = [
    "财务系统",
    "OA系统",
    "ERP",
    "邮件系统",
    "VPN",
    "AD域",
    "打印机",
    "无线网络",
    "网络",
    "数据库",
    "备份系统",
    "文件服务器",
    "视频会议",
    "统一身份认证",
    "Web应用",
    "服务器",
    "存储",
    "终端",
    "办公软件",
    "信息安全",
    "人事系统",
    "CRM",
    "档案系统",
    "监控平台",
]
MODULES = [
    "登录",
    "权限",
    "报表",
    "流程",
    "附件",
    "打印",
    "客户端",
    "驱动",
    "账号",
    "接口",
    "性能",
    "证书",
    "同步",
    "配置",
    "硬件",
    "存储",
    "备份",
    "网络",
    "安装",
    "升级",
]
OBJECTS = [
    "客户端",
    "页面",
    "服务",
    "账号",
    "报表",
    "凭证",
    "附件",
    "打印任务",
    "网络连接",
    "数据库连接",
    "证书",
    "磁盘",
    "邮箱",
    "流程",
    "接口",
    "驱动程序",
    "浏览器",
    "插件",
    "同步任务",
    "备份作业",
    "虚拟机",
    "交换机端口",
    "无线AP",
    "Outlook",
    "Excel",
    "Tomcat",
]
PROBLEMS = [
    "无法登录",
    "打不开",
    "连接失败",
    "响应很慢",
    "报错",
    "提示没有权限",
    "显示乱码",
    "频繁掉线",
    "卡死",
    "无法保存",
    "数据不一致",
    "提示过期",
    "启动失败",
    "上传失败",
    "无法打印",
    "同步失败",
    "空间不足",
    "超时",
    "被锁定",
    "无法识别",
    "闪退",
    "告警",
]
CAUSES = [
    "配置被误修改",
    "证书过期",
    "磁盘空间不足",
    "服务进程异常退出",
    "网络策略变更",
    "驱动版本不兼容",
    "缓存损坏",
    "账号权限未同步",
    "数据库锁等待",
    "补丁更新导致兼容问题",
    "DNS 解析指向旧地址",
    "时间不同步",
    "许可数不足",
    "内存泄漏",
    "防火墙未放行端口",
]
ACTIONS = [
    "重启服务",
    "清除浏览器缓存",
    "重新安装客户端",
    "更新驱动",
    "调整配置参数",
    "扩容磁盘",
    "续签证书",
    "同步账号权限",
    "释放数据库锁",
    "回滚补丁",
    "修改 DNS",
    "同步时间",
    "申请增加许可",
    "调整 JVM 参数",
    "放行防火墙端口",
    "更换硬件",
]
NAMES = "张王李赵刘陈杨黄周吴徐孙马朱胡郭何林罗高"
GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰", "军", "强", "涛", "明", "超"]
DEPTS = [
    "财务部",
    "人事部",
    "采购部",
    "销售部",
    "市场部",
    "法务部",
    "行政部",
    "研发中心",
    "客服中心",
]


def _sentence(rng: random.Random) -> str:
    return rng.choice(
        [
            f"{rng.choice(DEPTS)}{rng.choice(NAMES)}{rng.choice(GIVEN)}反映{rng.choice(SYSTEMS)}"
            f"{rng.choice(OBJECTS)}{rng.choice(PROBLEMS)}，错误代码 {rng.randint(100, 99999)}。",
            f"经检查发现{rng.choice(OBJECTS)}{rng.choice(CAUSES)}，"
            f"影响 {rng.randint(1, 200)} 名用户。",
            f"工程师{rng.choice(NAMES)}{rng.choice(GIVEN)}远程登录 srv-{rng.randint(1, 400):03d} "
            f"后{rng.choice(ACTIONS)}，并{rng.choice(ACTIONS)}。",
            f"在{rng.choice(SYSTEMS)}管理后台{rng.choice(ACTIONS)}，观察 {rng.randint(5, 60)} 分钟"
            f"后{rng.choice(OBJECTS)}恢复正常。",
            f"用户使用 Windows {rng.choice(['10', '11'])} 和 {rng.choice(OBJECTS)}，"
            f"版本 {rng.randint(1, 9)}.{rng.randint(0, 20)}。",
        ]
    )


def synthetic_articles(count: int, rng: random.Random) -> list[Doc]:
    """Articles of ~400–700 characters, like the quality set's."""
    docs = []
    for i in range(count):
        system = rng.choice(SYSTEMS)
        title = f"{system}{rng.choice(OBJECTS)}{rng.choice(PROBLEMS)}"
        body = "\n".join(
            f"## {name}\n\n" + "".join(_sentence(rng) for _ in range(rng.randint(2, 4)))
            for name in ("现象", "原因", "解决方案", "临时措施")
        )
        docs.append(
            Doc(
                id=f"KB-{i:05d}",
                kind="kb",
                title=title,
                text=body,
                system=system,
                module=rng.choice(MODULES),
                keywords=tuple(rng.sample(OBJECTS, 3)),
            )
        )
    return docs


def synthetic_tickets(count: int, rng: random.Random) -> list[Doc]:
    """Resolved incidents: a title, a 2–4 sentence description and a solution."""
    docs = []
    for i in range(count):
        system = rng.choice(SYSTEMS)
        title = f"{system}{rng.choice(OBJECTS)}{rng.choice(PROBLEMS)}"
        text = "".join(_sentence(rng) for _ in range(rng.randint(2, 4)))
        text += f"\n{rng.choice(ACTIONS)}后恢复。{rng.choice(CAUSES)}。"
        docs.append(
            Doc(
                id=f"INC-{260101 + i % 28:06d}-{i:04X}",
                kind="ticket",
                title=title,
                text=text,
                system=system,
                module=rng.choice(MODULES),
            )
        )
    return docs


QUERIES = [
    "财务系统登录失败",
    "vpn 连不上",
    "打印机卡纸",
    "outlook 收不到邮件 很着急",
    "报表跑得很慢 月底结账 ERP",
    "证书过期",
    "数据库连接超时 tomcat 报错 重启服务后恢复",
    "xyzzy",
]


def median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--articles", type=int, default=2000)
    ap.add_argument("--tickets", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    rng = random.Random(2026)
    docs = synthetic_articles(args.articles, rng) + synthetic_tickets(args.tickets, rng)
    chars = sum(len(d.title) + len(d.text) for d in docs)
    print(f"{args.articles} articles + {args.tickets} tickets, {chars / 1e6:.1f} M characters")

    build = median_ms(lambda: SearchIndex(docs), args.runs)
    index = SearchIndex(docs)
    blob = index.to_bytes("bench")
    dump = median_ms(lambda: index.to_bytes("bench"), args.runs)
    load = median_ms(lambda: SearchIndex.from_bytes(blob), args.runs)
    print(f"build index        {build:8.1f} ms")
    print(f"to_bytes           {dump:8.1f} ms   ({len(blob) / 1e6:.1f} MB)")
    print(f"from_bytes         {load:8.1f} ms")
    per_query = []
    for q in QUERIES:
        ms = median_ms(lambda q=q: index.search(q, limit=10), max(args.runs, 5))
        hits = index.search(q, limit=1)
        per_query.append(ms)
        top = hits[0].title if hits else "(no hit)"
        print(f"query {q!r:<42} {ms:7.1f} ms   top: {top}")
    worst = max(per_query)
    print(f"query median       {statistics.median(per_query):8.1f} ms   (worst {worst:.1f} ms)")
    print(f"cold query (load + worst query)  {load + worst:8.1f} ms")
    print(f"no cache (build + worst query)   {build + worst:8.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
