"""Issue 19: relevance that means the same in any store, English questions,
one answer above a flood of look-alikes, and `kb search --explain`."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from conftest import Desk
from elinkctl.kb import Doc, SearchIndex, doc_from_article, parse_article
from elinkctl.kb.analysis import DEFAULT_ANALYZER
from elinkctl.kb.relevance import RELEVANT_COVERAGE
from elinkctl.kb.results import arrange, suggestable, title_key
from elinkctl.kb.search import Hit

QUALITY = Path(__file__).parent / "kb_quality"
T0 = "2026-11-23T10:00:00+08:00"
T1 = "2026-11-23T11:30:00+08:00"


def _articles() -> list[Doc]:
    paths = sorted((QUALITY / "articles").glob("*.md"))
    return [doc_from_article(parse_article(p.read_text(encoding="utf-8"), p)) for p in paths]


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    return SearchIndex(_articles())


# -- English and mixed questions -------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expect"),
    [
        ("printer paper jam", "KB-0VXKB"),
        ("account locked out after wrong password", "KB-YFCY7"),
        ("server C drive disk full", "KB-J334R"),
        ("internal site certificate expired warning", "KB-JZJW5"),
        ("email bounced mailbox full", "KB-ZCFSN"),
        ("电脑 blue screen 了", "KB-F8Y2S"),
    ],
)
def test_english_query_finds_the_chinese_article(
    index: SearchIndex, query: str, expect: str
) -> None:
    top = index.search(query, 3, kind="kb")[0]
    assert top.id == expect
    assert top.coverage is not None and top.coverage >= RELEVANT_COVERAGE


def test_unknown_english_word_is_kept_as_text() -> None:
    plan = DEFAULT_ANALYZER.plan("printer xyzzyplugh")
    assert "xyzzyplugh" in plan.weights  # scored as text
    assert [u.text for u in plan.units] == ["printer", "xyzzyplugh"]  # and weighed in coverage


def test_an_unknown_word_lowers_coverage(index: SearchIndex) -> None:
    plain = index.search("printer paper jam", 1)[0]
    noisy = index.search("printer paper jam zorblax", 1)[0]
    assert noisy.id == plain.id
    assert noisy.coverage is not None and plain.coverage is not None
    assert noisy.coverage < plain.coverage


# -- what must not be lost ---------------------------------------------------------------


def test_own_quality_set_top1_at_least_its_98_9_percent(index: SearchIndex) -> None:
    from elinkctl import yamlio

    data = yamlio.load((QUALITY / "queries.yaml").read_text(encoding="utf-8"))
    queries = [(str(q["query"]), str(q["expect"])) for q in data["queries"]]
    hits = sum(index.search(q, 1, kind="kb")[0].id == e for q, e in queries)
    assert hits / len(queries) >= 0.989


def test_partial_error_codes_find_their_article() -> None:
    docs = [
        Doc("KB-A", "kb", "共享打印机连接报错0x0000011b", "客户端连接提示 0x0000011b，卸载补丁。"),
        Doc("KB-B", "kb", "打印机脱机无法打印", "打印机显示脱机"),
        Doc("KB-C", "kb", "添加打印机提示0x00000709", "无法设置默认打印机 0x00000709"),
        Doc("KB-D", "kb", "Outlook发送邮件报0x800CCC78", "SMTP 端口 587"),
    ]
    index = SearchIndex(docs)
    for query, expect in [
        ("11b", "KB-A"),
        ("709", "KB-C"),
        ("打印机 709", "KB-C"),
        ("0x800CCC78", "KB-D"),
        ("报800ccc78", "KB-D"),
    ]:
        top = index.search(query, 1)[0]
        assert top.id == expect and top.coverage is not None
        assert top.coverage >= RELEVANT_COVERAGE, query


# -- the relevance decision ----------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["会议室空调不制冷", "食堂饭卡充值失败", "coffee machine is broken"]
)
def test_unanswerable_queries_are_weak(index: SearchIndex, query: str) -> None:
    lines = arrange(index.search(query, 40), 10)
    assert lines and not any(ln.relevant for ln in lines)


def test_coverage_is_a_ratio_that_does_not_grow_with_the_store() -> None:
    """The same query and article: the score grows with thousands of incidents,
    coverage stays put (the decision means the same in any store)."""
    sys.path.insert(0, str(Path(__file__).parent.parent / "scripts"))
    try:
        from kb_quality import noise_docs
    finally:
        sys.path.pop(0)
    small = SearchIndex(_articles())
    big = SearchIndex(_articles() + noise_docs(2000))
    a = small.search("域账号被锁定了", 1, kind="kb")[0]
    b = big.search("域账号被锁定了", 1, kind="kb")[0]
    assert a.id == b.id == "KB-YFCY7"
    assert a.coverage is not None and b.coverage is not None
    assert a.coverage >= RELEVANT_COVERAGE and b.coverage >= RELEVANT_COVERAGE
    assert abs(a.coverage - b.coverage) < 0.15


def test_a_hit_that_stands_out_answers_below_the_threshold() -> None:
    """Coverage 0.47 answers when the others cover at most 0.7× of it, not when
    they come close (a crowd of partial matches); below 0.45 never; a hit
    without coverage always; look-alike incidents count as one line."""
    from elinkctl.kb.relevance import STANDOUT_COVERAGE, relevant_flags

    assert STANDOUT_COVERAGE < 0.47 < RELEVANT_COVERAGE
    assert relevant_flags([0.47, 0.3, 0.1]) == [True, False, False]
    assert relevant_flags([0.47, 0.45, 0.4]) == [False, False, False]
    assert relevant_flags([0.4, 0.1]) == [False, False]
    assert relevant_flags([0.9, 0.47]) == [True, False]
    assert relevant_flags([None, 0.2]) == [True, False]
    assert relevant_flags([0.9, 0.8], lacking=[True, False]) == [False, True]
    flood = [Hit(f"INC-2512{i:02d}-AAAA", "邮件发不出去", 20.0, "ticket", 0.3) for i in range(5)]
    article = Hit("KB-ZCFSN", "邮件发送被退信", 15.0, "kb", 0.47)
    lines = arrange([*flood, article], 10)
    assert [(ln.hit.id, ln.relevant) for ln in lines] == [
        ("KB-ZCFSN", True),
        ("INC-251204-AAAA", False),
    ]


def test_the_last_word_is_what_is_broken() -> None:
    """A Chinese query's last word (not a trailing 了, an English word too) is its
    head; an English query has none (the broken thing stands anywhere)."""

    def head(query: str) -> list[str]:
        plan = DEFAULT_ANALYZER.plan(query)
        return [plan.units[i].text for i in plan.head]

    assert head("投影仪遥控器丢失") == ["丢", "失"]
    assert head("Mac电脑安装Office") == ["office"]
    assert head("inode用完了") == ["用", "完"]
    assert head("3F行政区打印机输出乱码") == ["乱", "码"]
    assert head("printer offline") == []


def test_a_hit_without_the_last_word_does_not_answer() -> None:
    """Everything but what is broken: a projector article that mentions the remote
    does not answer 投影仪遥控器丢失 (coverage alone says it does); it answers
    投影仪无信号, and a qualifier in front (大会议室) never vetoes."""
    projector = Doc(
        id="KB-6JN4E",
        kind="kb",
        title="投影仪连接笔记本后无信号",
        text="用遥控器切换信号源到HDMI，检查线缆和笔记本的显示输出设置。",
        system="",
    )
    other = Doc(
        id="KB-Y9NVR", kind="kb", title="监控录像机回放没有录像", text="检查硬盘。", system=""
    )
    index = SearchIndex([projector, other])
    lost = index.search("投影仪遥控器丢失", 5)
    assert lost[0].id == "KB-6JN4E" and lost[0].lacks_head
    assert (lost[0].coverage or 0.0) >= RELEVANT_COVERAGE
    assert not arrange(lost, 5)[0].relevant
    why = index.explain("投影仪遥控器丢失", "KB-6JN4E", lost[0].score)
    assert why is not None and why.lacks == "丢失"
    for query in ("投影仪无信号", "大会议室投影仪无信号"):
        hit = index.search(query, 5)[0]
        assert hit.id == "KB-6JN4E" and not hit.lacks_head
    assert arrange(index.search("投影仪无信号", 5), 5)[0].relevant


def test_new_on_the_development_sets() -> None:
    """`new` on the union of the seven development sets (articles only: 161/163
    and 54/58 on the first six after round 6, 153/163 and 53/58 before; with
    3,000 incidents: 162/163 and 54/58, docs/knowledge-base.md; the seventh,
    held-out 5 run once after round 6, adds 29/30 and 9/10): the right
    article for at least 190 of 193 answerable titles, silent on at least 63
    of 68 others."""
    sys.path.insert(0, str(Path(__file__).parent.parent / "scripts"))
    try:
        from kb_quality import DEV_SETS, load_docs, load_items
    finally:
        sys.path.pop(0)
    root = Path(__file__).parent.parent
    found = silent = answerable = 0
    for path, _, tfile in DEV_SETS:
        index = SearchIndex(load_docs(root / path))
        for t, e in load_items(root / path / tfile, "titles"):
            ids = [ln.hit.id for ln in suggestable(index.search(t, 52))][:3]
            answerable += e is not None
            found += e is not None and e in ids
            silent += e is None and not ids
    assert answerable == 193
    assert found >= 190 and silent >= 63


def test_second_development_set_new_and_search() -> None:
    """tests/kb_quality/dev2 (articles only): every answerable title suggested,
    every answerable query's article first; most unanswerable titles silent."""
    dev2 = QUALITY / "dev2"
    sys.path.insert(0, str(Path(__file__).parent.parent / "scripts"))
    try:
        from kb_quality import load_docs, load_items
    finally:
        sys.path.pop(0)
    index = SearchIndex(load_docs(dev2))
    queries = load_items(dev2 / "queries.yaml", "queries")
    firsts = [index.search(q, 1, kind="kb")[0].id == e for q, e in queries if e is not None]
    assert sum(firsts) >= len(firsts) - 1
    titles = load_items(dev2 / "titles.yaml", "titles")
    found = silent = 0
    for t, e in titles:
        ids = [ln.hit.id for ln in arrange(index.search(t, 52), 40) if ln.relevant][:3]
        found += e is not None and e in ids
        silent += e is None and not ids
    assert found == sum(e is not None for _, e in titles)
    assert silent >= 7


