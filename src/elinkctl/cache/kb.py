"""The knowledge base's search index cache: ``kb-index.bin``, ``kb-docs.json``, ``kb-stamp``.

The expensive part of a rebuild is not building the index but *reading*
10,000 ticket YAML files, so the cache has two stamps:

1. a cheap stamp: a digest of the names, sizes and mtimes of every article
   and ticket file (one ``scandir`` pass, no parsing). A search whose cheap
   stamp matches the cached index's loads it and is done;
2. `docs_fingerprint` of the documents actually indexed. When the cheap
   stamp changed (a ticket was commented on, closed, registered …), only
   the changed files are re-read, using a per-file document cache
   (``kb-docs.json``); if the searchable documents are the same, the old
   index is re-stamped instead of rebuilt.

Whenever the index is rebuilt (or the suggestion database derived from it
is missing or from another build), the suggestion database is derived from
it too (`elinkctl.cache.kb_suggest`). All of these are caches: unreadable,
corrupt or of another version → rebuilt silently.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from elinkctl.cache import versioned
from elinkctl.cache.head import read_head
from elinkctl.cache.kb_files import (
    KbSource,
    Warn,
    ignore,
    more_searchable_files_than,
    read_doc,
    sparse_entries,
    stat_searchable_files,
)
from elinkctl.cache.kb_suggest import derive, derived_from
from elinkctl.errors import ElinkError
from elinkctl.fsio import atomic_write, digest
from elinkctl.kb.docs import Doc, doc_from_json, doc_to_json
from elinkctl.kb.postings import read_postings, skip_json, skip_ws
from elinkctl.kb.search import IndexFormatError, IndexPostings, SearchIndex, docs_fingerprint

INDEX_FILE = "kb-index.bin"
DOCS_FILE = "kb-docs.json"
STAMP_FILE = "kb-stamp"
VERSION = versioned("kb-cache-2")
"""Of the per-file document cache and the stamp layout."""


class IndexNotReady(ElinkError):
    """Building the index would read more files than the caller can wait for."""


def _cheap_stamp(entries: Sequence[tuple[str, int, int]]) -> str:
    return digest(
        VERSION, "".join(f"{rel}\x1f{mtime}\x1f{size}\x1e" for rel, mtime, size in entries)
    )


def _load_cached_index(path: Path) -> SearchIndex | None:
    try:
        return SearchIndex.from_bytes(path.read_bytes())
    except (OSError, IndexFormatError, ValueError, IndexError, OverflowError):
        return None


def _load_docs_cache(path: Path) -> tuple[dict[str, list[Any]], str]:
    """(per-file entries, fingerprint of their documents); empty when unusable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != VERSION or not isinstance(data.get("files"), dict):
            return {}, ""
        files: dict[str, list[Any]] = data["files"]
        return files, str(data.get("fingerprint", ""))
    except (OSError, ValueError, AttributeError):
        return {}, ""


