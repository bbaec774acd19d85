"""The console entry point: start git early, then hand over to click.

Kept apart from `elinkctl.cli` so that nothing heavy is imported before
`elinkctl.cache.prefetch.start` has launched the index check's git calls.
"""

from __future__ import annotations

import sys
from typing import Any


def main() -> Any:
    from elinkctl.cache import prefetch

    prefetch.start(sys.argv[1:])
    from elinkctl.cli import main as cli_main

    return cli_main()
