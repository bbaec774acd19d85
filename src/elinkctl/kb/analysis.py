"""Text analysis for knowledge-base search: normalisation, tokens, synonyms.

Chinese is written without spaces and the desk's users mix in English
product names ("vpn 连不上", "outlook收不到邮件"). A word segmenter (jieba)
needs a dictionary, guesses wrong on jargon (单点登录, 财务系统) and costs
start-up time; overlapping character bigrams need nothing and match any
phrasing that shares two adjacent characters, which is what "财务系统登录失败"
and "财务系统无法登录" share. Single CJK characters are indexed too, at a low
query weight, so that one-character words (慢, 卡) still find something.
ASCII runs become lowercase words; a word mixing letters and digits (win10,
u8) is also split so that "win 10" and "win10" meet.

The synonym table is data, not code: operations desks keep hearing the same
few ways of saying "cannot connect", "cannot log in", "slow". It is applied
at query time only, so editing it never requires rebuilding a cached index.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .dictionary import (
    CJK_FUNCTION_CHARS,
    CJK_QUALIFIERS,
    CJK_REQUEST_WORDS,
    CJK_WHO_WHERE,
    DESK_ENGLISH,
    STOPWORDS,
)

__all__ = [
    "DEFAULT_ANALYZER",
    "QueryPlan",
    "Unit",
    "SYNONYM_GROUPS",
    "SYNONYM_WEIGHT",
    "UNIGRAM_WEIGHT",
    "Analyzer",
    "index_terms",
    "normalize",
    "query_terms",
    "title_key",
]

# CJK Unified Ideographs (+ Extension A and compatibility ideographs).
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Compiling a character class of the 28,000 CJK code points takes a millisecond
# or two each: a query needs only `_RUN` (a run is Chinese iff its first
# character is not ASCII); `_non_cjk_runs()` (index building) compiles on first use.
_RUN = re.compile(f"[{_CJK}]+|[a-z0-9]+")
_ALNUM_SPLIT = re.compile(r"[a-z]+|[0-9]+")
_WORD = re.compile(r"[a-z0-9]+")
# Characters whose NFKC form contains an ASCII letter/digit or a CJK ideograph
# (full-width Ｖ, ①, ㎡, compatibility ideographs, Kangxi radicals, …),
# coarsened into ranges; tests/test_kb_search.py checks it is complete.
_NEEDS_NFKC = re.compile(
    "[\u00aa-\u02e3\u1d2c-\u1dbb\u1e9a\u2070-\u24ea\u2c7c\u2c7d\u2e9f-\u2fd5"
    "\u3038-\u303a\u3192-\u33ff\ua7f2-\ua7f4\uf900-\ufb06\uff10-\uff5a"
    "\U000107a5\U0001d400-\U0001d7ff\U0001f100-\U0001f251\U0001fbf0-\U0001fbf9"
    "\U0002f800-\U0002fa1f]"
)
_SPACES = re.compile(r"\s+")
_QUALIFIER = re.compile(CJK_QUALIFIERS)
_WHO_WHERE = re.compile(CJK_WHO_WHERE)

#: Query weight of a single CJK character relative to a bigram or a word.
#: Below 1 because a lone character ("无", "法") matches half of all
#: documents; IDF already discounts that, and on the quality set (with
#: 10,000 distractor tickets) accuracy rises from 0.15 up to 0.5 and is
#: flat from there to 1.0, so we take the low end of the plateau.
UNIGRAM_WEIGHT = 0.5
#: Query weight of terms that come only from a synonym, not from what the user typed.
SYNONYM_WEIGHT = 0.6

#: Phrasings an IT operations desk treats as the same thing. Each group is a
#: tuple of equivalent phrases; when the query contains one of them, the
#: others are searched as well, at `SYNONYM_WEIGHT`. Phrases are compared
#: after `normalize` (lowercase, half-width). Pure-ASCII phrases match whole
#: words; phrases with Chinese match as substrings of the query with spaces
#: removed. Keep groups tight: a loose group drags unrelated articles up.
_COLLOQUIAL: tuple[tuple[str, ...], ...] = (
    # connecting
    ("无法连接", "连不上", "连接失败", "连接不上", "不能连接", "连接不了", "无法连上", "connect"),
    ("掉线", "断线", "断开", "断网", "老是断", "频繁断开"),
    # logging in
    ("登录", "登陆", "登入", "登錄", "login", "logon", "sign in", "signin"),
    ("无法登录", "登录失败", "登不上", "登录不了", "登陆不了", "不能登录", "进不去", "登不进"),
    ("单点登录", "sso", "统一认证", "统一身份认证", "统一登录"),
    ("密码", "口令", "password", "pwd"),
    ("忘记密码", "忘了密码", "重置密码", "密码重置", "改密码", "修改密码"),
    ("锁定", "被锁", "锁住", "锁了", "冻结", "locked"),
    # opening / access
    ("打不开", "无法打开", "打开失败", "不能打开", "开不了"),
    ("无法访问", "访问不了", "访问失败", "不能访问", "上不去", "打不开"),
    ("权限", "没有权限", "无权限", "拒绝访问", "access denied", "403"),
    # performance
    ("慢", "卡顿", "很卡", "缓慢", "响应慢", "延迟", "slow"),
    ("卡死", "卡住", "无响应", "没反应", "未响应", "死机", "hang"),
    # errors
    ("报错", "出错", "错误", "异常", "error", "提示错误"),
    # devices
    ("打印机", "打印", "printer", "print"),
    ("扫描", "扫描仪", "scan", "scanner"),
    ("卡纸", "夹纸", "塞纸", "纸卡住"),
    ("电脑", "计算机", "pc", "台式机", "笔记本", "主机", "laptop", "notebook"),
    ("显示器", "屏幕", "monitor"),
    ("黑屏", "不显示", "没信号", "无信号"),
    ("蓝屏", "bsod"),
    ("开不了机", "无法开机", "开不了", "启动不了", "无法启动", "起不来"),
    ("内存", "ram", "memory"),
    ("硬盘", "磁盘", "disk", "c盘"),
    (
        "磁盘满",
        "空间不足",
        "空间不够",
        "磁盘已满",
        "硬盘满",
        "满了",
        "磁盘空间满",
        "硬盘空间满",
        "no space",
    ),
    ("写不进", "无法写入", "写入失败", "不能写入"),
    ("自己停", "自动停止", "自动停", "自己停止"),
    ("u盘", "移动硬盘", "usb"),
    ("摄像头", "camera", "webcam"),
    ("耳机", "麦克风", "声音", "音频"),
    # network
    ("网络", "上网", "网速", "internet", "外网"),
    ("无线", "wifi", "wi fi", "wlan", "热点"),
    ("vpn", "远程接入", "sslvpn"),
    ("dns", "域名解析", "解析", "域名"),
    ("ip冲突", "ip地址冲突", "地址冲突"),
    ("ip", "ip地址", "dhcp"),
    ("代理", "proxy"),
    ("防火墙", "firewall", "端口"),
    # mail and collaboration
    ("邮箱", "邮件", "mail", "email", "outlook", "foxmail", "exchange"),
    ("收不到", "接收不到", "无法接收", "没收到", "收不了"),
    ("发不出", "发送失败", "无法发送", "发不出去", "发不了", "退信"),
    ("附件", "attachment"),
    ("oa", "办公系统", "办公自动化", "协同办公"),
    ("审批", "流程", "待办", "workflow"),
    ("视频会议", "会议系统", "腾讯会议", "zoom", "teams"),
    ("共享文件夹", "共享盘", "共享目录", "文件服务器", "网络驱动器", "网络盘", "网盘"),
    # business systems
    ("erp", "sap", "用友", "金蝶"),
    ("财务系统", "财务软件", "报销系统"),
    ("数据库", "db", "database"),
    ("表空间", "tablespace"),
    ("备份", "backup"),
    ("还原", "恢复", "restore"),
    ("证书", "ssl", "tls", "https", "cert", "certificate"),
    ("过期", "到期", "失效", "expired"),
    ("ukey", "u盾", "usbkey", "key盘"),
    ("病毒", "中毒", "木马", "勒索", "virus", "malware"),
    ("安装", "装不上", "装不了", "install"),
    ("激活", "许可", "license", "授权"),
    ("office", "word", "excel", "wps"),
    ("浏览器", "chrome", "edge", "ie", "firefox"),
    ("服务器", "server", "宕机", "挂了"),
)
SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = _COLLOQUIAL + DESK_ENGLISH
"""The colloquial Chinese groups above, then the desk's IT-English dictionary."""


