"""Every check one ticket file must pass, on its text: what `fsck` reports for a
file in the store and `verify` for a file in a pushed commit (one rule set)."""

from __future__ import annotations

from elinkctl import yamlio
from elinkctl.domain import ids, lifecycle, ticketfile
from elinkctl.domain.model import Ticket
from elinkctl.errors import ElinkError


def check_text(path: str, text: str) -> tuple[Ticket | None, list[str]]:
    """The ticket at store-relative ``path`` and its problems, one line each
    (without the path): it parses, the ID matches the file name and shard,
    the state lines agree with the events, the history follows the process."""
    stem = path.rsplit("/", 1)[-1].removesuffix(".yaml")
    try:
        ticket = ticketfile.loads(text)
    except ticketfile.FormatError as exc:
        return None, [f"line {exc.line}: {exc}" if exc.line else str(exc)]
    problems: list[str] = []
    if ticket.id != stem:
        problems.append(f"line {_line(text, 'id')}: id {ticket.id} does not match the file name")
    else:
        year, month = ids.shard(ticket.id)
        if not path.startswith(f"tickets/{year}/{month}/"):
            problems.append(f"belongs in tickets/{year}/{month}/")
    data = yamlio.load(text)
    for mismatch in ticketfile.state_mismatches(data, ticket):
        key = mismatch.split(":", 1)[0]  # fsck names the line of the key (or the file's first)
        problems.append(f"line {_line(text, key)}: state disagrees with events: {mismatch}")
    try:
        lifecycle.check_history(ticket.events)
    except ElinkError as exc:
        problems.append(f"impossible history: {exc}")
    return ticket, problems


def _line(text: str, key: str) -> int:
    return yamlio.line_of_key(text, [key]) or 1
