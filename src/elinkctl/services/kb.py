"""Knowledge-base use cases: article files in the store, search, suggestions.

The pure engine lives in `elinkctl.kb`; this module is the shell around it:
it finds `knowledge/<KB-ID>.md` files, resolves IDs typed over the phone,
commits article changes as the acting person (one change, one commit, under
the store lock), and keeps a disposable search index in the machine-local
state directory.

The index cache has two stamps, because the expensive part of a rebuild is
not building the index but *reading* 10,000 ticket YAML files:

1. a cheap stamp: a digest of the names, sizes and mtimes of every article
   and ticket file (one `scandir` pass, no parsing). A search whose cheap
   stamp matches the cached index's loads it and is done;
2. `docs_fingerprint` of the documents actually indexed. When the cheap
   stamp changed (a ticket was commented on, closed, registered …), only
   the changed files are re-read, using a per-file document cache
   (`kb-docs.json`); if the searchable documents are the same, the old
   index is re-stamped instead of rebuilt.

Both files are caches: unreadable, corrupt or mismatched → rebuilt silently.

`new`'s suggestions do not load that index: at 100,000 incidents loading it
costs half a second. Whenever it is rebuilt, a suggestion index is derived
from it (`kb-suggest.sqlite`, `elinkctl.kb.suggestdb`): every article and
the newest `SUGGEST_RECENT` resolved incidents, with the full index's
weights and statistics, stored per term so that a query reads only its own
terms' postings. It records the commit it reflects; `new` asks git which
files changed since (`git diff-tree`, a tree comparison) and applies just
those, so it follows every commit at a cost that does not grow with the
store. It is a cache like the others: missing, damaged or busy → `new`
falls back to the full index, and the next refresh derives it again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from elinkctl.errors import Ambiguous, ElinkError, NotFound, StoreError, UsageProblem
from elinkctl.kb import (
    Article,
    ArticleError,
    Doc,
    Hit,
    IndexFormatError,
    SearchIndex,
    SuggestIndex,
    article_solution_first_line,
    build_suggest_index,
    doc_from_article,
    doc_from_json,
    doc_from_ticket,
    doc_to_json,
    docs_fingerprint,
    draft_from_incident,
    new_article_id,
    normalize_article_id,
    parse_article,
    render_article,
)
from elinkctl.kb.article import CROCKFORD, FRONT_MATTER_KEYS, PLACEHOLDER, SECTIONS, split_sections
from elinkctl.store.store import KNOWLEDGE, TICKETS, Store

__all__ = [
    "INDEX_FILE",
    "IndexNotReady",
    "DOCS_FILE",
    "SUGGEST_FILE",
    "Suggestion",
    "add_article",
    "article_from_options",
    "article_ids",
    "article_path",
    "apply_changes",
    "draft_from_ticket",
    "edit_in_editor",
    "iter_articles",
    "load_article",
    "load_index",
    "print_suggestions",
    "resolve_article_id",
    "save_edited_article",
    "search",
    "solution_line",
    "suggest",
]

INDEX_FILE = "kb-index.bin"
DOCS_FILE = "kb-docs.json"
STAMP_FILE = "kb-stamp"
SUGGEST_FILE = "kb-suggest.sqlite"
#: Never created: given to git as its index file where it need not read the real one.
_NO_INDEX_FILE = "kb-no-git-index"
#: Bump when the per-file document cache or the stamp layout changes.
_CACHE_FORMAT = "kb-cache-1"
#: Ticket statuses whose solution is worth finding again.
SEARCHABLE_STATUSES = ("resolved", "closed")
_STATUS_LINE = re.compile(r"^status:\s*(\S+)\s*$", re.MULTILINE)
_EVENT_ITEM = re.compile(r"^- ", re.MULTILINE)
_RESOLVED = re.compile(r"(?:^|[\s{,])type:\s*resolved\s*(?:$|[,}])", re.MULTILINE)
_FRAGMENT = re.compile(rf"^[{CROCKFORD}]{{1,5}}$")

Warn = Callable[[str], None]
#: Files `new` may read to bring the index up to date before it gives up on
#: suggestions (a few hundred milliseconds; the first full build takes seconds).
SUGGEST_MAX_READS = 2000


def _ignore(_: str) -> None:
    """The default `on_error`: callers that show nothing (suggestions)."""


# -- article files and IDs ---------------------------------------------------------


def knowledge_dir(store: Store) -> Path:
    return store.root / KNOWLEDGE


def article_path(store: Store, article_id: str) -> Path:
    """The file of a full, canonical ID (validated before it becomes a path)."""
    if normalize_article_id(article_id) != article_id or not article_id.startswith("KB-"):
        raise UsageProblem(f"not an article ID: {article_id!r}")
    return knowledge_dir(store) / f"{article_id}.md"


def article_ids(store: Store) -> list[str]:
    """IDs of the article files (by file name), sorted; no file is parsed."""
    base = knowledge_dir(store)
    if not base.is_dir():
        return []
    return sorted(
        e.name[:-3]
        for e in os.scandir(base)
        if e.name.startswith("KB-") and e.name.endswith(".md") and e.is_file()
    )


def resolve_article_id(store: Store, given: str) -> str:
    """A full article ID from the ID or any unique prefix/suffix of its five characters.

    Read as typed or heard (case, 'KB-' optional, O→0, I/L→1), like incident
    IDs, so the desk can say "article 7KQ" on the phone.
    """
    canonical = normalize_article_id(given)
    known = article_ids(store)
    if canonical in known:
        return canonical
    frag = given.strip().upper().replace("_", "-")
    if frag.startswith("KB"):
        frag = frag[2:].lstrip("-")
    frag = frag.translate(str.maketrans("OIL", "011"))
    if not _FRAGMENT.match(frag):
        raise UsageProblem(f"not an article ID: {given!r}")
    candidates = [i for i in known if i[3:].startswith(frag) or i[3:].endswith(frag)]
    if not candidates:
        raise NotFound(f"no knowledge-base article matches {given!r}")
    if len(candidates) > 1:
        raise Ambiguous(given, candidates)
    return candidates[0]


def _read_article(store: Store, path: Path) -> Article:
    rel = store.rel(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"{rel}: no such article") from None
    except UnicodeDecodeError:
        raise ArticleError(f"{rel}: not UTF-8 text") from None
    return parse_article(text, rel)


def load_article(store: Store, given: str) -> Article:
    """The article for an ID or fragment; `ArticleError` names file and line."""
    return _read_article(store, article_path(store, resolve_article_id(store, given)))


def iter_articles(store: Store, on_error: Warn = _ignore) -> Iterator[Article]:
    """Every parseable article in ID order; a broken file is reported and skipped."""
    for art_id in article_ids(store):
        try:
            yield _read_article(store, article_path(store, art_id))
        except ArticleError as exc:
            on_error(str(exc))


# -- writing -----------------------------------------------------------------------


def _validated_text(store: Store, article: Article) -> str:
    """Render and parse back: what is committed must be what `kb show` can read."""
    text = render_article(article)
    parse_article(text, store.rel(article_path(store, article.id)))
    return text


def _commit(store: Store, article: Article, actor: str, message: str, *, is_new: bool) -> None:
    """Write one article atomically and commit it as `actor`; takes the store lock."""
    path = article_path(store, article.id)
    rel = store.rel(path)
    text = _validated_text(store, article)
    with store.locked():
        if is_new and path.exists():
            raise StoreError(f"{rel} already exists; try again for a fresh ID")
        if not is_new and not path.exists():
            raise NotFound(f"{rel}: no such article")
        # Journalled like tickets: a killed `kb add` is committed by the next command.
        store.commit_files([(path, text, is_new)], message, actor)


def fresh_id(store: Store) -> str:
    """A new article ID not used in this clone (random: unique across clones)."""
    return new_article_id(set(article_ids(store)), random.SystemRandom())


def draft_from_ticket(store: Store, given: str, actor: str, today: dt.date) -> Article:
    """A draft article (with a fresh ID) from a resolved or closed incident.

    The cause recorded by `resolve --cause` replaces the draft's placeholder:
    someone who handled the incident already said why it happened.
    """
    ticket = store.find(given)
    if str(ticket.status) not in SEARCHABLE_STATUSES:
        raise ElinkError(
            f"{ticket.id} is {ticket.status}, not resolved: an article records a solution "
            "that worked (resolve it first)"
        )
    data: dict[str, Any] = dict(ticket.fields)
    data["id"] = ticket.id
    data["events"] = [e.to_dict() for e in ticket.events]
    article = draft_from_incident(data, article_id=fresh_id(store), author=actor, today=today)
    causes = [str(e.get("cause")) for e in ticket.events if e.type == "resolved" and e.get("cause")]
    if causes:
        article = replace(article, body=_set_section(article.body, "原因", causes[-1].strip()))
    return article


def add_article(store: Store, article: Article, actor: str) -> Article:
    """Commit a new article: one commit by `actor`, "KB-…: added <title> (from INC-…)"."""
    message = f"{article.id}: added {article.title}"
    if article.incidents:
        message += f" (from {', '.join(article.incidents)})"
    _commit(store, article, actor, message, is_new=True)
    return article


def save_edited_article(store: Store, before: Article, after: Article, actor: str) -> list[str]:
    """Commit an edited article; returns the changed fields ([] → nothing written)."""
    if after.id != before.id:
        raise UsageProblem(f"the id cannot change ({before.id} → {after.id}); nothing saved")
    changed = _changed_fields(before, after)
    if changed:
        _commit(store, after, actor, f"{after.id}: edited {', '.join(changed)}", is_new=False)
    return changed


def _changed_fields(before: Article, after: Article) -> list[str]:
    names = [k for k in FRONT_MATTER_KEYS if k != "id"] + ["extra"]
    out = [n for n in names if getattr(before, n) != getattr(after, n)]
    if before.body.strip() != after.body.strip():
        b, a = split_sections(before.body), split_sections(after.body)
        sections = [s for s in dict.fromkeys([*b, *a]) if b.get(s) != a.get(s)]
        out.extend(sections or ["body"])
    return out


def _set_section(body: str, name: str, text: str) -> str:
    """Replace the text of `## name` in a Markdown body, or append the section.

    Everything else (other sections, the author's wording, fences) is kept
    verbatim, so an edit from flags shows as a small diff.
    """
    lines = body.split("\n")
    heading = re.compile(r"^##\s+(.+?)\s*#*\s*$")
    start = None
    fence = False
    for i, line in enumerate(lines):
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        m = None if fence else heading.match(line)
        if m and start is None and m.group(1).strip() == name:
            start = i
        elif m and start is not None:
            new = [*lines[: start + 1], "", text.strip(), "", *lines[i:]]
            return "\n".join(new)
    if start is not None:
        return "\n".join([*lines[: start + 1], "", text.strip(), ""])
    return body.rstrip("\n") + f"\n\n## {name}\n\n{text.strip()}\n"


_SECTION_OPTIONS = {
    "symptom_text": "现象",
    "cause": "原因",
    "solution": "解决方案",
    "workaround": "临时措施",
}


def _first_line(text: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "")


def article_from_options(
    store: Store, opts: Mapping[str, Any], actor: str, today: dt.date
) -> Article:
    """A new article from `kb add` flags; every standard section is present."""
    title = str(opts.get("title") or "").strip()
    if not title:
        raise UsageProblem("missing --title (or use --from ID to draft from an incident)")
    if not (opts.get("solution") or opts.get("workaround")):
        raise UsageProblem("give --solution (or at least --workaround): an article is a fix")
    sections = {
        name: str(opts.get(key) or "").strip() or PLACEHOLDER
        for key, name in _SECTION_OPTIONS.items()
    }
    if sections["现象"] == PLACEHOLDER:
        sections["现象"] = title
    body = "\n\n".join(f"## {name}\n\n{sections[name]}" for name in SECTIONS) + "\n"
    return Article(
        id=fresh_id(store),
        title=title,
        systems=list(_multi(opts.get("system"))),
        modules=list(_multi(opts.get("module"))),
        keywords=list(_multi(opts.get("keyword"))),
        symptom=_first_line(sections["现象"]),
        incidents=[store.resolve_id(i) for i in _multi(opts.get("incident"))],
        author=actor,
        created=today,
        body=body,
    )


def _multi(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)  # type: ignore[call-overload]
    return tuple(dict.fromkeys(s.strip() for s in map(str, items) if s.strip()))


def apply_changes(store: Store, article: Article, opts: Mapping[str, Any]) -> Article:
    """The article with `kb edit` flags applied; lists given on the command line replace."""
    out = article
    if opts.get("title") is not None:
        if not str(opts["title"]).strip():
            raise UsageProblem("--title must not be empty")
        out = replace(out, title=str(opts["title"]).strip())
    if opts.get("system"):
        out = replace(out, systems=list(_multi(opts["system"])))
    if opts.get("module"):
        out = replace(out, modules=list(_multi(opts["module"])))
    if opts.get("keyword"):
        out = replace(out, keywords=list(_multi(opts["keyword"])))
    if opts.get("incident"):
        added = [store.resolve_id(i) for i in _multi(opts["incident"])]
        out = replace(out, incidents=list(dict.fromkeys([*out.incidents, *added])))
    for key, name in _SECTION_OPTIONS.items():
        if opts.get(key) is not None:
            out = replace(out, body=_set_section(out.body, name, str(opts[key])))
    if opts.get("symptom_text") is not None:
        out = replace(out, symptom=_first_line(str(opts["symptom_text"])))
    if opts.get("reviewed") is not None:
        out = replace(out, reviewed=opts["reviewed"])
    return out


def edit_in_editor(text: str, rel: str, confirm: Callable[[str], bool], tell: Warn) -> Article:
    """Open $VISUAL/$EDITOR on `text` until it parses, or raise (nothing saved).

    On an error the message (file, line) is shown and the author chooses to
    re-open the editor on what they wrote or to abort: a typo in the YAML
    front matter must not cost them the whole article.
    """
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    current = text
    while True:
        with tempfile.NamedTemporaryFile(
            "w", suffix=".md", prefix="elinkctl-kb-", delete=False, encoding="utf-8"
        ) as fh:
            fh.write(current)
            tmp = fh.name
        try:
            subprocess.run([*editor.split(), tmp], check=True)
            with open(tmp, encoding="utf-8") as fh:
                current = fh.read()
        except (OSError, subprocess.CalledProcessError, UnicodeDecodeError) as exc:
            raise ElinkError(f"editor failed: {exc}; nothing saved") from None
        finally:
            os.unlink(tmp)
        try:
            return parse_article(current, rel)
        except ArticleError as exc:
            tell(f"Error: {exc}")
            if not confirm("Re-open the editor?"):
                raise ElinkError(f"{rel}: not saved (the edited text has errors)") from None


# -- search --------------------------------------------------------------------


def _scan(store: Store) -> list[tuple[str, int, int]]:
    """(relative path, mtime_ns, size) of every article and ticket file; no reading."""
    out: list[tuple[str, int, int]] = []
    kdir = knowledge_dir(store)
    if kdir.is_dir():
        for e in os.scandir(kdir):
            if e.name.startswith("KB-") and e.name.endswith(".md"):
                st = e.stat()
                out.append((f"{KNOWLEDGE}/{e.name}", st.st_mtime_ns, st.st_size))

    def walk(path: str, rel: str, depth: int) -> None:
        for e in os.scandir(path):
            if depth < 2:
                if e.name.isdigit() and e.is_dir():
                    walk(e.path, f"{rel}/{e.name}", depth + 1)
            elif e.name.endswith(".yaml") and not e.name.startswith("."):
                st = e.stat()
                out.append((f"{rel}/{e.name}", st.st_mtime_ns, st.st_size))

    tdir = store.root / TICKETS
    if tdir.is_dir():
        walk(str(tdir), TICKETS, 0)
    out.sort()
    return out


def _more_files_than(store: Store, limit: int) -> bool:
    """Whether the store holds more than ``limit`` articles and tickets
    (names counted, nothing stat()ed; stops as soon as it knows)."""
    count = 0
    kdir = knowledge_dir(store)
    folders = [str(kdir)] if kdir.is_dir() else []
    tdir = store.root / TICKETS
    with suppress(OSError):
        for year in sorted(os.scandir(tdir), key=lambda e: e.name, reverse=True):
            if year.name.isdigit() and year.is_dir():
                folders += [m.path for m in os.scandir(year.path) if m.name.isdigit()]
    for folder in folders:
        with suppress(OSError):
            count += len(os.listdir(folder))
        if count > limit:
            return True
    return False


def _cheap_stamp(entries: Sequence[tuple[str, int, int]]) -> str:
    h = hashlib.sha256(_CACHE_FORMAT.encode())
    for rel, mtime, size in entries:
        h.update(f"{rel}\x1f{mtime}\x1f{size}\x1e".encode())
    return h.hexdigest()


_doc_to_json = doc_to_json
_doc_from_json = doc_from_json


def _read_doc(store: Store, rel: str, on_error: Warn) -> Doc | None:
    """The searchable document of one file, or None (open ticket, broken file)."""
    path = store.root / rel
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        on_error(f"{rel}: unreadable ({exc}); not searched")
        return None
    if rel.startswith(KNOWLEDGE + "/"):
        try:
            return doc_from_article(parse_article(text, rel))
        except ArticleError as exc:
            on_error(f"{exc}; not searched")
            return None
    return _ticket_doc(rel, text, on_error)


def _ticket_doc(rel: str, text: str, on_error: Warn) -> Doc | None:
    """The document of a resolved/closed ticket file, reading as little YAML as possible.

    Building the first index means reading every ticket, and YAML is the
    cost (10,000 files). The derived `status:` line says whether a file is
    worth reading at all; then only the fields above `events:` and the
    `resolved` events are parsed, not the whole history. Anything that does
    not split that way (a hand-written file) is parsed whole.
    """
    from elinkctl import yamlio

    head, sep, events_text = text.partition("\nevents:\n")
    m = _STATUS_LINE.search(head)
    if m is None or m.group(1) not in SEARCHABLE_STATUSES:
        return None
    try:
        data = yamlio.load(head + "\n") if sep else None
        if isinstance(data, dict) and "events" not in data:
            blocks = [b for b in _EVENT_ITEM.split(events_text) if _RESOLVED.search(b)]
            data["events"] = [e for b in blocks for e in yamlio.load("- " + b) or []]
        else:
            data = yamlio.load(text)
    except yamlio.YamlError as exc:
        on_error(f"{rel} line {exc.line}: {exc}; not searched")
        return None
    if not isinstance(data, dict) or not data.get("id"):
        return None
    return doc_from_ticket(data)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    """Like `atomic_write`, for the binary index; no fsync (a cache may be lost)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _load_cached_index(path: Path) -> SearchIndex | None:
    try:
        return SearchIndex.from_bytes(path.read_bytes())
    except (OSError, IndexFormatError, ValueError, IndexError, OverflowError):
        return None


def _load_docs_cache(path: Path) -> tuple[dict[str, list[Any]], str]:
    """(per-file entries, fingerprint of their documents); empty when unusable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != _CACHE_FORMAT or not isinstance(data.get("files"), dict):
            return {}, ""
        files: dict[str, list[Any]] = data["files"]
        return files, str(data.get("fingerprint", ""))
    except (OSError, ValueError, AttributeError):
        return {}, ""


def _read_stamp(path: Path) -> tuple[str, str] | None:
    try:
        cheap, _, fingerprint = path.read_text(encoding="ascii").strip().partition(" ")
    except (OSError, ValueError):
        return None
    return cheap, fingerprint


class IndexNotReady(ElinkError):
    """Building the index would read more files than the caller can wait for."""


def _fresh(prev: object, mtime: int, size: int) -> bool:
    """Whether a per-file cache entry is for the file as it is now."""
    return isinstance(prev, list) and len(prev) == 3 and prev[0] == mtime and prev[1] == size


def load_index(
    store: Store,
    on_error: Warn = _ignore,
    *,
    max_reads: int | None = None,
    stale_ok_above: int | None = None,
) -> SearchIndex:
    """The search index over articles and resolved/closed incidents, from cache when fresh.

    Three cache files, written in this order so that a crash in between only
    costs an incremental refresh: `kb-index.bin` (stamped with the documents'
    fingerprint), `kb-docs.json` (per-file documents and that fingerprint),
    and `kb-stamp` (the cheap stamp and the fingerprint it was checked
    against). Most ticket changes (a comment, a callback) leave the
    documents as they were: then only `kb-docs.json` and `kb-stamp` are
    rewritten, not the index. Whenever the index is rebuilt (or the
    suggestion index derived from it is missing or from another build),
    `kb-suggest.sqlite` is derived from it too (`suggest`).

    `max_reads` bounds how many files may need reading (`IndexNotReady`
    beyond): `new` must not stall for seconds on a big store's first build.
    `stale_ok_above`: a cached index of more documents than this is used
    without checking it is current — on a store of 100,000 tickets checking
    and refreshing costs seconds, too much for `new`'s suggestions, which a
    few days' newest solutions barely change (`kb search` refreshes it).
    """
    state = store.state_dir
    index_path, docs_path, stamp_path = state / INDEX_FILE, state / DOCS_FILE, state / STAMP_FILE
    # The commit the work tree is at *before* the scan: every commit up to it
    # is in the files read below, so the suggestion index may follow from it.
    head = _read_head(store)
    cached = _load_cached_index(index_path)
    if cached is not None and stale_ok_above is not None and len(cached) > stale_ok_above:
        return cached
    if (
        max_reads is not None
        and cached is None
        and not docs_path.exists()
        and _more_files_than(store, max_reads)
    ):
        # Never built: every file would need reading. Counting names stops
        # early; listing and stat()ing 100,000 files to find that out costs
        # `new` a second.
        raise IndexNotReady(f"the search index needs more than {max_reads} files read")
    entries = _scan(store)
    cheap = _cheap_stamp(entries)
    if cached is not None and _read_stamp(stamp_path) == (cheap, cached.stamp):
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
                doc = _doc_from_json(prev[2]) if prev[2] is not None else None
                entry = prev
            else:
                raise ValueError("stale")
        except (TypeError, IndexError, KeyError, ValueError, AssertionError):
            doc = _read_doc(store, rel, on_error)
            entry = [mtime, size, _doc_to_json(doc) if doc is not None else None]
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
        fingerprint = docs_fingerprint(docs)
    index = cached if cached is not None and cached.stamp == fingerprint else None
    derive = index is None or not _suggest_index_matches(state, fingerprint)
    if derive and index is not None and index.avg is None:
        index = None  # written before averages were kept: rebuilt to derive from
    try:
        if index is None:
            index = SearchIndex(docs)
            _atomic_write_bytes(index_path, index.to_bytes(fingerprint))
        cache = {"format": _CACHE_FORMAT, "fingerprint": fingerprint, "files": files}
        _atomic_write_bytes(
            docs_path, json.dumps(cache, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        )
        _atomic_write_bytes(stamp_path, f"{cheap} {fingerprint}\n".encode("ascii"))
    except OSError:
        pass  # a read-only clone still searches; it just refreshes every time
    if index is None:  # the write of a new index failed before it was assigned
        index = SearchIndex(docs)
    index.stamp = fingerprint
    if derive:
        _write_suggest_index(store, index, [rel for rel, _ in found], docs, fingerprint, head)
    return index


# -- the suggestion index ------------------------------------------------------

SUGGEST_RECENT = 10_000
"""Resolved incidents the suggestion index keeps besides every article: the
newest, by when they were opened. 50–200 incidents a day is two to six
months of them; older ones are found by `kb search`. A query reads only its
terms' postings among these, so `new` costs the same on any store size."""

_HEX_ID = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")


def _read_head(store: Store) -> str | None:
    """The commit HEAD names, read from git's files (no process); None when unsure.

    Loose and packed refs of an ordinary repository or worktree; anything
    else (an unborn branch, a reftable repository) is None, and the caller
    asks git (`_git_head`).
    """
    git_dir = store.state_dir.parent
    try:
        text = (git_dir / "HEAD").read_text(encoding="ascii").strip()
        if _HEX_ID.match(text):
            return text
        if not text.startswith("ref: refs/"):
            return None
        ref = text[5:].strip()
        if ".." in ref.split("/"):
            return None
        common = git_dir
        pointer = git_dir / "commondir"
        if pointer.is_file():
            common = (git_dir / pointer.read_text(encoding="utf-8").strip()).resolve()
        loose = common / ref
        if loose.is_file():
            value = loose.read_text(encoding="ascii").strip()
            return value if _HEX_ID.match(value) else None
        packed = common / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(encoding="utf-8").splitlines():
                value, _, name = line.partition(" ")
                if name == ref and _HEX_ID.match(value):
                    return value
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return None


def _git_head(store: Store, known: str | None = None) -> str | None:
    """`known`, else HEAD read from git's files, else from `git rev-parse`; None if none."""
    head = known or _read_head(store)
    if head is None:
        try:
            out = store.git.run_bytes("rev-parse", "--verify", "-q", "HEAD^{commit}")
        except StoreError:
            return None
        head = out.decode("ascii", "replace").strip() or None
    return head


def _connect(path: Path) -> Any:
    """An autocommit connection to an existing SQLite file (`sqlite3.Error` if none)."""
    import sqlite3

    uri = path.resolve().as_uri() + "?mode=rw"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=0.5)
    try:
        conn.execute("PRAGMA synchronous = OFF")  # a cache: a crash may cost it, not a wait
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def _open_suggest_index(state: Path) -> SuggestIndex | None:
    """The suggestion index in a state directory, or None when missing or unusable."""
    import sqlite3

    path = state / SUGGEST_FILE
    if not path.is_file():
        return None
    try:
        conn = _connect(path)
    except sqlite3.Error:
        return None
    try:
        return SuggestIndex(conn)
    except (sqlite3.Error, IndexFormatError, KeyError, TypeError):
        conn.close()
        return None


