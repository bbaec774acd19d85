"""Regenerate the example tickets this repository ships in tickets/ and knowledge/.

Two incidents walked through the CLI in a temporary store, then copied here:
a P1 through the whole major-incident flow (backfill, PM notified inside
`new`, dispatch, l2, vendor, resolution, confirmation, callback, closure) and
a P3 dispatched to l1 and escalated to l2, whose solution became a knowledge
article. Run: .venv/bin/python scripts/examples.py (then review the diff).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = str(Path(sys.executable).with_name("elinkctl"))


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    store = tmp / "store"
    subprocess.run([BIN, "init", str(store)], check=True, capture_output=True)

    def run(at: str, user: str, *args: str) -> str:
        env = dict(
            os.environ,
            ELINKCTL_STORE=str(store),
            ELINKCTL_USER=user,
            ELINKCTL_NOW=f"2026-11-23T{at}:00+08:00",
        )
        proc = subprocess.run([BIN, *args], env=env, capture_output=True, text=True, check=False)
        if proc.returncode:
            sys.exit(f"elinkctl {' '.join(args)}: {proc.stderr}")
        return proc.stdout.strip()

    p1 = run(
        "09:10",
        "服务台-小王",
        "new",
        "--title",
        "核心交换机故障，全楼断网",
        "--type",
        "failure",
        "--priority",
        "P1",
        "--reporter",
        "监控中心",
        "--source",
        "monitoring",
        "--system",
        "网络",
        "--module",
        "核心交换机",
        "--location",
        "机房A",
        "--opened-at",
        "2026-11-23T08:40",
        "--no-suggest",
        "--description",
        "08:40 起全楼无法访问内网和互联网，监控显示核心交换机端口全部 down",
    )
    run("09:11", "服务台-小王", "accept", p1, "--note", "已电话通知项目经理赵六")
    run("09:12", "项目经理-赵六", "assign", p1, "--to", "李四", "--tier", "l1")
    run("09:20", "李四", "contact", p1, "-m", "已到机房，交换机主控板告警")
    run(
        "09:25",
        "李四",
        "escalate",
        p1,
        "--tier",
        "l2",
        "--to",
        "王五",
        "--reason",
        "主控板硬件故障，一线无法处理",
    )
    run(
        "09:40",
        "王五",
        "escalate",
        p1,
        "--tier",
        "vendor",
        "--to",
        "华为",
        "--due",
        "2026-11-23T11:00",
        "--reason",
        "需原厂更换主控板（客户已同意）",
    )
    run(
        "10:50",
        "王五",
        "resolve",
        p1,
        "--solution",
        "华为工程师更换主控板并恢复配置",
        "--cause",
        "主控板硬件故障",
    )
    run("11:10", "服务台-小王", "confirm", p1, "-m", "客户确认网络恢复")
    run("14:00", "项目经理-赵六", "comment", p1, "-m", "已出具《重大事件处理分析报告》并发送客户")
    run(
        "15:00",
        "服务台-小王",
        "callback",
        p1,
        "--satisfaction",
        "4",
        "-m",
        "恢复及时，希望加强巡检",
    )
    run("15:05", "服务台-小王", "close", p1)

    p3 = run(
        "09:30",
        "服务台-小王",
        "new",
        "--title",
        "财务系统无法登录",
        "--type",
        "failure",
        "--reporter",
        "张三",
        "--phone",
        "13800138000",
        "--dept",
        "财务部",
        "--system",
        "财务系统",
        "--module",
        "登录",
        "--urgency",
        "medium",
        "--impact",
        "medium",
        "--source",
        "phone",
        "--location",
        "3号楼501",
        "--contact",
        "李会计 13700000000",
        "--no-suggest",
        "--description",
        "输入正确密码后提示认证失败，同部门多人相同",
    )
    run("09:35", "服务台-小王", "accept", p3)
    run("09:36", "服务台-小王", "assign", p3, "--to", "李四", "--tier", "l1")
    run("09:50", "李四", "contact", p3, "-m", "电话联系，远程检查认证服务")
    run("10:40", "李四", "pend", p3, "--reason", "等待用户提供报错截图")
    run("13:40", "李四", "resume", p3)
    run(
        "13:45",
        "李四",
        "escalate",
        p3,
        "--tier",
        "l2",
        "--to",
        "王五",
        "--reason",
        "证书相关，需二线处理",
    )
    run(
        "14:30",
        "王五",
        "resolve",
        p3,
        "--solution",
        "更新认证服务证书并重启",
        "--cause",
        "认证服务证书过期",
    )
    run("15:10", "服务台-小王", "confirm", p3)
    run("15:20", "服务台-小王", "callback", p3, "--satisfaction", "5")
    run("15:21", "服务台-小王", "close", p3)
    kb = run("15:30", "王五", "kb", "add", "--from", p3)

    for tid in (p1, p3):
        rel = Path("tickets", "2026", "11", f"{tid}.yaml")
        (ROOT / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(store / rel, ROOT / rel)
        print(rel)
    rel = Path("knowledge", f"{kb}.md")
    shutil.copyfile(store / rel, ROOT / rel)
    print(rel)
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
