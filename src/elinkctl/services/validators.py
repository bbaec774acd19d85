"""Every check of the rule files, and holiday-data warnings.

`problems` is what `config check` lists, with file and line: the shape
checks of `elinkctl.config.validate`, then those that need the domain,
notify and ingest parsers:

- sla.yaml ``calendars``: each must build (`calendar_from_config`), e.g. bad
  ``hours`` or a date in both ``holidays`` and ``workdays``;
- escalation.yaml ``matrix``: parses as `EscalationRules` (cells at the same
  time, a row on a calendar that exists but is broken) and the optional
  ``notify:`` section (who hears of SLA warnings and breaches);
- escalation.yaml delivery: `elinkctl.notify.validate_channels` (channel
  settings, people's addresses and channels, literal secrets refused);
- sla.yaml ``alerts``: the alert → incident rules of ``ingest alert``.

`holiday_gap` is the one wording of "this calendar has no holiday data for
year X", shared by `check` (stderr) and `config check` / `stats`
(`elinkctl.services.setup.config_warnings`): never crash, never pretend.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from elinkctl import config as config_module
from elinkctl.config import Config, RuleFile
from elinkctl.domain import reminders
from elinkctl.domain.calendar import (
    WEEKDAY_NAMES,
    Calendar,
    calendar_from_config,
    holiday_data_years,
)
from elinkctl.domain.findings import ASSIGNEE
from elinkctl.domain.model import ROLES
from elinkctl.errors import ConfigError, UsageProblem

NOTIFY_KINDS = ("sla_warning", "sla_breach", *reminders.KINDS)
_FIELD_RE = re.compile(r"^([^\s:]+):\s")

if TYPE_CHECKING:
    from elinkctl.domain.sla import SlaRules


def sla_rules(config: Config) -> SlaRules:
    """The parsed SLA rules; a broken sla.yaml is one error with file and line."""
    from elinkctl.domain.sla import SlaRules

    try:
        return SlaRules.from_mapping(config.sla.data, config.tz)
    except ConfigError as exc:
        raise ConfigError(locate(config.sla, str(exc))) from None


def locate(rule: RuleFile, message: str) -> str:
    """``file line N: message`` for a message starting with a dotted field path.

    The domain raises ``calendars.business.hours: …``; the file and line are
    found here from the longest prefix of that path present in the file.
    """
    match = _FIELD_RE.match(message)
    if match:
        parts: list[str | int] = []
        for piece in match.group(1).split("."):
            sub = re.fullmatch(r"(.+?)\[(\d+)\]", piece)
            if sub:
                parts += [sub.group(1), int(sub.group(2))]
            else:
                parts.append(piece)
        for n in range(len(parts), 0, -1):
            line = rule.line(*parts[:n])
            if line:
                return f"{rule.name} line {line}: {message}"
    return f"{rule.name}: {message}"


# --- holiday data ---------------------------------------------------------------------


def holiday_gap(cal: Calendar, start: dt.datetime, end: dt.datetime) -> str | None:
    """A warning when ``cal`` wants China holidays for a year in [start, end] but has none.

    A year for which the calendar lists explicit ``holidays:`` or ``workdays:``
    counts as covered: the operator has typed that year's dates in by hand.
    """
    years = cal.uncovered_years_between(start, end)
    years -= {d.year for d in cal.holidays | cal.workdays}
    if not years:
        return None
    first, last = holiday_data_years()
    span = f"{first}–{last}" if first <= last else "no year"
    days = ", ".join(WEEKDAY_NAMES[d] for d in sorted(cal.weekdays))
    shown = ", ".join(str(y) for y in sorted(years))
    year = sorted(years)[0]
    return (
        f"sla.yaml: calendar {cal.name!r}: no China public-holiday data for {shown} "
        f"(the installed chinesecalendar covers {span}); plain weekdays ({days}) are used, "
        f"so 春节 and 国庆 count as working days. Add the State Council's {year} schedule "
        f"to sla.yaml under calendars: {cal.name}: as holidays: [{year}-MM-DD, …] "
        f"(days off) and workdays: [{year}-MM-DD, …] (调休 working weekends), "
        f"or upgrade chinesecalendar once a release covers {year} (docs/rules.md)"
    )


def holiday_gaps(spans: Mapping[Calendar, tuple[dt.datetime, dt.datetime]]) -> list[str]:
    """`holiday_gap` for each calendar and the span of time it was used for."""
    out = []
    for cal, (start, end) in sorted(spans.items(), key=lambda kv: kv[0].name):
        message = holiday_gap(cal, start, end)
        if message:
            out.append(message)
    return out


# --- validators -----------------------------------------------------------------------


def _sla_calendars(config: Config) -> tuple[dict[str, Calendar], list[str]]:
    """The calendars of sla.yaml that build, and a located problem for each that does not."""
    tz: dt.tzinfo
    try:
        tz = config.tz
    except ConfigError:
        tz = dt.UTC  # the time zone problem itself is reported by validate()
    built: dict[str, Calendar] = {"24x7": Calendar(name="24x7", kind="24x7", tz=tz)}
    problems: list[str] = []
    raw = config.sla.data.get("calendars") or {}
    if not isinstance(raw, Mapping):
        return built, problems  # reported by validate()
    for name, mapping in raw.items():
        try:
            built[str(name)] = calendar_from_config(str(name), mapping, tz)
        except ConfigError as exc:
            problems.append(locate(config.sla, str(exc)))
    return built, problems


def validate_calendars(config: Config) -> list[str]:
    """Every sla.yaml calendar builds; e.g. ``sla.yaml line 27: calendars.business.hours: …``."""
    return _sla_calendars(config)[1]


def validate_escalation(config: Config) -> list[str]:
    """The matrix parses with its calendars; ``notify:`` names known roles and kinds.

    Problems `config.validate` already reports (unknown roles, bad durations,
    unknown calendar names) are not repeated.
    """
    from elinkctl.domain.escalation import EscalationRules

    esc = config.escalation
    calendars, _ = _sla_calendars(config)
    problems: list[str] = []
    matrix = esc.data.get("matrix")
    if isinstance(matrix, Mapping):
        for prio, row in matrix.items():
            if not isinstance(row, Mapping):
                continue
            name = row.get("calendar")
            if name is None:
                continue
            raw = config.sla.data.get("calendars") or {}
            if isinstance(raw, Mapping) and name in raw and name not in calendars:
                problems.append(
                    f"{esc.where('matrix', str(prio), 'calendar')}: matrix.{prio}.calendar: "
                    f"calendar {name!r} is invalid in sla.yaml (see above)"
                )
        try:
            EscalationRules.from_mapping({"matrix": matrix}, calendars, calendars["24x7"].tz)
        except ConfigError as exc:
            text = str(exc)
            already = (
                "unknown role",
                "unknown calendar",
                "invalid duration",
                "unknown priority",
                "must map",
            )
            if not any(part in text for part in already):
                problems.append(locate(esc, text))
    section = esc.data.get("notify")
    if section is not None:
        if not isinstance(section, Mapping):
            problems.append(
                f"{esc.where('notify')}: notify: must map sla_warning / sla_breach to roles"
            )
        else:
            allowed = (*ROLES, ASSIGNEE, reminders.RESOLVER)
            for kind, roles in section.items():
                where = esc.where("notify", str(kind))
                if kind not in NOTIFY_KINDS:
                    problems.append(
                        f"{where}: notify.{kind}: unknown key (expected {', '.join(NOTIFY_KINDS)})"
                    )
                elif not isinstance(roles, list):
                    problems.append(f"{where}: notify.{kind}: must be a list of roles")
                else:
                    for role in roles:
                        if role not in allowed:
                            problems.append(
                                f"{where}: notify.{kind}: unknown role {role!r} "
                                f"(expected {', '.join(allowed)})"
                            )
    return problems


def validate_delivery(config: Config) -> list[str]:
    """Channels and people's contact details (`elinkctl.notify.validate_channels`)."""
    from elinkctl.notify import validate_channels

    return [locate(config.escalation, p) for p in validate_channels(config.escalation.data)]


