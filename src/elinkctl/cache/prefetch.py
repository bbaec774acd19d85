"""Start git's half of the index check as the process starts.

At 100,000 tickets the check that keeps the index honest (`Index.refresh`)
waits on git: ``git diff-files`` lstat()s every ticket file, which costs a
tenth of a second or more, while Python spends about as long importing
click and the domain. `elinkctl.entry.main` calls `start` before any of
that is imported, so the two overlap; the index picks the output up with
`take` when it first needs it.

Only standard-library modules that the interpreter has loaded anyway (and
the cache package's own light ``__init__``) are imported at the top;
``subprocess`` and ``threading`` are imported when a command actually reads
the index. Nothing here can fail a command: any problem means no early
start, and the index runs git itself as before. git is run here with plain
``subprocess``, not through `elinkctl.store.gitrepo`, so that nothing heavy
is imported first.

The output is used only if no ticket was written in between (`forget`,
called after every commit), so it is never older than the command.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from elinkctl.cache import FORMAT_VERSION

TICKETS_DIR = "tickets"

LISTING = ("ls-files", "-z", "-s", "--", "tickets/")
"""Blob ID of every tracked ticket: compared with what the rows were made from."""
CHANGES = ("diff-files", "-z", "--name-status", "--", "tickets/")
"""Tracked files changed or deleted in the work tree (lstat of each, racy-git safe)."""
# Untracked files are found from directory stat data
# (`elinkctl.cache.listing.dir_sigs`) instead of a third, directory-walking git call.

RACY_NS = 2_000_000_000
"""A file changed this recently may change again unseen within the same
timestamp tick (racy git): git's index file is then not recorded (see
`record`), a ticket file's stat data not trusted (`elinkctl.cache.listing.stat_key`)."""


class Raw:
    """git's answers for one index check.

    ``listing`` is None when git's index file is the very file whose listing
    was recorded (`record`): then ``digest`` is that listing's digest and
    ``ls-files`` was not run (its 9 MB at 100,000 tickets are not needed to
    know nothing changed). ``sig`` is the index file's signature taken
    before ``ls-files`` ran, for `record`.
    """

    __slots__ = ("sig", "listing", "digest", "changes")

    def __init__(
        self, sig: str | None, listing: bytes | None, digest: str | None, changes: bytes
    ) -> None:
        self.sig = sig
        self.listing = listing
        self.digest = digest
        self.changes = changes


def index_sig(root: str) -> str | None:
    """Stat data of git's index file, which git only ever replaces (lock file
    and rename): a new inode, a new ctime. None where .git is not a directory."""
    try:
        st = os.stat(os.path.join(root, ".git", "index"))
    except OSError:
        return None
    newest = max(st.st_mtime_ns, st.st_ctime_ns)
    if time.time_ns() - newest < RACY_NS:
        return None  # too recent to tell a later rewrite in the same tick apart
    return f"{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}:{st.st_size}:{st.st_dev}"


def _sig_file(root: str) -> str:
    return os.path.join(root, ".git", "elinkctl", "listing.sig")


def recorded_digest(root: str, sig: str | None) -> str | None:
    """The digest recorded for git's index file with signature ``sig``, if any
    (and if recorded by this `FORMAT_VERSION` of the cache layer)."""
    if sig is None:
        return None
    try:
        with open(_sig_file(root), encoding="ascii") as f:
            fields = f.read().split()
    except (OSError, ValueError):
        return None
    if len(fields) != 3 or fields[0] != f"v{FORMAT_VERSION}" or fields[1] != sig:
        return None
    return fields[2] if len(fields[2]) == 40 else None


def record(root: str, sig: str | None, digest: str) -> None:
    """Remember that git's index file with signature ``sig`` (taken before
    ``ls-files`` ran) lists tickets with this digest (a 40-character
    `elinkctl.cache.listing.listing_digest`)."""
    if sig is None or recorded_digest(root, sig) == digest:
        return
    from pathlib import Path

    from elinkctl.fsio import atomic_write

    try:
        atomic_write(Path(_sig_file(root)), f"v{FORMAT_VERSION} {sig} {digest}\n", durable=False)
    except OSError:
        pass  # not recorded: the next check runs ls-files