def _suggest_index_matches(state: Path, fingerprint: str) -> bool:
    """Whether `kb-suggest.sqlite` was derived from the index of these documents."""
    index = _open_suggest_index(state)
    if index is None:
        return False
    try:
        return index.fingerprint == fingerprint
    finally:
        index.conn.close()


def _write_suggest_index(
    store: Store,
    index: SearchIndex,
    paths: Sequence[str],
    docs: Sequence[Doc],
    fingerprint: str,
    head: str | None,
) -> None:
    """Derive `kb-suggest.sqlite` from a fresh full index; silently nothing on failure.

    Written to a temporary file and renamed: a `new` running meanwhile
    keeps reading the file it opened.
    """
    import sqlite3

    head = _git_head(store, head)
    state = store.state_dir
    target = state / SUGGEST_FILE
    tmp = state / f".{SUGGEST_FILE}.{os.getpid()}.tmp"
    try:
        if head is None:  # no commit yet: nothing to follow the store from
            target.unlink(missing_ok=True)
            return
        tmp.unlink(missing_ok=True)
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = OFF")  # a new file: renamed into place when done
            conn.execute("PRAGMA synchronous = OFF")
            build_suggest_index(
                conn,
                index,
                paths,
                docs,
                recent=SUGGEST_RECENT,
                head=head,
                fingerprint=fingerprint,
            )
        finally:
            conn.close()
        os.replace(tmp, target)
    except (OSError, sqlite3.Error, ValueError):
        with suppress(OSError):
            tmp.unlink(missing_ok=True)


