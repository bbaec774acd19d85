"""The bounds of intake: what a mail or an alert payload may hold.

Mail and webhooks come from outside, and a hostile or broken sender can
make a small input expensive: JSON nested 100,000 deep, a number of
thousands of digits, a mail of a thousand nested multiparts, thousands of
alerts at once. Each bound below is checked before anything is written,
and going beyond it is one clean `IngestError` (the CLI's data error, exit
65), never a traceback and never a half-written store. docs/security.md
states them and what they cost.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from elinkctl.ingest.errors import IngestError

MAX_ALERTS = 3_000
"""Alerts in one payload (an alert storm; Alertmanager groups far fewer,
and ``max_alerts`` in its webhook config keeps it below). 3,000 register in
about 3 s and 60 MB (load average 4, 2 cores); a larger payload is refused
whole, nothing written, so the sender can split it."""

MAX_JSON_DEPTH = 32
"""Nesting of a JSON payload (objects and arrays). Alertmanager's is 4 deep."""

MAX_NUMBER_CHARS = 64
"""Characters of one JSON number (Python refuses to print an int of more
than 4,300 digits; no alert field needs more than a timestamp)."""

MAX_FIELD_CHARS = 64 * 1024
"""Characters kept of one label, annotation or Zabbix field; a longer one is
cut and ends with ``…`` (the 10 MB input cap bounds the rest)."""

MAX_MIME_PARTS = 500
"""MIME parts (and nested messages) in one mail: a thousand multiparts deep
is refused before Python's mail parser recurses into it."""

MAX_MIME_DEPTH = 20
"""Nesting of multiparts in one mail."""

YEARS = (1900, 9000)
"""Years a time from a sender may lie within (elinkctl.yamlio.YEARS: what a
ticket file may hold); beyond them the payload is refused, a mail's Date
ignored."""

_SURROGATES = re.compile("[\ud800-\udfff]")


def _number(kind: type) -> Any:
    def parse(text: str) -> Any:
        if len(text) > MAX_NUMBER_CHARS:
            raise IngestError(
                f"alert payload: a number of {len(text):,} characters (at most {MAX_NUMBER_CHARS})"
            )
        return kind(text)

    return parse


_PARSE_INT = _number(int)
_PARSE_FLOAT = _number(float)


def load_json(text: str, what: str = "alert payload") -> Any:
    """`json.loads` within the bounds: numbers of at most `MAX_NUMBER_CHARS`,
    nesting of at most `MAX_JSON_DEPTH`; strings longer than
    `MAX_FIELD_CHARS` cut and lone surrogates (``"\\ud800"``, which no file
    can hold) replaced by U+FFFD. Raises `IngestError` or
    ``json.JSONDecodeError``."""
    try:
        data = json.loads(text, parse_int=_PARSE_INT, parse_float=_PARSE_FLOAT)
    except RecursionError:
        raise IngestError(f"{what}: nested more than {MAX_JSON_DEPTH} levels deep") from None
    return _bounded(data, 0, what)


def _bounded(value: Any, depth: int, what: str) -> Any:
    if isinstance(value, str):
        return bounded_text(value)
    if depth >= MAX_JSON_DEPTH and isinstance(value, dict | list):
        raise IngestError(f"{what}: nested more than {MAX_JSON_DEPTH} levels deep")
    if isinstance(value, dict):
        return {bounded_text(k): _bounded(v, depth + 1, what) for k, v in value.items()}
    if isinstance(value, list):
        return [_bounded(v, depth + 1, what) for v in value]
    return value


def bounded_text(text: str) -> str:
    """``text`` as intake keeps it: at most `MAX_FIELD_CHARS`, no lone surrogates."""
    if len(text) > MAX_FIELD_CHARS:
        text = text[: MAX_FIELD_CHARS - 1] + "…"
    if _SURROGATES.search(text):
        text = _SURROGATES.sub("\ufffd", text)
    return text


def time_in_range(when: dt.datetime, where: str) -> dt.datetime:
    """``when`` if a ticket file can hold it, else `IngestError` naming ``where``."""
    if not YEARS[0] <= when.year <= YEARS[1]:
        raise IngestError(f"{where}: {when.isoformat()} is outside the years {YEARS[0]}–{YEARS[1]}")
    return when


def check_alert_count(count: int) -> None:
    if count > MAX_ALERTS:
        raise IngestError(
            f"alert payload: {count:,} alerts, at most {MAX_ALERTS:,} in one payload "
            "(nothing registered; split it, e.g. Alertmanager's max_alerts)"
        )


def check_mail_shape(data: bytes) -> None:
    """Refuse, before parsing, a mail with more MIME parts than `MAX_MIME_PARTS`
    (Python's parser recurses once per nested part)."""
    lowered = data.lower()
    parts = lowered.count(b"\ncontent-type:") + lowered.startswith(b"content-type:")
    if parts > MAX_MIME_PARTS:
        raise IngestError(
            f"email: {parts:,} MIME parts, at most {MAX_MIME_PARTS:,} "
            f"(and {MAX_MIME_DEPTH} levels of nesting)"
        )
