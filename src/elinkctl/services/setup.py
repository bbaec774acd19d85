"""Creating stores and preparing clones."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from elinkctl.config import Config
from elinkctl.errors import StoreError
from elinkctl.store.clone import ensure_clone_config
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


def config_warnings(config: Config, now: dt.datetime) -> list[str]:
    """Non-fatal notes about the rules (e.g. years without holiday data).

    See `elinkctl.services.validators.rule_warnings`: a calendar in use that
    lacks China holiday data for a year a deadline started ``now`` may reach.
    """
    from elinkctl.services.validators import people_warnings, rule_warnings

    return rule_warnings(config, now) + people_warnings(config)


def share_with_group(root: Path, group: str | None = None) -> str:
    """Make the store at ``root`` writable by a Unix group (`init --shared`):
    ``core.sharedRepository=group``, every file group-readable and -writable,
    every folder setgid so new files keep the group; ``group`` (a name) also
    changes the group of everything. Returns the group's name.

    The same steps as docs/administration.md, "Several Unix users on one host".
    """
    import grp
    import os
    import stat

    Git(root).run("config", "core.sharedRepository", "group")
    gid = -1
    if group:
        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError:
            raise StoreError(f"no such group: {group}") from None
    for folder, dirs, files in os.walk(root):
        for path in [Path(folder), *(Path(folder) / f for f in files)]:
            if path.is_symlink():
                continue
            if gid != -1:
                os.chown(path, -1, gid)
            mode = path.stat().st_mode
            extra = stat.S_IRGRP | stat.S_IWGRP
            if path.is_dir():
                extra |= stat.S_IXGRP | stat.S_ISGID
            elif mode & stat.S_IXUSR:
                extra |= stat.S_IXGRP
            os.chmod(path, mode | extra)
        dirs[:] = [d for d in dirs if not (Path(folder) / d).is_symlink()]
    return grp.getgrgid(root.stat().st_gid).gr_name
