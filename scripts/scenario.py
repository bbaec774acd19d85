"""A day at the service desk (Monday 2026-11-23), as data.

Each step is (time, who, incident, command words). ``{p1}`` etc. in the
words are replaced by the IDs that `new` printed; a step whose incident is
``new:<key>`` registers that incident. `demo.py` runs the whole day;
`examples.py` runs the P1 and P3 steps to regenerate the example tickets.
Keeping the story in one place means the demo and the examples never drift.
"""

from __future__ import annotations

DAY = "2026-11-23"

Step = tuple[str, str, str, list[str]]

STEPS: list[Step] = [
    # 08:40 the core switch fails; handled first, recorded at 09:10 (先处理后补单).
    ("09:10", "小王", "new:p1", [
        "--title", "核心交换机故障，全楼断网", "--type", "failure", "--priority", "P1",
        "--reporter", "监控中心", "--source", "monitoring", "--system", "网络",
        "--module", "核心交换机", "--location", "机房A", "--opened-at", f"{DAY}T08:40",
        "--description", "08:40 起全楼无法访问内网和互联网，监控显示核心交换机端口全部 down"]),
    ("09:11", "小王", "p1", ["accept", "{p1}", "--note", "已电话通知项目经理赵六"]),
    ("09:12", "赵六", "p1", ["assign", "{p1}", "--to", "李四", "--tier", "l1"]),
    ("09:15", "赵六", "p1", ["major", "confirm", "{p1}", "-m", "全楼断网，申请备件，一线赴现场"]),
    ("09:20", "李四", "p1", ["contact", "{p1}", "-m", "已到机房，交换机主控板告警"]),
    ("09:24", "李四", "p1", ["escalate", "{p1}", "--tier", "pm",
                            "--reason", "主控板硬件故障，一线无法在时限内解决"]),
    ("09:25", "赵六", "p1", ["escalate", "{p1}", "--tier", "l2", "--to", "王五",
                            "--reason", "派二线处理主控板故障"]),
    ("09:30", "小王", "new:p3", [
        "--title", "财务系统无法登录", "--type", "failure", "--reporter", "张三",
        "--phone", "13800138000", "--dept", "财务部", "--system", "财务系统", "--module", "登录",
        "--urgency", "medium", "--impact", "medium", "--source", "phone",
        "--location", "3号楼501", "--contact", "李会计 13700000000",
        "--description", "输入正确密码后提示认证失败，同部门多人相同"]),
    ("09:35", "小王", "p3", ["accept", "{p3}"]),
    ("09:36", "小王", "p3", ["assign", "{p3}", "--to", "李四", "--tier", "l1"]),
    ("09:40", "王五", "p1", ["escalate", "{p1}", "--tier", "vendor", "--to", "华为",
                            "--due", f"{DAY}T11:00", "--reason", "需原厂更换主控板（客户已同意）"]),
    ("09:45", "小王", "new:vip", [
        "--title", "总经理邮箱收不到外部邮件", "--type", "failure", "--reporter", "钱总",
        "--dept", "总经办", "--system", "邮件系统", "--urgency", "high", "--impact", "low",
        "--source", "phone"]),
    ("09:47", "小王", "vip", ["accept", "{vip}"]),
    ("09:48", "小王", "vip", ["assign", "{vip}", "--to", "李四", "--tier", "l1"]),
    ("09:50", "李四", "p3", ["contact", "{p3}", "-m", "电话联系，远程检查认证服务"]),
    ("09:58", "赵六", "p1", ["progress", "{p1}", "-m", "华为工程师携备件在途，预计10:40到场"]),
    ("10:00", "小王", "new:printer", [
        "--title", "打印机卡纸无法打印", "--type", "request", "--reporter", "孙丽",
        "--dept", "行政部", "--system", "打印机", "--urgency", "low", "--impact", "low",
        "--source", "email"]),
    ("10:02", "小王", "printer", ["accept", "{printer}"]),
    ("10:05", "小王", "new:game", [
        "--title", "帮忙安装个人游戏软件", "--type", "request", "--reporter", "周杰",
        "--dept", "市场部", "--source", "phone"]),
    ("10:05", "李四", "vip", ["contact", "{vip}"]),
    ("10:06", "小王", "game", ["reject", "{game}", "--reason", "个人软件安装不在服务协议范围内"]),
    ("10:10", "小王", "printer", ["resolve", "{printer}",
                                  "--solution", "指导用户打开后盖取出卡纸"]),
    ("10:15", "小王", "new:erp", [
        "--title", "申请为新员工开通ERP权限", "--type", "request", "--reporter", "吴芳",
        "--dept", "人力资源部", "--system", "ERP", "--source", "email"]),
    ("10:16", "小王", "erp", ["redirect", "{erp}", "--to", "requirement",
                             "--reason", "权限开通走账号申请流程"]),
    ("10:20", "小王", "new:vpn", [
        "--title", "VPN客户端如何配置", "--type", "consultation", "--reporter", "郑强",
        "--dept", "销售部", "--system", "VPN", "--urgency", "low", "--impact", "low",
        "--source", "phone"]),
    ("10:25", "小王", "vpn", ["resolve", "{vpn}", "--solution", "发送VPN配置手册并电话指导"]),
    ("10:30", "cron", "", ["check"]),
    ("10:35", "王五", "p1", ["replied", "{p1}", "-m", "华为确认主控板故障，工程师已到场更换"]),
    ("10:40", "李四", "p3", ["pend", "{p3}", "--reason", "等待用户提供报错截图"]),
    ("10:50", "王五", "p1", ["resolve", "{p1}", "--solution", "华为工程师更换主控板并恢复配置",
                            "--cause", "主控板硬件故障"]),
    ("10:55", "李四", "vip", ["visit", "{vip}", "--at", f"{DAY}T14:00",
                             "-m", "到总经办检查客户端"]),
    ("11:00", "cron", "", ["check"]),
    ("11:10", "小王", "p1", ["confirm", "{p1}", "-m", "客户确认网络恢复"]),
    ("13:30", "赵六", "p1", ["review", "{p1}", "--approve", "-m", "处理得当，备件库存需补充"]),
    ("13:40", "李四", "p3", ["resume", "{p3}"]),
    ("13:45", "李四", "p3", ["escalate", "{p3}", "--tier", "l2", "--to", "王五",
                            "--reason", "证书相关，需二线处理"]),
    ("14:00", "赵六", "p1", ["report", "major", "{p1}", "--issue"]),
    ("14:30", "王五", "p3", ["resolve", "{p3}", "--solution", "更新认证服务证书并重启",
                            "--cause", "认证服务证书过期"]),
    ("15:00", "小王", "p1", ["callback", "{p1}", "--satisfaction", "4",
                            "-m", "恢复及时，希望加强巡检"]),
    ("15:05", "小王", "p1", ["close", "{p1}"]),
    ("14:50", "李四", "vip", ["visit", "{vip}", "--done", "--start", f"{DAY}T14:05",
                             "--end", f"{DAY}T14:40", "-m", "重新配置邮件客户端并测试外部收信",
                             "--signed-by", "钱总"]),
    ("15:10", "小王", "p3", ["confirm", "{p3}"]),
    ("15:20", "小王", "p3", ["callback", "{p3}", "--satisfaction", "5"]),
    ("15:21", "小王", "p3", ["close", "{p3}"]),
    ("15:30", "王五", "p3", ["kb", "add", "--from", "{p3}"]),
    ("15:40", "小王", "vip", ["complain", "{vip}", "-m", "上午报修，下午才上门"]),
    ("16:00", "cron", "", ["check"]),
]  # fmt: skip


def command(step: Step, ids: dict[str, str]) -> list[str]:
    """The argv after `elinkctl` for a step, with incident IDs filled in."""
    _, _, incident, words = step
    if incident.startswith("new:"):
        return ["new", *words]
    return [w.format(**ids) for w in words]