def _searchable_path(rel: str) -> bool:
    """Whether a path (from git) is one `_scan` would list: an article or a ticket file."""
    parts = rel.split("/")
    if parts[0] == KNOWLEDGE:
        return len(parts) == 2 and parts[1].startswith("KB-") and parts[1].endswith(".md")
    return (
        len(parts) == 4
        and parts[0] == TICKETS
        and parts[1].isdigit()
        and parts[2].isdigit()
        and parts[3].endswith(".yaml")
        and not parts[3].startswith(".")
    )


def _catch_up(store: Store, index: SuggestIndex) -> None:
    """Bring the suggestion index to the current commit (git says which files changed).

    Cost: one `git diff-tree` between the two commits (a tree comparison:
    unchanged months are not looked at) and reading the changed files, at
    most `SUGGEST_MAX_READS` of them; beyond that (a big pull) the index is
    used as it is until `kb search` rebuilds it. Files not committed yet are
    not seen here (`kb search` sees them). `StoreError` when git cannot
    compare the commits (the recorded one is gone).
    """
    head = _git_head(store)
    since = index.head
    if head is None or head == since:
        return
    env = dict(os.environ, GIT_INDEX_FILE=str(store.state_dir / _NO_INDEX_FILE))
    out = store.git.run_bytes(
        "diff-tree",
        "-r",
        "-z",
        "--no-renames",
        "--name-only",
        since,
        head,
        "--",
        TICKETS,
        KNOWLEDGE,
        env=env,  # diff-tree otherwise reads git's index: 15 ms at 100,000 files
    )
    paths = [rel for rel in out.decode("utf-8", "surrogateescape").split("\0") if rel]
    paths = [rel for rel in paths if _searchable_path(rel)]
    if len(paths) > SUGGEST_MAX_READS:
        return
    changes = [(rel, _read_doc(store, rel, _ignore)) for rel in paths]
    index.apply(changes, since=since, head=head)