def normalize(text: str) -> str:
    """Fold full-width forms and case so 'ＶＰＮ', 'Vpn' and 'vpn' are one term.

    NFKC is the slowest step of indexing and Chinese text almost never
    needs it for the characters we index, so it runs only when the text has
    a character whose NFKC form is a letter, digit or ideograph.
    """
    if _NEEDS_NFKC.search(text):
        text = unicodedata.normalize("NFKC", text)
    return text.lower()


_NOT_TEXT = re.compile(r"[\W_]+", re.UNICODE)


def title_key(title: str) -> str:
    """What makes two incident titles "the same": case, width, spaces and punctuation ignored."""
    return _NOT_TEXT.sub("", normalize(title))


def code_forms(word: str) -> list[str]:
    """The short form of an error code, as callers read it out: '0x0000011b' → '11b',
    '00000709' → '709', '0x800ccc78' → '800ccc78' (no "0x", no leading zeros).

    Codes are written padded in articles and read out short on the phone;
    indexing the short form too makes "11b" and "709" find them.
    """
    if len(word) < 4 or word[0] != "0":
        return []
    short = (word[2:] if word.startswith("0x") else word).lstrip("0")
    if len(short) < 2 or short == word or not any(c.isdigit() for c in short):
        return []
    return [short]


def _is_cjk_char(term: str) -> bool:
    """Whether an index term is one Chinese character (terms are CJK or [a-z0-9]+)."""
    return len(term) == 1 and not term.isascii()