# -- one answer above the flood ----------------------------------------------------------


def test_flood_collapses_and_the_article_comes_first() -> None:
    flood = [Hit(f"INC-2512{i:02d}-AAAA", "邮件发不出去", 20.0, "ticket", 0.9) for i in range(33)]
    article = Hit("KB-ZCFSN", "邮件发送被退信提示邮箱已满", 8.0, "kb", 0.7)
    other = Hit("INC-251101-BBBB", "打印机卡纸", 5.0, "ticket", 0.1)
    lines = arrange(
        [*flood, Hit("INC-251130-CCCC", "邮件 发不出去！", 19.0, "ticket", 0.8), article, other], 10
    )
    assert [ln.hit.id for ln in lines] == ["KB-ZCFSN", "INC-251232-AAAA", "INC-251101-BBBB"]
    assert lines[1].similar_count == 34 and lines[1].relevant
    assert not lines[2].relevant
    assert title_key("Outlook 发不出去!") == title_key("outlook发不出去")


# -- through the CLI -----------------------------------------------------------------------


def _seed(desk: Desk) -> None:
    for name in ("KB-ZCFSN", "KB-0VXKB", "KB-NSBVK", "KB-28G7V", "KB-YFCY7", "KB-Z4E63"):
        shutil.copy(QUALITY / "articles" / f"{name}.md", desk.root / "knowledge" / f"{name}.md")
    desk.git("add", "knowledge")
    desk.git("commit", "-q", "-m", "seed articles")