def run_snapshot(root: str, run: Callable[..., list[bytes]]) -> Raw:
    """Ask git (through ``run``, which runs several commands concurrently)."""
    sig = index_sig(root)
    digest = recorded_digest(root, sig)
    if digest is not None:
        (changes,) = run(CHANGES)
        return Raw(sig, None, digest, changes)
    listing, changes = run(LISTING, CHANGES)
    return Raw(sig, listing, None, changes)


READERS = frozenset({"check", "list", "stats"})
"""Commands whose first real work is reading the index (others would pay
for git calls they never use)."""

_OPTIONS_WITH_VALUE = frozenset({"--store", "--as"})

_started: dict[str, Any] = {}


def command_and_store(argv: Sequence[str]) -> tuple[str | None, str | None]:
    """The subcommand name and ``--store`` value of an ``elinkctl`` argv
    (without the program name), as far as the top-level options go."""
    store: str | None = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in _OPTIONS_WITH_VALUE:
            if arg == "--store" and i + 1 < len(argv):
                store = argv[i + 1]
            i += 2
            continue
        if arg.startswith("--store="):
            store = arg.split("=", 1)[1]
        elif not arg.startswith("-"):
            return arg, store
        i += 1
    return None, store


def store_root(explicit: str | None, cwd: str | None = None) -> str | None:
    """The store directory `elinkctl.store.store.discover` would find, or None
    (the same rules, re-stated here so that nothing is imported to apply them)."""
    given = explicit or os.environ.get("ELINKCTL_STORE")
    if given:
        root = os.path.realpath(os.path.expanduser(given))
        return root if _is_store(root) else None
    here = os.path.realpath(cwd or os.getcwd())
    while True:
        if _is_store(here):
            return here
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def _is_store(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "sla.yaml")) and os.path.isdir(
        os.path.join(path, TICKETS_DIR)
    )


def start(argv: Sequence[str]) -> None:
    """If ``argv`` runs a reading command on a store, start the git calls now."""
    try:
        command, explicit = command_and_store(argv)
        reads = command in READERS or (command == "kb" and "search" in argv)  # kb search: the index
        if not reads or any(a in ("-h", "--help") for a in argv):
            return
        root = store_root(explicit)
        if root is None or not os.path.isdir(os.path.join(root, ".git")):
            return
        _launch(root)
    except Exception:  # noqa: BLE001 - an optimisation only; the index does it itself
        _started.clear()


def _launch(root: str) -> None:
    import subprocess
    import threading

    def run(*commands: Sequence[str]) -> list[bytes]:
        procs = [
            subprocess.Popen(
                ["git", *args],
                cwd=root,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for args in commands
        ]
        outs = []
        for proc in procs:
            # Read each pipe to the end (ls-files writes megabytes; a full
            # pipe would stop git until someone reads).
            out, _ = proc.communicate()
            if proc.returncode != 0:
                raise OSError("git failed")  # the index runs git again and reports it
            outs.append(out)
        return outs

    box: list[Raw | None] = []

    def drain() -> None:
        try:
            box.append(run_snapshot(root, run))
        except Exception:  # noqa: BLE001
            box.append(None)

    thread = threading.Thread(target=drain, name="elinkctl-early-snapshot", daemon=True)
    thread.start()
    _started.update(root=root, thread=thread, box=box)


def started() -> str | None:
    """The store root whose early snapshot is under way or waiting, if any."""
    root = _started.get("root")
    return root if isinstance(root, str) else None


def take(root: str) -> Raw | None:
    """The snapshot started for ``root`` (once), else None."""
    if _started.get("root") != root:
        return None
    thread, box = _started["thread"], _started["box"]
    _started.clear()
    thread.join()
    return box[0] if box else None


def forget() -> None:
    """Drop an early result: tickets were written after it was started."""
    if _started:
        thread = _started["thread"]
        _started.clear()
        thread.join()  # let git finish; its output is no longer wanted