def stream_docs_cache(path: Path) -> tuple[str, Iterator[tuple[str, Doc]]]:
    """(fingerprint, (file, document) of every searchable entry) of ``kb-docs.json``,
    in the search index's order (articles, then incidents, each by path).

    For building a whole database at 100,000 incidents: `_load_docs_cache`
    holds every entry as Python objects (about 3× the file's size); this
    keeps the text, finds where each entry is, and decodes the documents one
    at a time as the iterator is consumed. `ValueError` (or `OSError`) when
    the file is not what `load_index` writes.
    """
    text = path.read_text(encoding="utf-8")
    dec = json.JSONDecoder()

    def skip(i: int, char: str) -> int:
        return skip_json(text, i, char)

    top: dict[str, Any] = {}
    # Where each searchable entry's file name and value start, and where the
    # value ends, in the file's order (by path; articles, under knowledge/,
    # before tickets/, which is the index's order too unless a file moved).
    names, starts, ends = array("Q"), array("Q"), array("Q")
    in_order = True
    last: tuple[bool, str] = (False, "")

    def entry_at(k: int) -> tuple[str, Doc]:
        rel = dec.raw_decode(text, names[k])[0]
        return str(rel), doc_from_json(json.loads(text[starts[k] : ends[k]])[2])

    i = skip(0, "{")
    while text[i] != "}":
        key, i = dec.raw_decode(text, i)
        i = skip_ws(text, i)
        i = skip(i, ":")
        if key == "files":
            i = skip(i, "{")
            while text[i] != "}":
                at = i
                rel, i = dec.raw_decode(text, i)
                i = skip_ws(text, i)
                i = skip(i, ":")
                entry, end = dec.raw_decode(text, i)
                end = skip_ws(text, end)
                if isinstance(entry, list) and len(entry) == 3 and entry[2] is not None:
                    sort_key = (doc_from_json(entry[2]).kind != "kb", str(rel))
                    in_order = in_order and last <= sort_key
                    last = sort_key
                    names.append(at)
                    starts.append(i)
                    ends.append(end)
                i = end
                if text[i] == ",":
                    i = skip(i, ",")
            i = skip(i, "}")
            top[key] = True
        else:
            top[key], i = dec.raw_decode(text, i)
            i = skip_ws(text, i)
        if text[i] == ",":
            i = skip(i, ",")
    if top.get("format") != VERSION or "files" not in top:
        raise ValueError("kb-docs.json of another format")
    order: Sequence[int] = range(len(starts))
    if not in_order:

        def index_order(k: int) -> tuple[bool, str]:
            rel, doc = entry_at(k)
            return doc.kind != "kb", rel

        order = sorted(order, key=index_order)

    def docs() -> Iterator[tuple[str, Doc]]:
        for k in order:
            yield entry_at(k)

    return str(top.get("fingerprint", "")), docs()


def _entries(source: KbSource, skipped: dict[str, str] | None = None) -> list[tuple[str, int, int]]:
    """`stat_searchable_files`, and the files outside a sparse checkout
    (``skipped``, default `sparse_entries`) stamped by their blob: the blob
    ID as a number in place of the mtime, size -1 (a file never has)."""
    entries = stat_searchable_files(source.root)
    if skipped is None:
        skipped = sparse_entries(source)
    if skipped:
        entries += [(rel, int(blob, 16), -1) for rel, blob in skipped.items()]
        entries.sort()
    return entries


def _read_stamp(path: Path) -> tuple[str, str] | None:
    try:
        cheap, _, fingerprint = path.read_text(encoding="ascii").strip().partition(" ")
    except (OSError, ValueError):
        return None
    return cheap, fingerprint


def _fresh(prev: object, mtime: int, size: int) -> bool:
    """Whether a per-file cache entry is for the file as it is now."""
    return isinstance(prev, list) and len(prev) == 3 and prev[0] == mtime and prev[1] == size


def _has_doc(entry: object) -> bool:
    return isinstance(entry, list) and len(entry) == 3 and entry[2] is not None


def load_postings(source: KbSource, on_error: Warn = ignore) -> tuple[str, IndexPostings]:
    """(fingerprint, postings) of the search index, as `load_index` would return
    it, without loading its documents when the cached index is current.

    For building the search database: when the cached index is current
    (the usual case: only the database was missing), its postings are read
    from ``kb-index.bin`` alone (`read_postings`); otherwise `load_index`
    brings it up to date first.
    """
    state = source.state
    try:
        with (state / INDEX_FILE).open("rb") as f:
            stamp, postings = read_postings(f)
    except (OSError, IndexFormatError):
        pass
    else:
        cheap = _cheap_stamp(_entries(source))
        if _read_stamp(state / STAMP_FILE) == (cheap, stamp) and derived_from(state, stamp):
            return stamp, postings
        del postings
    index = load_index(source, on_error)
    return index.stamp, index.postings()


