"""Real samples through the real CLI: every ``tests/corpora/**/<name>.expect.yaml``.

Mail and monitoring payloads nobody on the project wrote (public corpora,
official Zabbix media types, Alertmanager payloads from receivers' docs;
where each came from is in the folder's ``SOURCES.md``) are fed to
``elinkctl ingest`` on a fresh store, step by step as a scenario file says,
and what an operator would see is checked: the incident, its text, the
notes, whether anything was written. The format is described in
``tests/corpora/README.md``. Every scenario ends with ``elinkctl fsck``.

Unknown keys in a scenario are an error: a typo must not turn a check into
one that cannot fail.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from elinkctl.cli import cli

CORPORA = Path(__file__).resolve().parent / "corpora"
DEFAULT_NOW = "2026-11-23T10:00:00+08:00"
USER = "intake"

_SCENARIO_KEYS = {"about", "now", "sla", "escalation", "steps"}
_STEP_KEYS = {
    "ingest",
    "cli",
    "now",
    "exit",
    "created",
    "written",
    "ids",
    "stderr",
    "not_stderr",
    "incident",
}
_INCIDENT_SPECIAL = {
    "title_contains",
    "description_contains",
    "description_not_contains",
    "events",
    "no_events",
    "event_count",
}
_ID_RE = re.compile(r"^INC-\d{6}-[0-9A-Z]{5}$")


def _scenarios() -> list[Path]:
    return sorted(CORPORA.glob("*/*.expect.yaml"))


def _sample_for(scenario: Path) -> Path | None:
    stem = scenario.name[: -len(".expect.yaml")]
    for suffix in (".eml", ".json"):
        candidate = scenario.with_name(stem + suffix)
        if candidate.exists():
            return candidate
    return None


def _deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class _Run:
    """One scenario's store and the CLI pointed at it."""

    def __init__(self, root: Path, now: str) -> None:
        self.root = root
        self.now = now
        self.runner = CliRunner()
        self.last_id: str | None = None

    def invoke(self, args: list[str], now: str | None, data: bytes | None = None) -> Any:
        env = {"ELINKCTL_STORE": str(self.root), "ELINKCTL_USER": USER}
        env["ELINKCTL_NOW"] = now or self.now
        return self.runner.invoke(cli, args, env=env, input=data, catch_exceptions=False)

    def git(self, *args: str) -> str:
        import subprocess

        return subprocess.run(
            ["git", *args], cwd=self.root, check=True, capture_output=True, text=True
        ).stdout.strip()

    def ticket_files(self) -> set[Path]:
        return set((self.root / "tickets").rglob("INC-*.yaml"))

    def ticket(self, ticket_id: str) -> dict[str, Any]:
        path = self.root / "tickets" / f"20{ticket_id[4:6]}" / ticket_id[6:8] / f"{ticket_id}.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert isinstance(data, dict), f"{path}: not a mapping"
        return data


def _merge_config(run: _Run, name: str, extra: Mapping[str, Any]) -> None:
    path = run.root / name
    base = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    merged = _deep_merge(base, extra)
    path.write_text(yaml.safe_dump(merged, allow_unicode=True, sort_keys=False), encoding="utf-8")
    run.git("add", name)
    run.git("commit", "-q", "-m", f"scenario: {name}")


def _matches(actual: Any, expected: Any) -> bool:
    """Subset match: every expected key present and equal (``k_contains``: substring)."""
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return False
        for key, value in expected.items():
            if key.endswith("_contains") and key not in actual:
                field = key[: -len("_contains")]
                if field not in actual or str(value) not in str(actual[field]):
                    return False
            elif key not in actual or not _matches(actual[key], value):
                return False
        return True
    return bool(actual == expected)


def _check_incident(where: str, ticket: dict[str, Any], expected: Mapping[str, Any]) -> None:
    shown = f"{where}: incident {ticket.get('id')}"
    for key, value in expected.items():
        if key == "title_contains":
            for part in value:
                assert part in str(ticket.get("title")), f"{shown}: title {ticket.get('title')!r}"
        elif key == "description_contains":
            for part in value:
                text = str(ticket.get("description") or "")
                assert part in text, f"{shown}: description lacks {part!r}:\n{text}"
        elif key == "description_not_contains":
            for part in value:
                text = str(ticket.get("description") or "")
                assert part not in text, f"{shown}: description has {part!r}:\n{text}"
        elif key == "events":
            events = ticket.get("events") or []
            for wanted in value:
                assert any(_matches(e, wanted) for e in events), (
                    f"{shown}: no event matches {wanted!r}; events:\n"
                    + yaml.safe_dump(events, allow_unicode=True)
                )
        elif key == "no_events":
            events = ticket.get("events") or []
            for unwanted in value:
                hits = [e for e in events if _matches(e, unwanted)]
                assert not hits, f"{shown}: events match {unwanted!r}: {hits!r}"
        elif key == "event_count":
            count = len(ticket.get("events") or [])
            assert count == value, f"{shown}: {count} events, expected {value}"
        elif isinstance(value, Mapping):
            assert _matches(ticket.get(key), value), (
                f"{shown}: {key} is {ticket.get(key)!r}, expected at least {value!r}"
            )
        else:
            assert ticket.get(key) == value, f"{shown}: {key} is {ticket.get(key)!r}, not {value!r}"


