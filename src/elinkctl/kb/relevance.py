"""Whether a hit answers the query: coverage, the same measure in any store.

A BM25 score only orders the hits of one query: it grows with the query's
length and with the store (a correct top hit scores 16 among 40 articles,
21 among 3,000 incidents, while a title with no answer reaches 12). So the
decision is made on *coverage* instead: the share of the query's meaning the
hit contains. Each unit the user typed (a Chinese character, an ASCII word;
`elinkctl.kb.analysis.QueryPlan`) weighs its rarity in the store (IDF, function
words a fraction of it) and is covered by the hit's best evidence: the
character with a neighbour (a bigram of the query), the bare character
(half), a phrase of a synonym group it is part of (full: the same meaning in
other words). Coverage is a ratio of a query to itself, between 0 and 1,
so one threshold means the same for a short or a long query, in a store of
40 articles or of 100,000 incidents. An unknown word is a unit no hit has:
it lowers coverage instead of being dropped, so "会议室空调不制冷" is judged
on 空调 and 制冷 too, and nothing answers it.

Whether a hit answers is coverage, what is missing and the rest of the list
together (`relevant_flags`): a hit lacking the query's last word (what a
Chinese title says is broken, `lacks_head`) never answers, unless its title
names the word before it (`verdict`); otherwise at least `RELEVANT_COVERAGE`,
or at least `STANDOUT_COVERAGE` when the hit stands out from the other hits.
`new` and `kb search` use it; `new`, which speaks unasked with a title as its
query, also wants the hit's own title to say part of it
(`SUGGEST_TITLE_COVERAGE`, `title_coverage`). The trade-off curves behind the
numbers (answerable hits kept against unanswerable queries silenced, on the
union of the development sets) are in docs/knowledge-base.md, from
scripts/kb_quality.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from .analysis import QueryPlan, Unit, index_terms, normalize
from .dictionary import CJK_REQUEST_WORDS

__all__ = [
    "HEAD_COVERAGE",
    "HEAD_RARITY",
    "RELEVANT_COVERAGE",
    "STANDOUT_COVERAGE",
    "STANDOUT_RATIO",
    "FULL_COVERAGE",
    "SUGGEST_TITLE_COVERAGE",
    "relevant_flags",
    "RERANK_DEPTH",
    "rerank",
    "Explanation",
    "coverage",
    "explain",
    "idf",
    "lacks_head",
    "title_coverage",
    "verdict",
]

RELEVANT_COVERAGE = 0.5
"""A hit covering at least this much of the query answers it (unless it
lacks the query's last word, `lacks_head`)."""
HEAD_COVERAGE = 0.3
"""A hit covering less than this of the query's last word lacks it (`lacks_head`)."""
HEAD_RARITY = 0.75
"""The query's last word vetoes a hit without it when it is at least this
rare relative to the average of what the user typed (`lacks_head`)."""
STANDOUT_COVERAGE = 0.45
"""A hit covering less than `RELEVANT_COVERAGE` but at least this much answers
the query when it stands out: no other hit among the first `STANDOUT_DEPTH`
covers more than `STANDOUT_RATIO` of what it covers. Below, it is weak:
`new` does not suggest it, `kb search` marks it."""
STANDOUT_RATIO = 0.7
STANDOUT_DEPTH = 10
SUGGEST_TITLE_COVERAGE = 0.2
"""`new` suggests a hit only when its own title covers at least this much of the
query (`title_coverage`), or the hit covers at least `FULL_COVERAGE`; `kb search`
has no such floor (see `relevant_flags`)."""
FULL_COVERAGE = 0.8
"""A hit with this much of the query answers it whatever its title says: the
title floor is for partial matches (the hits it silences cover 0.5 to 0.76 of
their titles, in their text), while a right answer worded otherwise than the
title, as callers word questions in `kb search`, often has nearly all of it."""


def relevant_flags(
    covers: Sequence[float | None],
    threshold: float = RELEVANT_COVERAGE,
    standout: float = STANDOUT_COVERAGE,
    ratio: float = STANDOUT_RATIO,
    lacking: Sequence[bool] = (),
    titles: Sequence[float | None] = (),
    title_floor: float = 0.0,
) -> list[bool]:
    """Whether each hit of a list (coverages in list order, one per distinct
    answer: look-alike incidents already one) answers the query.

    Coverage alone is a single cut: a right answer phrased in the user's
    own words ("sqlserver 1205错误", "inode用完了") covers half the query,
    while a title with no answer reaches as much on a shared system name
    and common words. What separates them is the rest of the list: a right
    answer stands out, the partial matches of an unanswerable query come
    in a crowd of equals (every article on that system, every incident with
    申请 or 新员工). So a hit answers when it covers at least `threshold`,
    or at least `standout` and clearly more than every other hit near the
    top (the best other coverage at most `ratio` × its own). A hit without
    a coverage (not computed) counts as answering, as before. Whatever its
    coverage, a hit `lacking` the query's last word (`lacks_head`) does
    not answer, nor one whose own title covers less than `title_floor` of
    the query (`titles`, `title_coverage`; `new` asks for
    `SUGGEST_TITLE_COVERAGE`, `kb search` for nothing) unless the hit covers
    at least `FULL_COVERAGE`.
    """
    head = [c or 0.0 for c in covers[:STANDOUT_DEPTH]]
    out = []
    for i, c in enumerate(covers):
        t = titles[i] if i < len(titles) else None
        untitled = t is not None and t < title_floor and (c or 0.0) < FULL_COVERAGE
        if (i < len(lacking) and lacking[i]) or untitled:
            out.append(False)
        elif c is None or c >= threshold:
            out.append(True)
        elif c < standout:
            out.append(False)
        else:
            others = max((x for j, x in enumerate(head) if j != i), default=0.0)
            out.append(others <= ratio * c)
    return out


RERANK_DEPTH = 30
"""How many of the best hits by score are ordered again by coverage."""
RERANK_BASE = 1.0
"""A hit's final score is its BM25F score × (RERANK_BASE + coverage): among
hits of similar score, the one that has more of the query comes first (an
article matching every synonym loosely loses to one that has the query's
own rare words)."""


def rerank(
    best: Sequence[tuple[float, int]], cover: Callable[[int], float], limit: int
) -> list[tuple[float, int, float]]:
    """(final score, document, coverage) of the `limit` best of `best` (score order)."""
    scored = [(score * (RERANK_BASE + c), d, c) for score, d in best for c in (cover(d),)]
    order = sorted(range(len(scored)), key=lambda i: (-scored[i][0], i))
    return [scored[i] for i in order[:limit]]


def idf(df: int, n: int) -> float:
    """BM25's inverse document frequency (never negative)."""
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def lacks_head(
    plan: QueryPlan, n: int, df_of: Callable[[str], int], has: Callable[[str], bool]
) -> bool:
    """Whether a document has nothing of the query's last word, and that word matters.

    How much a hit covers is not enough: a title with no answer often
    matches an article on everything but the one word that says what is
    broken (投影仪遥控器丢失 against a projector article that mentions the
    remote; Mac电脑安装Office against the Mac Wi-Fi article), and that word
    is the last one (`QueryPlan.head`: Chinese puts where, who and which
    first). Such a hit does not answer when it covers less than
    `HEAD_COVERAGE` of that word (coverage as below, of the word alone: no
    synonym of it, and at most its commoner character alone), and the word
    is not a common one
    (at least `HEAD_RARITY` × the average rarity of what the user typed:
    a plain 失败 or 问题 at the end is not what tells articles apart). The
    qualifiers a right answer usually lacks (3楼, 李四, 居家办公) stand
    first, so they never veto.

    A request (开通, 申请, 新建: `QueryPlan.request`) is answered only by a
    hit that speaks of requesting something too: a hit with none of the
    request words lacks it, whatever else it covers (VPN 账号开通申请 against
    a VPN fault article).
    """
    if plan.request and not any(has(w) for w in CJK_REQUEST_WORDS):
        return True
    if not plan.head:
        return False
    weights = [u.scale * idf(df_of(u.term), max(n, 1)) for u in plan.units]
    content = [w for u, w in zip(plan.units, weights, strict=True) if u.scale >= 1.0]
    if not content:
        return False
    word = [weights[i] for i in plan.head]
    total = sum(word)
    if total <= 0.0 or total / len(word) < HEAD_RARITY * sum(content) / len(content):
        return False
    got = sum(w * _credit(plan.units[i], has) for i, w in zip(plan.head, word, strict=True))
    return got / total < HEAD_COVERAGE


def title_coverage(plan: QueryPlan, n: int, df_of: Callable[[str], int], title: str) -> float:
    """The share of the query a document's title alone covers, in words (`coverage`
    of the title, counting a pair of characters, an English word or a synonym,
    never a lone character: the 通 of 通知 is not the 通 of 通讯录).

    An incident title and an article title say the same kind of thing: what is
    broken, on what. A right answer's title shares some of it, in its words
    or a synonym (on the five development sets every right article's title
    covers at least 0.23 of the `new` title it answers), while the hits of a
    title with no answer match it in their bodies only: a fault article whose
    solution says 提交申请 for "VPN 账号开通申请", an incident whose text says
    版本升级 for "Redis版本升级" (title coverage 0 to 0.18). A caller's
    question in `kb search` is another matter: it is said in the caller's
    words ("inode用完了", "authenticator 里没有公司账号了"), which right
    articles' titles often do not share at all, so only `new` uses it.
    """
    return coverage(plan, n, df_of, _title_words(title).__contains__)


def verdict(
    plan: QueryPlan,
    n: int,
    df_of: Callable[[str], int],
    has: Callable[[str], bool],
    title: str | None = None,
    systems: Iterable[str] = (),
) -> tuple[bool, float | None]:
    """(whether a document lacks what the query asks, `title_coverage` of its
    `title` to four places, None without one).

    It lacks it when `lacks_head` says so, unless its title names the query's
    object, the word just before the last one (`_names_object`): an article
    titled 映射网络驱动器显示红叉断开 answers "Z盘映射丢失", one titled OA 审批单
    卡在某个节点不流转 answers "报销审批卡住" — the same object, its fault in
    other words — while the projector article, which mentions the remote in
    its text, still lacks 丢失 for "投影仪遥控器丢失". A request it lacks stays
    lacking whatever the title, and a request for something new (`_asks_for_new`:
    申请新笔记本电脑, 新员工开通邮箱) is answered only by a title that speaks of
    requesting. Nor does a title naming another thing where the query names its
    own (`_other_object`: 磁盘空间使用率 for "CPU使用率告警"). A word inside a
    system the query names (`systems`: 企业微信 of "收不到企业微信消息") is no
    object: a title naming it names the system, whose faults are many (its
    clock-in article does not answer for its messages)."""
    cover = None if title is None else round(title_coverage(plan, n, df_of, title), 4)
    lacks = lacks_head(plan, n, df_of, has)
    if lacks and title is not None and not _lacks_request(plan, has):
        words = _title_words(title)
        lacks = not _names_object(plan, words.__contains__, systems)
    if not lacks and title is not None and _asks_for_new(plan):
        lacks = not any(w in title for w in CJK_REQUEST_WORDS)
    if not lacks and title is not None:
        lacks = bool(_other_object(plan, has, normalize(title)))
    return lacks, cover


_NOT_NEW_BEFORE = frozenset("更最重刷创")
_NOT_NEW_AFTER = frozenset("建增")


def _asks_for_new(plan: QueryPlan) -> bool:
    """Whether the query requests something new: a request word (`QueryPlan.request`)
    and 新 for a new person or thing (市场部申请新笔记本电脑, 新员工开通企业邮箱账号), not
    the 新 of 更新, 重新, 最新 or of the request words 新建, 新增.

    That is provisioning, a process of its own: a fault article never answers it,
    even one whose text says how to 提交申请 for its fix (the U盘 article for
    "市场部申请新笔记本电脑", the bounce article for "新员工开通企业邮箱账号"); an
    article on the request says so in its title. A request to enable what exists
    (申请开通U盘使用) is left to the request veto of `lacks_head`."""
    if not plan.request:
        return False
    units = plan.units
    for i, u in enumerate(units):
        if u.text != "新":
            continue
        before = units[i - 1].text if i > 0 else ""
        after = units[i + 1].text if i + 1 < len(units) else ""
        if before not in _NOT_NEW_BEFORE and after not in _NOT_NEW_AFTER:
            return True
    return False


def _title_words(title: str) -> set[str]:
    return {t for t in index_terms(title) if len(t) > 1 or t.isascii()}


def _lacks_request(plan: QueryPlan, has: Callable[[str], bool]) -> bool:
    return bool(plan.request) and not any(has(w) for w in CJK_REQUEST_WORDS)


def _names_object(plan: QueryPlan, has: Callable[[str], bool], systems: Iterable[str] = ()) -> bool:
    """Whether a title (`has`: its words) names the query's object, the word just
    before its last one (映射 of "Z盘映射丢失", 审批 of "报销审批卡住"), when the
    last one is Chinese: a fault in Chinese words has other words, an error
    code ("退信554") or an English word has not."""
    if not plan.head or plan.head[0] == 0:
        return False
    if any(plan.units[k].text.isascii() for k in plan.head):
        return False  # a code or an English word is the fault itself (退信554, 809)
    i = plan.head[0] - 1
    unit = plan.units[i]
    if unit.text.isascii():
        return _credit(unit, has) >= 1.0
    prev = plan.units[i - 1] if i > 0 else None
    if prev is None or prev.text.isascii():
        return False
    word = prev.text + unit.text
    if any(word in "".join(normalize(name).split()) for name in systems):
        return False  # a system (企业微信 of 收不到企业微信消息) is no object: its faults are many
    return _credit(prev, has) >= 1.0 and _credit(unit, has) >= 1.0


def _is_cjk(text: str) -> bool:
    """Whether `text` is one Chinese character (not punctuation, not a letter)."""
    return len(text) == 1 and ("\u4e00" <= text <= "\u9fff" or "\u3400" <= text <= "\u4dbf")


def _other_object(plan: QueryPlan, has: Callable[[str], bool], title: str) -> str:
    """Whether the title names another thing where the query names its own: an
    English word of the query (CPU) that the document has nothing of stands just
    before a Chinese word the title has (使用率), and in the title that word is
    glued to other Chinese characters (磁盘空间使用率): the CPU usage alarm is not the
    disk usage one. Returns that English word ("" when there is none).

    Only an English word of the desk's vocabulary (a synonym group: CPU, Excel): it
    names a thing and has no other spelling the dictionary does not list, while a
    Chinese neighbour often has (验证失败 against 验证码错误), and a word the
    vocabulary does not know is a brand or a model that qualifies (HP of HP打印机
    against 连接共享打印机). A Chinese character glued to the shared word in the title
    is a different word, not a neighbour (punctuation or a space is not)."""
    units = plan.units
    for i in range(1, len(units) - 1):
        word, a, b = units[i - 1], units[i].text, units[i + 1].text
        if not (word.text.isalpha() and word.text.isascii() and len(word.text) > 1):
            continue
        if all(terms == (word.text,) for terms, _ in word.alternatives):
            continue  # not in the desk's vocabulary: a brand or model (HP打印机) qualifies
        if not (_is_cjk(a) and _is_cjk(b)) or word.scale < 1.0 or _credit(word, has) > 0.0:
            continue
        at = title.find(a + b)
        while at >= 0:
            if at > 0 and _is_cjk(title[at - 1]):
                return word.text
            at = title.find(a + b, at + 1)
    return ""


def _credit(unit: Unit, has: Callable[[str], bool]) -> float:
    """A unit's best credit in a document (0: the document has nothing of it)."""
    best = 0.0
    for terms, credit in unit.alternatives:
        if credit > best and all(has(t) for t in terms):
            best = credit
    return best


def coverage(
    plan: QueryPlan, n: int, df_of: Callable[[str], int], has: Callable[[str], bool]
) -> float:
    """The share (0..1) of the query's units a document has, weighed by rarity.

    `df_of(term)` is the term's document frequency in the corpus of `n`
    documents; `has(term)` whether the document holds the term.
    """
    total = got = 0.0
    for unit in plan.units:
        w = unit.scale * idf(df_of(unit.term), max(n, 1))
        total += w
        best = 0.0
        for terms, credit in unit.alternatives:
            if credit > best and all(has(t) for t in terms):
                best = credit
                if best >= 1.0:
                    break
        got += w * best
    return got / total if total > 0.0 else 0.0


@dataclass(frozen=True)
class Explanation:
    """Why one document ranks where it does for a query (`kb search --explain`)."""

    terms: tuple[tuple[str, str, float], ...]
    """(term, "typed" or "synonym", its share of the raw score), largest first."""
    synonyms: tuple[tuple[str, tuple[str, ...]], ...]
    """(query phrase, the synonym terms the document has) for groups that helped."""
    fields: tuple[tuple[str, str], ...]
    """(term, where the document has it: "title", "meta", "body" with counts)."""
    boost: float
    """The system/module multiplier applied (1.0: none); the score is the raw
    score × boost × (RERANK_BASE + coverage)."""
    coverage: float
    missing: tuple[str, ...]
    """What the user typed that the document does not have (nor a synonym of it)."""
    lacks: str = ""
    """The query's last word when the document lacks it (`lacks_head`: it does not
    answer, whatever its coverage); "" otherwise."""


def explain(
    plan: QueryPlan,
    n: int,
    df_of: Callable[[str], int],
    sat_of: Callable[[str], float],
    score: float,
    field_counts: Callable[[str], tuple[int, int, int]] | None = None,
    typed: Sequence[str] = (),
    title: str | None = None,
    systems: Iterable[str] = (),
) -> Explanation:
    """The `Explanation` of a document: `sat_of(term)` is its saturated weight
    of the term (0: absent), `score` its final score, `field_counts(term)` its
    (title, meta, body) counts of the term if the caller has the document,
    `typed` the terms the user typed (the rest came from synonyms), `title`
    its title and `systems` the systems the query names (whether the title names
    the query's object, `verdict`)."""
    typed_set = set(typed)
    parts = []
    raw = 0.0
    for term, w in plan.weights.items():
        sat = sat_of(term)
        if sat <= 0.0:
            continue
        c = w * idf(df_of(term), max(n, 1)) * sat
        raw += c
        parts.append((term, "typed" if term in typed_set else "synonym", round(c, 3)))
    parts.sort(key=lambda p: -p[2])

    def has(term: str) -> bool:
        return sat_of(term) > 0.0

    syn = []
    for phrase, terms in plan.synonyms:
        found = tuple(dict.fromkeys(t for t in terms if t not in typed_set and has(t)))
        if found:
            syn.append((phrase, found))
    fields = []
    if field_counts is not None:
        for term, _, _ in parts:
            t, m, b = field_counts(term)
            where = [f"{name}×{c}" for name, c in (("title", t), ("meta", m), ("body", b)) if c]
            fields.append((term, " ".join(where)))
    cover = coverage(plan, n, df_of, has)
    missing = []
    for unit in plan.units:
        if not any(all(has(t) for t in terms) for terms, credit in unit.alternatives if credit):
            missing.append(unit.text)
    return Explanation(
        tuple(parts),
        tuple(dict.fromkeys(syn)),
        tuple(fields),
        round(score / (raw * (RERANK_BASE + cover)), 3) if raw > 0.0 else 1.0,
        round(cover, 3),
        tuple(dict.fromkeys(missing)),
        _lacking(plan, n, df_of, has, title, systems),
    )


def _lacking(
    plan: QueryPlan,
    n: int,
    df_of: Callable[[str], int],
    has: Callable[[str], bool],
    title: str | None = None,
    systems: Iterable[str] = (),
) -> str:
    """What a document lacks that vetoes it (`verdict`): the request word, the
    English word naming another thing, or the query's last word; "" when nothing
    does."""
    if not verdict(plan, n, df_of, has, title, systems)[0]:
        return ""
    if plan.request and not any(has(w) for w in CJK_REQUEST_WORDS):
        return plan.request[-1]
    if title is not None and _asks_for_new(plan) and not any(w in title for w in CJK_REQUEST_WORDS):
        return plan.request[-1]
    other = "" if title is None else _other_object(plan, has, normalize(title))
    if other and not lacks_head(plan, n, df_of, has):
        return other
    return "".join(plan.units[i].text for i in plan.head)
