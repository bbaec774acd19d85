"""Start git's half of the index check as the process starts.

At 100,000 tickets the check that keeps the index honest (`Index.refresh`)
waits on git: ``git diff-files`` lstat()s every ticket file, which costs a
tenth of a second or more, while Python spends about as long importing
click, PyYAML and the domain. `elinkctl.cli.main` calls `start` before any
of that is imported, so the two overlap; the index picks the output up with
`take` when it first needs it.

Only standard-library modules that the interpreter has loaded anyway are
imported at the top; ``subprocess`` and ``threading`` are imported when a
command actually reads the index. Nothing here can fail a command: any
problem means no early start, and the index runs git itself as before.

The output is used only if no ticket was written in between (`forget`,
called after every commit), so it is never older than the command.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

TICKETS_DIR = "tickets"

SNAPSHOT_COMMANDS: tuple[tuple[str, ...], ...] = (
    # Blob ID of every tracked ticket: compared with what the rows were made from.
    ("ls-files", "-z", "-s", "--", "tickets/"),
    # Tracked files changed or deleted in the work tree (lstat of each, racy-git safe).
    ("diff-files", "-z", "--name-status", "--", "tickets/"),
)
"""What `Index.snapshot` asks git; untracked files are found from directory
stat data (`Index._dir_sigs`) instead of a third, directory-walking call."""

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
    """The store directory `elinkctl.store.store.discover` would find, or None."""
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
        if command not in READERS or any(a in ("-h", "--help") for a in argv):
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

    procs = [
        subprocess.Popen(
            ["git", *args],
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for args in SNAPSHOT_COMMANDS
    ]
    box: list[list[bytes] | None] = []

    def drain() -> None:
        # Read both pipes to the end (ls-files writes megabytes; a full
        # pipe would stop git until someone reads).
        outs: list[bytes] | None = []
        for proc in procs:
            out, _ = proc.communicate()
            if proc.returncode != 0 and outs is not None:
                outs = None  # the index runs git again and reports the error
            elif outs is not None:
                outs.append(out)
        box.append(outs)

    thread = threading.Thread(target=drain, name="elinkctl-early-snapshot", daemon=True)
    thread.start()
    _started.update(root=root, thread=thread, box=box)


def take(root: str) -> list[bytes] | None:
    """The outputs of `SNAPSHOT_COMMANDS` started for ``root`` (once), else None."""
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
