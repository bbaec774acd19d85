"""Where things live in a store (DESIGN §6)."""

from __future__ import annotations

import re

from elinkctl.domain import ids

TICKETS = "tickets"
"""``tickets/YYYY/MM/<ID>.yaml``: one file per incident, sharded by the month in its ID."""
KNOWLEDGE = "knowledge"
"""``knowledge/<KB-ID>.md``: one Markdown article with YAML front matter each."""

ARTICLE_PATH = re.compile(r"^knowledge/KB-[0-9A-HJKMNP-TV-Z]{5}\.md$")


def is_journalable(rel: str) -> bool:
    """A path the journal may name: a ticket in its shard, or an article.

    Checked again on recovery, so a tampered journal can never make the
    next command commit anything else."""
    parts = rel.split("/")
    if len(parts) == 4 and parts[0] == TICKETS and parts[3].endswith(".yaml"):
        stem = parts[3][: -len(".yaml")]
        return ids.is_valid(stem) and tuple(parts[1:3]) == ids.shard(stem)
    return bool(ARTICLE_PATH.match(rel))