def _suggestion_hits(
    store: Store, query: str, limit: int, system: str | None, module: str | None
) -> list[Hit]:
    """What `suggest` finds: from the suggestion index, brought up to date, else the full one.

    The full index (loaded whole, refreshed only on small stores, see
    `load_index`) answers when there is no usable suggestion index yet (on
    a small store its refresh derives one), when another process holds it,
    or when it is damaged (then it is removed, to be derived again).
    """
    import sqlite3

    index = _open_suggest_index(store.state_dir)
    if index is not None:
        try:
            try:
                _catch_up(store, index)
            except (sqlite3.OperationalError, OSError):
                pass  # busy or read-only: suggest from the index as it is
            return index.search(query, limit, system, module)
        except sqlite3.OperationalError:
            pass  # held by another process for longer than its timeout
        except Exception:  # noqa: BLE001 - damaged, or its commit is gone: start again
            with suppress(OSError):
                (store.state_dir / SUGGEST_FILE).unlink()
        finally:
            index.conn.close()
    full = load_index(store, max_reads=SUGGEST_MAX_READS, stale_ok_above=SUGGEST_STALE_OK_ABOVE)
    return full.search(query, limit, system, module)


def _has_doc(entry: object) -> bool:
    return isinstance(entry, list) and len(entry) == 3 and entry[2] is not None