def _resolved(desk: Desk, title: str, solution: str) -> str:
    tid = desk.new(now=T0, title=title)
    desk.ok("accept", tid, now=T0)
    desk.ok("resolve", tid, "--solution", solution, now=T1)
    return tid


def test_cli_flood_is_one_line_with_its_count_and_the_article_above(desk: Desk) -> None:
    _seed(desk)
    ids = [_resolved(desk, "邮件发不出去", "清理邮箱后恢复") for _ in range(5)]
    hits = desk.json("kb", "search", "邮件发不出去", "提示邮箱已满")
    assert hits[0]["id"] == "KB-ZCFSN" and hits[0]["relevant"]
    flood = [h for h in hits if h["title"] == "邮件发不出去"]
    assert len(flood) == 1 and flood[0]["similar_count"] == 5
    assert flood[0]["id"] == max(ids)  # the latest
    table = desk.ok("kb", "search", "邮件发不出去").stdout
    assert "ticket ×5" in table


def test_cli_english_search_and_weak_marks(desk: Desk) -> None:
    _seed(desk)
    hits = desk.json("kb", "search", "printer", "paper", "jam")
    assert hits[0]["id"] == "KB-0VXKB" and hits[0]["relevant"]
    weak = desk.json("kb", "search", "会议室空调不制冷")
    assert weak and not any(h["relevant"] for h in weak)
    result = desk.ok("kb", "search", "会议室空调不制冷")
    assert "weak" in result.stdout and "covers too little" in result.stderr


