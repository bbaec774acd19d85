"""Per-clone git settings elinkctl relies on (the merge drivers, quotepath),
and what the merge driver itself runs.

.gitattributes (committed) names the drivers; their commands live in
.git/config, which git never clones, so every command (readers too,
`register_quietly`) and `sync` register them (a plain `git clone` is then
enough).
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from elinkctl.errors import StoreError

if TYPE_CHECKING:  # imported when a clone is registered: not on a read's start-up path
    from elinkctl.store.gitrepo import Git

MERGE_DRIVERS = {
    "elinkctl-ticket": "elinkctl structural ticket merge (events united, fields three-way)",
    "elinkctl-kb": "elinkctl knowledge-article merge (front matter per key, body by lines)",
}


def driver_command() -> str:
    """The merge driver command line: this interpreter, so PATH does not matter."""
    return f"{shlex.quote(sys.executable)} -m elinkctl merge-file %O %A %B %P"


def _config_file(root: Path) -> Path:
    dot_git = root / ".git"
    if dot_git.is_file():  # a worktree: .git points at the private git dir
        text = dot_git.read_text(encoding="utf-8").strip()
        dot_git = (root / text.removeprefix("gitdir:").strip()).resolve()
        common = dot_git / "commondir"
        if common.is_file():
            dot_git = (dot_git / common.read_text(encoding="utf-8").strip()).resolve()
    return dot_git / "config"


def clone_config_ok(root: Path) -> bool:
    """Whether this clone already has our settings, by reading .git/config as text.

    Cheap enough for every write (no git process). The driver counts only
    when the interpreter it names still exists, so a moved or rebuilt
    virtualenv re-registers itself.
    """
    try:
        text = _config_file(root).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    if "quotepath = false" not in text:
        return False
    for name in MERGE_DRIVERS:
        section = text.partition(f'[merge "{name}"]')[2]
        match = re.search(r"^\s*driver\s*=\s*(.*) -m elinkctl merge-file", section, re.M)
        if not match:
            return False
        try:
            exe = shlex.split(match.group(1).replace('\\"', '"'))
        except ValueError:
            return False
        if len(exe) != 1 or not Path(exe[0]).exists():
            return False
    return True


def ensure_clone_config(git: Git) -> None:
    """Per-clone git settings elinkctl relies on (registered by every command
    that writes, and by `sync`, so a plain `git clone` is enough).

    .gitattributes (committed) names the drivers; their commands live in
    .git/config, which git never clones, hence this.
    """
    if clone_config_ok(git.root):
        return
    git.run("config", "core.quotepath", "false")  # Chinese in paths and diffs stays readable
    for name, description in MERGE_DRIVERS.items():
        git.run("config", f"merge.{name}.name", description)
        git.run("config", f"merge.{name}.driver", driver_command())


def register_quietly(root: Path) -> None:
    """`ensure_clone_config` for every command, readers included, so that a
    reviewer who only reads and then runs ``git pull`` merges tickets with
    the driver too. A text read when already done; never fails a command (a
    user who may not write .git/config, a read-only clone: left as it is)."""
    if clone_config_ok(root):
        return
    from elinkctl.store.gitrepo import Git

    try:
        ensure_clone_config(Git(root))
    except (StoreError, OSError):
        pass


def merge_file_texts(base: str, ours: str, theirs: str) -> tuple[str, bool]:
    """A line-based three-way merge by ``git merge-file``: (text, clean?).

    Used for the Markdown body of knowledge articles. Plain subprocess, not
    GitPython: it runs inside the merge driver, outside any repository.
    """
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="elinkctl-merge-") as tmp:
        paths = []
        for name, text in (("ours", ours), ("base", base), ("theirs", theirs)):
            path = Path(tmp) / name
            path.write_text(text, encoding="utf-8")
            paths.append(str(path))
        proc = subprocess.run(
            ["git", "merge-file", "-p", "-L", "ours", "-L", "base", "-L", "theirs", *paths],
            capture_output=True,
            check=False,
        )
    if proc.returncode < 0 or proc.returncode > 127:
        return ours, False
    return proc.stdout.decode("utf-8", errors="replace"), proc.returncode == 0


def absolute_git_dir(cwd: Path) -> Path:
    """The git directory of the repository at ``cwd`` (a merge driver runs at its top)."""
    import subprocess

    proc = subprocess.run(
        ["git", "rev-parse", "--absolute-git-dir"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise StoreError(f"{cwd}: not inside a git repository")
    return Path(proc.stdout.strip())
