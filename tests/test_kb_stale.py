"""Big stores: `new` suggests from the last built search index without refreshing it."""

from __future__ import annotations

from conftest import Desk
from elinkctl.services.kb import search_index
from elinkctl.store.store import Store


def resolved(desk: Desk, title: str, solution: str, now: str) -> str:
    tid = desk.new(now=now, title=title, system="VPN")
    desk.ok("resolve", tid, "--solution", solution, now=now)
    return tid


def test_stale_index_is_used_only_above_the_threshold(desk: Desk) -> None:
    first = resolved(desk, "VPN客户端无法连接", "重装客户端", "2026-11-23T10:00:00+08:00")
    desk.ok("kb", "search", "vpn", now="2026-11-23T10:01:00+08:00")  # builds the cache
    later = resolved(desk, "VPN证书过期无法连接", "重新导入证书", "2026-11-23T11:00:00+08:00")
    store = Store(desk.root)
    stale = search_index(store, stale_ok_above=0)  # the cache holds 1 doc > 0: used as is
    assert set(stale.ids) == {first}
    fresh = search_index(store, stale_ok_above=10)  # small: checked and refreshed
    assert set(fresh.ids) == {first, later}