def test_new_is_silent_when_nothing_fits(desk: Desk) -> None:
    _seed(desk)
    result = desk.ok(
        "new", "--title", "会议室空调不制冷", "--type", "failure", "--reporter", "张三", now=T0
    )
    assert "suggest:" not in result.stderr
    answered = desk.ok(
        "new", "--title", "域账号被锁定 无法登录", "--type", "failure", "--reporter", "张三", now=T0
    )
    assert "suggest: KB-YFCY7 " in answered.stderr


def test_explain_says_why(desk: Desk) -> None:
    _seed(desk)
    out = desk.ok("kb", "search", "printer prints garbage", "--explain", "--limit", "2").stdout
    assert "matched:" in out and "synonyms: printer →" in out
    assert "title×" in out
    data = desk.json("kb", "search", "打印机卡纸", "--explain", "--limit", "1")
    e = data[0]["explain"]
    assert data[0]["id"] == "KB-0VXKB"
    assert {t["term"] for t in e["terms"]} >= {"打印", "卡纸"}
    assert e["fields"]["卡纸"].startswith("title×1")
    # the query names the article's system (打印机): the system boost
    assert e["boost"] == pytest.approx(1.5) and e["coverage"] == data[0]["coverage"]


def test_qualifiers_weigh_little() -> None:
    """Where, how many and how much (二楼, 多台, 特别, 五六分钟) qualify the problem:
    a right answer lacks them, so they weigh like function characters; the
    symptom around them keeps its full weight."""
    plan = DEFAULT_ANALYZER.plan("二楼无线网特别慢 多台电脑")
    scale = {u.text: u.scale for u in plan.units}
    assert scale["二"] == scale["楼"] == scale["特"] == scale["多"] == scale["台"] < 1.0
    assert scale["无"] == scale["线"] == scale["慢"] == scale["电"] == 1.0


def test_glued_system_name_and_desk_phrasings() -> None:
    """ "sqlserver" is SQL Server, 连接数满 is "Too many connections", 校验 is 验真,
    a laptop is a 电脑 (held-out-2's misses, now dev set 4)."""
    docs = [
        Doc("KB-1", "kb", "SQL Server 登录失败 错误 18456"),
        Doc("KB-2", "kb", "VPN 连接报错 809 无法建立连接"),
        Doc("KB-3", "kb", "MySQL 报 1040 Too many connections"),
        Doc("KB-4", "kb", "报销单上传发票验真失败"),
        Doc("KB-5", "kb", "办公电脑开机速度慢排查"),
    ]
    index = SearchIndex(docs)
    assert index.search("sqlserver 连不上 报18456")[0].id == "KB-1"
    cover = {h.id: h.coverage for h in index.search("连接数满")}
    assert (cover["KB-3"] or 0.0) > (cover.get("KB-2") or 0.0)
    assert index.search("发票校验失败")[0].id == "KB-4"
    assert index.search("laptop slow to boot")[0].id == "KB-5"


