"""The only module that runs git.

Writes go through GitPython's ``repo.git`` command interface, which runs the
git binary: GitPython's pure-Python index takes seconds on a repository with
100,000 files, the binary a fraction of a second. GitPython itself is
imported lazily because it adds noticeable start-up time to every command.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from elinkctl.errors import StoreError
from elinkctl.store import early

_READ_ONLY = frozenset(
    {"config", "rev-parse", "status", "ls-files", "diff", "log", "show", "cat-file", "var"}
)
"""git commands that change neither the work tree nor git's index; any other
one makes an early index snapshot (`elinkctl.store.early`) out of date."""


class Git:
    """A thin wrapper over one repository's ``repo.git``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._repo: Any = None

    @property
    def git(self) -> Any:
        if self._repo is None:
            import git as gitpython  # lazy: ~80 ms of imports

            try:
                self._repo = gitpython.Repo(self.root)
            except (gitpython.InvalidGitRepositoryError, gitpython.NoSuchPathError):
                raise StoreError(f"{self.root}: not a git repository") from None
        return self._repo.git

    def run(self, *args: str, env: dict[str, str] | None = None) -> str:
        import git as gitpython

        if args[0] not in _READ_ONLY:
            early.forget()

        try:
            out: str = self.git.execute(["git", *args], env=env, strip_newline_in_stdout=True)
        except gitpython.GitCommandError as exc:
            detail = (exc.stderr or exc.stdout or "").strip().replace("\n", " ")
            detail = detail.removeprefix("stderr: ").strip("' ")
            raise StoreError(f"git {args[0]} failed: {detail}") from None
        return out

    def try_run(self, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        """Run git and return (status, stdout, stderr) without raising: for
        commands whose failure is an answer (fetch offline, push rejected)."""
        if args[0] not in _READ_ONLY:
            early.forget()
        status, out, err = self.git.execute(
            ["git", *args],
            env=env,
            with_extended_output=True,
            with_exceptions=False,
            strip_newline_in_stdout=True,
        )
        return int(status), str(out), str(err)

    def run_bytes(self, *args: str, env: dict[str, str] | None = None) -> bytes:
        """Run git directly, without GitPython: hot read paths (the index check)
        must not pay its ~80 ms import. Output is raw bytes (use ``-z``)."""
        import subprocess

        proc = subprocess.run(
            ["git", *args], cwd=self.root, env=env, capture_output=True, check=False
        )
        if proc.returncode != 0:
            detail = proc.stderr.decode("utf-8", "replace").strip().replace("\n", " ")
            raise StoreError(f"git {args[0]} failed: {detail}")
        return proc.stdout

    def run_concurrently(self, *commands: Sequence[str]) -> list[bytes]:
        """Run several read-only git commands at once (raw output each); the
        index check needs three and they overlap well on two cores."""
        import subprocess

        procs = [
            subprocess.Popen(
                ["git", *args], cwd=self.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            for args in commands
        ]
        outs = []
        for args, proc in zip(commands, procs, strict=True):
            out, err = proc.communicate()
            if proc.returncode != 0:
                for other in procs:
                    other.kill()
                    other.wait()
                detail = err.decode("utf-8", "replace").strip().replace("\n", " ")
                raise StoreError(f"git {args[0]} failed: {detail}")
            outs.append(out)
        return outs

    def config_get(self, key: str) -> str | None:
        try:
            value = self.run("config", "--get", key)
        except StoreError:
            return None
        return value or None

    def commit_paths(
        self,
        paths: Sequence[str],
        message: str,
        author: str,
        email: str | None,
        *,
        new: Sequence[str] = (),
    ) -> None:
        """Commit exactly ``paths`` as ``author``; leave anything else staged alone.

        ``git commit --only -- paths`` builds the commit from a temporary
        index holding just these paths, so a user's unrelated staged work is
        neither committed nor unstaged. New files must be added first so the
        pathspec matches.
        """
        env = commit_env(author, email or self.default_email())
        if new:
            self.run("add", "--", *new, env=env)
        self.run("commit", "--quiet", "--no-verify", "--only", "-m", message, "--", *paths, env=env)

    def default_email(self) -> str:
        return self.config_get("user.email") or "elinkctl@localhost"

    def has_changes(self, paths: Sequence[str]) -> bool:
        out = self.run("status", "--porcelain", "--untracked-files=all", "--", *paths)
        return bool(out.strip())


def commit_env(author: str, email: str) -> dict[str, str]:
    """Author and committer are the person who acted (DESIGN §6).

    Also makes commits work on a machine where git has no user configured
    (a fresh CI runner, a cron host).
    """
    env = dict(os.environ)
    env.update(
        GIT_AUTHOR_NAME=author,
        GIT_AUTHOR_EMAIL=email,
        GIT_COMMITTER_NAME=author,
        GIT_COMMITTER_EMAIL=email,
    )
    return env


def init_repo(root: Path) -> Git:
    import git as gitpython

    gitpython.Repo.init(root, initial_branch="main")
    return Git(root)


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
