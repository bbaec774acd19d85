"""`make demo`: a day at the service desk, on a throwaway store.

Registers a realistic batch of incidents on Monday 2026-11-23, walks them
through the procedure (screening, dispatch, first contact, on-site visit,
functional escalation, pending, resolution, confirmation, callback,
closure), lets cron's `check` run through the day, and ends with the list,
one major incident and the KPIs. Every command is printed before it runs,
so the output doubles as a tour of the CLI.

Usage: python scripts/demo.py DIR   (DIR is deleted and re-created)
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

BIN = str(Path(sys.executable).with_name("elinkctl"))
DAY = "2026-11-23"

PEOPLE = """\
roles:
  desk: [小王]
  l1: [李四]
  l2: [王五]
  vendor: []
  pm: [赵六]
  management: [钱七]
people:
  小王: {channels: [desk-log]}
  李四: {channels: [desk-log]}
  王五: {channels: [desk-log]}
  赵六: {channels: [desk-log]}
  钱七: {channels: [desk-log]}
# The demo has no mail server or chat robot: a command channel appends each
# notification to a file instead (argv, no shell; the message is JSON on stdin).
channels:
  desk-log:
    type: command
    argv: [@python@, -c, @script@, @log@]
"""
LOG_SCRIPT = (
    "import json,sys; m=json.load(sys.stdin); "
    "line=m['subject']+' → '+', '.join(m['recipients']); "
    "open(sys.argv[1],'a',encoding='utf-8').write(line+'\\n')"
)


class Demo:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = dict(os.environ)
        self.env["ELINKCTL_STORE"] = str(root)
        self.env.pop("ELINKCTL_NOW", None)

    def run(
        self, *args: str, at: str, user: str = "小王", show: bool = True, check: bool = True
    ) -> str:
        env = dict(self.env, ELINKCTL_NOW=f"{DAY}T{at}:00+08:00", ELINKCTL_USER=user)
        if show:
            print(f"\n[{at} {user}] $ elinkctl {shlex.join(args)}", flush=True)
        proc = subprocess.run([BIN, *args], env=env, capture_output=True, text=True, check=False)
        if show:
            sys.stdout.write(proc.stdout)
            sys.stdout.write("".join(f"  {line}\n" for line in proc.stderr.splitlines()))
        if check and proc.returncode != 0:
            sys.exit(
                f"demo step failed ({proc.returncode}): elinkctl {shlex.join(args)}\n{proc.stderr}"
            )
        return proc.stdout.strip()

    def new(self, at: str, *args: str, user: str = "小王") -> str:
        return self.run("new", *args, at=at, user=user)


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "demo-store").resolve()
    if root.exists():
        shutil.rmtree(root)
    subprocess.run([BIN, "init", str(root)], check=True, env=dict(os.environ, ELINKCTL_USER="小王"))
    esc = root / "escalation.yaml"
    text = esc.read_text(encoding="utf-8")
    start = text.index("roles:")
    log = root.parent / f"{root.name}-notifications.log"
    log.unlink(missing_ok=True)
    people = (
        PEOPLE.replace("@python@", json.dumps(sys.executable))
        .replace("@script@", json.dumps(LOG_SCRIPT))
        .replace("@log@", json.dumps(str(log)))
    )
    end = text.index("channels: {}\n") + len("channels: {}\n")
    esc.write_text(text[:start] + people + text[end:], encoding="utf-8")
    sla = root / "sla.yaml"
    sla.write_text(
        sla.read_text(encoding="utf-8").replace("key_users: []", "key_users: [钱总]"),
        encoding="utf-8",
    )
    subprocess.run(
        ["git", "-C", str(root), "commit", "-qam", "demo: people and key users"],
        check=True,
        env=dict(
            os.environ,
            GIT_AUTHOR_NAME="小王",
            GIT_AUTHOR_EMAIL="desk@example.com",
            GIT_COMMITTER_NAME="小王",
            GIT_COMMITTER_EMAIL="desk@example.com",
        ),
    )
    d = Demo(root)
    print(f"demo store: {root}")

    # 08:40 the core switch fails; the desk handles it first and records it later (先处理后补单).
    p1 = d.new(
        "09:10",
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
        f"{DAY}T08:40",
        "--description",
        "08:40 起全楼无法访问内网和互联网，监控显示核心交换机端口全部 down",
    )
    d.run("accept", p1, at="09:11")
    d.run("assign", p1, "--to", "李四", "--tier", "l1", at="09:12", user="赵六")
    d.run("contact", p1, "-m", "已到机房，交换机主控板告警", at="09:20", user="李四")
    d.run(
        "escalate",
        p1,
        "--tier",
        "l2",
        "--to",
        "王五",
        "--reason",
        "主控板硬件故障，一线无法处理",
        at="09:25",
        user="李四",
    )
    p3 = d.new(
        "09:30",
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
        "--description",
        "输入正确密码后提示认证失败，同部门多人相同",
    )
    d.run("accept", p3, at="09:35")
    d.run("assign", p3, "--to", "李四", "--tier", "l1", at="09:36")
    d.run(
        "escalate",
        p1,
        "--tier",
        "vendor",
        "--to",
        "华为",
        "--due",
        f"{DAY}T11:00",
        "--reason",
        "需原厂更换主控板（客户已同意）",
        at="09:40",
        user="王五",
    )
    vip = d.new(
        "09:45",
        "--title",
        "总经理邮箱收不到外部邮件",
        "--type",
        "failure",
        "--reporter",
        "钱总",
        "--dept",
        "总经办",
        "--system",
        "邮件系统",
        "--urgency",
        "high",
        "--impact",
        "low",
        "--source",
        "phone",
    )
    d.run("accept", vip, at="09:47")
    d.run("assign", vip, "--to", "李四", "--tier", "l1", at="09:48")
    d.run("contact", p3, "-m", "电话联系，远程检查认证服务", at="09:50", user="李四")
    printer = d.new(
        "10:00",
        "--title",
        "打印机卡纸无法打印",
        "--type",
        "request",
        "--reporter",
        "孙丽",
        "--dept",
        "行政部",
        "--system",
        "打印机",
        "--urgency",
        "low",
        "--impact",
        "low",
        "--source",
        "email",
    )
    d.run("accept", printer, at="10:02")
    game = d.new(
        "10:05",
        "--title",
        "帮忙安装个人游戏软件",
        "--type",
        "request",
        "--reporter",
        "周杰",
        "--dept",
        "市场部",
        "--source",
        "phone",
    )
    d.run("contact", vip, at="10:05", user="李四")
    d.run("reject", game, "--reason", "个人软件安装不在服务协议范围内", at="10:06")
    d.run("resolve", printer, "--solution", "指导用户打开后盖取出卡纸", at="10:10")
    change = d.new(
        "10:15",
        "--title",
        "申请为新员工开通ERP权限",
        "--type",
        "request",
        "--reporter",
        "吴芳",
        "--dept",
        "人力资源部",
        "--system",
        "ERP",
        "--source",
        "email",
    )
    d.run(
        "redirect", change, "--to", "requirement", "--reason", "权限开通走账号申请流程", at="10:16"
    )
    question = d.new(
        "10:20",
        "--title",
        "VPN客户端如何配置",
        "--type",
        "consultation",
        "--reporter",
        "郑强",
        "--dept",
        "销售部",
        "--system",
        "VPN",
        "--urgency",
        "low",
        "--impact",
        "low",
        "--source",
        "phone",
    )
    d.run("resolve", question, "--solution", "发送VPN配置手册并电话指导", at="10:25")
    d.run("check", at="10:30", user="cron")
    d.run("pend", p3, "--reason", "等待用户提供报错截图", at="10:40", user="李四")
    d.run(
        "resolve",
        p1,
        "--solution",
        "华为工程师更换主控板并恢复配置",
        "--cause",
        "主控板硬件故障",
        at="10:50",
        user="王五",
    )
    d.run("visit", vip, "--at", f"{DAY}T14:00", "-m", "到总经办检查客户端", at="10:55", user="李四")
    d.run("check", at="11:00", user="cron")
    d.run("confirm", p1, "-m", "客户确认网络恢复", at="11:10")
    d.run("resume", p3, at="13:40", user="李四")
    d.run(
        "escalate",
        p3,
        "--tier",
        "l2",
        "--to",
        "王五",
        "--reason",
        "证书相关，需二线处理",
        at="13:45",
        user="李四",
    )
    d.run(
        "resolve",
        p3,
        "--solution",
        "更新认证服务证书并重启",
        "--cause",
        "认证服务证书过期",
        at="14:30",
        user="王五",
    )
    d.run("callback", p1, "--satisfaction", "4", "-m", "恢复及时，希望加强巡检", at="15:00")
    d.run("close", p1, at="15:05")
    d.run("confirm", p3, at="15:10")
    d.run("callback", p3, "--satisfaction", "5", at="15:20")
    d.run("close", p3, at="15:21")
    d.run("complain", vip, "-m", "上午报修，下午才上门", at="15:30", user="小王")
    d.run("check", at="16:00", user="cron")

    d.run("list", at="17:30")
    d.run("show", p1, at="17:30")
    d.run("stats", "--since", DAY, at="17:30")
    if log.exists():
        print(f"\nNotifications sent today ({log.name}):")
        print(log.read_text(encoding="utf-8"), end="")
    print(f"\nThe demo store is a git repository: git -C {root.name} log --stat | less")


if __name__ == "__main__":
    main()