def _run_step(run: _Run, scenario: Path, index: int, step: Mapping[str, Any]) -> None:
    where = f"{scenario.parent.name}/{scenario.name} step {index + 1}"
    unknown = set(step) - _STEP_KEYS
    assert not unknown, f"{where}: unknown keys {sorted(unknown)}"
    before_files = run.ticket_files()
    before_head = run.git("rev-parse", "HEAD")
    if "cli" in step:
        args = [str(a).replace("{id}", run.last_id or "{id}") for a in step["cli"]]
        result = run.invoke(args, step.get("now"))
    else:
        name = step.get("ingest")
        sample = scenario.parent / name if name else _sample_for(scenario)
        assert sample is not None and sample.exists(), f"{where}: no sample {name!r}"
        kind = "email" if sample.suffix == ".eml" else "alert"
        result = run.invoke(["ingest", kind], step.get("now"), sample.read_bytes())
    output = f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert "Traceback" not in result.stderr, f"{where}: traceback\n{output}"
    assert result.exit_code == step.get("exit", 0), f"{where}: {output}"
    printed = [line for line in result.stdout.splitlines() if _ID_RE.match(line.strip())]
    if "cli" not in step or printed:
        if printed:
            run.last_id = printed[0].strip()
    if "ids" in step:
        assert len(printed) == step["ids"], f"{where}: {len(printed)} IDs printed\n{output}"
    if "created" in step:
        created = len(run.ticket_files() - before_files)
        assert created == step["created"], f"{where}: {created} incidents created\n{output}"
    if "written" in step:
        moved = run.git("rev-parse", "HEAD") != before_head
        assert moved == step["written"], f"{where}: written={moved}\n{output}"
    for part in step.get("stderr", []):
        assert part in result.stderr, f"{where}: stderr lacks {part!r}\n{output}"
    for part in step.get("not_stderr", []):
        assert part not in result.stderr, f"{where}: stderr has {part!r}\n{output}"
    if "incident" in step:
        target = printed[0].strip() if printed else run.last_id
        assert target, f"{where}: no incident to check\n{output}"
        unknown_special = {
            k for k in step["incident"] if k.endswith(("_contains", "_count")) or "events" in k
        } - _INCIDENT_SPECIAL
        assert not unknown_special, f"{where}: unknown incident checks {sorted(unknown_special)}"
        _check_incident(where, run.ticket(target), step["incident"])


@pytest.mark.parametrize(
    "scenario",
    _scenarios(),
    ids=lambda p: f"{p.parent.name}/{p.name[: -len('.expect.yaml')]}",
)
def test_real_sample(scenario: Path, tmp_path: Path) -> None:
    spec = yaml.safe_load(scenario.read_text(encoding="utf-8"))
    assert isinstance(spec, dict), f"{scenario}: not a mapping"
    steps = spec.get("steps")
    if steps is None:
        step = {k: v for k, v in spec.items() if k not in _SCENARIO_KEYS}
        steps = [step]
        top_unknown = set(step) - _STEP_KEYS
    else:
        top_unknown = set(spec) - _SCENARIO_KEYS
    assert not top_unknown, f"{scenario}: unknown keys {sorted(top_unknown)}"
    assert spec.get("about"), f"{scenario}: say what the sample is (about:)"
    root = tmp_path / "store"
    result = CliRunner().invoke(cli, ["init", str(root)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    run = _Run(root, str(spec.get("now") or DEFAULT_NOW))
    if spec.get("sla"):
        _merge_config(run, "sla.yaml", spec["sla"])
    if spec.get("escalation"):
        _merge_config(run, "escalation.yaml", spec["escalation"])
    for index, step in enumerate(steps):
        _run_step(run, scenario, index, step)
    fsck = run.invoke(["fsck"], None)
    assert fsck.exit_code == 0, f"{scenario.name}: fsck\n{fsck.stdout}{fsck.stderr}"


def test_every_sample_has_a_scenario_and_a_source() -> None:
    """A sample nobody checks, or one whose origin is not said, does not belong here."""
    for folder in sorted(p for p in CORPORA.iterdir() if p.is_dir()):
        sources = folder / "SOURCES.md"
        assert sources.exists(), f"{folder.name}: no SOURCES.md"
        listed = sources.read_text(encoding="utf-8")
        used: set[str] = set()
        for scenario in folder.glob("*.expect.yaml"):
            spec = yaml.safe_load(scenario.read_text(encoding="utf-8")) or {}
            own = _sample_for(scenario)
            if own is not None:
                used.add(own.name)
            for step in spec.get("steps") or []:
                if isinstance(step, dict) and step.get("ingest"):
                    used.add(str(step["ingest"]))
        for sample in sorted(folder.iterdir()):
            if sample.suffix not in (".eml", ".json"):
                continue
            assert sample.name in used, f"{folder.name}/{sample.name}: no scenario uses it"
            assert sample.name in listed, f"{folder.name}/{sample.name}: not in SOURCES.md"
