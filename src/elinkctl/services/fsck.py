"""`fsck`: every check a ticket must pass, one line per problem."""

from __future__ import annotations

from elinkctl import yamlio
from elinkctl.domain import ids, lifecycle, ticketfile
from elinkctl.errors import ElinkError
from elinkctl.progress import Progress
from elinkctl.store.store import Store


def check_ticket_text(rel: str, stem: str, text: str) -> list[str]:
    problems: list[str] = []
    try:
        ticket = ticketfile.loads(text)
    except ticketfile.FormatError as exc:
        where = f"{rel} line {exc.line}" if exc.line else rel
        return [f"{where}: {exc}"]
    if ticket.id != stem:
        problems.append(f"{rel}: id {ticket.id} does not match the file name")
    else:
        year, month = ids.shard(ticket.id)
        if not rel.startswith(f"tickets/{year}/{month}/"):
            problems.append(f"{rel}: belongs in tickets/{year}/{month}/")
    data = yamlio.load(text)
    for mismatch in ticketfile.state_mismatches(data, ticket):
        problems.append(f"{rel}: state disagrees with events: {mismatch}")
    try:
        lifecycle.check_history(ticket.events)
    except ElinkError as exc:
        problems.append(f"{rel}: impossible history: {exc}")
    return problems


def check_store(store: Store) -> tuple[list[str], int]:
    problems: list[str] = []
    count = 0
    attached: list[str] = []  # IDs whose events name attachments
    base = store.root / "tickets"
    paths = sorted(p for p in base.rglob("*") if not p.is_dir()) if base.is_dir() else []
    bar = Progress(len(paths), "fsck", None if len(paths) >= 2000 else False)
    for path in paths:
        bar.step()
        if path.name in (".gitkeep",):
            continue
        rel = store.rel(path)
        if path.name.startswith(".") and path.name.endswith(".tmp"):
            problems.append(f"{rel}: leftover temporary file of an interrupted write")
            continue
        if path.suffix != ".yaml":
            problems.append(f"{rel}: not a ticket file")
            continue
        count += 1
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            problems.append(f"{rel}: not UTF-8 text")
            continue
        problems.extend(check_ticket_text(rel, path.stem, text))
        if "type: attached" in text:
            attached.append(path.stem)
    bar.finish()
    from elinkctl.services.visit import attachment_problems

    problems.extend(attachment_problems(store, attached))
    return problems, count
