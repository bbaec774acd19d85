"""The check lease on the shared remote, as git sees it: one ref, read and
moved only by compare-and-swap.

``refs/elinkctl/lease`` on the remote names a commit without parents whose
tree holds two files:

- ``lease.json``: who holds the lease (a clone's host id), until when, and a
  sequence number that grows with every write;
- ``outbox.json``: the holder's outbox as the next holder needs it (keys
  delivered, items still pending); see `elinkctl.services.lease`.

Every write is a fresh parentless commit pushed with
``--force-with-lease=refs/elinkctl/lease:<the commit read>`` (or ``:`` — "must
not exist yet" — for the very first one), so of two hosts writing after
reading the same lease exactly one succeeds; the other learns that the lease
moved and reads it again. Parentless, because a chain of renewals every few
minutes would grow the remote forever; a replaced lease commit is garbage for
the remote's ``gc``. Unchanged file contents are the same blobs, so a renewal
costs one small commit and one tree.

The policy — who may take the lease, what is imported — is the service's;
this module only reads and writes, and never raises for network trouble:
`read_lease` and `push_lease` say what happened.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from elinkctl.errors import StoreError
from elinkctl.store.gitenv import commit_env
from elinkctl.store.gitrepo import Git

LEASE_REF = "refs/elinkctl/lease"
SEEN_REF = "refs/elinkctl/lease-seen"
"""The local copy of the remote lease as last fetched (objects stay reachable to read it)."""
LEASE_FILE = "lease.json"
OUTBOX_FILE = "outbox.json"
MAX_FILE_BYTES = 4 * 1024 * 1024
"""A lease file larger than this is not read (someone pushed junk to the ref):
the lease then counts as unreadable, and so as expired."""
LEASE_AUTHOR = "elinkctl-lease"
LEASE_EMAIL = "elinkctl-lease@localhost"


@dataclasses.dataclass(frozen=True)
class RemoteLease:
    """The lease as read from the remote. ``commit`` None: there is none yet."""

    commit: str | None
    record: dict[str, Any] = dataclasses.field(default_factory=dict)
    outbox: dict[str, Any] = dataclasses.field(default_factory=dict)
    problem: str = ""
    """Why the lease commit could not be read (it then counts as expired)."""


@dataclasses.dataclass(frozen=True)
class PushResult:
    """``ok``; ``moved`` (another host wrote the lease first: read it again);
    ``refused`` (the remote's own refusal, e.g. a hook) or ``offline``."""

    status: str
    message: str = ""


def lease_remote(git: Git) -> str | None:
    """The remote `sync` uses: the branch's, else ``origin``, else the first; None: none."""
    rc, out, _ = git.try_run("remote")
    remotes = out.split() if rc == 0 else []
    if not remotes:
        return None
    rc, branch, _ = git.try_run("symbolic-ref", "--short", "-q", "HEAD")
    configured = git.config_get(f"branch.{branch}.remote") if rc == 0 and branch else None
    if configured in remotes:
        return configured
    return "origin" if "origin" in remotes else remotes[0]


def first_line(text: str) -> str:
    """The gist of git's stderr for a one-line message."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith("hint:")]
    return " ".join(lines[:2]) or "unknown git error"


def read_lease(git: Git, remote: str) -> RemoteLease | str:
    """Fetch the remote's lease; a string says why the remote could not be read."""
    rc, _, err = git.try_run(
        "fetch",
        "--quiet",
        "--no-tags",
        "--no-write-fetch-head",
        remote,
        f"+{LEASE_REF}:{SEEN_REF}",
    )
    if rc != 0:
        if "couldn't find remote ref" in err:
            git.try_run("update-ref", "-d", SEEN_REF)
            return RemoteLease(None)
        if "cannot lock ref" in err or "failed to update ref" in err:
            # Another `check` of this clone fetched at the same moment: its copy will do.
            pass
        else:
            return f"cannot reach {remote}: {first_line(err)}"
    rc, commit, _ = git.try_run("rev-parse", "--verify", "-q", f"{SEEN_REF}^{{commit}}")
    if rc != 0 or not commit:
        return RemoteLease(None)
    record, problem = _read_json(git, commit, LEASE_FILE)
    outbox, problem2 = _read_json(git, commit, OUTBOX_FILE)
    if problem:
        return RemoteLease(commit, {}, {}, problem)
    return RemoteLease(commit, record, outbox if not problem2 else {}, "")


def _read_json(git: Git, commit: str, name: str) -> tuple[dict[str, Any], str]:
    """A JSON object file of the lease commit; ({}, why) when it is not one."""
    rc, size, _ = git.try_run("cat-file", "-s", f"{commit}:{name}")
    if rc != 0:
        return {}, f"the lease commit {commit[:12]} has no {name}"
    if not size.isdigit() or int(size) > MAX_FILE_BYTES:
        return {}, f"{name} of the lease commit {commit[:12]} is larger than {MAX_FILE_BYTES} bytes"
    try:
        raw = git.run_bytes("cat-file", "blob", f"{commit}:{name}")
        data = json.loads(raw.decode("utf-8"))
    except (StoreError, UnicodeDecodeError, ValueError, RecursionError):
        return {}, f"{name} of the lease commit {commit[:12]} is not JSON"
    if not isinstance(data, dict):
        return {}, f"{name} of the lease commit {commit[:12]} is not a JSON object"
    return data, ""


def dumps(data: dict[str, Any], *, pretty: bool = True) -> bytes:
    """Canonical JSON: the same content is the same blob (renewals share it)."""
    if pretty:
        text = json.dumps(data, ensure_ascii=False, sort_keys=True, indent=1)
    else:  # the outbox snapshot: thousands of keys, kept small
        text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return (text + "\n").encode("utf-8")


def write_lease(git: Git, record: dict[str, Any], outbox: dict[str, Any], message: str) -> str:
    """Write a parentless lease commit into this clone's objects; its id."""
    entries = []
    for name, data in ((LEASE_FILE, record), (OUTBOX_FILE, outbox)):
        text = dumps(data, pretty=name == LEASE_FILE)
        blob = git.run_bytes("hash-object", "-w", "--stdin", stdin=text).decode().strip()
        entries.append(f"100644 blob {blob}\t{name}\n")
    tree = git.run_bytes("mktree", stdin="".join(entries).encode()).decode().strip()
    env = commit_env(LEASE_AUTHOR, LEASE_EMAIL)
    # Not a desk commit: never signed (a cron host has no key), no hooks run.
    out = git.run_bytes("commit-tree", "--no-gpg-sign", tree, "-m", message, env=env)
    return out.decode().strip()


def push_lease(git: Git, remote: str, new: str, expected: str | None) -> PushResult:
    """Move the remote's lease from ``expected`` (None: absent) to ``new``, or not at all."""
    rc, out, err = git.try_run(
        "push",
        "--porcelain",
        "--no-verify",
        f"--force-with-lease={LEASE_REF}:{expected or ''}",
        remote,
        f"{new}:{LEASE_REF}",
    )
    if rc == 0:
        git.try_run("update-ref", SEEN_REF, new)
        return PushResult("ok")
    both = f"{out}\n{err}"
    if "stale info" in both or "already exists" in both or "fetch first" in both:
        return PushResult("moved", "another host wrote the lease first")
    if "failed to update ref" in both or "cannot lock ref" in both:
        return PushResult("moved", "another host was writing the lease")
    if "[remote rejected]" in both:
        why = next((ln for ln in both.splitlines() if "[remote rejected]" in ln), "")
        reason = why.rpartition("(")[2].rstrip(")") if "(" in why else "refused"
        return PushResult("refused", f"{remote} refused {LEASE_REF} ({reason})")
    return PushResult("offline", f"cannot push {LEASE_REF} to {remote}: {first_line(err)}")
