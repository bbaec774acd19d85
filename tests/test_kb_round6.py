"""Issue 19, round 6: who and where a desk title starts with weigh little, and a
request for something new is answered only by an article about requesting it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import Desk
from elinkctl.kb import Doc, SearchIndex
from elinkctl.kb.analysis import DEFAULT_ANALYZER
from elinkctl.kb.results import suggestable

QUALITY = Path(__file__).parent / "kb_quality"
T0 = "2026-11-23T10:00:00+08:00"


def _light(query: str) -> str:
    """The query's units that weigh little, in order."""
    return "".join(u.text for u in DEFAULT_ANALYZER.plan(query).units if u.scale < 1.0)


@pytest.mark.parametrize(
    ("title", "light"),
    [
        ("财务部王丽电脑补丁更新失败", "财务部王丽"),
        ("销售部张三Outlook一直要密码", "销售部张三一要"),
        ("李四域账号反复锁定", "李四"),
        ("3号会议室投影仪HDMI无信号", "3号会议室"),
        ("客服中心IP话机未注册", "客服中心"),
        ("总经理iPhone收不到企业微信消息", "总经理"),
        # not a department, a person or a room: 部署, 处理, 金蝶 (金 is no surname here)
        ("数据库部署失败", ""),
        ("订单处理失败", ""),
        ("金蝶登录失败", ""),
        ("戴尔笔记本蓝屏", ""),  # a brand, not 戴 the surname
        ("罗技鼠标失灵", ""),
        ("王丽", ""),  # never the whole query
        # `new` searches "system description title": the title's start after a space
        ("OA 财务部王丽电脑补丁更新失败", "财务部王丽"),
        ("nas 访问不了 部门文件夹", "了"),  # within a part: not 访问不了 | 部…
    ],
)
def test_who_and_where_a_title_starts_with_weigh_little(title: str, light: str) -> None:
    assert _light(title) == light


def test_a_name_before_the_fault_does_not_silence_its_article() -> None:
    """An unknown name is rare text: weighed in full it dragged the right
    article's coverage to 0.25-0.49 (held-out 4's 人事部赵六…, dev 1's 李四…)."""
    docs = [
        Doc("KB-1", "kb", "域账号频繁被锁定", "手机或旧设备仍用旧密码登录，清除后解锁账号"),
        Doc("KB-2", "kb", "ORA-28000 账户已被锁定", "数据库用户密码错误次数过多"),
        Doc("KB-3", "kb", "Outlook 反复弹出密码输入框", "清除凭据管理器中的旧密码"),
        Doc("KB-4", "kb", "VPN 连接报错 809"),
    ]
    index = SearchIndex(docs)
    for title in ("人事部赵六域账号频繁锁定", "李四域账号反复锁定"):
        assert [ln.hit.id for ln in suggestable(index.search(title, 10))][:1] == ["KB-1"], title


def test_a_request_for_something_new_needs_an_article_about_requesting() -> None:
    """申请新笔记本电脑 is provisioning: the U盘 article, whose title names the
    computer and whose text says how to 提交申请, does not answer it; an article
    titled as the request does. A request to enable what exists (申请开通U盘使用)
    is still answered by the U盘 article."""
    usb = Doc(
        "KB-1", "kb", "U 盘插电脑没反应，提示被终端管控策略禁止", "提交移动存储使用申请后开通"
    )
    slow = Doc("KB-2", "kb", "电脑开机慢，登录后长时间黑屏转圈", "新电脑也可能如此")
    index = SearchIndex([usb, slow, Doc("KB-3", "kb", "VPN 连接报错 809")])
    hits = index.search("市场部申请新笔记本电脑", 10)
    assert hits and all(h.lacks_head for h in hits if h.id == "KB-1")
    assert suggestable(hits) == []
    explained = index.explain("市场部申请新笔记本电脑", "KB-1", hits[0].score)
    assert explained is not None and explained.lacks == "申请"
    assert [ln.hit.id for ln in suggestable(index.search("申请开通U盘使用", 10))] == ["KB-1"]
    laptop = Doc("KB-4", "kb", "新员工笔记本电脑申请流程", "在 OA 提交设备申请")
    index = SearchIndex([usb, slow, laptop])
    assert [ln.hit.id for ln in suggestable(index.search("市场部申请新笔记本电脑", 10))][:1] == [
        "KB-4"
    ]


