"""sla.yaml and escalation.yaml: loading and validation.

Loading is strict about structure (a broken rule file stops commands with
``Error: sla.yaml line N: …``) but validation of the finer points — unknown
keys, bad durations, unknown roles, literal secrets — is collected by
`validate` so `config check` can list every problem at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

from elinkctl import fsio, yamlio
from elinkctl.domain.model import ROLES
from elinkctl.errors import ConfigError, UsageProblem
from elinkctl.timeutil import parse_duration_parts, zone

PRIORITIES = ("P1", "P2", "P3", "P4")
SLA_KEYS = {
    "schema",
    "timezone",
    "calendars",
    "targets",
    "pause_statuses",
    "warn_at",
    "kpi",
    "priority_matrix",
    "key_users",
    "scope",
    "alerts",
    "procedure",
}
ESCALATION_KEYS = {
    "schema",
    "matrix",
    "calendars",
    "roles",
    "people",
    "channels",
    "notify",
    "major_management_on_resolution",
    "permissions",
    "strict_people",
    "rule_owners",
    "verify",
    "check_lease",  # check --sync on several hosts: services/lease.py
}


@dataclasses.dataclass(frozen=True)
class RuleFile:
    """A parsed YAML rule file, with its text kept for line numbers."""

    path: Path
    name: str
    text: str
    data: dict[str, Any]

    def line(self, *path: str | int) -> int | None:
        return yamlio.line_of_key(self.text, list(path))

    def where(self, *path: str | int) -> str:
        line = self.line(*path)
        return f"{self.name} line {line}" if line else self.name


def load_rule_file(path: Path, cache: RuleCache | None = None) -> RuleFile:
    name = path.name
    try:
        text = fsio.read_limited(path).decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{name}: missing (run `elinkctl init` to create a store)") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{name}: not UTF-8 text") from None
    except OSError as exc:  # a link (never followed out of the store), a FIFO, too large
        if path.is_symlink():
            raise ConfigError(f"{name}: a symbolic link, not followed") from None
        raise ConfigError(f"{name}: cannot read: {exc.strerror or exc}") from None
    data = cache.get(name, text) if cache is not None else None
    if data is None:
        try:
            data = yamlio.load(text)
        except yamlio.YamlError as exc:
            where = f"{name} line {exc.line}" if exc.line else name
            raise ConfigError(f"{where}: {exc}") from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"{name} line 1: must be a YAML mapping")
        if cache is not None:
            cache.put(name, text, data)
    return RuleFile(path, name, text, data)


class RuleCache:
    """Parsed rule files, by their exact text, in ``.git/elinkctl/rules.pickle``.

    Every command reads sla.yaml and escalation.yaml; parsing them means
    importing PyYAML, which is a tenth of a warm `check`'s start-up at
    100,000 tickets. The cache is keyed by the whole text (compared, not
    hashed), so an edited file is always parsed again. Machine-local and
    disposable: unreadable, it is ignored; unwritable, it is skipped.
    """

    def __init__(self, root: Path) -> None:
        git_dir = root / ".git"
        self.path = git_dir / "elinkctl" / "rules.pickle" if git_dir.is_dir() else None
        self.entries: dict[str, tuple[str, dict[str, Any]]] = {}
        self.changed = False
        if self.path is None:
            return
        try:
            import pickle

            with open(self.path, "rb") as f:
                entries = pickle.load(f)
            if isinstance(entries, dict):
                self.entries = entries
        except Exception:  # noqa: BLE001 - a disposable cache: missing, old or corrupt
            self.entries = {}

    def get(self, name: str, text: str) -> dict[str, Any] | None:
        entry = self.entries.get(name)
        if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == text:
            data = entry[1]
            return data if isinstance(data, dict) else None
        return None

    def put(self, name: str, text: str, data: dict[str, Any]) -> None:
        self.entries[name] = (text, data)
        self.changed = True

    def save(self) -> None:
        if self.path is None or not self.changed:
            return
        import os
        import pickle

        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(exist_ok=True)
            tmp.write_bytes(pickle.dumps(self.entries, protocol=pickle.HIGHEST_PROTOCOL))
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)


@dataclasses.dataclass(frozen=True)
class Config:
    """Both rule files of a store. Accessors give typed views with defaults."""

    sla: RuleFile
    escalation: RuleFile

    @property
    def tz(self) -> dt.tzinfo:
        name = self.sla.data.get("timezone", "Asia/Shanghai")
        try:
            return zone(str(name))
        except UsageProblem:
            raise ConfigError(f"{self.sla.where('timezone')}: unknown time zone {name!r}") from None

    @property
    def priority_matrix(self) -> dict[str, dict[str, str]]:
        matrix = self.sla.data.get("priority_matrix") or {}
        return {str(k): {str(i): str(p) for i, p in (v or {}).items()} for k, v in matrix.items()}

    @property
    def key_users(self) -> list[str]:
        return [str(x) for x in (self.sla.data.get("key_users") or [])]

    @property
    def scope(self) -> list[str]:
        return [str(x) for x in (self.sla.data.get("scope") or [])]

    def is_key_user(self, name: str | None, phone: str | None) -> bool:
        keys = set(self.key_users)
        return bool((name and name in keys) or (phone and phone in keys))

    def person_email(self, name: str) -> str | None:
        people = self.escalation.data.get("people") or {}
        person = people.get(name) if isinstance(people, dict) else None
        if isinstance(person, dict) and person.get("email"):
            return str(person["email"])
        return None


def load_config(root: Path) -> Config:
    cache = RuleCache(root)
    config = Config(
        load_rule_file(root / "sla.yaml", cache), load_rule_file(root / "escalation.yaml", cache)
    )
    cache.save()
    return config


# --- validation (config check) -------------------------------------------------


def _duration_ok(value: Any) -> bool:
    try:
        parse_duration_parts(value)
    except UsageProblem:
        return False
    return True


def validate(config: Config) -> list[str]:
    """Every problem in both files, each as ``file line N: field: message``."""
    problems: list[str] = []
    sla, esc = config.sla, config.escalation

    def add(rule: RuleFile, path: tuple[str | int, ...], message: str) -> None:
        field = ".".join(str(p) for p in path)
        problems.append(f"{rule.where(*path)}: {field}: {message}")

    for rule, known in ((sla, SLA_KEYS), (esc, ESCALATION_KEYS)):
        for key in rule.data:
            if key not in known:
                add(rule, (key,), f"unknown key (expected one of {', '.join(sorted(known))})")
        if rule.data.get("schema", 1) != 1:
            add(rule, ("schema",), "unsupported schema version (expected 1)")
    try:
        config.tz  # noqa: B018
    except ConfigError as exc:
        problems.append(str(exc))

    calendars = sla.data.get("calendars") or {}
    if not isinstance(calendars, dict):
        add(sla, ("calendars",), "must be a mapping of calendar names")
        calendars = {}
    cal_names = set(calendars) | {"24x7"}

    targets = sla.data.get("targets")
    if not isinstance(targets, dict):
        add(sla, ("targets",), "missing: give response and resolution targets for P1–P4")
        targets = {}
    for p in PRIORITIES:
        if p not in targets:
            if targets:
                add(sla, ("targets",), f"missing priority {p}")
            continue
        row = targets[p]
        if not isinstance(row, dict):
            add(sla, ("targets", p), "must be a mapping {response, resolution, calendar}")
            continue
        for key in row:
            if key not in ("response", "resolution", "calendar"):
                add(
                    sla,
                    ("targets", p, key),
                    "unknown key (expected response, resolution, calendar)",
                )
        for key in ("response", "resolution"):
            if key not in row:
                add(sla, ("targets", p), f"missing {key}")
            elif not _duration_ok(row[key]):
                add(sla, ("targets", p, key), f"bad duration {row[key]!r} (e.g. 15m, 4h, 2d, 2wd)")
        cal = row.get("calendar", "24x7")
        if cal not in cal_names:
            add(sla, ("targets", p, "calendar"), f"unknown calendar {cal!r}")
    for p in targets:
        if p not in PRIORITIES:
            add(sla, ("targets", p), "unknown priority (expected P1–P4)")

    warn_at = sla.data.get("warn_at", 0.8)
    if not isinstance(warn_at, int | float) or not 0 < warn_at < 1:
        add(sla, ("warn_at",), f"must be a share between 0 and 1, got {warn_at!r}")
    kpi = sla.data.get("kpi") or {}
    if isinstance(kpi, dict):
        for key, value in kpi.items():
            if key not in ("response_rate", "resolution_rate"):
                add(sla, ("kpi", key), "unknown key (expected response_rate, resolution_rate)")
            elif not isinstance(value, int | float) or not 0 <= value <= 1:
                add(sla, ("kpi", key), f"must be a fraction 0–1, got {value!r}")
    pauses = sla.data.get("pause_statuses", ["pending"])
    if not isinstance(pauses, list) or any(s not in ("pending", "pm_review") for s in pauses):
        add(sla, ("pause_statuses",), "must list statuses that may pause: pending, pm_review")

    matrix = sla.data.get("priority_matrix")
    if not isinstance(matrix, dict):
        add(sla, ("priority_matrix",), "missing urgency × impact matrix")
    else:
        for urgency in ("high", "medium", "low"):
            row = matrix.get(urgency)
            if not isinstance(row, dict):
                add(sla, ("priority_matrix",), f"missing row for urgency {urgency!r}")
                continue
            for impact in ("high", "medium", "low"):
                if row.get(impact) not in PRIORITIES:
                    add(
                        sla,
                        ("priority_matrix", urgency),
                        f"impact {impact!r} must map to P1–P4, got {row.get(impact)!r}",
                    )
    for key in ("key_users", "scope"):
        if not isinstance(sla.data.get(key) or [], list):
            add(sla, (key,), "must be a list")

    lease = esc.data.get("check_lease")  # services/lease.py reads it
    if lease is not None and (
        not isinstance(lease, dict)
        or set(lease) - {"expires_after"}
        or not _duration_ok(lease.get("expires_after", "15m"))
    ):
        add(esc, ("check_lease",), "must be {expires_after: DURATION}, e.g. 15m (1m to 7d)")
    esc_matrix = esc.data.get("matrix")
    roles = esc.data.get("roles") or {}
    if not isinstance(roles, dict):
        add(esc, ("roles",), "must map roles to lists of people")
        roles = {}
    people = esc.data.get("people") or {}
    if not isinstance(people, dict):
        add(esc, ("people",), "must map names to contact details")
        people = {}
    if not isinstance(esc_matrix, dict):
        add(esc, ("matrix",), "missing the escalation matrix (P1–P4)")
    else:
        for p in PRIORITIES:
            if p not in esc_matrix:
                add(esc, ("matrix",), f"missing priority {p}")
        for p, row in esc_matrix.items():
            if p not in PRIORITIES:
                add(esc, ("matrix", p), "unknown priority (expected P1–P4)")
                continue
            if not isinstance(row, dict):
                add(
                    esc,
                    ("matrix", p),
                    "must map elapsed time to a role, e.g. {0h: pm, 30m: management}",
                )
                continue
            for after, role in row.items():
                if after == "calendar":
                    if role not in cal_names:
                        add(esc, ("matrix", p, "calendar"), f"unknown calendar {role!r}")
                    continue
                if not _duration_ok(after):
                    add(esc, ("matrix", p, after), f"bad duration {after!r}")
                if role not in ROLES:
                    add(
                        esc,
                        ("matrix", p, after),
                        f"unknown role {role!r} (expected {', '.join(ROLES)})",
                    )
    for role, members in roles.items():
        if role not in ROLES:
            add(esc, ("roles", role), f"unknown role (expected {', '.join(ROLES)})")
        if not isinstance(members, list):
            add(esc, ("roles", role), "must be a list of people")
            continue
        for name in members:
            if str(name) not in people:
                add(esc, ("roles", role), f"{name!r} is not listed under people:")
    return problems