def search(
    store: Store,
    query: str,
    *,
    limit: int = 10,
    system: str | None = None,
    module: str | None = None,
    kind: str | None = None,
    on_error: Warn = _ignore,
) -> list[Hit]:
    """Ranked hits for `query` over articles and resolved incidents."""
    if not query.strip():
        raise UsageProblem("the search query is empty")
    return load_index(store, on_error).search(query, limit, system, module, kind=kind)


def solution_line(store: Store, hit: Hit) -> str:
    """First line of the solution of a hit: the article's, or the incident's last one."""
    try:
        if hit.kind == "kb":
            return article_solution_first_line(_read_article(store, article_path(store, hit.id)))
        ticket = store.load(hit.id)
    except (ElinkError, OSError):
        return ""
    solutions = [
        str(e.get("solution")) for e in ticket.events if e.type == "resolved" and e.get("solution")
    ]
    return _first_line(solutions[-1]) if solutions else ""


@dataclass(frozen=True)
class Suggestion:
    """One line the desk sees after registering: where the answer may already be."""

    hit: Hit
    solution: str

    def line(self) -> str:
        text = f"suggest: {self.hit.id} {self.hit.title}"
        return text + (f" — {self.solution}" if self.solution else "")


SUGGEST_STALE_OK_ABOVE = 20_000
"""When `new` has no suggestion index to use (not derived yet, damaged, busy)
and falls back to the full index: above this many documents it uses the
last built one as is rather than refreshing it."""