def test_a_title_naming_another_thing_in_the_slot_does_not_answer() -> None:
    """CPU使用率告警 is not 磁盘空间使用率: the disk alarm article shares 服务器,
    使用率 and 告警 (coverage 0.55) but has nothing of CPU, which stands just
    before 使用率 in the title, where the article has 空间 (held-out 4's loud
    title). With CPU in it, the article answers; an English word before a word the
    title does not glue to others (打印机 after 2楼HP) vetoes nothing."""
    disk = Doc("KB-1", "kb", "Zabbix 告警：服务器磁盘空间使用率超过 90%", "清理日志释放磁盘空间")
    cpu = Doc("KB-2", "kb", "服务器 CPU 使用率持续 100% 告警", "找出占用 CPU 的进程")
    printer = Doc("KB-3", "kb", "打印机显示脱机，打印任务卡在队列里删不掉", "重启打印后台处理程序")
    index = SearchIndex([disk, printer, Doc("KB-4", "kb", "VPN 连接报错 809")])
    hits = index.search("研发服务器CPU使用率告警", 10)
    assert hits[0].id == "KB-1" and hits[0].lacks_head
    assert suggestable(hits) == []
    explained = index.explain("研发服务器CPU使用率告警", "KB-1", hits[0].score)
    assert explained is not None and explained.lacks == "cpu"
    index = SearchIndex([disk, cpu, printer])
    assert [ln.hit.id for ln in suggestable(index.search("研发服务器CPU使用率告警", 10))] == [
        "KB-2"
    ]
    assert [ln.hit.id for ln in suggestable(index.search("2楼HP打印机一直脱机", 10))] == ["KB-3"]


def test_a_brand_the_desk_vocabulary_does_not_know_vetoes_nothing() -> None:
    """Only a word of the desk's vocabulary (CPU, a synonym group) names another
    thing in the slot; an English word it does not know is a brand or a model
    that qualifies (HP of HP打印机): the shared-printer article, titled 连接共享打印机,
    still answers "财务部HP打印机报错11b"."""
    shared = Doc("KB-1", "kb", "连接共享打印机报错 0x0000011b", "安装补丁后共享打印机无法连接")
    offline = Doc("KB-2", "kb", "网络打印机显示脱机无法打印", "重启打印机")
    index = SearchIndex([shared, offline, Doc("KB-3", "kb", "VPN 连接报错 809")])
    for title, expect in [("财务部HP打印机报错11b", "KB-1"), ("HP打印机脱机", "KB-2")]:
        assert [ln.hit.id for ln in suggestable(index.search(title, 10))][:1] == [expect], title


def test_a_system_named_in_the_title_is_not_the_object() -> None:
    """The object rule lifts the last-word veto when the hit's title names the
    word before the last one (映射 of Z盘映射丢失). A word inside a system the
    query names is no object: the WeCom clock-in article, filed under 企业微信,
    names the system, not its messages, and does not answer "收不到企业微信消息"
    (held-out 4's loud title); --explain says it lacks 消息."""
    clock = Doc(
        "KB-1",
        "kb",
        "企业微信打卡提示不在打卡范围内",
        "手机定位权限未开启，收不到定位信息",
        system="企业微信",
    )
    drive = Doc("KB-2", "kb", "映射网络驱动器显示红叉断开", "重新映射网络驱动器", system="文件共享")
    index = SearchIndex([clock, drive, Doc("KB-3", "kb", "VPN 连接报错 809", system="VPN")])
    hits = index.search("总经理iPhone收不到企业微信消息", 10)
    top = next(h for h in hits if h.id == "KB-1")
    assert top.lacks_head and suggestable(hits) == []
    explained = index.explain("总经理iPhone收不到企业微信消息", "KB-1", top.score)
    assert explained is not None and explained.lacks == "消息"
    hit = index.search("Z盘映射丢失", 10)[0]
    assert hit.id == "KB-2" and not hit.lacks_head


def test_new_drops_the_reporter_and_department_from_its_query(desk: Desk) -> None:
    """`new` knows who is asking (--reporter, --dept): their name and department
    in the title are no part of what is broken. 欧阳 is no surname the analyzer
    recognises, so without this the name weighs as rare text and the account
    article is not suggested."""
    shutil.copy(QUALITY / "articles" / "KB-YFCY7.md", desk.root / "knowledge" / "KB-YFCY7.md")
    shutil.copy(QUALITY / "articles" / "KB-0VXKB.md", desk.root / "knowledge" / "KB-0VXKB.md")
    desk.git("add", "knowledge")
    desk.git("commit", "-q", "-m", "seed articles")
    args = ["--type", "failure", "--reporter", "欧阳娜娜", "--dept", "市场部"]
    result = desk.ok("new", "--title", "市场部欧阳娜娜域账号频繁锁定", *args, now=T0)
    assert "suggest: KB-YFCY7 " in result.stderr
