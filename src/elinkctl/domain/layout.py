"""Where things live in a store (DESIGN §6)."""

from __future__ import annotations

import re

from elinkctl.domain import ids

TICKETS = "tickets"
"""``tickets/YYYY/MM/<ID>.yaml``: one file per incident, sharded by the month in its ID."""
KNOWLEDGE = "knowledge"
"""``knowledge/<KB-ID>.md``: one Markdown article with YAML front matter each."""
ATTACHMENTS = "attachments"
"""``attachments/<ID>/<name>``: files attached to an incident (`attach`): the
signed service form, photos, logs. Never read into the index."""

ARTICLE_PATH = re.compile(r"^knowledge/KB-[0-9A-HJKMNP-TV-Z]{5}\.md$")
REPORTS = "reports"
"""``reports/YYYY/MM/<ID>-major.md`` and ``.html``: issued major incident reports."""
_REPORT_PATH = re.compile(r"^reports/(\d{4})/(\d{2})/(INC-[^/]+)-major\.(md|html)$")


def _report_path(rel: str) -> bool:
    """An issued report of a valid ID, in that ID's month folder."""
    match = _REPORT_PATH.match(rel)
    if match is None:
        return False
    year, month, ticket_id, _ = match.groups()
    return ids.is_valid(ticket_id) and (year, month) == ids.shard(ticket_id)


def is_journalable(rel: str) -> bool:
    """A path the journal may name: a ticket in its shard, an article, or an
    attachment of a valid ID under a safe name.

    Checked again on recovery, so a tampered journal can never make the
    next command commit anything else."""
    parts = rel.split("/")
    if len(parts) == 4 and parts[0] == TICKETS and parts[3].endswith(".yaml"):
        stem = parts[3][: -len(".yaml")]
        return ids.is_valid(stem) and tuple(parts[1:3]) == ids.shard(stem)
    return bool(ARTICLE_PATH.match(rel) or _report_path(rel)) or is_attachment_path(rel)


# A stored name keeps letters and digits of any script (扫描件.pdf) and a few
# punctuation marks; everything else — separators, control and format
# characters, spaces, git's pathspec magic (* ? [ ] :) — becomes "_".
_UNSAFE = re.compile(r"[^\w.\-+@=,()]+")
_NAME_BYTES = 150
"""Room under the 255-byte limit of common file systems for a suffix."""


def safe_name(name: str) -> str:
    """The name a file given as ``name`` is stored under in ``attachments/<ID>/``.

    Only the last path component counts; no leading dot (a hidden file, or
    one the temporary-file sweep would remove) or dash (an option); at most
    150 UTF-8 bytes, the extension kept. ``safe_name(safe_name(x)) == safe_name(x)``.
    """
    import unicodedata  # here: only writers and fsck name files

    base = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).lstrip("._-").rstrip("._-")
    if len(cleaned.encode("utf-8")) > _NAME_BYTES:
        stem, dot, ext = cleaned.rpartition(".")
        if not dot or not stem or len(ext) > 16:
            stem, ext = cleaned, ""
        keep = _NAME_BYTES - len(ext.encode("utf-8")) - (1 if ext else 0)
        stem = stem.encode("utf-8")[:keep].decode("utf-8", "ignore").rstrip("._-")
        cleaned = f"{stem}.{ext}" if ext else stem
    return cleaned or "file"


def is_attachment_path(rel: str) -> bool:
    """``attachments/<valid ID>/<safe name>``, and nothing else."""
    parts = rel.split("/")
    return (
        len(parts) == 3
        and parts[0] == ATTACHMENTS
        and ids.is_valid(parts[1])
        and parts[2] == safe_name(parts[2])
    )