def test_a_request_is_answered_only_by_a_hit_about_requesting() -> None:
    """VPN 账号开通申请 is a request: the VPN fault article does not answer it
    (explained as lacking 申请); an article that says how to apply does."""
    fault = Doc("KB-1", "kb", "VPN 连接报错 809 无法建立连接", "检查 VPN 账号与网络")
    apply = Doc("KB-2", "kb", "U 盘被终端管控禁用无法使用", "提交移动存储临时使用申请")
    index = SearchIndex([fault, apply])
    hit = index.search("VPN 账号开通申请")[0]
    assert hit.id == "KB-1" and hit.lacks_head
    explained = index.explain("VPN 账号开通申请", hit.id, hit.score)
    assert explained is not None and explained.lacks == "申请"
    assert not index.search("申请开通U盘使用")[0].lacks_head


def test_desk_phrasings_of_round_5() -> None:
    """磁盘空间满 is a full disk (not a full mailbox) and 生产 (which copy of a
    system) qualifies: the title is answered by its article alone (held-out 3's
    miss, now dev set 5)."""
    docs = [
        Doc("KB-1", "kb", "OA 审批单卡在某个节点不流转"),
        Doc("KB-2", "kb", "映射网络驱动器显示红叉断开"),
        Doc("KB-3", "kb", "Linux 服务器根分区磁盘满"),
        Doc("KB-4", "kb", "邮箱空间已满收不到邮件"),
    ]
    hits = SearchIndex(docs).search("生产服务器磁盘空间满")
    assert hits[0].id == "KB-3" and not hits[0].lacks_head
    assert [ln.hit.id for ln in suggestable(hits)] == ["KB-3"]


def test_a_title_sharing_only_a_character_does_not_support_a_suggestion() -> None:
    """`new`'s title floor counts words the hit's title shares (a pair of
    characters, an English word, a synonym), not a lone character: the 通 of
    通知 is not the 通 of 通讯录, so the messaging article, which covers the
    title in its text, is not suggested (held-out 2's loud title, dev set 4)."""
    body = (
        "企业微信电脑端收到新消息时没有弹窗和声音提示。客户端设置中关闭了新消息提醒，"
        "请同事在设置里打开通知，找不到开关时重新登录。"
    )
    docs = [
        Doc("KB-1", "kb", "企业微信电脑端收不到消息通知", body),
        Doc("KB-2", "kb", "Outlook 反复弹出输入密码对话框", "改密码后凭据过期"),
        Doc("KB-3", "kb", "VPN 连接报错 809"),
    ]
    hits = SearchIndex(docs).search("Outlook 通讯录找不到新同事")
    assert hits[0].id == "KB-1" and (hits[0].coverage or 0.0) >= RELEVANT_COVERAGE
    assert not hits[0].lacks_head and arrange(hits, 3)[0].relevant  # kb search: answers
    assert suggestable(hits) == []


def test_a_hit_with_all_of_the_title_is_suggested_whatever_its_title_says() -> None:
    """The title floor is for partial matches: an article that has the whole
    incident title in its text (`relevance.FULL_COVERAGE`), under a title in
    other words, is suggested."""
    docs = [
        Doc(
            "KB-1",
            "kb",
            "开机后黑屏只有鼠标指针",
            "开机进入桌面后任务栏和桌面图标消失，只有鼠标指针。重启 explorer.exe 进程",
        ),
        Doc("KB-2", "kb", "VPN 连接报错 809"),
        Doc("KB-3", "kb", "打印机脱机"),
    ]
    hits = SearchIndex(docs).search("桌面图标和任务栏都消失了")
    assert hits[0].id == "KB-1" and hits[0].title_coverage == 0.0
    assert [ln.hit.id for ln in suggestable(hits)] == ["KB-1"]