_non_cjk: re.Pattern[str] | None = None


def _non_cjk_runs() -> re.Pattern[str]:
    global _non_cjk
    if _non_cjk is None:
        _non_cjk = re.compile(f"[^{_CJK}]+")
    return _non_cjk


class Analyzer:
    """Turns documents and queries into weighted terms (the default: CJK n-grams).

    A class rather than bare functions so that an alternative segmentation
    (jieba, measured in scripts/kb_quality.py) can be swapped in by
    overriding `_cjk_terms`, and so that ablations (no synonyms, other
    weights) need no global state. `name` is stored in serialised indexes:
    an index built by one analyzer must not be queried with another.
    """

    name = "ngram2"

    def __init__(
        self,
        *,
        synonyms: Iterable[tuple[str, ...]] = SYNONYM_GROUPS,
        unigram_weight: float = UNIGRAM_WEIGHT,
        synonym_weight: float = SYNONYM_WEIGHT,
    ) -> None:
        self.unigram_weight = unigram_weight
        self.synonym_weight = synonym_weight
        self._synonyms = tuple(synonyms)
        self._compiled: list[tuple[tuple[str, bool], ...]] | None = None
        self._terms_of_group: dict[int, tuple[str, ...]] = {}
        self._phrases_of_group: dict[int, tuple[tuple[str, ...], ...]] = {}

    def _cjk_terms(self, run: str, out: list[str]) -> None:
        """Terms of a run of Chinese characters: every character and every bigram."""
        out.extend(run)
        out.extend([run[i : i + 2] for i in range(len(run) - 1)])

    def index_terms(self, text: str) -> list[str]:
        """All terms of `text` as stored in the index (with repeats, for term frequency)."""
        out: list[str] = []
        for run in _RUN.findall(normalize(text)):
            if not run[0].isascii():
                self._cjk_terms(run, out)
            else:
                out.append(run)
                if not run.isalpha() and not run.isdigit():
                    parts = _ALNUM_SPLIT.findall(run)
                    if len(parts) > 1:
                        out.extend(parts)
                out.extend(code_forms(run))
        return out

    def count_terms(self, text: str) -> Counter[str]:
        """`Counter(self.index_terms(text))`, computed with C-level loops only.

        Index building is dominated by this call (millions of characters for
        a large store), so the default analyzer replaces non-Chinese runs by
        one separator, counts characters and adjacent pairs in one go and
        then deletes the few pairs that straddle a separator. Subclasses
        that change `_cjk_terms` get the plain, slower path.
        """
        if type(self)._cjk_terms is not Analyzer._cjk_terms:
            return Counter(self.index_terms(text))
        norm = normalize(text)
        cjk = _non_cjk_runs().sub("\x00", norm)
        counts = Counter(cjk)
        counts.update(map(operator.add, cjk, cjk[1:]))
        counts.pop("\x00", None)
        if "\x00" in cjk:
            # drop the pairs that straddle a separator ("财\x00", "\x00务")
            for run in cjk.split("\x00"):
                if run:
                    counts.pop("\x00" + run[0], None)
                    counts.pop(run[-1] + "\x00", None)
        words = _WORD.findall(norm)
        counts.update(words)
        for word in words:
            if not word.isalpha() and not word.isdigit():
                counts.update(_ALNUM_SPLIT.findall(word))
            if word[0] == "0":
                counts.update(code_forms(word))
        return counts

    def _phrase_terms(self, phrase: str) -> tuple[str, ...]:
        """Terms a synonym phrase contributes: not its single characters.

        Unigrams of an expansion would mostly add noise ("无", "法"); a
        one-character phrase ("慢") has nothing else, so it keeps it.
        """
        terms = self.index_terms(phrase)
        strong = [t for t in terms if not _is_cjk_char(t)]
        if len(strong) > 1:  # "can t send": not "t", nor "can"/"to" of "unable to"
            strong = [t for t in strong if len(t) > 1 and t not in STOPWORDS] or strong
        return tuple(dict.fromkeys(strong or terms))

    def _compile(self, group: tuple[str, ...]) -> tuple[tuple[str, bool], ...]:
        """How to spot each phrase of a group in a query: (key, whether it is Chinese)."""
        compiled = []
        for phrase in group:
            norm = normalize(phrase)
            runs = _RUN.findall(norm)
            cjk = any(not run.isascii() for run in runs)
            key = _SPACES.sub("", norm) if cjk else " " + " ".join(runs) + " "
            compiled.append((key, cjk))
        return tuple(compiled)

    def _group_terms(self, i: int) -> tuple[str, ...]:
        """The terms of synonym group `i`, phrase by phrase (computed when first matched)."""
        terms = self._terms_of_group.get(i)
        if terms is None:
            terms = tuple(t for phrase in self._synonyms[i] for t in self._phrase_terms(phrase))
            self._terms_of_group[i] = terms
        return terms

    def _matched(self, norm: str) -> list[int]:
        """Indexes of the synonym groups a normalised query contains a phrase of."""
        compact = _SPACES.sub("", norm)
        words = " " + " ".join(_RUN.findall(norm)) + " "
        if self._compiled is None:  # on first use: keeps `import` cheap for other commands
            self._compiled = [self._compile(group) for group in self._synonyms]
        return [
            i
            for i, phrases in enumerate(self._compiled)
            if any((key in compact) if cjk else (key in words) for key, cjk in phrases)
        ]

    def _group_phrases(self, i: int) -> tuple[tuple[str, ...], ...]:
        """The terms of each phrase of synonym group `i` (a document has a phrase if it has all)."""
        found = self._phrases_of_group.get(i)
        if found is None:
            found = tuple(
                dict.fromkeys(t for t in (self._phrase_terms(p) for p in self._synonyms[i]) if t)
            )
            self._phrases_of_group[i] = found
        return found

    def query_terms(self, query: str, *, synonyms: bool = True) -> dict[str, float]:
        """Terms of a user's query with their weights (highest weight wins per term).

        What the user typed weighs 1 (single CJK characters
        `unigram_weight`); terms that only come from a synonym of something
        they typed weigh `synonym_weight`, so an article in the user's own
        words still ranks first.
        """
        norm = normalize(query)
        weights: dict[str, float] = {}
        typed = self.index_terms(norm)
        for term in typed:
            w = self.unigram_weight if _is_cjk_char(term) else 1.0
            if w > weights.get(term, 0.0):
                weights[term] = w
        if not synonyms or not typed:
            return weights
        sw = self.synonym_weight
        for i in self._matched(norm):
            for term in self._group_terms(i):
                if sw > weights.get(term, 0.0):
                    weights[term] = sw
        return weights

    def plan(self, query: str, *, synonyms: bool = True) -> QueryPlan:
        """The query as terms to score (`query_terms`) and as units of meaning to cover.

        A unit is one Chinese character or one ASCII word the user typed,
        with the terms that show a document has it: the character's own
        bigrams with its neighbours (full credit), the bare character
        (`CHAR_CREDIT`: half the documents have 无 or 法), and every term of
        a synonym group whose phrase the unit is part of (full credit: the
        same meaning in other words). An unknown word is a unit too: no
        document has it, so it lowers every hit's coverage instead of
        vanishing from the query.
        """
        norm = normalize(query)
        weights = self.query_terms(norm, synonyms=synonyms)
        runs = _RUN.findall(norm)
        units: list[list[Any]] = []  # [text, own term, {terms: credit}, start, end, scale]
        joined = ""
        head: tuple[int, ...] = ()
        for run in runs:
            head = _last_word(run, len(units), head)
            if run[0].isascii():
                alts: dict[tuple[str, ...], float] = {(run,): 1.0}
                if not run.isalpha() and not run.isdigit():
                    for part in _ALNUM_SPLIT.findall(run):
                        alts.setdefault((part,), PART_CREDIT)
                scale = STOPWORD_SCALE if run in STOPWORDS else 1.0
                units.append([run, run, alts, len(joined), len(joined) + len(run), scale])
            elif len(run) == 1:
                scale = FUNCTION_SCALE if run in CJK_FUNCTION_CHARS else 1.0
                units.append([run, run, {(run,): 1.0}, len(joined), len(joined) + 1, scale])
            else:
                for k, ch in enumerate(run):
                    alts = {(ch,): CHAR_CREDIT}
                    if k > 0:
                        alts[(run[k - 1 : k + 1],)] = 1.0
                    if k + 1 < len(run):
                        alts[(run[k : k + 2],)] = 1.0
                    scale = FUNCTION_SCALE if ch in CJK_FUNCTION_CHARS else 1.0
                    pos = len(joined) + k
                    units.append([ch, ch, alts, pos, pos + 1, scale])
            joined += run
        light = [*_QUALIFIER.finditer(joined), *_who_where(norm, joined)]
        for m in light:
            for unit in units:
                if unit[3] < m.end() and m.start() < unit[4]:
                    unit[5] = min(unit[5], FUNCTION_SCALE)
        if head and all(units[i][5] < 1.0 for i in head):
            head = _last_content_word(units, runs)  # "蓝屏 IRQL 是啥意思": not 意思
        used: list[tuple[str, tuple[str, ...]]] = []
        if synonyms and units:
            assert self._compiled is not None  # query_terms compiled the table
            for i in self._matched(norm):
                terms = self._group_terms(i)
                phrases = self._group_phrases(i)
                spans = []
                for phrase, (key, cjk) in zip(self._synonyms[i], self._compiled[i], strict=True):
                    if cjk:
                        start = joined.find(key)
                        while start >= 0:
                            spans.append((phrase, start, start + len(key)))
                            start = joined.find(key, start + 1)
                    else:
                        spans.extend(_word_spans(phrase, key.split(), units))
                for phrase, start, end in spans:
                    used.append((phrase, terms))
                    for unit in units:
                        if unit[3] < end and start < unit[4]:
                            for alt in phrases:
                                if unit[2].get(alt, 0.0) < SYNONYM_CREDIT:
                                    unit[2][alt] = SYNONYM_CREDIT
        if not any(not run.isascii() for run in runs):
            head = ()  # English: the broken thing stands anywhere ("spooler keeps stopping")
        return QueryPlan(
            weights,
            tuple(Unit(u[0], u[1], tuple(u[2].items()), u[5]) for u in units),
            tuple(dict.fromkeys(used)),
            head,
            tuple(sorted((w for w in CJK_REQUEST_WORDS if w in joined), key=joined.find)),
        )


