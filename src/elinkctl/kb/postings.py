"""An index image's postings without its documents, read from its file.

`SearchIndex.from_bytes` loads a whole image: at 100,000 incidents 140 MB
of arrays and of every document's ID, title and systems. Building the
database `kb search` reads (`elinkctl.kb.suggestdb.build_search_index`)
needs only the postings and the corpus statistics; the documents come
streamed from their own cache.
"""

from __future__ import annotations

import json
import struct
import sys
from array import array
from typing import Any, BinaryIO

from .analysis import DEFAULT_ANALYZER, Analyzer
from .search import _FORMAT, _MAGIC, IndexFormatError, IndexPostings

__all__ = ["read_postings", "skip_json", "skip_ws"]


def read_postings(
    f: BinaryIO, *, analyzer: Analyzer = DEFAULT_ANALYZER
) -> tuple[str, IndexPostings]:
    """(stamp, postings) of an index image `to_bytes` wrote, read from the file `f`
    without its documents; `IndexFormatError` if it is not that.

    What a build of the search database needs (`SearchIndex.postings`) at a
    fraction of `from_bytes`' memory: the arrays are read straight into
    place, and the documents' entries of the header are parsed one at a
    time and dropped (at 100,000 incidents, `from_bytes` peaks at 140 MB).
    """
    head = f.read(len(_MAGIC) + 4)
    if len(head) != len(_MAGIC) + 4 or not head.startswith(_MAGIC):
        raise IndexFormatError("not an elinkctl search index")
    (hlen,) = struct.unpack_from("<I", head, len(_MAGIC))
    try:
        text = f.read(hlen).decode("utf-8")
        dec = json.JSONDecoder()
        header: dict[str, Any] = {}
        ndocs = 0
        i = skip_json(text, 0, "{")
        while text[i] != "}":
            key, i = dec.raw_decode(text, i)
            i = skip_ws(text, i)
            i = skip_json(text, i, ":")
            if key == "docs":
                i = skip_json(text, i, "[")
                while text[i] != "]":
                    _, i = dec.raw_decode(text, i)
                    i = skip_ws(text, i)
                    ndocs += 1
                    if text[i] == ",":
                        i = skip_json(text, i, ",")
                i = skip_json(text, i, "]")
            else:
                header[key], i = dec.raw_decode(text, i)
                i = skip_ws(text, i)
            if text[i] == ",":
                i = skip_json(text, i, ",")
        del text
        if header["format"] != _FORMAT:
            raise IndexFormatError(f"index format {header['format']}, expected {_FORMAT}")
        if header["analyzer"] != analyzer.name:
            raise IndexFormatError(
                f"index built by analyzer {header['analyzer']!r}, not {analyzer.name!r}"
            )
        terms = header["terms"]
        npost = int(header["postings"])
        avg = header["avg"]
        if avg is None:
            raise IndexFormatError("the index does not record its average field lengths")
        arrays: list[array[Any]] = []
        for code, count in (("I", len(terms) + 1), ("I", npost), ("f", npost)):
            arr = array(code)
            arr.fromfile(f, count)  # EOFError when short
            if sys.byteorder != "little":  # pragma: no cover - big-endian hosts
                arr.byteswap()
            arrays.append(arr)
        if f.read(1):
            raise IndexFormatError("trailing bytes after index")
        if arrays[0][-1] != npost or (npost and max(arrays[1]) >= ndocs):
            raise IndexFormatError("index postings inconsistent")
        postings = IndexPostings(
            dict(zip(terms, range(len(terms)), strict=True)),
            arrays[0],
            arrays[1],
            arrays[2],
            (float(avg[0]), float(avg[1]), float(avg[2])),
            analyzer.name,
            ndocs,
        )
        return str(header.get("stamp", "")), postings
    except IndexFormatError:
        raise
    except (ValueError, KeyError, TypeError, IndexError, EOFError) as exc:
        raise IndexFormatError(f"bad index: {exc}") from None


def skip_ws(text: str, i: int) -> int:
    """Past any JSON whitespace at `i` of `text`."""
    while i < len(text) and text[i] in " \t\n\r":
        i += 1
    return i


def skip_json(text: str, i: int, char: str) -> int:
    """Past `char` at `i` of JSON `text` (after any whitespace) and any whitespace
    after it; `ValueError` when `char` is not there."""
    i = skip_ws(text, i)
    if text[i] != char:
        raise ValueError(f"{char!r} expected at {i}")
    return skip_ws(text, i + 1)
