"""The suggestion index (`SuggestIndex`): what `new` searches instead of the whole index.

It must give exactly the whole index's hits among the documents it keeps
(every article, the newest incidents), and stay exact as it follows changes.
"""

from __future__ import annotations

import random
import sqlite3
import sys
from array import array
from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elinkctl.kb import Doc, IndexFormatError, SearchIndex, SuggestIndex, build_suggest_index
from elinkctl.kb.ranking import rank, rank_grouped
from elinkctl.kb.search import doc_fields, doc_weights

SCRIPTS = Path(__file__).parent.parent / "scripts"
sys.path.insert(0, str(SCRIPTS))
try:
    from bench_kb import synthetic_tickets

    import kb_quality
finally:
    sys.path.remove(str(SCRIPTS))

QUERIES = [q for q, _ in kb_quality.load_queries()]
VARIANTS = [
    (None, None, None),
    ("财务系统", None, None),
    ("OA", "登录", None),
    ("打印机", "打印", None),
    (None, None, "kb"),
    (None, None, "ticket"),
]


def corpus(tickets: int, seed: int = 3) -> list[Doc]:
    """Quality-set articles first, then synthetic incidents: the store's order."""
    return kb_quality.load_docs() + synthetic_tickets(tickets, random.Random(seed))


def paths_of(docs: Sequence[Doc]) -> list[str]:
    return [
        f"knowledge/{d.id}.md" if d.kind == "kb" else f"tickets/2026/11/{d.id}-{i}.yaml"
        for i, d in enumerate(docs)
    ]


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(":memory:", isolation_level=None)) as c:
        yield c


def derive(
    conn: sqlite3.Connection, docs: Sequence[Doc], recent: int, head: str = "c0"
) -> tuple[SearchIndex, SuggestIndex]:
    index = SearchIndex(docs)
    build_suggest_index(
        conn, index, paths_of(docs), docs, recent=recent, head=head, fingerprint="fp"
    )
    return index, SuggestIndex(conn)


def restricted(
    index: SearchIndex, keep: set[str], query: str, limit: int, **kw: str | None
) -> list:
    system, module, kind = kw.get("system"), kw.get("module"), kw.get("kind")
    hits = index.search(query, len(index), system, module, kind=kind)
    return [h for h in hits if h.id in keep][:limit]


def test_keeping_everything_it_answers_as_the_whole_index(conn: sqlite3.Connection) -> None:
    docs = corpus(400)
    index, sug = derive(conn, docs, recent=10_000)
    assert sug.ids() == list(index.ids)
    for query in QUERIES:
        for system, module, kind in VARIANTS:
            for limit in (1, 3, 10):
                got = sug.search(query, limit, system, module, kind=kind)
                assert got == index.search(query, limit, system, module, kind=kind), query


def test_it_keeps_every_article_and_the_newest_incidents_with_the_same_scores(
    conn: sqlite3.Connection,
) -> None:
    docs = corpus(600)
    index, sug = derive(conn, docs, recent=150)
    articles = [d.id for d in docs if d.kind == "kb"]
    newest = [d.id for d in docs if d.kind == "ticket"][-150:]
    assert sug.ids() == articles + newest
    keep = set(sug.ids())
    for query in QUERIES:
        for system, module, kind in VARIANTS:
            want = restricted(index, keep, query, 9, system=system, module=module, kind=kind)
            assert sug.search(query, 9, system, module, kind=kind) == want, query


def test_quality_set_is_as_good_through_the_suggestion_index(conn: sqlite3.Connection) -> None:
    docs = corpus(2000)
    index, sug = derive(conn, docs, recent=500)
    full = kb_quality.evaluate(index, kb_quality.load_queries())
    through = kb_quality.evaluate(sug, kb_quality.load_queries())
    assert through[:2] >= full[:2]


def test_doc_weights_are_the_weights_a_build_stores() -> None:
    docs = corpus(200)
    index = SearchIndex(docs)
    assert index.avg is not None
    stored: dict[int, dict[str, float]] = {}
    for term, tid in index._terms.items():
        lo, hi = index._offsets[tid], index._offsets[tid + 1]
        for d, s in zip(index._pdocs[lo:hi], index._psat[lo:hi], strict=True):
            stored.setdefault(d, {})[term] = s
    for d, doc in enumerate(docs):
        weights = doc_weights(doc_fields(doc), index.avg)
        as_stored = dict(zip(weights, array("f", weights.values()).tolist(), strict=True))
        assert as_stored == stored[d], doc.id