def _who_where(norm: str, joined: str) -> list[re.Match[str]]:
    """Who and where (`CJK_WHO_WHERE`: 财务部王丽 | 电脑补丁更新失败) at the start of
    the query or of a part of it after a space: `new` searches "system description
    title", so the title's own start is not the query's; never the whole query."""
    found = []
    at = 0
    for chunk in norm.split():
        end = at + sum(len(run) for run in _RUN.findall(chunk))
        m = _WHO_WHERE.match(joined, at, end)  # within the part: not 访问不了 | 部门文件夹
        if m is not None and at < m.end() < len(joined):
            found.append(m)
        at = end
    return found


def _last_word(run: str, first: int, head: tuple[int, ...]) -> tuple[int, ...]:
    """The units of the query's last word so far, after `run` (its units start at `first`).

    Chinese puts what qualifies first and what is broken last (3楼东门 门禁
    刷卡无反应, 投影仪遥控器 丢失, Mac电脑安装 Office): the last word of a
    Chinese query is its last two characters that are not function
    characters (了, 的), or its last English word. A run of function
    characters alone keeps the word before it.
    """
    if run[0].isascii():
        return head if run in STOPWORDS else (first,)
    content = [k for k, ch in enumerate(run) if ch not in CJK_FUNCTION_CHARS]
    if not content:
        return head
    last = content[-1]
    return (first + last - 1, first + last) if last > 0 else (first + last,)


