"""The desk's IT-English dictionary: English a caller types, mapped to the Chinese the articles use.

Articles are written in Chinese; callers (and engineers from other sites)
type "printer prints garbage", "phishing email clicked link", "cannot send
mail". Without this table the English words match nothing, the query
shrinks to its one known word ("printer") and any article with "Print" in
its title wins. Each group is a set of equivalent phrasings, English first,
then the Chinese wording of articles; `elinkctl.kb.analysis` adds them to
its synonym groups (applied at query time only: editing this never needs
an index rebuild).

Kept separate from the Chinese colloquial groups so that a desk lead can
read and extend it: one line per meaning, no loose groups (a group that
mixes two meanings drags unrelated articles up). Multi-word English
phrases match whole words in order ("cannot send" does not match
"cannot sendmail"); "can't" is written "can t" because the apostrophe
splits words.

`STOPWORDS` are English function words: they still count as text when
ranking (an article saying "cannot" matches "cannot"), but weigh almost
nothing when judging whether a hit covers the query, so "my printer is
slow" is judged on printer and slow.
"""

from __future__ import annotations

__all__ = [
    "CJK_FUNCTION_CHARS",
    "CJK_QUALIFIERS",
    "CJK_REQUEST_WORDS",
    "CJK_WHO_WHERE",
    "DESK_ENGLISH",
    "STOPWORDS",
]

