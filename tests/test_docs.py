"""The documentation keeps up with the CLI.

Every command a user can reach has an example in its help and a heading in
docs/manual.md; every relative link in the README and docs/ resolves; the
README stays a front door, not a manual.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from elinkctl.cli import HIDDEN, cli

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MANUAL = DOCS / "manual.md"
PAGES = [README, *sorted(DOCS.glob("*.md"))]


def _command_paths() -> list[tuple[str, ...]]:
    """Every visible command and subcommand, as the words a user types after `elinkctl`."""
    found: list[tuple[str, ...]] = []

    def walk(group: click.Group, prefix: tuple[str, ...]) -> None:
        ctx = click.Context(group, info_name=" ".join(("elinkctl", *prefix)))
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if command is None or command.hidden or (not prefix and name in HIDDEN):
                continue
            path = (*prefix, name)
            found.append(path)
            if isinstance(command, click.Group):
                walk(command, path)

    walk(cli, ())
    return found


COMMAND_PATHS = _command_paths()
IDS = [" ".join(p) for p in COMMAND_PATHS]


def test_the_walk_reaches_subcommands() -> None:
    assert ("new",) in COMMAND_PATHS
    assert ("kb", "search") in COMMAND_PATHS
    assert ("merge-file",) not in COMMAND_PATHS


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=IDS)
def test_every_command_help_has_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="elinkctl")
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"`elinkctl {' '.join(path)} --help` shows no example"


def _headings(page: Path) -> list[str]:
    """Heading texts of a Markdown page, outside fenced code blocks."""
    return [line.lstrip("#").strip() for line in _prose_lines(page) if re.match(r"#{1,6} ", line)]


def _prose_lines(page: Path) -> list[str]:
    lines: list[str] = []
    fenced = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def _manual_titles() -> set[str]:
    """The manual's headings without backticks or a ` — explanation` tail."""
    return {h.replace("`", "").split(" — ")[0].strip() for h in _headings(MANUAL)}


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=IDS)
def test_every_command_has_a_heading_in_the_manual(path: tuple[str, ...]) -> None:
    name = "elinkctl " + " ".join(path)
    assert name in _manual_titles(), f"docs/manual.md has no heading `{name}`"


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for heading in _headings(page):
        slug = _slug(heading)
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def _relative_links(page: Path) -> list[str]:
    links = [m.group(1) for line in _prose_lines(page) for m in LINK.finditer(line)]
    return [link for link in links if not re.match(r"[a-z][a-z0-9+.-]*:", link)]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for link in _relative_links(page):
        target, _, fragment = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        if not path.exists():
            broken.append(link)
        elif fragment and path.suffix == ".md" and fragment not in _anchors(path):
            broken.append(link)
    assert not broken, f"{page.relative_to(ROOT)}: broken links {broken}"


def test_readme_links_every_docs_page() -> None:
    linked = {
        (README.parent / link.partition("#")[0]).resolve() for link in _relative_links(README)
    }
    missing = [p.name for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked]
    assert not missing, f"README.md does not link {missing}"


def test_readme_is_a_front_door() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) < 200, f"README.md has {len(lines)} lines; move detail into docs/"