def _last_content_word(units: list[list[Any]], runs: list[str]) -> tuple[int, ...]:
    """The query's last word among units that weigh in full: what `_last_word`
    gives when a qualifier (是啥意思, 怎么办) ends the query and is skipped."""
    run_of: list[int] = []
    for r, run in enumerate(runs):
        run_of.extend([r] * (1 if run[0].isascii() or len(run) == 1 else len(run)))
    for i in range(len(units) - 1, -1, -1):
        if units[i][5] < 1.0:
            continue
        if runs[run_of[i]][0].isascii() or i == 0 or run_of[i - 1] != run_of[i]:
            return (i,)
        return (i - 1, i)
    return ()


def _word_spans(
    phrase: str, words: list[str], units: list[list[Any]]
) -> list[tuple[str, int, int]]:
    """Where the ASCII words of a phrase stand in a row among the query's units."""
    found = []
    k = len(words)
    for i in range(len(units) - k + 1):
        if all(units[i + j][0] == words[j] for j in range(k)):
            found.append((phrase, units[i][3], units[i + k - 1][4]))
    return found


#: Coverage credit of a Chinese character found only alone (not with a neighbour).
CHAR_CREDIT = 0.5
#: Coverage credit of a part of a mixed word ("win" of "win10") found alone.
PART_CREDIT = 0.5
#: Coverage credit of a unit whose synonym group the document has.
SYNONYM_CREDIT = 1.0
#: How much an English function word ("my", "the") weighs in coverage.
STOPWORD_SCALE = 0.05
#: How much a Chinese function character (的, 了, 我) weighs in coverage.
FUNCTION_SCALE = 0.2