def load_index(
    source: KbSource,
    on_error: Warn = ignore,
    *,
    max_reads: int | None = None,
    stale_ok_above: int | None = None,
) -> SearchIndex:
    """The search index over articles and resolved/closed incidents, from cache when fresh.

    Three cache files, written in this order so that a crash in between only
    costs an incremental refresh: ``kb-index.bin`` (stamped with the
    documents' fingerprint), ``kb-docs.json`` (per-file documents and that
    fingerprint), and ``kb-stamp`` (the cheap stamp and the fingerprint it
    was checked against). Most ticket changes (a comment, a callback) leave
    the documents as they were: then only ``kb-docs.json`` and ``kb-stamp``
    are rewritten, not the index.

    `max_reads` bounds how many files may need reading (`IndexNotReady`
    beyond): `new` must not stall for seconds on a big store's first build.
    `stale_ok_above`: a cached index of more documents than this is used
    without checking it is current — on a store of 100,000 tickets checking
    and refreshing costs seconds, too much for `new`'s suggestions, which a
    few days' newest solutions barely change (`kb search` refreshes it).
    """
    state = source.state
    index_path, docs_path, stamp_path = state / INDEX_FILE, state / DOCS_FILE, state / STAMP_FILE
    # The commit the work tree is at *before* the scan: every commit up to it
    # is in the files read below, so the suggestion database may follow from it.
    head = read_head(source.git_dir)
    cached = _load_cached_index(index_path)
    if cached is not None and stale_ok_above is not None and len(cached) > stale_ok_above:
        return cached
    if (
        max_reads is not None
        and cached is None
        and not docs_path.exists()
        and more_searchable_files_than(source.root, max_reads)
    ):
        # Never built: every file would need reading. Counting names stops
        # early; listing and stat()ing 100,000 files to find that out costs
        # `new` a second.
        raise IndexNotReady(f"the search index needs more than {max_reads} files read")
    skipped = sparse_entries(source)
    entries = _entries(source, skipped)
    cheap = _cheap_stamp(entries)
    if (
        cached is not None
        and _read_stamp(stamp_path) == (cheap, cached.stamp)
        and derived_from(state, cached.stamp)
    ):
        return cached
    old, old_fingerprint = _load_docs_cache(docs_path)
    if max_reads is not None:
        stale = sum(1 for rel, mtime, size in entries if not _fresh(old.get(rel), mtime, size))
        if stale > max_reads:
            raise IndexNotReady(f"the search index needs {stale} files read")
    files: dict[str, list[Any]] = {}
    found: list[tuple[str, Doc]] = []
    # A removed file whose document was indexed changes the documents.
    gone = set(old) - {rel for rel, _, _ in entries}
    changed = any(_has_doc(old[rel]) for rel in gone)
    for rel, mtime, size in entries:
        prev = old.get(rel)
        doc: Doc | None = None
        try:
            if _fresh(prev, mtime, size):
                assert prev is not None
                doc = doc_from_json(prev[2]) if prev[2] is not None else None
                entry = prev
            else:
                raise ValueError("stale")
        except (TypeError, IndexError, KeyError, ValueError, AssertionError):
            doc = read_doc(source.root, rel, on_error, skipped.get(rel))
            entry = [mtime, size, doc_to_json(doc) if doc is not None else None]
            if not isinstance(prev, list) or len(prev) != 3 or prev[2] != entry[2]:
                changed = changed or doc is not None or _has_doc(prev)
        files[rel] = entry
        if doc is not None:
            found.append((rel, doc))
    # Articles before tickets: on equal scores the curated answer comes first.
    found.sort(key=lambda item: item[1].kind != "kb")
    docs = [doc for _, doc in found]
    if not changed and cached is not None and old_fingerprint == cached.stamp:
        fingerprint = old_fingerprint  # same documents: no need to hash them again
    else:
        # Keyed by content and by this layer's version: a new FORMAT_VERSION rebuilds it.
        fingerprint = digest(VERSION, docs_fingerprint(docs))
    index = cached if cached is not None and cached.stamp == fingerprint else None
    must_derive = index is None or not derived_from(state, fingerprint)
    if must_derive and index is not None and index.avg is None:
        index = None  # written before averages were kept: rebuilt to derive from
    try:
        if index is None:
            index = SearchIndex(docs)
            atomic_write(index_path, index.to_bytes(fingerprint), durable=False)
        cache = {"format": VERSION, "fingerprint": fingerprint, "files": files}
        text = json.dumps(cache, ensure_ascii=False, separators=(",", ":"))
        atomic_write(docs_path, text, durable=False)
        atomic_write(stamp_path, f"{cheap} {fingerprint}\n", durable=False)
    except OSError:
        pass  # a read-only clone still searches; it just refreshes every time
    if index is None:  # the write of a new index failed before it was assigned
        index = SearchIndex(docs)
    index.stamp = fingerprint
    if must_derive:
        derive(source, index, [rel for rel, _ in found], docs, fingerprint, head)
    return index
