"""Creating stores and preparing clones."""

from __future__ import annotations

import datetime as dt
import re
import shlex
import sys
from pathlib import Path

from elinkctl.config import Config
from elinkctl.errors import StoreError
from elinkctl.store.gitrepo import Git, init_repo


def data_text(name: str) -> str:
    from importlib import resources  # lazy: only `init` reads the templates

    return resources.files("elinkctl").joinpath("data", name).read_text(encoding="utf-8")


def init_store(root: Path, actor: str | None = None) -> Path:
    """Make ``root`` a store. Refuses to overwrite existing rule files."""
    root.mkdir(parents=True, exist_ok=True)
    for name in ("sla.yaml", "escalation.yaml"):
        if (root / name).exists():
            raise StoreError(f"{root / name} exists: {root} is already a store")
    git = Git(root) if (root / ".git").exists() else init_repo(root)
    (root / "sla.yaml").write_text(data_text("sla.yaml"), encoding="utf-8")
    (root / "escalation.yaml").write_text(data_text("escalation.yaml"), encoding="utf-8")
    attributes = root / ".gitattributes"
    existing = attributes.read_text(encoding="utf-8") if attributes.exists() else ""
    attributes.write_text(existing + data_text("gitattributes"), encoding="utf-8")
    for sub in ("tickets", "knowledge"):
        (root / sub).mkdir(exist_ok=True)
        (root / sub / ".gitkeep").touch()
    paths = [
        "sla.yaml",
        "escalation.yaml",
        ".gitattributes",
        "tickets/.gitkeep",
        "knowledge/.gitkeep",
    ]
    ensure_clone_config(git)
    author = actor or git.config_get("user.name") or "elinkctl"
    git.commit_paths(paths, "elinkctl: initialise store", author, None, new=paths)
    return root


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


def config_warnings(config: Config, now: dt.datetime) -> list[str]:
    """Non-fatal notes about the rules (e.g. years without holiday data).

    See `elinkctl.services.validators.rule_warnings`: a calendar in use that
    lacks China holiday data for a year a deadline started ``now`` may reach.
    """
    from elinkctl.services.validators import rule_warnings

    return rule_warnings(config, now)