@dataclass(frozen=True)
class Unit:
    """One thing the user typed: a Chinese character or an ASCII word."""

    text: str
    term: str
    """The index term whose rarity weighs this unit (itself)."""
    alternatives: tuple[tuple[tuple[str, ...], float], ...]
    """(terms, credit): a document with all the terms of any of these has the unit,
    for the best credit."""
    scale: float = 1.0
    """Function words and characters weigh less."""


@dataclass(frozen=True)
class QueryPlan:
    """A query analysed: terms with weights to score, units of meaning to cover."""

    weights: dict[str, float]
    units: tuple[Unit, ...]
    synonyms: tuple[tuple[str, tuple[str, ...]], ...]
    """(phrase of the query that matched a synonym group, the terms it added)."""
    head: tuple[int, ...] = ()
    """Indexes in `units` of the query's last word, what a Chinese query says is
    broken (`relevance.lacks_head`); empty for an English query."""
    request: tuple[str, ...] = ()
    """The request words (`dictionary.CJK_REQUEST_WORDS`) the query has, in its
    order: a hit
    with none of them does not answer it (`relevance.lacks_head`)."""


#: The analyzer used when none is given.
DEFAULT_ANALYZER = Analyzer()


def index_terms(text: str) -> list[str]:
    """Index terms of `text` with the default analyzer (see `Analyzer.index_terms`)."""
    return DEFAULT_ANALYZER.index_terms(text)


def query_terms(query: str, *, synonyms: bool = True) -> dict[str, float]:
    """Weighted query terms with the default analyzer (see `Analyzer.query_terms`)."""
    return DEFAULT_ANALYZER.query_terms(query, synonyms=synonyms)
