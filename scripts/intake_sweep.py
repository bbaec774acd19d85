"""Run a folder of real mail and alert samples through `elinkctl ingest`, one
fresh store each, and say what happened to them.

A sample that fails in the field belongs in tests/corpora/ with a scenario;
this is the step before: point it at a corpus nobody on the project has
seen (a parser's test data, a mailbox export) and read the summary —
registered, nothing written (bounces, automatic replies, repeats),
refused with one line (exit 65), anything else (a defect: a traceback, an
unexpected exit status, a store `fsck` rejects, U+FFFD in a ticket without a
note saying why, unless the sample itself holds one).

    .venv/bin/python scripts/intake_sweep.py DIR [--show]

``*.eml`` files go to ``ingest email``, ``*.json`` to ``ingest alert``
(searched recursively). Exit status 1 when anything fell in the last class.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import yaml

NOW = "2026-11-23T10:00:00+08:00"
_NOTE_WORDS = ("decoded", "U+FFFD", "replacement", "garbled")


def _elinkctl() -> str:
    local = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "elinkctl"
    return str(local) if local.exists() else "elinkctl"


def _one(sample: Path, exe: str, env: dict[str, str]) -> tuple[str, str]:
    """(class, detail) of one sample on a fresh store."""
    kind = "email" if sample.suffix == ".eml" else "alert"
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        subprocess.run([exe, "init", str(store)], capture_output=True, env=env, check=True)
        with sample.open("rb") as data:
            done = subprocess.run(
                [exe, "--store", str(store), "ingest", kind],
                stdin=data,
                capture_output=True,
                env=env,
            )
        err = done.stderr.decode("utf-8", "replace")
        last = err.strip().splitlines()[-1][:160] if err.strip() else ""
        fsck = subprocess.run([exe, "--store", str(store), "fsck"], capture_output=True, env=env)
        if "Traceback" in err:
            return "defect", "traceback: " + last
        if fsck.returncode != 0:
            return "defect", "fsck: " + fsck.stdout.decode("utf-8", "replace")[:160]
        if done.returncode == 65:
            return "refused", last
        if done.returncode != 0:
            return "defect", f"exit {done.returncode}: {last}"
        ids = done.stdout.decode().split()
        if not ids:
            return "nothing written", last
        for ticket_id in ids:
            for path in store.glob(f"tickets/*/*/{ticket_id}.yaml"):
                ticket = yaml.safe_load(path.read_text(encoding="utf-8"))
                text = f"{ticket.get('title') or ''}\n{ticket.get('description') or ''}"
                sent = "\ufffd".encode() in sample.read_bytes()  # the sender's own
                if "\ufffd" in text and not sent and not any(w in err for w in _NOTE_WORDS):
                    return "defect", f"U+FFFD without a note: {ticket.get('title')!s:.80}"
        return "registered", ids[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--show", action="store_true", help="one line per sample")
    args = parser.parse_args(argv)
    samples = sorted(
        p for p in args.folder.rglob("*") if p.suffix in (".eml", ".json") and p.is_file()
    )
    env = dict(os.environ, ELINKCTL_USER="intake", ELINKCTL_NOW=NOW)
    exe = _elinkctl()
    counts: Counter[str] = Counter()
    defects: list[str] = []
    for sample in samples:
        kind, detail = _one(sample, exe, env)
        counts[kind] += 1
        line = f"{kind:16} {sample.relative_to(args.folder)}  {detail}"
        if kind == "defect":
            defects.append(line)
        elif args.show:
            print(line)
    summary = ", ".join(
        f"{counts[k]} {k}" for k in ("registered", "nothing written", "refused", "defect")
    )
    print(f"{len(samples)} samples: {summary}")
    for line in defects:
        print(line)
    return 1 if defects else 0


if __name__ == "__main__":
    sys.exit(main())
