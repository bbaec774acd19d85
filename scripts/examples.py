"""Regenerate the example tickets this repository ships in tickets/ and knowledge/.

Plays the P1 (the whole major-incident flow: backfill, PM notified inside
`new`, dispatch, l2, vendor, resolution, confirmation, callback, closure)
and the P3 (dispatched to l1, pending, escalated to l2, resolved, closed,
its solution drafted into a knowledge article) of scenario.py in a temporary
store with the default rules, then copies the files here, replacing the
previous examples. Run: .venv/bin/python scripts/examples.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo import BIN, play  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    store = tmp / "store"
    subprocess.run([BIN, "init", str(store)], check=True, capture_output=True)
    play(store, only={"p1", "p3"}, show=False)
    for sub, pattern in (("tickets", "*/*/INC-*.yaml"), ("knowledge", "KB-*.md")):
        for old in (ROOT / sub).glob(pattern):
            old.unlink()
        for new in sorted((store / sub).glob(pattern)):
            rel = new.relative_to(store)
            (ROOT / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(new, ROOT / rel)
            print(rel)
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