DESK_ENGLISH: tuple[tuple[str, ...], ...] = (
    # output and display
    ("garbage", "garbled", "gibberish", "garbage characters", "mojibake", "乱码", "字符错乱"),
    ("blank page", "blank pages", "prints blank", "空白页", "白纸"),
    ("faded", "light print", "too light", "字迹很淡", "字迹淡", "颜色淡"),
    ("paper jam", "jammed", "jam", "卡纸"),
    ("offline", "脱机", "离线"),
    ("queue", "print queue", "stuck in queue", "队列", "排队"),
    ("driver", "drivers", "驱动", "驱动程序"),
    ("black screen", "黑屏"),
    ("blue screen", "bsod", "蓝屏"),
    ("flicker", "flickering", "闪屏", "闪烁"),
    ("resolution", "分辨率"),
    ("projector", "投影仪", "投影"),
    # security
    ("phishing", "phish", "spoofed", "fake email", "钓鱼", "钓鱼邮件", "仿冒"),
    ("spam", "junk mail", "垃圾邮件"),
    ("clicked link", "clicked a link", "clicked the link", "点击链接", "点了链接"),
    ("virus", "malware", "trojan", "病毒", "木马"),
    ("ransomware", "encrypted files", "勒索", "勒索病毒", "文件被加密"),
    ("hacked", "compromised", "被盗", "盗号", "账号被盗"),
    # sending and receiving
    (
        "cannot send",
        "can t send",
        "cant send",
        "unable to send",
        "not sending",
        "won t send",
        "send failed",
        "sending failed",
        "发不出",
        "发不出去",
        "发送失败",
        "无法发送",
    ),
    (
        "cannot receive",
        "can t receive",
        "not receiving",
        "no emails",
        "not arriving",
        "收不到",
        "接收不到",
        "无法接收",
    ),
    ("bounce", "bounced", "bounce back", "returned mail", "undeliverable", "退信", "被退回"),
    ("mailbox full", "quota", "over quota", "邮箱已满", "邮箱满", "邮箱空间满"),
    ("calendar", "meeting invite", "日历", "会议邀请"),
    ("shared mailbox", "共享邮箱"),
    # access and accounts
    (
        "cannot login",
        "can t login",
        "cant login",
        "cannot log in",
        "can t log in",
        "unable to login",
        "unable to log in",
        "login failed",
        "sign in failed",
        "无法登录",
        "登录失败",
    ),
    ("locked", "locked out", "account locked", "锁定", "被锁", "账号锁定"),
    ("expired", "expire", "expires", "expiry", "过期", "到期", "失效"),
    ("password expired", "密码过期", "密码到期"),
    (
        "forgot password",
        "forgotten password",
        "reset password",
        "password reset",
        "忘记密码",
        "重置密码",
    ),
    ("forgot", "forget", "forgotten", "忘记", "忘了"),
    ("domain name", "hostname", "host name", "域名", "主机名"),
    ("certificate", "cert", "ssl certificate", "证书"),
    ("permission", "permissions", "access denied", "no access", "权限", "拒绝访问", "没有权限"),
    ("two factor", "2fa", "mfa", "otp", "verification code", "双因素", "验证码", "动态口令"),
    ("account", "账号", "账户", "帐号"),
    (
        "not reachable",
        "unreachable",
        "cannot reach",
        "can t reach",
        "cannot access",
        "can t access",
        "无法访问",
        "访问不了",
    ),
    ("connected", "已连接", "连接成功"),
    # performance and state
    ("slow", "sluggish", "laggy", "lag", "takes forever", "慢", "卡顿", "缓慢"),
    ("freeze", "frozen", "freezes", "not responding", "hangs", "hung", "卡死", "无响应", "死机"),
    ("crash", "crashes", "crashed", "keeps closing", "闪退", "崩溃"),
    ("timeout", "timed out", "time out", "超时"),
    ("disconnect", "disconnects", "drops", "keeps dropping", "掉线", "断开", "断线"),
    (
        "cannot connect",
        "can t connect",
        "cant connect",
        "unable to connect",
        "connection failed",
        "无法连接",
        "连不上",
        "连接失败",
    ),
    ("won t open", "cannot open", "can t open", "doesn t open", "打不开", "无法打开"),
    ("won t start", "doesn t start", "won t boot", "no power", "开不了机", "无法开机", "无法启动"),
    ("not working", "broken", "doesn t work", "故障", "坏了", "不能用"),
    # storage and devices
    (
        "disk full",
        "drive full",
        "out of space",
        "no space",
        "low disk space",
        "not enough space",
        "磁盘满",
        "磁盘已满",
        "空间不足",
        "硬盘满",
    ),
    ("backup", "back up", "备份"),
    ("restore", "recover", "recovery", "还原", "恢复"),
    ("deleted", "accidentally deleted", "误删", "删除"),
    ("keyboard", "键盘"),
    ("mouse", "鼠标"),
    ("headset", "headphones", "microphone", "mic", "耳机", "麦克风"),
    ("speaker", "no sound", "audio", "声音", "没声音", "音箱"),
    ("battery", "电池"),
    ("charger", "not charging", "充电", "充电器"),
    ("laptop", "notebook", "笔记本"),
    ("phone", "desk phone", "电话", "座机"),
    ("mobile", "cellphone", "手机"),
    ("screen", "display", "monitor", "显示器", "屏幕"),
    # network
    ("network", "internet", "no internet", "网络", "上网", "断网"),
    ("wireless", "wifi", "wi fi", "无线", "无线网"),
    ("proxy", "代理"),
    ("ip conflict", "ip address conflict", "ip冲突", "地址冲突"),
    (
        "shared folder",
        "file share",
        "network drive",
        "mapped drive",
        "共享文件夹",
        "共享盘",
        "网络驱动器",
    ),
    ("remote desktop", "rdp", "远程桌面"),
    # software
    ("install", "installation", "cannot install", "安装", "装不上"),
    ("update", "upgrade", "patch", "更新", "升级", "补丁"),
    ("license", "activation", "activate", "激活", "许可", "授权"),
    ("browser", "浏览器"),
    ("attachment", "attachments", "附件"),
    ("upload", "上传"),
    ("download", "下载"),
    ("database", "db", "数据库"),
    ("report", "reports", "报表"),
    ("invoice", "发票"),
    ("reimbursement", "expense", "expenses", "报销"),
    ("approval", "approve", "workflow", "审批", "流程"),
    ("meeting", "video call", "conference", "视频会议", "会议"),
    # general desk vocabulary (one meaning per line)
    ("cannot", "cant", "unable", "无法", "不能"),
    ("failed", "fails", "failure", "fail", "失败"),
    ("error", "errors", "报错", "错误"),
    ("warning", "alert", "alarm", "警告", "告警", "报警"),
    ("prompt", "popup", "pop up", "pops up", "message", "提示", "弹出", "弹窗"),
    ("shows", "showing", "displays", "显示"),
    ("keeps asking", "repeatedly", "again and again", "frequently", "反复", "一直", "老是", "频繁"),
    ("redirect", "redirects", "redirecting", "loop", "跳转"),
    ("full", "满", "已满"),
    ("save", "saving", "cannot save", "保存", "保存失败"),
    ("open", "opening", "打开"),
    ("large file", "big file", "huge file", "大文件"),
    ("file", "files", "文件"),
    ("folder", "directory", "文件夹", "目录"),
    ("share", "shared", "shared drive", "共享", "共享盘"),
    ("mapped", "mapping", "map", "映射"),
    ("red x", "红叉"),
    ("domain", "ad", "active directory", "域", "域控", "ad域"),
    ("join domain", "join the domain", "joining the domain", "加入域", "加域"),
    ("domain account", "domain user", "域账号", "域用户"),
    ("power", "power button", "电源", "电源键"),
    ("turn on", "won t turn on", "doesn t turn on", "开机"),
    ("nightly", "overnight", "at night", "夜间", "晚上"),
    ("job", "task", "scheduled task", "作业", "任务", "计划任务"),
    ("month end", "month end close", "period close", "月末", "月结", "结账"),
    ("software", "application", "app", "program", "软件", "应用", "程序"),
    ("admin", "administrator", "admin rights", "管理员", "管理员权限"),
    ("rights", "privilege", "privileges", "权限"),
    ("sync", "syncing", "synchronize", "synchronise", "同步"),
    ("antivirus", "anti virus", "av", "endpoint protection", "杀毒", "杀毒软件", "防病毒"),
    ("blocks", "blocked", "block", "quarantined", "拦截", "阻止", "隔离"),
    ("false positive", "误报"),
    ("intranet", "internal", "内网", "内部"),
    ("resolve", "resolving", "resolution fails", "not resolving", "解析"),
    ("voucher", "vouchers", "凭证"),
    ("layout", "format", "formatting", "格式", "排版"),
    ("finance", "financial", "accounting", "finance system", "财务", "财务系统"),
    ("company", "corporate", "work email", "公司"),
    ("website", "web page", "webpage", "site", "page", "pages", "网页", "网站", "页面"),
    ("not secure", "insecure", "unsafe", "不安全"),
    ("product", "产品"),
    ("detected", "detect", "recognized", "recognised", "not detected", "识别"),
    ("wrong password", "incorrect password", "密码错误", "输错"),
    ("storage", "san", "nas", "存储"),
    ("array", "raid", "阵列"),
    ("out of memory", "oom", "memory leak", "内存溢出"),
    ("time", "clock", "system time", "时间", "时钟"),
    ("copier", "photocopier", "mfp", "multifunction", "复印机"),
    ("hear", "can t hear", "cannot hear", "听不到", "听不见"),
    ("seats", "licenses full", "license limit", "许可数"),
    ("connections", "too many connections", "connection limit", "连接数"),
    ("too many connections", "连接数满", "连接数已满", "连接数超限", "连接数耗尽", "连接数过多"),
    ("sql server", "sqlserver", "mssql", "ms sql"),
    ("verify", "verification failed", "validation", "validate", "校验", "验真", "核验"),
    ("subsystem", "sub system", "子系统"),
    ("streaks", "black bars", "black lines", "黑条"),
    ("toner", "cartridge", "硒鼓", "碳粉", "墨粉"),
    ("computer", "desktop", "workstation", "电脑"),
    ("obtain", "get", "获取"),
    ("signal", "no signal", "信号", "无信号"),
    ("online banking", "bank", "网银"),
    ("usb token", "usb key", "token", "u盾", "ukey"),
    ("infected", "infection", "感染"),
    ("c drive", "c盘"),
    ("activated", "not activated", "unactivated", "未激活", "激活"),
    ("phone", "mobile", "cellphone", "smartphone", "iphone", "android", "手机"),
    ("desk phone", "landline", "extension", "dial tone", "电话", "座机", "分机", "拨号音"),
    ("prints", "printing", "printed", "打印"),
    ("garbled", "messed up", "scrambled", "错乱"),
    ("connecting", "connection", "连接"),
    ("boot", "startup", "start up", "booting", "启动", "开机"),
    ("user", "users", "用户"),
    ("login page", "sign in page", "登录页面"),
    ("expense system", "reimbursement system", "报销系统"),
    ("business", "业务"),
    ("server", "servers", "服务器"),
    # collaboration, building and phones
    ("dingtalk", "ding talk", "钉钉"),
    ("wecom", "wechat work", "wework", "企业微信", "企微"),
    ("badge", "access card", "door card", "key card", "door access", "门禁卡", "门禁"),
    ("check in", "clock in", "clock out", "punch in", "attendance", "打卡", "考勤"),
    ("out of range", "not in range", "不在范围", "范围外"),
    ("address book", "address list", "global address list", "contacts", "通讯录", "地址簿"),
    ("colleague", "coworker", "co worker", "同事"),
    ("new employee", "new hire", "new joiner", "新员工", "新同事", "入职"),
    ("unregistered", "not registered", "未注册"),
    ("screen share", "screen sharing", "share screen", "sharing screen", "共享屏幕", "屏幕共享"),
    ("playback", "recording", "recordings", "footage", "回放", "录像"),
    ("cctv", "surveillance", "security camera", "监控"),
    ("power outage", "power cut", "blackout", "mains failure", "停电", "断电", "市电中断"),
    # desktop and peripherals
    ("recovery key", "恢复密钥"),
    ("spooler", "print spooler", "后台处理程序", "打印后台"),
    ("label", "labels", "label printer", "标签"),
    ("barcode", "bar code", "barcode scanner", "scanner gun", "条码", "扫码枪", "扫描枪"),
    ("untrusted", "not trusted", "不受信任", "未受信任"),
    ("recognition", "recognize", "ocr", "识别"),
    ("tax", "税控", "税务"),
    # servers, network and development
    ("deadlock", "死锁"),
    ("victim", "牺牲品"),
    ("renew", "renewal", "续期"),
    ("expiring", "about to expire", "expires soon", "即将到期", "快到期"),
    ("pod", "pods", "container", "containers", "容器"),
    ("keeps restarting", "restart loop", "crash loop", "反复重启", "一直重启"),
    ("build", "builds", "构建"),
    ("pipeline", "流水线"),
    ("push", "git push", "推送"),
    ("rejected", "denied", "refused", "被拒绝", "拒绝"),
    ("switch", "network switch", "交换机"),
    ("cpu", "processor", "处理器"),
    ("port", "ports", "端口"),
)
"""Desk English → the Chinese wording of articles (each tuple: one meaning)."""

