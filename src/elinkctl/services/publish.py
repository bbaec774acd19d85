"""`index publish`: what the check host ships on the branch ``elinkctl-index``.

The ticket index with the facts and folds of a plain `stats`, the check
plan, and the knowledge base's search and suggestion databases, all brought
up to date first, as one parentless commit (`elinkctl.cache.shipped`,
`elinkctl.cache.shipped_kb`); optionally force-pushed. A clone checks every
part before it uses it.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from elinkctl.cache.shipped import BRANCH
from elinkctl.errors import StoreError

__all__ = ["BRANCH", "Published", "publish_index", "push"]

if TYPE_CHECKING:
    from elinkctl.domain.selection import TicketFilter
    from elinkctl.services.context import Context


@dataclasses.dataclass(frozen=True)
class Published:
    commit: str
    rows: int
    size: int
    """Bytes of the index file published."""


def publish_index(ctx: Context, everything: TicketFilter) -> Published:
    """Bring the caches up to date and commit them as the branch; a cache or
    git failure is one `StoreError` naming the step."""
    from elinkctl.cache import index_failed, shipped, shipped_kb
    from elinkctl.services import kb
    from elinkctl.services import stats as svc

    store = ctx.store
    rules = svc.sla_rules(store.config)
    svc.stats_of_store(store, rules, everything, ctx.now, on_error=lambda _: None)
    kb.refresh_databases(store)
    try:
        idx = store.index()
        idx.ensure_fresh()
        extra = shipped_kb.entries(store.root, store.state_dir)
        commit, rows, size = shipped.publish(idx.db, store.root, store.state_dir, extra)
    except Exception as exc:
        if not index_failed(exc):
            raise
        raise StoreError(f"index publish: {exc}") from None
    return Published(commit, rows, size)


def push(ctx: Context, remote: str) -> None:
    """Force-push the branch (the remote keeps one publication)."""
    from elinkctl.cache import shipped

    try:
        shipped.push(ctx.store.root, remote)
    except OSError as exc:
        raise StoreError(f"index publish: {exc}") from None