def test_averages_survive_serialisation() -> None:
    index = SearchIndex(corpus(20))
    assert SearchIndex.from_bytes(index.to_bytes()).avg == index.avg


def _stats(conn: sqlite3.Connection) -> tuple[int, dict[str, int]]:
    n = int(conn.execute("SELECT value FROM meta WHERE key = 'n'").fetchone()[0])
    df = {t: c for t, c in conn.execute("SELECT term, df FROM terms") if c}
    return n, df


def test_apply_keeps_the_statistics_exact(conn: sqlite3.Connection) -> None:
    docs = corpus(120)
    paths = paths_of(docs)
    _, sug = derive(conn, docs, recent=10_000)
    first_ticket = next(i for i, d in enumerate(docs) if d.kind == "ticket")
    article = docs[0]
    edited = Doc(
        article.id, "kb", "打印机卡纸后面板一直报错", "打开后面板取出卡纸", system="打印机"
    )
    fresh = [
        Doc(
            "INC-NEW-1",
            "ticket",
            "扫描仪无法扫描到共享文件夹",
            "重新设置SMB共享凭据",
            system="打印机",
        ),
        Doc("INC-NEW-2", "ticket", "VPN证书过期无法连接", "重新导入证书", system="VPN"),
    ]
    changes: list[tuple[str, Doc | None]] = [
        (paths[0], edited),  # an article edited
        (paths[first_ticket], None),  # an incident reopened (or its file removed)
        (paths[first_ticket + 1], docs[first_ticket + 1]),  # a comment: same document
        ("tickets/2026/11/INC-NEW-1.yaml", fresh[0]),
        ("tickets/2026/11/INC-NEW-2.yaml", fresh[1]),
        ("tickets/2026/11/INC-OPEN.yaml", None),  # registered, still open
    ]
    assert sug.apply(changes, since="c0", head="c1")
    assert sug.head == "c1"
    now = [edited, *docs[1:first_ticket], *docs[first_ticket + 1 :], *fresh]
    assert sorted(sug.ids()) == sorted(d.id for d in now)
    # Document count and every document frequency: those of a rebuild.
    rebuilt = SearchIndex(now)
    want_df = {t: rebuilt._offsets[i + 1] - rebuilt._offsets[i] for t, i in rebuilt._terms.items()}
    assert _stats(conn) == (len(now), want_df)
    # Only the two new documents and the edited article were added.
    size = conn.execute("SELECT value FROM meta WHERE key = 'size'").fetchone()[0]
    assert int(size) == len(docs) + 3
    assert sug.search("扫描仪共享文件夹", 1)[0].id == "INC-NEW-1"
    assert sug.search("打印机卡纸后面板", 1)[0].id == article.id
    assert docs[first_ticket].id not in [h.id for h in sug.search(docs[first_ticket].title, 50)]
    # A second edit of the added version is exact as well.
    assert sug.apply([(paths[0], None)], since="c1", head="c2")
    now = now[1:]
    rebuilt = SearchIndex(now)
    want_df = {t: rebuilt._offsets[i + 1] - rebuilt._offsets[i] for t, i in rebuilt._terms.items()}
    assert _stats(conn) == (len(now), want_df)


@pytest.mark.parametrize(
    "doc",
    [
        Doc(
            "KB-00001", "kb", "打印机卡纸", "打开后盖", system=("打印机", "OA"), keywords=("卡纸",)
        ),
        Doc("INC-1", "ticket", "控制字符\x1e标题", "正文\x1f", system="a\x1eb"),
        Doc("INC-2", "ticket", "", ""),
    ],
)
def test_documents_are_stored_as_they_are(doc: Doc) -> None:
    from elinkctl.kb.suggestrows import _doc_from_key, _doc_key

    assert _doc_from_key(_doc_key(doc)) == doc


