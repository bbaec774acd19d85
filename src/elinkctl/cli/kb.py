"""`kb`: the knowledge base (知识库) — search, add, show, list, edit, decide.

The desk's first step on every call is to search it (DESIGN §3); l2 grows
it from resolved incidents with `kb add --from ID`, and records for every
closed incident whether its solution goes in: `kb add --from` records the
article, `kb decide --none` that none is needed. Articles are Markdown
files under knowledge/, so they are reviewed in pull requests like tickets.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from elinkctl.cli.options import (
    at_option,
    complete_kb_ids,
    id_argument,
    json_option,
    pass_context,
    run_step,
)
from elinkctl.cli.output import echo
from elinkctl.errors import ElinkError, UsageProblem
from elinkctl.services.context import Context

if TYPE_CHECKING:
    from elinkctl.kb.article import Article
    from elinkctl.kb.changes import ArticleChanges


def _interactive() -> bool:
    """An editor can only be opened for a person at a terminal who has chosen one."""
    return (
        sys.stdin.isatty()
        and sys.stderr.isatty()
        and bool(os.environ.get("VISUAL") or os.environ.get("EDITOR"))
    )


def _warn(message: str) -> None:
    echo(f"warning: {message}", err=True)


def _dump(data: Any) -> None:
    echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _changes(opts: Mapping[str, Any]) -> ArticleChanges:
    """What the `kb add`/`kb edit` flags given say about the article.

    A given but blank --title is refused here: an article is found by its title.
    """
    from elinkctl.kb.article import CAUSE, SOLUTION, SYMPTOM, WORKAROUND
    from elinkctl.kb.changes import ArticleChanges

    section_options = {
        "symptom_text": SYMPTOM,
        "cause": CAUSE,
        "solution": SOLUTION,
        "workaround": WORKAROUND,
    }
    if opts.get("title") is not None and not str(opts["title"]).strip():
        raise UsageProblem("--title must not be empty")
    return ArticleChanges(
        title=None if opts.get("title") is None else str(opts["title"]),
        systems=tuple(opts.get("system") or ()),
        modules=tuple(opts.get("module") or ()),
        keywords=tuple(opts.get("keyword") or ()),
        sections={
            name: str(opts[key])
            for key, name in section_options.items()
            if opts.get(key) is not None
        },
        incidents=tuple(opts.get("incident") or ()),
        reviewed=opts.get("reviewed"),
    )


def _edit_in_editor(text: str, rel: str) -> Article:
    """Open $VISUAL/$EDITOR on `text` until it parses, or raise (nothing saved).

    On an error the message (file, line) is shown and the author chooses to
    re-open the editor on what they wrote or to abort: a typo in the YAML
    front matter must not cost them the whole article.
    """
    import subprocess
    import tempfile

    from elinkctl.kb import ArticleError, parse_article

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    current = text
    while True:
        with tempfile.NamedTemporaryFile(
            "w", suffix=".md", prefix="elinkctl-kb-", delete=False, encoding="utf-8"
        ) as fh:
            fh.write(current)
            tmp = fh.name
        try:
            subprocess.run([*editor.split(), tmp], check=True)
            with open(tmp, encoding="utf-8") as fh:
                current = fh.read()
        except (OSError, subprocess.CalledProcessError, UnicodeDecodeError) as exc:
            raise ElinkError(f"editor failed: {exc}; nothing saved") from None
        finally:
            os.unlink(tmp)
        try:
            return parse_article(current, rel)
        except ArticleError as exc:
            echo(f"Error: {exc}", err=True)
            if not click.confirm("Re-open the editor?", default=True, err=True):
                raise ElinkError(f"{rel}: not saved (the edited text has errors)") from None


def _article_options(func: Any) -> Any:
    """Field flags shared by `kb add` and `kb edit`."""
    opts = [
        click.option("--title", help="标题: the problem as a caller would describe it."),
        click.option("--system", multiple=True, help="涉及系统 (repeatable)."),
        click.option("--module", multiple=True, help="所属模块 (repeatable)."),
        click.option("--keyword", multiple=True, help="关键词 (repeatable)."),
        click.option("--symptom", "symptom_text", help="现象 (its first line is the summary)."),
        click.option("--cause", help="原因."),
        click.option("--solution", help="解决方案."),
        click.option("--workaround", help="临时措施."),
        click.option(
            "--incident", multiple=True, metavar="ID", help="A source incident (repeatable)."
        ),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


@click.group()
def kb() -> None:
    """The knowledge base (知识库): solutions and workarounds of past incidents.

    \b
    Example:
      elinkctl kb search 'vpn 连不上'
      elinkctl kb add --from 7KQ2M          # draft from a resolved incident
      elinkctl kb decide 7KQ2M --none --reason '一次性问题'
      elinkctl kb show 7KQ2M
    """


@kb.command()
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", "-n", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--system", help="Prefer documents about this system.")
@click.option("--module", help="Prefer documents about this module.")
@click.option(
    "--kind", type=click.Choice(["kb", "ticket"]), help="Only articles or only past incidents."
)
@click.option(
    "--explain", is_flag=True, help="Say why each hit ranks: matched terms, synonyms, boosts."
)
@json_option
@pass_context
def search(
    ctx: Context,
    query: tuple[str, ...],
    limit: int,
    system: str | None,
    module: str | None,
    kind: str | None,
    explain: bool,
    json_: bool,
) -> None:
    """Search articles and resolved incidents, best first (Chinese, English or mixed).

    Incidents with the same title are one line ("ticket ×33": the latest is
    shown); an article that answers the query comes before incidents. A hit
    that covers too little of the query, or lacks its last word (what is
    broken), is marked weak.

    \b
    Example:
      elinkctl kb search 财务系统登录失败
      elinkctl kb search outlook 收不到邮件 --kind kb --json
      elinkctl kb search 'printer prints garbage' --explain
    """
    from elinkctl.services import kb as service

    store = ctx.store
    text = " ".join(query)
    lines, explained = service.search_lines(
        store,
        text,
        limit=limit,
        system=system,
        module=module,
        kind=kind,
        explain=explain,
        on_error=_warn,
    )
    if json_:
        out = []
        for ln in lines:
            h = ln.hit
            item: dict[str, Any] = {"id": h.id, "title": h.title, "score": h.score, "kind": h.kind}
            item.update(relevant=ln.relevant, coverage=h.coverage, similar_count=ln.similar_count)
            if explain:
                item["explain"] = _explanation_json(explained.get(h.id))
            out.append(item)
        _dump(out)
        return
    if not lines:
        echo("nothing found", err=True)
        return
    from tabulate import tabulate  # after the JSON path: ~80 ms of imports with wcwidth

    rows = [
        [
            ln.hit.id,
            ln.hit.kind if ln.similar_count == 1 else f"{ln.hit.kind} ×{ln.similar_count}",
            _short(ln.hit.title, 30),
            _short(service.solution_line(store, ln.hit), 50),
            "" if ln.relevant else "weak",
        ]
        for ln in lines
    ]
    echo(tabulate(rows, headers=["ID", "kind", "title", "solution", "fit"], disable_numparse=True))
    if any(ln.similar_count > 1 for ln in lines):
        echo("×N: N incidents with this title; the latest is shown", err=True)
    if not all(ln.relevant for ln in lines):
        echo(
            "weak: covers too little of the query, or of its last word (what is broken),"
            " to be its answer",
            err=True,
        )
    for ln in lines if explain else ():
        for line in _explanation_lines(ln.hit.id, ln.hit.score, explained.get(ln.hit.id)):
            echo(line)


def _explanation_json(e: Any) -> dict[str, Any] | None:
    if e is None:
        return None
    return {
        "terms": [{"term": t, "from": src, "score": c} for t, src, c in e.terms],
        "synonyms": [{"phrase": p, "terms": list(ts)} for p, ts in e.synonyms],
        "fields": dict(e.fields),
        "boost": e.boost,
        "coverage": e.coverage,
        "missing": list(e.missing),
        "lacks_last_word": e.lacks or None,
    }


def _explanation_lines(hit_id: str, score: float, e: Any) -> list[str]:
    """`kb search --explain` in words: one block per hit."""
    if e is None:
        return [f"{hit_id}: no explanation (not in the index)"]
    out = [
        f"{hit_id}: score {score} = matched terms × boost {e.boost} × (1 + coverage {e.coverage})"
    ]
    where = dict(e.fields)
    terms = ", ".join(
        f"{t} ({src} {c}{'; ' + where[t] if where.get(t) else ''})" for t, src, c in e.terms[:12]
    )
    out.append(f"  matched: {terms or '(none)'}")
    if e.synonyms:
        out.append("  synonyms: " + "; ".join(f"{p} → {', '.join(ts)}" for p, ts in e.synonyms))
    if e.missing:
        out.append("  not in it: " + " ".join(e.missing))
    if e.lacks:
        out.append(f"  weak whatever its coverage: lacks the query's last word {e.lacks!r}")
    return out


@kb.command()
@click.option(
    "--from",
    "from_id",
    metavar="ID",
    help="Draft from this resolved incident (opens $EDITOR on a terminal).",
)
@_article_options
@pass_context
def add(ctx: Context, from_id: str | None, **opts: Any) -> None:
    """Add an article; prints only its new ID on stdout.

    With --from, the article is drafted from the incident (title, system,
    description, solution, timeline). On a terminal with $EDITOR set, the
    draft opens in the editor and is checked before saving; otherwise the
    draft is saved as is, to be completed with `kb edit`.

    \b
    Example:
      elinkctl kb add --from 7KQ2M
      elinkctl kb add --title 'VPN客户端无法连接' --system VPN \\
          --keyword vpn --symptom '连接时提示超时' \\
          --solution '重装客户端并更新证书'
    """
    from elinkctl.kb import render_article
    from elinkctl.kb.article import PLACEHOLDER, SOLUTION
    from elinkctl.kb.changes import ArticleChanges
    from elinkctl.services import kb as service

    store = ctx.store
    actor = ctx.actor
    today = ctx.now.date()
    given = {k: v for k, v in opts.items() if v not in (None, ())}
    if from_id:
        article = service.draft_from_ticket(store, from_id, actor, today)
        if given:
            article = service.edit_article(store, article, _changes(given))
    elif given or not _interactive():
        if not str(opts.get("title") or "").strip():
            raise UsageProblem("missing --title (or use --from ID to draft from an incident)")
        if not (opts.get("solution") or opts.get("workaround")):
            raise UsageProblem("give --solution (or at least --workaround): an article is a fix")
        article = service.make_article(store, _changes(opts), actor, today)
    else:
        blank = ArticleChanges(title=PLACEHOLDER, sections={SOLUTION: PLACEHOLDER})
        article = service.make_article(store, blank, actor, today)
    if _interactive():
        rel = store.rel(service.article_path(store, article.id))
        edited = _edit_in_editor(render_article(article), rel)
        if edited.id != article.id:
            raise UsageProblem(f"the id must stay {article.id}; nothing saved")
        article = edited
    if from_id:
        added = service.add_article_from_incident(store, article, from_id, actor, ctx.now)
        echo(f"{article.id}: added {article.title}", err=True)
        if added.decision is not None:
            echo(added.decision.message, err=True)
        for note in added.notes:
            echo(note, err=True)
    else:
        service.add_article(store, article, actor)
        echo(f"{article.id}: added {article.title}", err=True)
    echo(article.id)


@kb.command()
@id_argument
@click.option(
    "--none",
    "none_",
    is_flag=True,
    help="No article is needed (a one-off, or the knowledge base already has it).",
)
@click.option("--reason", help="Why no article is needed (required with --none).")
@at_option
@pass_context
def decide(ctx: Context, ticket_id: str, none_: bool, reason: str | None, at: str | None) -> None:
    """Record l2's knowledge-base decision on a resolved or closed incident: no article.

    After close, l2 decides whether the solution goes into the knowledge base:

    \b
      判断是否需要将解决方案添加至知识库中

    `kb add --from ID` writes the article and records that decision in the
    same commit; `kb decide ID --none --reason TEXT` records that none is
    needed. An incident gets one decision: a second one is refused, naming
    the first.

    \b
    Example:
      elinkctl kb decide 7KQ2M --none --reason '一次性问题：误删快捷方式'
      elinkctl kb add --from 7KQ2M          # the other decision: an article
    """
    from elinkctl.domain import kbdecision

    if not none_:
        raise UsageProblem("give --none (an article decision is recorded by `kb add --from ID`)")
    if reason is None:
        raise UsageProblem("--none needs --reason: say why no article is needed")
    when = ctx.parse_time(at)
    run_step(ctx, ticket_id, lambda t: kbdecision.decide_none(t, ctx.actor, when, ctx.now, reason))


@kb.command()
@click.argument("article_id", metavar="KB-ID", shell_complete=complete_kb_ids)
@json_option
@pass_context
def show(ctx: Context, article_id: str, json_: bool) -> None:
    """Show one article: its fields, then the text.

    \b
    Example:
      elinkctl kb show KB-7KQ2M
      elinkctl kb show 7kq --json
    """
    from elinkctl.kb import article_solution_first_line
    from elinkctl.services import kb as service

    a = service.load_article(ctx.store, article_id)
    if json_:
        _dump(
            {
                "id": a.id,
                "title": a.title,
                "systems": a.systems,
                "modules": a.modules,
                "keywords": a.keywords,
                "symptom": a.symptom,
                "incidents": a.incidents,
                "author": a.author,
                "created": a.created.isoformat() if a.created else None,
                "reviewed": a.reviewed.isoformat() if a.reviewed else None,
                "solution": article_solution_first_line(a),
                "sections": a.sections(),
                "body": a.body,
            }
        )
        return
    rows = [
        ("系统", "、".join(a.systems)),
        ("模块", "、".join(a.modules)),
        ("关键词", "、".join(a.keywords)),
        ("来源事件", " ".join(a.incidents)),
        ("作者", a.author),
        ("创建", a.created.isoformat() if a.created else ""),
        ("审核", a.reviewed.isoformat() if a.reviewed else "未审核"),
    ]
    echo(f"{a.id}  {a.title}")
    for label, value in rows:
        if value:
            echo(f"  {label}: {value}")
    echo("")
    echo(a.body.rstrip("\n"))


@kb.command(name="list")
@click.option("--system", help="Only articles about this system (part of the name is enough).")
@json_option
@pass_context
def list_(ctx: Context, system: str | None, json_: bool) -> None:
    """List the articles, by ID.

    \b
    Example:
      elinkctl kb list --system 财务
    """
    from tabulate import tabulate

    from elinkctl.services import kb as service

    articles = list(service.iter_articles(ctx.store, on_error=_warn))
    if system:
        want = system.strip().casefold()
        articles = [a for a in articles if any(want in s.casefold() for s in a.systems)]
    if json_:
        _dump(
            [
                {
                    "id": a.id,
                    "title": a.title,
                    "systems": a.systems,
                    "modules": a.modules,
                    "keywords": a.keywords,
                    "incidents": a.incidents,
                    "author": a.author,
                    "created": a.created.isoformat() if a.created else None,
                    "reviewed": a.reviewed.isoformat() if a.reviewed else None,
                }
                for a in articles
            ]
        )
        return
    if not articles:
        echo("no articles", err=True)
        return
    rows = [
        [
            a.id,
            _short("、".join(a.systems), 16),
            _short(a.title),
            len(a.incidents),
            a.reviewed.isoformat() if a.reviewed else "—",
        ]
        for a in articles
    ]
    echo(
        tabulate(
            rows, headers=["ID", "system", "title", "incidents", "reviewed"], disable_numparse=True
        )
    )


@kb.command()
@click.argument("article_id", metavar="KB-ID", shell_complete=complete_kb_ids)
@_article_options
@click.option(
    "--reviewed", "mark_reviewed", is_flag=True, help="Mark the article reviewed today (审核)."
)
@pass_context
def edit(ctx: Context, article_id: str, mark_reviewed: bool, **opts: Any) -> None:
    """Change an article by flags, or in $EDITOR when none are given.

    Section flags (--symptom, --cause, --solution, --workaround) replace
    that section's text; --system/--module/--keyword replace the list;
    --incident adds a source incident. The result is checked before saving.

    \b
    Example:
      elinkctl kb edit 7KQ2M --cause '认证服务证书过期' --reviewed
    """
    from elinkctl.kb import render_article
    from elinkctl.services import kb as service

    store = ctx.store
    actor = ctx.actor
    before = service.load_article(store, article_id)
    given = {k: v for k, v in opts.items() if v not in (None, ())}
    if mark_reviewed:
        given["reviewed"] = ctx.now.date()
    if given:
        after = service.edit_article(store, before, _changes(given))
    elif _interactive():
        rel = store.rel(service.article_path(store, before.id))
        after = _edit_in_editor(render_article(before), rel)
    else:
        raise UsageProblem("nothing to change: give field options (see --help)")
    changed = service.save_edited_article(store, before, after, actor)
    if changed:
        echo(f"{before.id}: edited {', '.join(changed)}", err=True)
    else:
        echo(f"{before.id}: no change", err=True)
