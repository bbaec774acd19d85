"""Git as the store uses it: every git command of the program runs through
`Git`, except the two read-only listing calls that `elinkctl.cache.prefetch`
starts with plain ``subprocess`` before anything heavy is imported (and the
bench and test data generator, ``scripts/generate.py``, outside the package).

Writes go through GitPython's ``repo.git`` command interface, which runs the
git binary: GitPython's pure-Python index takes seconds on a repository with
100,000 files, the binary a fraction of a second. GitPython itself is
imported lazily because it adds noticeable start-up time to every command.

A commit of a few files (`Git.commit_paths`) is made with plumbing: its cost
is reading and writing the few trees on the changed paths plus one update of
git's index, not ``git commit --only``'s two passes over every file of the
work tree. See `Git.commit_paths` for the steps and when the porcelain way
is used instead.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elinkctl.cache import prefetch
from elinkctl.errors import StoreError
from elinkctl.store.gitenv import ConfigValueError, config_bool
from elinkctl.store.gitenv import cleanup_message as cleanup_message  # re-exported
from elinkctl.store.gitenv import commit_env as commit_env  # re-exported
from elinkctl.store.trees import (
    Tree,
    ancestors,
    blob_mode,
    depth_then_name,
    is_blob,
    is_tree,
    parse_batch,
    parse_tree,
    splice,
)
from elinkctl.store.trees import (
    split as split_path,
)

_READ_ONLY = frozenset(
    {
        "config",
        "rev-parse",
        "status",
        "ls-files",
        "ls-tree",
        "diff",
        "log",
        "show",
        "cat-file",
        "var",
        "check-ignore",
    }
)
"""git commands that change neither the work tree nor git's index; any other
one makes an early index snapshot (`elinkctl.cache.prefetch`) out of date."""

_IN_PROGRESS = (
    "MERGE_HEAD",
    "CHERRY_PICK_HEAD",
    "REVERT_HEAD",
    "rebase-merge",
    "rebase-apply",
    "sequencer",
)
"""Markers (in the work tree's git directory) of an operation that ``git
commit`` treats specially: the porcelain decides what a commit means then."""

_COMMIT_HOOKS = ("prepare-commit-msg", "post-commit")
"""Hooks ``git commit --no-verify`` still runs; plumbing would skip them."""

_COMMIT_CONFIG = (
    r"^(commit\.gpgsign|commit\.cleanup|core\.hookspath|core\.filemode|core\.ignorecase"
    r"|maintenance\.auto)$"
)

_REFLOG_MAX = 4096
"""A reflog entry keeps at most this much of the subject: it is an argument
of ``update-ref`` (one argument may hold 128 KiB on Linux)."""

GC_SAMPLE = "17"
"""``git gc --auto`` estimates the number of loose objects from the one
directory ``objects/17/`` (IDs are uniformly distributed). Only a new object
whose ID starts with these two digits can change that estimate, so it is
exactly after writing one that a maintenance check can newly find work:
about one commit in forty (six new objects each), where ``git commit`` pays
for a check on every commit."""


STEP_HOOK: Callable[[str], None] | None = None
"""Told the name of each step of the plumbing commit as it completes
(``hash_files``, ``write_trees``, ``commit_tree``, ``move_head``,
``update_index``): the seam where the fault-injection tests kill the writer
or race it. None in normal use."""


def _reached(step: str) -> None:
    if STEP_HOOK is not None:
        STEP_HOOK(step)


class _Fallback(Exception):
    """The plumbing commit does not apply here; HEAD and the index are untouched."""


@dataclass
class _Plan:
    """A commit object written but not yet on HEAD."""

    parent: str
    commit: str
    reflog: str
    written: list[str]
    maintenance: bool


class Git:
    """A thin wrapper over one repository's ``repo.git``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._repo: Any = None
        self.fast_commits = True
        """Whether `commit_paths` may use plumbing (tests compare both ways)."""
        self.last_commit = ""
        """How the last `commit_paths` committed: ``fast``, or ``fallback: <why>``."""
        self.index_lock_wait = 5.0
        """Seconds a plumbing commit waits for another git's ``index.lock``."""

    @property
    def git(self) -> Any:
        if self._repo is None:
            import git as gitpython  # lazy: ~80 ms of imports

            try:
                self._repo = gitpython.Repo(self.root)
            except (gitpython.InvalidGitRepositoryError, gitpython.NoSuchPathError):
                raise StoreError(f"{self.root}: not a git repository") from None
        return self._repo.git

    @property
    def git_dir(self) -> Path:
        """This work tree's git directory (a worktree has its own)."""
        self.git  # noqa: B018 - opens the repository
        return Path(self._repo.git_dir)

    @property
    def common_dir(self) -> Path:
        """The git directory shared by all work trees (hooks, objects, config)."""
        self.git  # noqa: B018
        return Path(self._repo.common_dir)

    def run(self, *args: str, env: dict[str, str] | None = None) -> str:
        import git as gitpython

        if args[0] not in _READ_ONLY:
            prefetch.forget()

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
            prefetch.forget()
        status, out, err = self.git.execute(
            ["git", *args],
            env=env,
            with_extended_output=True,
            with_exceptions=False,
            strip_newline_in_stdout=True,
        )
        return int(status), str(out), str(err)

    def run_bytes(
        self, *args: str, env: dict[str, str] | None = None, stdin: bytes | None = None
    ) -> bytes:
        """Run git directly, without GitPython: hot read paths (the index check)
        must not pay its ~80 ms import. Output is raw bytes (use ``-z``)."""
        import subprocess

        proc = subprocess.run(
            ["git", *args],
            cwd=self.root,
            env=env,
            input=stdin,
            capture_output=True,
            check=False,
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
        date: dt.datetime | None = None,
    ) -> None:
        """Commit exactly ``paths`` as ``author`` (dated ``date`` when given:
        ``ELINKCTL_NOW`` replays); leave anything else staged alone.

        The commit is the one ``git commit --only -- paths`` makes: HEAD's tree
        with these paths as they are in the work tree, author and committer the
        acting person, the message cleaned up as ``git commit -m`` does, a
        reflog entry ``commit: <subject>``. Afterwards git's index holds these
        paths as committed and anything else a user staged as it was: staged,
        not committed.

        It is made with plumbing whose cost does not grow with the store
        (`_commit_plumbing`): hash the files, read HEAD and only the trees on
        the changed paths, write those trees anew bottom-up, ``commit-tree``,
        move HEAD with a compare-and-swap, update the index entries of these
        paths. Nothing is visible before HEAD moves; from then on a stop is
        finished by `Store.recover`.

        ``git commit --only`` itself (new files added first, so the pathspec
        matches) is used whenever plumbing would not give the same result or
        cannot tell: no commit yet, a merge, cherry-pick, revert or rebase in
        progress, a deleted path or one that is not a regular file, a new path
        that is ignored, ``commit.gpgSign``, a non-default ``commit.cleanup``,
        ``core.ignoreCase``, an executable ``prepare-commit-msg`` or
        ``post-commit`` hook, nothing to commit, HEAD moved by someone else
        meanwhile, or any failure before HEAD moved. `last_commit` says which
        way was taken.
        """
        env = commit_env(author, email or self.default_email(), date)
        reason = "disabled"
        if self.fast_commits:
            try:
                self._commit_plumbing(paths, message, env)
            except _Fallback as exc:
                reason = str(exc)
            else:
                self.last_commit = "fast"
                return
        self.last_commit = f"fallback: {reason}"
        if new:
            self.run("add", "--", *new, env=env)
        # The message goes through stdin: a batch's message (thousands of
        # lines) would exceed the argument limit as ``-m``.
        self.run_input(
            "commit", "--quiet", "--no-verify", "--only", "-F", "-", "--", *paths,
            stdin=message.encode("utf-8", "surrogateescape"), env=env,
        )  # fmt: skip

    def run_input(self, *args: str, stdin: bytes, env: dict[str, str] | None = None) -> str:
        """`run_bytes` for a command that may change the index (text output)."""
        prefetch.forget()
        return self.run_bytes(*args, env=env, stdin=stdin).decode("utf-8", "replace")

    def _commit_plumbing(self, paths: Sequence[str], message: str, env: dict[str, str]) -> None:
        """`commit_paths` without ``git commit``; raises `_Fallback` (HEAD and
        index untouched) when it does not apply."""
        try:
            plan = self._plan_commit(list(dict.fromkeys(paths)), message, env)
        except _Fallback:
            raise
        except Exception as exc:  # noqa: BLE001 - anything unexpected: the porcelain decides
            raise _Fallback(f"{type(exc).__name__}: {exc}") from exc
        if not self._move_head(plan.commit, plan.parent, plan.reflog, env):
            raise _Fallback("HEAD moved meanwhile")
        _reached("move_head")
        # HEAD holds the commit. A stop from here on leaves files equal to HEAD
        # and stale index entries: `Store.recover` refreshes them.
        self._update_index(paths, env)
        _reached("update_index")
        if plan.maintenance and any(oid.startswith(GC_SAMPLE) for oid in plan.written):
            # What `git commit` runs after every commit; see GC_SAMPLE for why not here.
            self.try_run("maintenance", "run", "--auto", "--quiet", env=env)

    def _plan_commit(self, paths: list[str], message: str, env: dict[str, str]) -> _Plan:
        """Write the commit object of `_commit_plumbing` (objects only: nothing
        refers to them yet), or raise `_Fallback`."""
        text = cleanup_message(message)
        if not text:
            raise _Fallback("empty message")
        modes = [self._work_file_mode(path) for path in paths]
        for marker in _IN_PROGRESS:
            if (self.git_dir / marker).exists():
                raise _Fallback(f"{marker} exists")
        config = self._commit_config()
        try:
            signed = config_bool(config, "commit.gpgsign", False)
            trust_exec_bit = config_bool(config, "core.filemode", True)
            maintenance = config_bool(config, "maintenance.auto", True)
            ignorecase = config_bool(config, "core.ignorecase", False)
        except ConfigValueError as exc:
            raise _Fallback(str(exc)) from None
        if signed:
            raise _Fallback("commit.gpgSign is set")
        if "commit.cleanup" in config and config["commit.cleanup"] not in ("default", "whitespace"):
            raise _Fallback("commit.cleanup is set")
        if ignorecase:
            raise _Fallback("core.ignoreCase is set")  # `git add` would match names by case
        self._check_hooks(config)

        dirs = sorted({d for path in paths for d in ancestors(path)}, key=depth_then_name)
        parent, parent_tree, trees, hash_len = self._read_head(dirs)
        changes: list[tuple[str, bytes]] = []  # path, mode
        fresh: list[str] = []
        for path, st_mode in zip(paths, modes, strict=True):
            folder, name = split_path(path)
            old = trees[folder].entries.get(name.encode())
            if old is None:
                fresh.append(path)
            elif not is_blob(old[0]):
                raise _Fallback(f"{path} is a directory or submodule in HEAD")
            changes.append((path, blob_mode(st_mode, trust_exec_bit, old)))
        if fresh:
            # `git add` refuses an ignored untracked path; the porcelain says so.
            # --no-index: no read of the whole index (a tracked path reported
            # as ignored only costs the fallback, which is right anyway).
            status, out, err = self.try_run("check-ignore", "--no-index", "--", *fresh)
            if status != 1:
                raise _Fallback(f"ignored or unknown: {out or err}".strip())
        blobs = self._hash_files(paths, env)
        _reached("hash_files")
        if len(blobs) != len(paths) or any(len(b) != 2 * hash_len for b in blobs):
            raise _Fallback("unexpected git hash-object output")
        placed = [
            (path, mode, bytes.fromhex(b)) for (path, mode), b in zip(changes, blobs, strict=True)
        ]
        root, new_trees = splice(trees, placed, hash_len)
        if root == parent_tree:
            raise _Fallback("nothing to commit")
        self._write_trees(new_trees, env)
        _reached("write_trees")
        commit = self._commit_tree(root, parent, text, env)
        _reached("commit_tree")
        if len(commit) != 2 * hash_len:
            raise _Fallback("unexpected git commit-tree output")
        action = env.get("GIT_REFLOG_ACTION") or "commit"
        return _Plan(
            parent=parent,
            commit=commit,
            reflog=f"{action}: {text.split(chr(10), 1)[0][:_REFLOG_MAX]}",
            written=[*blobs, *(oid for oid, _ in new_trees), commit],
            maintenance=maintenance,
        )

    def _work_file_mode(self, path: str) -> int:
        """``st_mode`` of a plain file at a plain path, else `_Fallback`."""
        parts = path.split("/")
        if any(part in ("", ".", "..") or part.lower() == ".git" for part in parts) or any(
            c in path for c in "\n\0\\"
        ):
            raise _Fallback(f"unusual path {path!r}")
        for i in range(1, len(parts)):
            if os.path.islink(self.root.joinpath(*parts[:i])):
                raise _Fallback(f"{path}: a directory on the path is a symbolic link")
        try:
            st = os.lstat(self.root / path)
        except FileNotFoundError:
            raise _Fallback(f"{path} is deleted") from None
        if not stat.S_ISREG(st.st_mode):
            raise _Fallback(f"{path} is not a regular file")
        return st.st_mode

    def _commit_config(self) -> dict[str, str | None]:
        """The settings that decide whether plumbing commits like ``git commit``
        (one git call; None: a key without a value, which git reads as true)."""
        status, out, err = self.try_run("config", "-z", "--get-regexp", _COMMIT_CONFIG)
        if status not in (0, 1):  # 1: none of them is set
            raise _Fallback(f"git config failed: {err.strip()}")
        values: dict[str, str | None] = {}
        for item in out.split("\0"):
            if item:
                key, sep, value = item.partition("\n")
                values[key] = value if sep else None
        return values

    def _check_hooks(self, config: Mapping[str, str | None]) -> None:
        if "core.hookspath" in config:
            given = config["core.hookspath"]
            if given is None:
                raise _Fallback("core.hooksPath has no value")
            hooks = Path(os.path.expanduser(given))
            if not hooks.is_absolute():
                hooks = self.root / hooks
        else:
            hooks = self.common_dir / "hooks"
        for name in _COMMIT_HOOKS:
            if os.access(hooks / name, os.X_OK):
                raise _Fallback(f"a {name} hook is installed")

    def _read_head(self, dirs: Sequence[str]) -> tuple[str, str, dict[str, Tree], int]:
        """HEAD's commit ID, its root tree ID, the trees ``dirs`` name in it
        (a missing one empty), and the hash length in bytes: one ``git
        cat-file --batch``. Checks that every tree belongs to the commit read
        first, so a HEAD moving in between is noticed."""
        names = [b"HEAD", b"HEAD^{tree}", *(b"HEAD:" + d.encode() for d in dirs[1:])]
        out = self.run_bytes("cat-file", "--batch", stdin=b"\n".join(names) + b"\n")
        objects = parse_batch(out, len(names))
        head = objects[0]
        if head is None or head[1] != "commit":
            raise _Fallback("no commit on HEAD yet")
        parent = head[0]
        hash_len = len(parent) // 2
        if hash_len not in (20, 32):
            raise _Fallback("unknown object format")
        first = head[2].split(b"\n", 1)[0]
        if not first.startswith(b"tree "):
            raise _Fallback("unexpected commit object")
        parent_tree = first[5:].decode()
        trees: dict[str, Tree] = {}
        for folder, obj in zip(dirs, objects[1:], strict=True):
            if obj is None:
                trees[folder] = Tree(None)
            elif obj[1] != "tree":
                raise _Fallback(f"{folder} is not a directory in HEAD")
            else:
                trees[folder] = Tree(bytes.fromhex(obj[0]), parse_tree(obj[2], hash_len))
        if trees[""].oid != bytes.fromhex(parent_tree):
            raise _Fallback("HEAD moved while reading it")
        for folder in dirs[1:]:
            above, name = split_path(folder)
            entry = trees[above].entries.get(name.encode())
            if entry is not None and not is_tree(entry[0]):
                raise _Fallback(f"{folder} is a file or submodule in HEAD")
            if trees[folder].oid != (entry[1] if entry else None):
                raise _Fallback("HEAD moved while reading it")
        return parent, parent_tree, trees, hash_len

    def _hash_files(self, paths: Sequence[str], env: dict[str, str]) -> list[str]:
        """Store the files as blobs, converted as ``git add`` would (attributes, filters)."""
        return self.run("hash-object", "-w", "--", *paths, env=env).split()

    def _write_trees(self, trees: Sequence[tuple[str, bytes]], env: dict[str, str]) -> None:
        """Write the new trees (ID, content as computed here) with one ``git
        hash-object -t tree``, which checks their format; git must arrive at
        the same IDs. Their contents go through files in the state directory
        (named as the temporary files `Store.recover` sweeps)."""
        folder = self.git_dir / "elinkctl"
        folder.mkdir(parents=True, exist_ok=True)
        files = [folder / f".tree.{os.getpid()}.{n}.tmp" for n in range(len(trees))]
        try:
            for path, (_, content) in zip(files, trees, strict=True):
                path.write_bytes(content)
            out = self.run(
                "hash-object", "-w", "-t", "tree", "--no-filters", "--", *map(str, files), env=env
            )
        finally:
            for path in files:
                path.unlink(missing_ok=True)
        if out.split() != [oid for oid, _ in trees]:
            raise _Fallback("git wrote other trees than expected")

    def _commit_tree(self, tree: str, parent: str, text: str, env: dict[str, str]) -> str:
        # Through stdin (``-F -``, taken verbatim): a long message is no argument.
        stdin = text.encode("utf-8", "surrogateescape")
        out = self.run_input("commit-tree", tree, "-p", parent, "-F", "-", stdin=stdin, env=env)
        return out.strip()

    def _move_head(self, new: str, old: str, reflog: str, env: dict[str, str]) -> bool:
        """Point HEAD (its branch) at ``new`` if it still is ``old``."""
        status, _, _ = self.try_run("update-ref", "-m", reflog, "HEAD", new, old, env=env)
        if status == 0:
            return True
        status, head, _ = self.try_run("rev-parse", "--verify", "-q", "HEAD")
        return status == 0 and head.strip() == new

    def _update_index(self, paths: Sequence[str], env: dict[str, str]) -> None:
        """Make git's index entries of ``paths`` match the work tree (and so
        HEAD), stat data included; other entries are left as they are.

        The commit is made already: a short wait for a concurrent git's
        ``index.lock`` beats failing a command whose change is recorded."""
        import time

        deadline = time.monotonic() + self.index_lock_wait
        delay = 0.02
        while True:
            status, _, err = self.try_run("update-index", "--add", "--", *paths, env=env)
            if status == 0:
                return
            if "index.lock" not in err or time.monotonic() > deadline:
                detail = err.strip().replace("\n", " ")
                raise StoreError(
                    f"committed, but git update-index failed: {detail} "
                    "(the next elinkctl command brings git's index up to date)"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def matches_head(self, paths: Sequence[str]) -> bool:
        """Whether HEAD holds every one of ``paths`` exactly as the work tree
        does (content as ``git add`` would store it); False without a HEAD."""
        status, listing, _ = self.try_run("ls-tree", "-z", "--full-tree", "HEAD", "--", *paths)
        if status != 0:
            return False
        in_head: dict[str, str] = {}
        for item in listing.split("\0"):
            meta, tab, path = item.partition("\t")
            if tab:
                in_head[path] = meta.split(" ")[-1]
        hashes = self.run("hash-object", "--", *paths).split()
        return len(hashes) == len(paths) and all(
            in_head.get(path) == oid for path, oid in zip(paths, hashes, strict=True)
        )

    def default_email(self) -> str:
        return self.config_get("user.email") or "elinkctl@localhost"

    def has_changes(self, paths: Sequence[str]) -> bool:
        out = self.run("status", "--porcelain", "--untracked-files=all", "--", *paths)
        return bool(out.strip())


def init_repo(root: Path) -> Git:
    import git as gitpython

    gitpython.Repo.init(root, initial_branch="main")
    return Git(root)
