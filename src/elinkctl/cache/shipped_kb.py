"""The knowledge base's databases travelling with the published index.

Why: with the index published (`elinkctl.cache.shipped`), a fresh clone's
first `list` takes about a second at 100,000 tickets, but its first `kb
search` still read every ticket to build the search databases (20 s, 420
MB), and `new` suggested nothing until then. The search database
(``kb-search.sqlite``) and the suggestion database (``kb-suggest.sqlite``)
are functions of file contents too, so they travel beside the index in the
same publication commit.

Why it is safe to use them:

- they are placed only together with the published index they were made
  beside (a fresh clone) and only when absent, and only if made by the same
  knowledge-base code (`kb_code`, a digest of every module that turns a
  file into a document, its terms and their postings, written as
  ``kb.version`` in the publication);
- the search database names, per month directory, the ticket index's
  generation it was last compared under and, per incident, the content key
  (git blob) its document was made from: in the clone it is brought up to
  date against the index like on the host (months whose generation changed
  are compared key by key and their changed files read again); article
  files are compared by this machine's stat data (the published copy holds
  none, so every article is read again: they are few);
- the suggestion database names the commit it reflects and follows the
  clone's commits with ``git diff-tree`` as always;
- a sample of the search database's documents (`SAMPLE`) whose file has the
  same blob here is read again and must give the same ID and title, or
  neither database is used.

What sampling does not catch: someone who can push a forged publication can
mis-rank real documents through forged postings (they could push tickets
and articles too); the text shown is always a real document's.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import uuid
from pathlib import Path

from elinkctl.cache import shipped
from elinkctl.cache.kb_files import read_doc
from elinkctl.kb.docs import Doc

SEARCH = "kb-search.sqlite"
"""`elinkctl.cache.kb_search.SEARCH_FILE` (named here: that module uses this one)."""
SUGGESTIONS = "kb-suggest.sqlite"
"""`elinkctl.cache.kb_suggest.SUGGEST_FILE`, what `new` reads."""
FILES = (SEARCH, SUGGESTIONS)
VERSION_FILE = "kb.version"
CACHE_MODULES = ("kb.py", "kb_files.py", "kb_search.py", "kb_suggest.py", "shipped_kb.py")
"""This layer's modules that read files into documents and store them, digested
by their source (importing them here would make them import each other)."""
SAMPLE = 16
"""Documents of the search database read again from their files before use."""


def kb_code() -> str:
    """A digest of the code that makes the knowledge base's documents, terms
    and stored databases: databases made by other code are not used."""
    from elinkctl.cache.versions import code_digest
    from elinkctl.fsio import digest
    from elinkctl.kb import analysis, article, dictionary, docs, postings, suggestdb, suggestrows

    here = Path(__file__).parent
    parts: list[str | bytes] = [
        code_digest(analysis, article, dictionary, docs, postings, suggestdb, suggestrows)
    ]
    for name in CACHE_MODULES:
        try:
            parts.append((here / name).read_bytes())
        except OSError:
            parts.append(name)
    return digest(*parts, size=16)


def entries(root: Path, state_dir: Path) -> list[tuple[str, str]]:
    """(name, blob) of the databases to publish, written into git's objects:
    each present one as a compact copy without machine-local data. A
    database that cannot be copied is left out (the publication is still
    good without it)."""
    found: list[tuple[str, str]] = []
    for name in FILES:
        src = state_dir / name
        if not src.is_file():
            continue
        tmp = state_dir / f"publish-{os.getpid()}-{uuid.uuid4().hex[:8]}-{name}"
        try:
            _export(src, tmp, name)
            blob = shipped.git(root, "hash-object", "-w", "--", str(tmp))
            found.append((name, blob.decode().strip()))
        except (OSError, sqlite3.Error):
            continue
        finally:
            tmp.unlink(missing_ok=True)
    if found:
        version = shipped.git(root, "hash-object", "-w", "--stdin", data=kb_code().encode())
        found.append((VERSION_FILE, version.decode().strip()))
    return found


def _export(src: Path, dest: Path, name: str) -> None:
    conn = sqlite3.connect(src.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        conn.execute("VACUUM INTO ?", (str(dest),))
    finally:
        conn.close()
    out = sqlite3.connect(dest, isolation_level=None)
    try:
        out.execute("PRAGMA journal_mode=DELETE")
        if name == SEARCH:
            out.execute("DELETE FROM kbarticles")  # this machine's stat data
    finally:
        out.close()


def place(root: Path, state: Path, names: tuple[str, ...] = FILES) -> list[str]:
    """Put the databases ``names`` of the newest publication in place where
    none exist, if made by this code and their samples pass; the names
    placed. Called when a search or `new` finds none (a fresh clone). Never
    raises for a bad or missing one: they are then built as before.

    The search database does not depend on the ticket index it was made
    beside: it is compared with whatever index this clone has, month by
    month and blob by blob; the suggestion database follows commits."""
    try:
        commit = shipped.find(root)
        if commit is None:
            return []
        made_by = shipped.git(root, "cat-file", "blob", f"{commit}:{VERSION_FILE}").decode()
    except (OSError, UnicodeDecodeError):
        return []
    if made_by.strip() != kb_code():
        return []
    state.mkdir(parents=True, exist_ok=True)
    wanted = [n for n in names if not (state / n).exists()]
    tmps = {n: state / f"shipped-{os.getpid()}-{uuid.uuid4().hex[:8]}-{n}" for n in wanted}
    placed: list[str] = []
    try:
        for name, tmp in list(tmps.items()):
            try:
                shipped.copy_blob(root, f"{commit}:{name}", tmp, False)
            except OSError:
                del tmps[name]
        if not all(_sample_ok(root, tmp, name == SEARCH) for name, tmp in tmps.items()):
            return []
        for name, tmp in tmps.items():
            with contextlib.suppress(OSError):
                os.link(tmp, state / name)  # never replaces one made meanwhile
                placed.append(name)
        return placed
    finally:
        for tmp in tmps.values():
            tmp.unlink(missing_ok=True)


def _sample_ok(root: Path, path: Path, keyed: bool) -> bool:
    """Whether a sample of a database's incidents, read again from the files,
    give the same ID and title: those whose file still has the blob the
    search database names (``keyed``), or (the suggestion database) those
    whose file is in the work tree (an incident retitled since the
    publication then costs the copy, never a wrong title)."""
    try:
        conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        if keyed:
            keys = conn.execute("SELECT path, key FROM kbkeys WHERE key LIKE 'b:%'").fetchall()
        else:
            keys = conn.execute(
                "SELECT path, '' FROM docs WHERE alive = 1 AND path LIKE 'tickets/%'"
            ).fetchall()
        stored = {
            str(p): (str(i), str(t))
            for p, i, t in conn.execute("SELECT path, id, title FROM docs WHERE alive = 1")
        }
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    checked = 0
    for rel, key in random.sample(keys, min(len(keys), SAMPLE * 4)):
        if rel not in stored:
            continue
        doc = _current(root, str(rel), str(key)[2:])
        if doc is None:
            continue  # changed here since the publication: brought up to date anyway
        if (doc.id, doc.title) != stored[rel]:
            return False
        checked += 1
        if checked >= SAMPLE:
            break
    return True


def _current(root: Path, rel: str, blob: str) -> Doc | None:
    """The document of ``rel`` if its file still holds ``blob`` (any content
    when ``blob`` is empty; else None)."""
    import hashlib

    if not blob:
        return read_doc(root, rel, lambda _: None)
    try:
        data = (root / rel).read_bytes()
    except OSError:
        return read_doc(root, rel, lambda _: None, blob)  # a sparse checkout: the blob
    header = f"blob {len(data)}\0".encode()
    if hashlib.sha1(header + data).hexdigest() != blob:
        return None
    return read_doc(root, rel, lambda _: None)