def test_a_question_tail_is_not_the_last_word() -> None:
    """A qualifier ending the query (是啥意思, 怎么办) weighs like a function
    character, so the last word that must be in a hit is the one before it:
    the blue-screen article answers "蓝屏 IRQL_NOT_LESS 是啥意思" though it never
    says 意思 (held-out 2's kb search miss, dev set 4)."""
    plan = DEFAULT_ANALYZER.plan("蓝屏 IRQL_NOT_LESS 是啥意思")
    assert [plan.units[i].text for i in plan.head] == ["less"]
    assert all(u.scale < 1.0 for u in plan.units if u.text in "是啥意思")
    docs = [
        Doc("KB-1", "kb", "蓝屏 DRIVER_IRQL_NOT_LESS_OR_EQUAL 网卡驱动问题", "更新网卡驱动"),
        Doc("KB-2", "kb", "腾讯会议共享屏幕对方看到黑屏", "意思是对方看不到"),
        Doc("KB-3", "kb", "VPN 连接报错 809"),
    ]
    hit = SearchIndex(docs).search("蓝屏 IRQL_NOT_LESS 是啥意思")[0]
    assert hit.id == "KB-1" and not hit.lacks_head


def test_the_time_of_day_qualifies() -> None:
    """夜间, 晚上, 凌晨 say when, like 早上 and 下午: a right answer rarely says it,
    so it weighs little in coverage (held-out 3's "夜间备份作业失败" fell below
    the threshold in a store of 10,000 incidents)."""
    plan = DEFAULT_ANALYZER.plan("夜间备份作业失败")
    assert [u.text for u in plan.units if u.scale < 1.0] == ["夜", "间"]
    docs = [
        Doc("KB-1", "kb", "Veeam 备份作业失败快照无法创建", "检查存储空间"),
        Doc("KB-2", "kb", "VPN 连接报错 809"),
        Doc("KB-3", "kb", "打印机脱机"),
    ]
    hits = SearchIndex(docs).search("夜间备份作业失败")
    assert [ln.hit.id for ln in suggestable(hits)] == ["KB-1"]


def test_a_title_naming_the_object_answers_a_fault_worded_otherwise() -> None:
    """The last-word veto is lifted when the hit's title names the word just
    before the last one, the object: 映射 for "Z盘映射丢失" (the article says
    红叉断开), 审批 for "报销审批卡住" (卡在). A projector article that mentions
    the remote in its text still lacks 丢失 for "投影仪遥控器丢失": its title
    names the projector, not the remote."""
    docs = [
        Doc("KB-1", "kb", "映射网络驱动器显示红叉断开", "重新映射网络驱动器"),
        Doc("KB-2", "kb", "OA 审批单卡在某个节点不流转", "管理员转交审批"),
        Doc("KB-3", "kb", "投影仪连接笔记本后无信号", "用遥控器切换信号源"),
        Doc("KB-4", "kb", "VPN 连接报错 809"),
    ]
    index = SearchIndex(docs)
    for title, expect in [("Z盘映射丢失", "KB-1"), ("报销审批卡住", "KB-2")]:
        hit = index.search(title)[0]
        assert hit.id == expect and not hit.lacks_head, title
        explained = index.explain(title, hit.id, hit.score)
        assert explained is not None and explained.lacks == "", title
    lost = index.search("投影仪遥控器丢失")[0]
    assert lost.id == "KB-3" and lost.lacks_head
    explained = index.explain("投影仪遥控器丢失", lost.id, lost.score)
    assert explained is not None and explained.lacks == "丢失"
    # a code ending the title is the fault itself: no title lifts it
    bounce = SearchIndex([Doc("KB-5", "kb", "Foxmail 收不到新邮件，对方退信"), *docs])
    assert bounce.search("客户收不到邮件 退信554")[0].lacks_head
    assert suggestable(index.search("投影仪遥控器丢失")) == []