STOPWORDS = frozenset(
    """a an the my our your his her their its this that these those is are was were be been
    am do does did done to of in on at by for from with into onto and or but not no if then
    it i me we you he she they them us when while after before again still just also very
    too can could will would should shall may might must have has had get gets got keep
    keeps any some all every each please help hi hello thanks thank there here what why how
    which who whom now today yesterday since so up out over about won doesn don isn didn
    wasn aren""".split()
)
"""English function words: matched as text, weighed ~0 when judging coverage."""

CJK_FUNCTION_CHARS = frozenset(
    "的了吗呢啊吧呀嘛我你他她它们是在有和就都也还很又要会能说一个这那些么"
)
"""Chinese function characters: matched as text, weighed little when judging coverage."""

CJK_QUALIFIERS = (
    # how much, how many, how often (a right answer never says it)
    "特别|非常|比较|有点|有些|超级|实在|多台|多个|几台|好几台|好几个|所有|全部|部分|个别|整个"
    "|今天|昨天|早上|上午|中午|下午|晚上|夜间|半夜|凌晨|周末|刚才|突然|最近|经常|总是"
    "|一下|请问|麻烦|帮忙|帮我"
    # a question's tail
    "|怎么办|怎么回事|什么意思|是啥意思|啥意思|是啥"
    # where and how long: 二楼, 3层, 5号楼, 五六分钟
    "|[0-9一二三四五六七八九十]+(?:号楼|楼|层)|[0-9一二三四五六七八九十几]+(?:分钟|小时|秒钟)"
    # which copy of a system: 生产服务器, 测试环境 (the fix is the same)
    "|生产|(?:测试|开发|正式|预发)环境"
)
"""Chinese words that qualify rather than name the problem (多台电脑, 二楼无线网,
打开特别慢, 是啥意思): a right answer almost never contains them, so, like the
function characters, they count as text but weigh little when judging coverage
(without it "二楼无线网无法上网" covers 0.39 of its own Wi-Fi article). A regular
expression on the query with spaces removed."""

