"""Incident IDs: unique across clones without coordination, short to type.

``INC-YYMMDD-XXXXX``: the date the incident was opened (so the file's month
shard follows from the ID) and five random Crockford base32 characters
(33 million per day; two clones each opening 100 incidents a day collide
about once in a decade, and the merge driver keeps both when they do).
Crockford's alphabet has no I, L, O, U, so IDs read aloud over the phone
survive; input is case-insensitive and maps I/L→1, O→0.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Container

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ID_RE = re.compile(r"^INC-(\d{2})(\d{2})(\d{2})-([0-9A-HJKMNP-TV-Z]{5})$")
# What a user may type to name a ticket: ID fragments, never path separators.
FRAGMENT_RE = re.compile(r"^[0-9A-Za-z-]{1,32}$")
_TRANSLATE = str.maketrans({"I": "1", "L": "1", "O": "0"})


YEARS = (2000, 2099)
"""The years an ID can name: it carries two digits of the year (INC-YYMMDD-…),
and its month folder (tickets/YYYY/MM) is read back from them."""


def new_id(opened: dt.date, taken: Container[str], rand: Callable[[int], int] | None = None) -> str:
    """A fresh ID for an incident opened on ``opened`` not in ``taken``."""
    if rand is None:
        import secrets  # only when registering: its import costs more than the rest

        rand = secrets.randbelow
    while True:
        suffix = "".join(ALPHABET[rand(32)] for _ in range(5))
        candidate = f"INC-{opened:%y%m%d}-{suffix}"
        if candidate not in taken:
            return candidate


def is_valid(ticket_id: str) -> bool:
    return bool(ID_RE.match(ticket_id))


def normalize_fragment(text: str) -> str:
    """Upper-case a typed ID fragment and fix look-alike letters in the random part."""
    raw = text.strip().upper()
    if raw.startswith("INC-") and raw.count("-") == 2:
        head, date, suffix = raw.split("-")
        return f"{head}-{date}-{suffix.translate(_TRANSLATE)}"
    return raw


def shard(ticket_id: str) -> tuple[str, str]:
    """(YYYY, MM) of the month the incident was opened, from a full ID."""
    m = ID_RE.match(ticket_id)
    if not m:
        raise ValueError(f"not an incident ID: {ticket_id!r}")
    return f"20{m.group(1)}", m.group(2)
