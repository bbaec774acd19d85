"""`sync`: many desks, one shared git remote.

Under the store lock: fetch the remote branch, ``git merge`` it (a real
merge, never a rebase: shared history is never rewritten, and every
ticket both sides touched goes through the structural merge driver of
`elinkctl.domain.merge`), repair ID collisions, validate every ticket that
arrived or is about to leave with fsck's checks, push, and when another
clone pushed in between (push rejected) fetch and merge again — a bounded
number of times.

ID collisions. A merge driver may only write its ``%A`` file, but a
collision needs a *second* file. So the driver (`run_merge_driver`) writes
the winner (the earlier ``created`` event, the same choice in every clone)
to ``%A`` and stashes the loser — plus its base version when the base was
the same incident — as JSON under ``.git/elinkctl/collisions/``. After the
merge, `repair_collisions` writes the loser under `merge.renamed_id`
(derived from the incident itself, so two clones repairing the same
collision agree) with the old ID in ``aliases:``, merging into that file if
it already exists (the other clone's repair arrived first), and commits.
A stash is removed only after its commit, and applying one twice changes
nothing (events are united by content), so a sync killed half-way, or a
plain ``git pull`` followed by any later ``sync``, finishes the repair.

Exit policy (the CLI's): no remote configured is a legitimate one-clone
store — ``sync`` says so and exits 0. A configured remote that cannot be
reached (offline), a merge that cannot complete, or a merged store that
fails validation exits 1, local commits kept, so cron notices;
``check --sync`` reports the same as a warning and carries on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import time
from pathlib import Path
from typing import Any

from elinkctl.domain import merge, ticketfile
from elinkctl.domain.layout import KNOWLEDGE, TICKETS
from elinkctl.domain.model import Ticket
from elinkctl.errors import StoreError
from elinkctl.fsio import atomic_write
from elinkctl.store.clone import absolute_git_dir, merge_file_texts
from elinkctl.store.gitrepo import commit_env
from elinkctl.store.store import Store
from elinkctl.store.transaction import Transaction

COLLISIONS = "collisions"
MAX_ATTEMPTS = 5
OK_STATUSES = ("synced", "up-to-date", "no-remote")


@dataclasses.dataclass
class SyncReport:
    """What one sync did; `ok` says whether the desk is in step with the remote."""

    status: str = "up-to-date"
    """synced, up-to-date, no-remote, offline, conflict, refused, declined (by the
    remote: a pre-receive hook) or contended."""
    remote: str | None = None
    branch: str | None = None
    commits_in: int = 0
    commits_out: int = 0
    tickets_in: list[str] = dataclasses.field(default_factory=list)
    articles_in: list[str] = dataclasses.field(default_factory=list)
    collisions: list[dict[str, str]] = dataclasses.field(default_factory=list)
    problems: list[str] = dataclasses.field(default_factory=list)
    attempts: int = 0
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["ok"] = self.ok
        return data

    def summary(self) -> str:
        """One line for stderr (and for `check --sync`)."""
        where = f"{self.remote}/{self.branch}" if self.remote else "sync"
        if self.status == "no-remote":
            return f"sync: {self.message}"
        if not self.ok:
            return f"sync {where}: {self.message}"
        if self.status == "up-to-date":
            return f"sync {where}: up to date"
        parts = [f"{self.commits_in} commit(s) in"]
        if self.tickets_in:
            shown = ", ".join(self.tickets_in[:10]) + (" …" if len(self.tickets_in) > 10 else "")
            parts.append(f"{len(self.tickets_in)} ticket(s) changed: {shown}")
        if self.articles_in:
            parts.append(f"{len(self.articles_in)} article(s) changed")
        for c in self.collisions:
            parts.append(f"ID collision: another incident of {c['old']} is now {c['new']}")
        parts.append(f"{self.commits_out} commit(s) out")
        return f"sync {where}: " + "; ".join(parts)


# --- the merge driver -------------------------------------------------------------


def run_merge_driver(
    base: Path, ours: Path, theirs: Path, rel: str, cwd: Path
) -> tuple[int, str | None]:
    """What ``elinkctl merge-file %O %A %B %P`` does: (exit status, a note for git's output).

    Writes the result over ``ours`` (git's ``%A``). Non-zero only when a side
    is not a ticket at all: git then reports a conflict, ``ours`` untouched.
    """
    texts = [p.read_text(encoding="utf-8") if p.exists() else "" for p in (base, ours, theirs)]
    if rel.startswith(f"{KNOWLEDGE}/") and rel.endswith(".md"):
        result = merge.merge_article_texts(texts[0], texts[1], texts[2], merge_file_texts)
        ours.write_text(result, encoding="utf-8")
        return 0, None
    try:
        merged = merge.merge_ticket_texts(texts[0], texts[1], texts[2])
    except merge.MergeError as exc:
        return 1, f"{rel}: {exc}"
    note = None
    if merged.collision is not None:
        stash_collision(absolute_git_dir(cwd) / "elinkctl", merged)
        note = f"{rel}: {merged.notes[0]}; run `elinkctl sync` to give it a new ID"
    ours.write_text(merged.text, encoding="utf-8")
    return 0, note


def stash_collision(state_dir: Path, merged: merge.TicketMerge) -> Path:
    """Keep the losing incident of a collision for `repair_collisions`."""
    assert merged.collision is not None
    loser = merged.collision
    text = ticketfile.dumps(loser)
    base = ticketfile.dumps(merged.collision_base) if merged.collision_base else None
    key = merge.content_key(loser.events[0]) + text
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
    path = state_dir / COLLISIONS / f"{loser.id}-{digest}.json"
    data = {"id": loser.id, "loser": text, "base": base}
    atomic_write(path, json.dumps(data, ensure_ascii=False))
    return path


def repair_collisions(tx: Transaction) -> list[dict[str, str]]:
    """Write stashed collision losers under their new IDs, one commit each."""
    store = tx.store
    folder = store.state_dir / COLLISIONS
    if not folder.is_dir():
        return []
    stashes = sorted(folder.glob("*.json"))
    repaired: list[dict[str, str]] = []
    for stash in stashes:
        try:
            data = json.loads(stash.read_text(encoding="utf-8"))
            loser = merge.parse(str(data["loser"]))
            base = merge.parse(str(data["base"])) if data.get("base") else None
        except (ValueError, KeyError, TypeError, merge.MergeError):
            stash.rename(stash.with_suffix(".unreadable"))
            continue
        ticket, is_new = _place_loser(store, loser, base)
        tx.put(ticket, is_new=is_new)
        tx.commit(
            f"{ticket.id}: ID collision: {loser.id} also names another incident; "
            f"this one renamed to {ticket.id} ({loser.id} kept as an alias)",
            new_steps=False,
        )
        stash.unlink()
        repaired.append({"old": loser.id, "new": ticket.id})
    return repaired


def _place_loser(store: Store, loser: Ticket, base: Ticket | None) -> tuple[Ticket, bool]:
    for attempt in range(100):
        new_id = merge.renamed_id(loser, attempt)
        renamed = merge.rename(loser, new_id)
        path = store.path_of(new_id)
        if not path.exists():
            return merge.finished(renamed), True
        existing = merge.parse(path.read_text(encoding="utf-8"))
        if merge.content_key(existing.events[0]) == merge.content_key(loser.events[0]):
            base_r = merge.rename(base, new_id) if base else None
            return merge.merge_tickets(base_r, existing, renamed), False
    raise StoreError(f"cannot find a new ID for the colliding incident {loser.id}")


# --- sync -----------------------------------------------------------------------------


def sync_store(
    store: Store,
    actor: str,
    *,
    remote: str | None = None,
    push: bool = True,
    max_attempts: int = MAX_ATTEMPTS,
) -> SyncReport:
    """Fetch, merge, validate, push (retrying when another clone pushed first).

    One transaction: the lock is held from the fetch to the push, so no
    local command commits in the middle of a merge. Never raises for network
    trouble: the report's ``status`` says what happened and ``ok`` whether
    it is fine.
    """
    with store.transaction(actor) as tx:
        return _sync(tx, remote, push, max_attempts)


def _default_remote(store: Store, branch: str) -> str | None:
    remotes = store.git.run("remote").split()
    if not remotes:
        return None
    configured = store.git.config_get(f"branch.{branch}.remote")
    if configured in remotes:
        return configured
    return "origin" if "origin" in remotes else remotes[0]


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith("hint:")]
    return " ".join(lines[:2]) or "unknown git error"


def _sync(tx: Transaction, remote: str | None, push: bool, max_attempts: int) -> SyncReport:
    from elinkctl.store.clone import ensure_clone_config

    store, actor = tx.store, tx.actor
    git = store.git
    ensure_clone_config(git)
    report = SyncReport()
    report.collisions.extend(repair_collisions(tx))
    rc, branch, _ = git.try_run("symbolic-ref", "--short", "-q", "HEAD")
    if rc != 0 or not branch:
        raise StoreError("sync needs a branch checked out (HEAD is detached)")
    report.branch = branch
    report.remote = remote or _default_remote(store, branch)
    if report.remote is None:
        report.status = "no-remote"
        report.message = (
            "no remote configured; nothing to sync (add one: git remote add origin URL)"
        )
        return report
    tracking = f"refs/remotes/{report.remote}/{branch}"
    email = store.author_email(actor)
    env = commit_env(actor, email, store.commit_date())
    env["GIT_MERGE_AUTOEDIT"] = "no"
    for attempt in range(1, max_attempts + 1):
        report.attempts = attempt
        rc, _, err = git.try_run(
            "fetch", "--quiet", "--no-tags", report.remote, f"+refs/heads/{branch}:{tracking}"
        )
        remote_head: str | None = None
        if rc != 0:
            if "couldn't find remote ref" not in err:
                report.status = "offline"
                report.message = (
                    f"cannot reach {report.remote}: {_first_line(err)}; local commits kept"
                )
                return report
        else:
            remote_head = git.run("rev-parse", "--verify", "-q", tracking) or None
        if remote_head is not None and not _merge_in(store, report, remote_head, env):
            return report
        report.collisions.extend(repair_collisions(tx))
        if not _validate(store, report, remote_head):
            return report
        span = f"{remote_head}..HEAD" if remote_head else "HEAD"
        ahead = int(git.run("rev-list", "--count", span))
        if ahead == 0 or not push:
            report.status = "synced" if report.commits_in or report.collisions else "up-to-date"
            return report
        rc, _, err = git.try_run("push", "--quiet", report.remote, f"HEAD:refs/heads/{branch}")
        if rc == 0:
            report.commits_out = ahead
            report.status = "synced"
            return report
        raced = any(s in err for s in ("failed to update ref", "cannot lock ref"))
        if "[remote rejected]" in err and not raced:
            # The remote's own refusal (a pre-receive hook): retrying cannot help.
            # A ref that moved while the remote updated it is a race: retried below.
            _declined(report, err)
            return report
        if not raced and not any(
            s in err for s in ("rejected", "fetch first", "non-fast-forward", "stale")
        ):
            report.status = "offline"
            report.message = (
                f"cannot push to {report.remote}: {_first_line(err)}; local commits kept"
            )
            return report
        time.sleep(random.uniform(0.02, 0.1) * attempt)  # another clone pushed first: again
    report.status = "contended"
    report.message = (
        f"other clones kept pushing first; gave up after {max_attempts} attempts "
        "(local commits kept; run sync again)"
    )
    return report


def _declined(report: SyncReport, err: str) -> None:
    """A push the remote refused: its reason, never retried (the same push
    would be refused again). A hook's own lines (``remote: …``, e.g. the
    findings of ``elinkctl verify``) become the report's problems."""
    lines = [ln.strip() for ln in err.splitlines()]
    said = [ln.removeprefix("remote:").strip() for ln in lines if ln.startswith("remote:")]
    report.problems = [ln for ln in said if ln]
    why = next((ln for ln in lines if "[remote rejected]" in ln), "")
    reason = why.rpartition("(")[2].rstrip(")") if "(" in why else "refused"
    report.status = "declined"
    report.message = (
        f"{report.remote} refused the push ({reason}); local commits kept. "
        "Fix what it says, commit, and run sync again"
    )


def _merge_in(store: Store, report: SyncReport, remote_head: str, env: dict[str, str]) -> bool:
    """Merge the fetched branch; False (report filled in) when it cannot."""
    git = store.git
    behind = int(git.run("rev-list", "--count", f"HEAD..{remote_head}"))
    if behind == 0:
        return True
    before = git.run("rev-parse", "HEAD")
    marker = store.state_dir / "merging"
    # Store.recover undoes a merge killed half-way: it puts back every path
    # the merge could have touched (between these two commits) to HEAD.
    atomic_write(marker, f"{before}\n{remote_head}\n")
    message = f"sync: merge {report.remote}/{report.branch}"
    rc, _, err = git.try_run(
        "merge", "--no-edit", "--no-verify", "-m", message, remote_head, env=env
    )
    if rc != 0:
        conflicted = git.run("diff", "--name-only", "--diff-filter=U").split()
        if (store.state_dir.parent / "MERGE_HEAD").exists():
            git.run("merge", "--abort")
        marker.unlink(missing_ok=True)
        report.status = "conflict"
        what = f"cannot merge {', '.join(conflicted)}" if conflicted else _first_line(err)
        report.message = f"{what}; nothing changed, local commits kept"
        return False
    marker.unlink(missing_ok=True)
    report.commits_in += behind
    changed = git.run("diff", "--name-only", before, "HEAD", "--", TICKETS, KNOWLEDGE).split()
    for rel in changed:
        stem = Path(rel).stem
        if rel.startswith(f"{TICKETS}/") and rel.endswith(".yaml"):
            if stem not in report.tickets_in:
                report.tickets_in.append(stem)
        elif rel.startswith(f"{KNOWLEDGE}/") and stem not in report.articles_in:
            report.articles_in.append(stem)
    return True


def _validate(store: Store, report: SyncReport, remote_head: str | None) -> bool:
    """fsck what arrived and what would leave; refuse to push a broken store."""
    from elinkctl.services.fsck import check_ticket_text

    git = store.git
    if remote_head:
        rels = git.run("diff", "--name-only", remote_head, "HEAD", "--", TICKETS, KNOWLEDGE).split()
    else:
        rels = git.run("ls-files", "--", TICKETS, KNOWLEDGE).split()
    rels += [store.rel(store.path_of(i)) for i in report.tickets_in]
    problems: list[str] = []
    for rel in dict.fromkeys(rels):
        path = store.root / rel
        try:
            if path.is_file():
                text = path.read_text(encoding="utf-8")
            elif (blob := store.sparse_blob(rel)) is not None:
                # Outside a sparse checkout: what git holds is what would leave.
                from elinkctl.cache.blobs import reader

                text = reader(store.root).read(blob).decode("utf-8")
            else:
                continue
        except (OSError, UnicodeDecodeError):
            problems.append(f"{rel}: not UTF-8 text")
            continue
        if rel.startswith(f"{TICKETS}/") and rel.endswith(".yaml"):
            problems.extend(check_ticket_text(rel, path.stem, text))
        elif merge._has_markers(text):
            problems.append(f"{rel}: git conflict marker")
    if problems:
        report.problems = problems
        report.status = "refused"
        report.message = (
            f"{len(problems)} problem(s) in merged tickets; not pushed. Fix them "
            "(elinkctl fsck lists them), commit, and run sync again"
        )
        return False
    return True
