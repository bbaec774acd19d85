"""The commit HEAD names, read from git's own files (no process started).

A cache that records the commit it reflects asks this first: reading
``HEAD`` and one ref costs microseconds where ``git rev-parse`` costs a
process. Loose and packed refs of an ordinary repository or a linked
worktree are understood; anything else (an unborn branch, a reftable
repository, a file being rewritten) is None, and the caller asks git.
"""

from __future__ import annotations

import re
from pathlib import Path

_OBJECT_ID = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")


def read_head(git_dir: Path) -> str | None:
    """The commit ID HEAD of the repository at ``git_dir`` names; None when unsure."""
    try:
        text = (git_dir / "HEAD").read_text(encoding="ascii").strip()
        if _OBJECT_ID.match(text):
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
            return value if _OBJECT_ID.match(value) else None
        packed = common / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(encoding="utf-8").splitlines():
                value, _, name = line.partition(" ")
                if name == ref and _OBJECT_ID.match(value):
                    return value
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return None