_SURNAMES = (
    "王李张刘陈杨黄赵吴徐孙胡朱郭何林郑梁谢宋唐韩冯邓曹彭曾肖董袁潘蒋蔡杜叶苏魏吕"
    "沈姚卢姜崔钟谭陆汪范廖贾夏韦邹孟熊秦邱尹薛闫段雷侯陶黎贺毛郝龚邵钱严覃莫孔汤"
)
"""Common surnames that are not also the first character of desk words (金 of 金蝶,
程 of 程序, 任 of 任务, 许 of 许可, 白 of 白屏, 戴 of 戴尔, 罗 of 罗技, 顾 of 顾客, 高,
方, 马, 周 … are left out)."""

CJK_WHO_WHERE = (
    # where: 3号, 二楼, 5楼
    "(?:[0-9一二三四五六七八九十]+(?:号楼|号|楼|层))?"
    # which department or room: 财务部, 客服中心, 3号会议室, 人事处 (not 部署, 处理, 科目)
    "(?:[\u4e00-\u9fff]{2,4}?(?:部(?![署分件位])|处(?![理])|科(?![目技学])|中心|室))?"
    # who: a person (张三, 刘工) or a role (总经理, 前台)
    f"(?:[{_SURNAMES}][\u4e00-\u9fff](?=.)|总经理|副总|经理|主管|总监|领导|老板|同事|前台)?"
)
"""Who and where a desk title starts with (财务部王丽 | 电脑补丁更新失败, 3号会议室 |
投影仪无信号, 李四 | 域账号反复锁定, 总经理 | iPhone收不到消息): a regular expression
matched at the start of the query with spaces removed. Like `CJK_QUALIFIERS` it
counts as text but weighs little: no article names the caller, and an unknown name
is rare text that drags a right answer's coverage down (0.25-0.49 for 财务部王丽…,
销售部张三…, 人事部赵六…)."""

CJK_REQUEST_WORDS = ("申请", "开通", "新建", "新增", "创建", "办理")
"""Words that make a title a request (VPN 账号开通申请, 金蝶 年度账套新建) rather
than a fault: only a hit that speaks of requesting something too (an article's
"提交…申请") answers it; a fault article on the same system does not."""
