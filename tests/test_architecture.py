"""The house's shape, checked on every run (issue 12): imports run one way,
only the CLI knows click or writes to the terminal, modules stay small.

Layers, top to bottom (docs/architecture.md):

    entry → cli → services → store → cache → (kb, notify, ingest, render)
          → config → domain → bottom (errors, timeutil, yamlio, fastyaml, fsio, progress)

A module may import its own package and anything in a lower layer, lazily
or not; never a higher one. Read from the source with `ast`, so the check
costs nothing and needs no import of the code.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "elinkctl"

RANK: dict[str, int] = {
    "__main__": 9,
    "entry": 8,
    "cli": 7,
    "services": 6,
    "store": 5,
    "cache": 4,
    "kb": 3,
    "notify": 3,
    "ingest": 3,
    "render": 3,
    "config": 2,
    "domain": 1,
    "timeutil": 0,
    "yamlio": 0,
    "errors": -1,
    "fastyaml": -1,
    "fsio": -1,
    "progress": -1,
    "": -2,  # the package itself: __version__
}
"""Packages (folders) and top-level modules by layer; siblings of one layer
(kb, notify, ingest, render) do not import each other."""

MAX_LINES = 600
ONE_IDEA = {"domain/calendar.py"}  # business time: one idea, long (see the issue)


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(SRC.rglob("*.py")):
        yield path.relative_to(SRC).as_posix(), path


def _unit(name: str) -> str:
    """The layer unit of a dotted module name inside elinkctl."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of every elinkctl import, at any depth (lazy ones too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = "elinkctl." + ".".join(path.relative_to(SRC).parent.parts)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "elinkctl":
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rstrip(".").split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *(node.module or "").split(".")]).strip(".")
            else:
                module = node.module or ""
            if module.split(".")[0] != "elinkctl":
                continue
            if module == "elinkctl":
                for alias in node.names:
                    named = SRC / alias.name
                    is_module = named.is_dir() or named.with_suffix(".py").is_file()
                    yield node.lineno, f"elinkctl.{alias.name}" if is_module else "elinkctl"
            else:
                yield node.lineno, module


def _unit_of_file(rel: str) -> str:
    first = rel.split("/")[0]
    return first.removesuffix(".py") if "/" not in rel else first


@pytest.mark.parametrize("rel", [r for r, _ in _modules()])
def test_imports_run_one_way(rel: str) -> None:
    here = _unit_of_file(rel)
    if rel == "__init__.py":
        here = ""
    assert here in RANK, f"{rel}: add its layer to RANK (and docs/architecture.md)"
    upward = []
    for line, module in _imports(SRC / rel):
        there = _unit(module)
        if there == here:
            continue
        assert there in RANK, f"{rel} line {line}: unknown unit {there!r}"
        if RANK[there] >= RANK[here]:
            upward.append(f"{rel} line {line}: {here} (layer {RANK[here]}) imports {module}")
    assert not upward, "\n".join(upward)


def _top_level_edges() -> dict[str, set[str]]:
    """Module → modules it imports when it is imported (not lazily, not for
    type checking): the graph in which a cycle breaks imports."""
    edges: dict[str, set[str]] = {}
    for rel, path in _modules():
        name = "elinkctl." + rel.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
        name = name.removesuffix(".__init__")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found: set[str] = set()
        for node in tree.body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("elinkctl"):
                found.add(node.module or "")
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("elinkctl"))
        edges[name] = found
    return edges


def test_no_import_cycle() -> None:
    edges = _top_level_edges()

    def resolve(name: str) -> str | None:
        while name and name not in edges:
            name = name.rpartition(".")[0]
        return name or None

    graph = {m: {r for t in ts if (r := resolve(t)) and r != m} for m, ts in edges.items()}
    # A package's __init__ importing its own modules is not a cycle of theirs.
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if m.startswith(n + "."):
                continue  # a module importing its package's face
            if state.get(n) == 1:
                cycles.append(" → ".join([*stack[stack.index(n) :], n]))
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert not cycles, "\n".join(cycles)


def _calls(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node.lineno, ast.unparse(node.func)
        elif isinstance(node, ast.Attribute) and ast.unparse(node) in ("sys.stdout", "sys.stderr"):
            yield node.lineno, ast.unparse(node)


@pytest.mark.parametrize(
    "rel", [r for r, _ in _modules() if r.split("/")[0] not in ("cli", "entry.py", "__main__.py")]
)
def test_only_the_cli_knows_click_and_the_terminal(rel: str) -> None:
    path = SRC / rel
    problems = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            if any(n.split(".")[0] == "click" for n in names):
                problems.append(f"{rel} line {node.lineno}: imports click")
    for line, func in _calls(path):
        if func in ("print", "input", "sys.stdout", "sys.stderr") or func.startswith(
            ("sys.stdout.", "sys.stderr.", "click.")
        ):
            problems.append(f"{rel} line {line}: {func}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("rel", [r for r, _ in _modules()])
def test_modules_stay_small(rel: str) -> None:
    lines = (SRC / rel).read_text(encoding="utf-8").count("\n")
    if rel in ONE_IDEA:
        return
    assert lines <= MAX_LINES, f"{rel}: {lines} lines; split it by idea (limit {MAX_LINES})"


def test_the_generator_is_not_shipped() -> None:
    """Bench and test data come from scripts/generate.py, not the runtime package."""
    assert not (SRC / "generate.py").exists()


@pytest.mark.parametrize(
    "rel", [r for r, _ in _modules() if r.startswith("cli/") and r != "cli/output.py"]
)
def test_the_cli_prints_through_one_safe_echo(rel: str) -> None:
    """Ticket text is untrusted: every line goes through `cli.output.echo`,
    which makes control characters visible (no raw click.echo or print)."""
    bad = [
        f"{rel} line {line}: {func}"
        for line, func in _calls(SRC / rel)
        if func in ("click.echo", "click.secho", "print")
    ]
    assert not bad, "\n".join(bad)
