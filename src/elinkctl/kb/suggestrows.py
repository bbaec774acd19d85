"""How the suggestion and search databases (`elinkctl.kb.suggestdb`) store things.

A document as one string (a join of its fields, many times cheaper than
JSON for 100,000 of them), arrays as little-endian bytes, and the keys that
group documents: by kind/systems/modules (for boosts) and by look-alike
title (for collapsing a flood of incidents into one line).
"""

from __future__ import annotations

import json
import sys
from array import array
from collections.abc import Iterator, Sequence
from typing import Any

from .analysis import Analyzer, normalize, title_key
from .docs import Doc, doc_from_json, doc_to_json
from .search import doc_fields

_SQL_VARS = 500
"""Terms per `IN (...)`: SQLite's limit on bound variables is 999 in old builds."""


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_SEP, _SUB = "\x1e", "\x1f"


def _doc_key(doc: Doc) -> str:
    """A document as one string, to store, compare, and read back with `_doc_from_key`.

    Fields joined by control characters (the build stores one per document:
    a join is many times cheaper than JSON); JSON if a field contains one.
    """
    systems, modules, keywords = doc.systems, doc.modules, doc.keywords
    key = _SEP.join(
        (
            doc.id,
            doc.kind,
            doc.title,
            doc.text,
            _SUB.join(systems),
            _SUB.join(modules),
            _SUB.join(keywords),
        )
    )
    subs = max(len(systems) - 1, 0) + max(len(modules) - 1, 0) + max(len(keywords) - 1, 0)
    if key.count(_SEP) != 6 or key.count(_SUB) != subs:  # a field holds a separator
        return "J" + _dump(doc_to_json(doc))
    return "S" + key


def _doc_from_key(key: str) -> Doc:
    if key[:1] == "J":
        return doc_from_json(json.loads(key[1:]))
    doc_id, kind, title, text, systems, modules, keywords = key[1:].split(_SEP)
    return Doc(
        doc_id,
        kind,  # type: ignore[arg-type]
        title,
        text,
        tuple(systems.split(_SUB)) if systems else (),
        tuple(modules.split(_SUB)) if modules else (),
        tuple(keywords.split(_SUB)) if keywords else (),
    )


def _le(arr: array[Any]) -> bytes:
    if sys.byteorder != "little":  # pragma: no cover - big-endian hosts
        arr = array(arr.typecode, arr)
        arr.byteswap()
    return arr.tobytes()


def _from_le(code: str, data: bytes) -> array[Any]:
    arr = array(code)
    arr.frombytes(data)
    if sys.byteorder != "little":  # pragma: no cover - big-endian hosts
        arr.byteswap()
    return arr


def _chunks(items: Sequence[str], size: int = _SQL_VARS) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _group(doc: Doc) -> list[Any]:
    return [
        doc.kind,
        [normalize(s) for s in doc.systems],
        [normalize(m) for m in doc.modules],
    ]


def _terms(doc: Doc, analyzer: Analyzer) -> list[str]:
    ft, fm, fb = doc_fields(doc, analyzer)
    return list(fb.keys() | ft.keys() | fm.keys())


def _look_alike_key(kind: str, title: str, path: str) -> str:
    """Incidents with the same `title_key` are look-alikes; an article is its own."""
    return "\x00" + path if kind == "kb" else title_key(title)
