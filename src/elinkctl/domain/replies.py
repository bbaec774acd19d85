"""What the reporter's mail reply says: a clear confirmation, a satisfaction
score, or something a person must read.

Pure and deliberately strict: a wrong state change is worse than a comment
the desk reads, so only a short reply that says one thing is taken —
"已解决", "好了，谢谢", "确认" to the request to confirm; "4", "4分",
"满意", "一般", "不满意" to the satisfaction question. Anything with a
negation or a question left over ("还没好", "确认一下，问题还在", "ok?"),
two scores, or more than a short sentence is None, and the reply is kept
as a comment.
"""

from __future__ import annotations

import re

MAX_CHARS = 60
"""A longer reply is a conversation, for the desk to read."""

_CONFIRM = (
    "问题已解决",
    "已经解决",
    "已解决",
    "解决了",
    "确认解决",
    "确认已解决",
    "已确认",
    "确认",
    "已经好了",
    "好了",
    "已恢复",
    "恢复正常",
    "恢复了",
    "正常了",
    "可以了",
    "没问题了",
    "没有问题了",
    "没问题",
    "已修复",
    "修好了",
    "ok",
    "okay",
    "yes",
    "solved",
    "resolved",
    "confirmed",
)
_FILLERS = (
    "谢谢",
    "感谢",
    "多谢",
    "辛苦了",
    "辛苦",
    "您好",
    "你好",
    "好的",
    "收到",
    "问题",
    "已经",
    "现在",
    "目前",
    "嗯",
    "thanks",
    "thank you",
    "thx",
)
# Anything of these left after the confirming words takes the confirmation back.
_DOUBT = re.compile(r"[不没未无仍还又再但却吗否别?？]|not|no\b|still|but")
_SCORES = (
    ("非常不满意", 1),
    ("很不满意", 1),
    ("不太满意", 2),
    ("不满意", 2),
    ("非常满意", 5),
    ("十分满意", 5),
    ("很满意", 5),
    ("比较满意", 4),
    ("满意", 4),
    ("一般", 3),
    ("还可以", 3),
    ("还行", 3),
)
_DIGIT = re.compile(r"(?<![\d.])([1-5])\s*(?:分|星|颗星|/\s*5|／\s*5)?(?![\d.])")
_FULLWIDTH = str.maketrans("１２３４５６７８９０", "1234567890")


def _short(text: str) -> str | None:
    """The reply folded to one lower-case line, or None when it is too long."""
    folded = " ".join(text.translate(_FULLWIDTH).split()).lower()
    return folded if folded and len(folded) <= MAX_CHARS else None


def _rest(text: str) -> str:
    """What is left once the fillers and punctuation are gone."""
    for filler in _FILLERS:
        text = text.replace(filler, " ")
    return re.sub(r"[\W_]+", "", text)


def confirms(text: str) -> bool:
    """True when ``text`` clearly confirms that the problem is solved."""
    folded = _short(text)
    if folded is None:
        return False
    found = False
    for phrase in sorted(_CONFIRM, key=len, reverse=True):
        if phrase in folded:
            found = True
            folded = folded.replace(phrase, " ")
    if not found:
        return False
    for filler in _FILLERS:
        folded = folded.replace(filler, " ")
    if _DOUBT.search(folded):
        return False
    return len(_rest(folded)) <= 4


def satisfaction(text: str) -> int | None:
    """The score 1–5 ``text`` gives, or None when it gives none or several."""
    folded = _short(text)
    if folded is None:
        return None
    scores: set[int] = set()
    for word, score in _SCORES:
        if word in folded:
            scores.add(score)
            folded = folded.replace(word, " ")
    for match in _DIGIT.finditer(folded):
        scores.add(int(match.group(1)))
    folded = _DIGIT.sub(" ", folded)
    if len(scores) != 1 or re.search(r"\d", folded):
        return None
    for filler in ("打", "评", "给", "分", "吧", "星"):
        folded = folded.replace(filler, " ")
    if _DOUBT.search(folded) or len(_rest(folded)) > 6:
        return None
    return scores.pop()