def test_apply_from_another_commit_changes_nothing(conn: sqlite3.Connection) -> None:
    docs = corpus(30)
    _, sug = derive(conn, docs, recent=10_000)
    new = Doc("INC-NEW-1", "ticket", "扫描仪无法扫描", "重设凭据")
    assert not sug.apply([("tickets/2026/11/INC-NEW-1.yaml", new)], since="other", head="c1")
    assert sug.head == "c0" and "INC-NEW-1" not in sug.ids()


def test_added_articles_and_incidents_rank_as_after_a_rebuild(conn: sqlite3.Connection) -> None:
    """Up to the averages (kept from the build), scores are those of a rebuild."""
    docs = corpus(300)
    base, extra = docs[:-20], docs[-20:]
    _, sug = derive(conn, base, recent=10_000)
    changes = [(f"tickets/2026/12/{d.id}.yaml", d) for d in extra]
    assert sug.apply(changes, since="c0", head="c1")
    rebuilt = SearchIndex(docs)
    agree = 0
    for query in QUERIES:
        want = [h.id for h in rebuilt.search(query, 3)]
        agree += [h.id for h in sug.search(query, 3)] == want
    assert agree >= 0.95 * len(QUERIES)


def test_a_foreign_database_is_refused(conn: sqlite3.Connection) -> None:
    derive(conn, corpus(5), recent=10)
    conn.execute("UPDATE meta SET value = '\"kb-suggest-0\"' WHERE key = 'format'")
    with pytest.raises(IndexFormatError):
        SuggestIndex(conn)


def test_an_empty_index(conn: sqlite3.Connection) -> None:
    index = SearchIndex([])
    build_suggest_index(conn, index, [], [], recent=10, head="c0", fingerprint="fp")
    sug = SuggestIndex(conn)
    assert sug.search("打印机", 3) == [] and sug.ids() == []
    doc = Doc("KB-00001", "kb", "打印机卡纸", "打开后盖")
    assert sug.apply([("knowledge/KB-00001.md", doc)], since="c0", head="c1")
    assert [h.id for h in sug.search("打印机", 3)] == ["KB-00001"]


def test_a_very_long_query(conn: sqlite3.Connection) -> None:
    docs = corpus(50)
    index, sug = derive(conn, docs, recent=10_000)
    query = " ".join(d.title for d in docs) * 3
    assert sug.search(query, 5) == index.search(query, 5)


GROUPS = [
    ("kb", ("财务系统",), ("登录",)),
    ("kb", ("oa系统", "邮件系统"), ()),
    ("ticket", ("财务系统",), ("报表",)),
    ("ticket", ("vpn",), ("登录",)),
    ("ticket", (), ()),
]


@settings(max_examples=300, deadline=None)
@given(
    scores=st.lists(st.sampled_from([0.0, 0.0, 1.0, 1.5, 2.0, 2.7, 3.6, 0.3]), max_size=300),
    groups=st.data(),
    limit=st.integers(min_value=1, max_value=40),
    system=st.sampled_from([None, "财务", "OA系统", "vpn"]),
    module=st.sampled_from([None, "登录"]),
    kind=st.sampled_from([None, "kb", "ticket"]),
    named=st.sampled_from([frozenset(), frozenset({"财务系统"})]),
)
def test_grouped_ranking_is_the_plain_ranking(
    scores: list[float],
    groups: st.DataObject,
    limit: int,
    system: str | None,
    module: str | None,
    kind: str | None,
    named: frozenset[str],
) -> None:
    group_of = [groups.draw(st.integers(0, len(GROUPS) - 1)) for _ in scores]
    kinds = [g[0] for g in GROUPS]
    systems = [g[1] for g in GROUPS]
    modules = [g[2] for g in GROUPS]
    plain = rank(
        scores,
        limit,
        [kinds[g] for g in group_of],
        [systems[g] for g in group_of],
        [modules[g] for g in group_of],
        named,
        system=system,
        module=module,
        kind=kind,
    )
    grouped = rank_grouped(
        scores,
        limit,
        group_of,
        kinds,
        systems,
        modules,
        named,
        system=system,
        module=module,
        kind=kind,
    )
    assert grouped == plain