def validate_alerts(config: Config) -> list[str]:
    """sla.yaml ``alerts:`` (`elinkctl.ingest.validate_alert_rules`), for ``ingest alert``."""
    from elinkctl.ingest import validate_alert_rules

    return [locate(config.sla, p) for p in validate_alert_rules(config.sla.data.get("alerts"))]


def validate_procedure(config: Config) -> list[str]:
    """sla.yaml ``procedure:``: the procedure's deadlines and gates parse."""
    from elinkctl.domain.procedure import ProcedureRules

    try:
        calendars = sla_rules(config).calendars
    except ConfigError:
        return []  # reported by the other checks
    problems = []
    try:
        ProcedureRules.from_mapping(config.sla.data.get("procedure"), calendars)
    except ConfigError as exc:
        problems.append(locate(config.sla, str(exc)))
    flag = config.escalation.data.get("major_management_on_resolution", True)
    if not isinstance(flag, bool):
        problems.append(
            f"{config.escalation.where('major_management_on_resolution')}: "
            "major_management_on_resolution: true or false"
        )
    return problems


def validate_people(config: Config) -> list[str]:
    """escalation.yaml people, permissions, strict_people and rule_owners
    (issue 15): known roles and steps, no alias naming two people."""
    from elinkctl.domain.permissions import STEPS

    esc = config.escalation
    data = esc.data
    out: list[str] = []
    if "strict_people" in data and not isinstance(data["strict_people"], bool):
        out.append(f"{esc.where('strict_people')}: strict_people: true or false")
    people = data.get("people") if isinstance(data.get("people"), dict) else {}
    owner: dict[str, str] = {str(p): str(p) for p in people or {}}
    for person, info in (people or {}).items():
        if not isinstance(info, dict):
            continue
        for key, allowed in (("roles", ROLES), ("aliases", None)):
            value = info.get(key)
            if value is None:
                continue
            where = esc.where("people", person, key)
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                out.append(f"{where}: people.{person}.{key}: a list of names")
                continue
            for item in value:
                if allowed is not None and item not in allowed:
                    out.append(
                        f"{where}: people.{person}.roles: unknown role {item!r} "
                        f"(expected {', '.join(ROLES)})"
                    )
                elif allowed is None and owner.setdefault(item, str(person)) != str(person):
                    out.append(
                        f"{where}: people.{person}.aliases: {item!r} already names {owner[item]}"
                    )
    table = data.get("permissions")
    if table is not None:
        if not isinstance(table, dict):
            out.append(f"{esc.where('permissions')}: permissions: a mapping of step to roles")
        else:
            for step, roles in table.items():
                where = esc.where("permissions", str(step))
                if step not in STEPS:
                    out.append(
                        f"{where}: permissions.{step}: unknown step "
                        f"(expected one of {', '.join(STEPS)})"
                    )
                elif not isinstance(roles, list) or any(r not in ROLES for r in roles):
                    out.append(f"{where}: permissions.{step}: a list of roles ({', '.join(ROLES)})")
    section = data.get("verify")
    if section is not None:
        from elinkctl.timeutil import parse_duration

        tolerance = section.get("tolerance") if isinstance(section, dict) else None
        try:
            if not isinstance(section, dict) or set(section) - {"tolerance"}:
                raise UsageProblem("a mapping with tolerance")
            if tolerance is not None:
                parse_duration(tolerance)
        except (UsageProblem, TypeError, ValueError) as exc:
            out.append(f"{esc.where('verify')}: verify: {{tolerance: 1h}} expected ({exc})")
    owners = data.get("rule_owners")
    if owners is not None and (
        not isinstance(owners, list) or any(str(o) not in owner for o in owners)
    ):
        out.append(
            f"{esc.where('rule_owners')}: rule_owners: a list of people listed under people:"
        )
    return out