SUGGEST_MIN_SCORE = 2.0
"""Below this BM25 score a hit shares only a character or two with the new
incident (an ERP request "matching" a printer jam): noise, not a suggestion.
On the quality set every correct hit scores above 4.5. `kb search` still
lists everything, ranked."""


def suggest(
    store: Store, fields: Mapping[str, Any], exclude: Iterable[str] = (), limit: int = 3
) -> list[Suggestion]:
    """Top articles and similar resolved incidents for a just-registered incident.

    Cheap when there is nothing to find: with no article and no cached
    index, a store whose tickets are all still open yields an empty index
    after one directory scan.
    """
    system = str(fields.get("system") or "").strip() or None
    module = str(fields.get("module") or "").strip() or None
    query = " ".join(
        str(fields.get(k) or "").strip() for k in ("title", "description", "system")
    ).strip()
    if not query:
        return []
    skip = set(exclude)
    found = _suggestion_hits(store, query, 3 * limit + len(skip), system, module)
    hits = [h for h in found if h.id not in skip]
    # An incident that an article already cites is said better by the article:
    # do not spend one of three lines on it twice.
    for h in hits:
        if h.kind == "kb":
            try:
                skip.update(_read_article(store, article_path(store, h.id)).incidents)
            except (ElinkError, OSError):
                continue
    hits = [h for h in hits if h.id not in skip and h.score >= SUGGEST_MIN_SCORE][:limit]
    return [Suggestion(h, solution_line(store, h)) for h in hits]


def _suggestion_lines(store: Store, fields: Mapping[str, Any], exclude: Iterable[str]) -> list[str]:
    """The lines `new` prints on stderr: suggestions, or one note; never raises."""
    try:
        return [s.line() for s in suggest(store, fields, exclude=exclude)]
    except IndexNotReady:
        return [
            "note: no suggestions: the knowledge-base index is not built yet "
            "(run `elinkctl kb search` once)"
        ]
    except Exception as exc:  # noqa: BLE001 - registration must not fail on a hint
        return [f"note: no knowledge-base suggestions ({exc})"]


def print_suggestions(store: Store, ticket: Any) -> None:
    """`new`: list suggestions on stderr; never fails the registration.

    The incident is already committed when this runs, so any problem here
    (a broken article, an unwritable cache, a bug) costs at most one note.
    """
    import click

    for line in _suggestion_lines(store, dict(ticket.fields), [ticket.id]):
        click.echo(line, err=True)
