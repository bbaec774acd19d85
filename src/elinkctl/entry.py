"""The console entry point: start git early, then hand over to click.

Kept apart from `elinkctl.cli` so that nothing heavy is imported before
`elinkctl.cache.prefetch.start` has launched the index check's git calls.
"""

from __future__ import annotations

import os
import sys
from typing import Any

_ENVIRONMENT = ("ELINKCTL_STORE", "ELINKCTL_USER", "ELINKCTL_NOW")


def main() -> Any:
    problem = undecodable(sys.argv[1:], os.environ)
    if problem:
        from elinkctl.cli.output import echo

        echo(f"Error: {problem}", err=True)
        return 2
    from elinkctl.cache import prefetch

    prefetch.start(sys.argv[1:])
    from elinkctl.cli import main as cli_main

    return cli_main()


def undecodable(args: list[str], environ: Any) -> str | None:
    """An argument (or an elinkctl variable) whose bytes are not UTF-8, or None.

    Python hands such bytes over as lone surrogates, which no ticket file,
    commit message or git argument can hold: refusing them here is one
    clean line instead of a failure deep inside a write."""
    for i, arg in enumerate(args, 1):
        if _has_surrogate(arg):
            return f"argument {i} is not valid UTF-8: {_shown(arg)}"
    for name in _ENVIRONMENT:
        value = environ.get(name)
        if value is not None and _has_surrogate(value):
            return f"{name} is not valid UTF-8: {_shown(value)}"
    return None


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in text)


def _shown(text: str) -> str:
    raw = text.encode("utf-8", "surrogateescape") if text else b""
    return repr(raw[:80])