def people_warnings(config: Config) -> list[str]:
    """Non-fatal: who may act under which name is not enforced yet."""
    if config.escalation.data.get("strict_people") is True:
        return []
    return [
        "escalation.yaml: strict_people is off: anyone may act under any name and "
        "unknown names skip the permissions; list the desk under people: and set "
        "strict_people: true"
    ]


VALIDATORS = (
    validate_calendars,
    validate_escalation,
    validate_delivery,
    validate_alerts,
    validate_procedure,
    validate_people,
)


def problems(config: Config) -> list[str]:
    """Every problem of the rule files, each naming file, line and field."""
    found = config_module.validate(config)
    for validator in VALIDATORS:
        found.extend(validator(config))
    return found


def rule_warnings(config: Config, now: dt.datetime) -> list[str]:
    """Holiday-data gaps of the calendars in use, for a clock started ``now``.

    A calendar is in use when a target or a matrix row counts on it; it warns
    when a deadline started now could reach a year without holiday data
    (in December that is often next year). Broken rules give no warning here:
    `validate` reports them.
    """
    from elinkctl.domain.escalation import EscalationRules
    from elinkctl.domain.sla import SlaRules

    try:
        sla = SlaRules.from_mapping(config.sla.data, config.tz)
        esc = EscalationRules.from_mapping(config.escalation.data, sla.calendars, config.tz)
    except (ConfigError, ValueError, TypeError, KeyError):
        return []
    spans: dict[Calendar, tuple[dt.datetime, dt.datetime]] = {}
    needs = [(t.calendar, max(t.response, t.resolution)) for t in sla.targets.values()]
    needs += [(c.calendar, c.offset) for row in esc.rows.values() for c in row]
    for cal, amount in needs:
        end = cal.deadline(now, amount) or now
        lo, hi = spans.get(cal, (now, end))
        spans[cal] = (lo, max(hi, end))
    return holiday_gaps(spans)
