"""Alert intake: payload detection, parsing, and the alert → ticket mapping."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from elinkctl.errors import ConfigError
from elinkctl.ingest import (
    DEFAULT_ALERT_RULES,
    Alert,
    AlertRules,
    IngestError,
    parse_alert_payload,
    should_fold,
    validate_alert_rules,
)

SAMPLES = Path(__file__).parent / "samples"
SHANGHAI = ZoneInfo("Asia/Shanghai")
SLA_YAML = Path(__file__).parents[1] / "src" / "elinkctl" / "data" / "sla.yaml"


def load(name: str) -> list[Alert]:
    return parse_alert_payload((SAMPLES / name).read_bytes())


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES / name).read_text("utf-8"))
    return data


def dumps(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def alert(**overrides: Any) -> Alert:
    base: dict[str, Any] = {
        "source": "alertmanager",
        "key": "k1",
        "status": "firing",
        "name": "DiskFull",
        "severity": "critical",
        "labels": {"alertname": "DiskFull", "severity": "critical"},
        "summary": "磁盘空间不足",
    }
    base.update(overrides)
    return Alert(**base)


# ---------------------------------------------------------------------------
# Alertmanager
# ---------------------------------------------------------------------------


def test_alertmanager_firing_sample() -> None:
    first, second = load("alertmanager_firing.json")
    assert first.source == "alertmanager"
    assert first.key == "5c1f7e1d0c3b2a91"
    assert first.status == "firing"
    assert first.name == "MySQLDown"
    assert first.severity == "critical"
    assert first.labels["service"] == "财务系统"
    assert first.labels["env"] == "prod"
    assert first.summary == "财务系统数据库不可用"
    assert first.description.startswith("财务系统主库 fin-db01:9104 已连续 2 分钟无法连接")
    assert first.annotations["runbook_url"] == "https://wiki.example.cn/runbooks/mysql-down"
    # Nanoseconds from Go are cut to microseconds; "Z" is UTC.
    assert first.starts_at == dt.datetime(2026, 11, 23, 2, 1, 5, 123456, tzinfo=dt.UTC)
    assert first.ends_at is None  # 0001-01-01 means "not ended"
    assert first.url is not None and first.url.startswith("http://prometheus.example.cn:9090/")
    assert (first.instance, first.service) == ("fin-db01:9104", "财务系统")
    assert first.event_id is None

    assert second.key == "a0e2d64f9b7c1e38"
    assert second.severity == "warning"
    # A firing alert's endsAt is only Alertmanager's predicted expiry.
    assert second.ends_at is None
    assert second.starts_at == dt.datetime(2026, 11, 23, 1, 55, 35, 482000, tzinfo=dt.UTC)


def test_alertmanager_resolved_sample_has_same_key() -> None:
    (resolved,) = load("alertmanager_resolved.json")
    (firing, _) = load("alertmanager_firing.json")
    assert resolved.status == "resolved"
    assert resolved.key == firing.key
    assert resolved.ends_at == dt.datetime(2026, 11, 23, 2, 31, 50, 500000, tzinfo=dt.UTC)


def test_alertmanager_without_fingerprint_hashes_sorted_labels() -> None:
    body = payload("alertmanager_firing.json")
    for item in body["alerts"]:
        del item["fingerprint"]
    once = parse_alert_payload(dumps(body))
    # Same labels in another order → same key; other labels → another key.
    for item in body["alerts"]:
        item["labels"] = dict(reversed(list(item["labels"].items())))
    again = parse_alert_payload(dumps(body))
    assert [a.key for a in once] == [a.key for a in again]
    assert once[0].key.startswith("labels:") and once[0].key != once[1].key


def test_alertmanager_common_annotations_and_group_status_fallback() -> None:
    body = {
        "version": "4",
        "status": "firing",
        "commonLabels": {"env": "test"},
        "commonAnnotations": {"summary": "共同摘要", "description": "共同描述"},
        "alerts": [{"labels": {"alertname": "X"}, "annotations": {"description": "自己的描述"}}],
    }
    (only,) = parse_alert_payload(dumps(body))
    assert only.status == "firing"
    assert only.summary == "共同摘要" and only.description == "自己的描述"
    assert only.labels == {"env": "test", "alertname": "X"}
    assert only.severity == "unknown"
    assert only.url is None and only.instance is None and only.service is None


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b.update(version="5"), "version '5' is not supported"),
        (lambda b: b.update(alerts=[]), "'alerts' is empty"),
        (lambda b: b.update(alerts={"a": 1}), "'alerts' must be a list"),
        (lambda b: b["alerts"][0].update(status="pending"), r"alerts\[0\].status"),
        (lambda b: b["alerts"][1].update(labels=[]), r"alerts\[1\].labels must be an object"),
        (lambda b: b["alerts"][0].update(startsAt="yesterday"), r"alerts\[0\].startsAt"),
        (lambda b: b["alerts"].append("x"), r"alerts\[2\] must be an object"),
    ],
)
def test_alertmanager_errors_name_the_field(mutate: Any, message: str) -> None:
    body = copy.deepcopy(payload("alertmanager_firing.json"))
    mutate(body)
    with pytest.raises(IngestError, match=message):
        parse_alert_payload(dumps(body))


def test_alertmanager_missing_labels_sample() -> None:
    with pytest.raises(IngestError, match=r"alerts\[0\].labels is missing"):
        load("alertmanager_malformed_nolabels.json")


# ---------------------------------------------------------------------------
# Zabbix
# ---------------------------------------------------------------------------


def test_zabbix_problem_sample() -> None:
    (problem,) = load("zabbix_problem.json")
    assert problem.source == "zabbix"
    assert problem.key == "trigger:24781"
    assert problem.event_id == "3148726"
    assert problem.status == "firing"
    assert problem.name == problem.summary == "fin-app01 上的 Nginx 服务停止"
    assert problem.severity == "high"
    assert problem.starts_at == dt.datetime(2026, 11, 23, 10, 15, 2, tzinfo=SHANGHAI)
    assert problem.ends_at is None  # {EVENT.RECOVERY.DATE} left unexpanded
    assert problem.instance == "fin-app01"
    assert problem.service == "财务系统"  # tag service
    assert problem.labels["component"] == "nginx"
    assert problem.labels["host_ip"] == "10.20.3.21"
    assert problem.labels["host_group"] == "财务系统"
    assert problem.labels["host_groups"] == "财务系统, Linux servers"
    assert problem.description.startswith("Problem started at 10:15:02 on 2026.11.23")
    assert problem.url == (
        "https://zabbix.example.cn/zabbix/tr_events.php?triggerid=24781&eventid=3148726"
    )
    assert "trigger_description" not in problem.annotations


def test_zabbix_resolved_sample() -> None:
    (resolved,) = load("zabbix_resolved.json")
    (problem,) = load("zabbix_problem.json")
    assert resolved.status == "resolved"
    assert resolved.key == problem.key
    assert resolved.ends_at == dt.datetime(2026, 11, 23, 10, 42, 17, tzinfo=SHANGHAI)


def test_zabbix_tz_parameter() -> None:
    (problem,) = parse_alert_payload((SAMPLES / "zabbix_problem.json").read_bytes(), tz=dt.UTC)
    assert problem.starts_at == dt.datetime(2026, 11, 23, 10, 15, 2, tzinfo=dt.UTC)


def test_zabbix_macro_style_keys_numeric_severity_and_tag_list() -> None:
    body = {
        "EVENT.ID": "77",
        "EVENT.NAME": "核心交换机 down",
        "EVENT.NSEVERITY": "5",
        "EVENT.VALUE": "1",
        "HOST.NAME": "core-sw01",
        "EVENT.TAGSJSON": [{"tag": "security", "value": "true"}, {"tag": "scope", "value": "全局"}],
        "timestamp": 1795400000,
    }
    (only,) = parse_alert_payload(dumps(body))
    assert only.severity == "disaster"
    assert only.status == "firing"
    assert only.instance == "core-sw01"
    assert only.labels["security"] == "true" and only.labels["scope"] == "全局"
    assert only.key.startswith("host:")  # no trigger id
    assert only.starts_at == dt.datetime.fromtimestamp(1795400000, tz=SHANGHAI)


def test_zabbix_host_name_key_is_stable_and_ignores_event_id() -> None:
    one = {"eventid": "1", "subject": "ping 失败", "status": "PROBLEM", "host": "h1"}
    two = {**one, "eventid": "2"}
    other_host = {**one, "host": "h2"}
    keys = [parse_alert_payload(dumps(b))[0].key for b in (one, two, other_host)]
    assert keys[0] == keys[1] != keys[2]


@pytest.mark.parametrize(
    ("fields", "severity", "status"),
    [
        ({"severity": "严重", "status": "问题"}, "high", "firing"),
        ({"severity": "一般严重", "status": "已恢复"}, "average", "resolved"),
        ({"severity": "Not classified", "status": "OK"}, "not classified", "resolved"),
        ({"severity": "Information", "event_value": 0}, "information", "resolved"),
        ({"severity": "3", "event_value": "1"}, "average", "firing"),
        ({"status": "UPDATE"}, "unknown", "firing"),
        ({"Severity": "WARNING", "Status": "recovery"}, "warning", "resolved"),
    ],
)
def test_zabbix_severity_and_status_variants(
    fields: dict[str, Any], severity: str, status: str
) -> None:
    body = {"event_name": "x", "trigger_id": "9", **fields}
    (only,) = parse_alert_payload(dumps(body))
    assert (only.severity, only.status) == (severity, status)


def test_zabbix_list_of_events() -> None:
    events = [payload("zabbix_problem.json"), payload("zabbix_resolved.json")]
    parsed = parse_alert_payload(dumps(events))
    assert [a.status for a in parsed] == ["firing", "resolved"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"event_id": "1", "event_value": "1", "host": "h"}, "event name is missing"),
        ({"event_id": "1", "event_name": "n", "host": "h"}, "status is missing"),
        ({"event_id": "1", "event_name": "n", "event_value": "7", "host": "h"}, "event_value '7'"),
        ({"event_id": "1", "event_name": "n", "event_value": "1"}, "no identity"),
        ({"event_name": "n", "event_value": 1, "host": "h", "event_nseverity": "9"}, "0–5"),
        (
            {
                "event_name": "n",
                "event_value": 1,
                "host": "h",
                "event_date": "2026.11.23",
                "event_time": "25:00:00",
            },
            "event_date/event_time",
        ),
        ({"event_name": "n", "event_value": 1, "host": "h", "event_tags": 5}, "event_tags"),
        (
            {"event_name": "n", "event_value": 1, "host": "h", "tags": [{"value": "x"}]},
            r"tags\[0\]",
        ),
    ],
)
def test_zabbix_errors_name_the_field(body: dict[str, Any], message: str) -> None:
    with pytest.raises(IngestError, match=message):
        parse_alert_payload(dumps(body))


def test_zabbix_missing_status_sample() -> None:
    with pytest.raises(IngestError, match="status is missing"):
        load("zabbix_malformed_nostatus.json")


# ---------------------------------------------------------------------------
# Detection and malformed input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\xff\xfe{", "not UTF-8"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "expected a JSON object, got list"),
        (b"42", "expected a JSON object, got int"),
        (b"{}", "unknown alert payload"),
    ],
)
def test_malformed_payloads(data: bytes, message: str) -> None:
    with pytest.raises(IngestError, match=message):
        parse_alert_payload(data)


def test_malformed_samples() -> None:
    with pytest.raises(IngestError, match="not valid JSON"):
        load("alert_malformed_truncated.json")
    with pytest.raises(IngestError, match="unknown alert payload.*keys: evalMatches"):
        load("alert_malformed_unknown.json")


def test_utf8_bom_is_accepted() -> None:
    data = b"\xef\xbb\xbf" + (SAMPLES / "zabbix_problem.json").read_bytes()
    assert parse_alert_payload(data)[0].key == "trigger:24781"


# ---------------------------------------------------------------------------
# Mapping
# ---------------------------------------------------------------------------

DEFAULTS = AlertRules.from_config(None)


def test_defaults_match_the_shipped_sla_yaml() -> None:
    section = yaml.safe_load(SLA_YAML.read_text("utf-8"))["alerts"]
    assert section == DEFAULT_ALERT_RULES
    assert validate_alert_rules(section) == []
    assert AlertRules.from_config(section) == DEFAULTS
    assert AlertRules.from_config({}) == DEFAULTS


@pytest.mark.parametrize(
    ("severity", "labels", "priority"),
    [
        ("critical", {}, "P2"),
        ("critical", {"impact": "major"}, "P1"),
        ("critical", {"impact": "Major"}, "P1"),
        ("disaster", {"scope": "全局"}, "P1"),
        ("disaster", {"scope": "single"}, "P2"),
        ("high", {"impact": "major"}, "P2"),  # the major rule is for critical/disaster
        ("error", {}, "P2"),
        ("warning", {}, "P3"),
        ("average", {}, "P3"),
        ("info", {}, "P4"),
        ("information", {}, "P4"),
        ("not classified", {}, "P4"),
        ("unknown", {}, "P3"),
        ("bizarre", {}, "P3"),
        ("warning", {"priority": "p1"}, "P1"),  # the monitoring team decided
        ("warning", {"priority": "P9"}, "P3"),  # an invalid label is ignored
    ],
)
def test_default_priorities(severity: str, labels: dict[str, str], priority: str) -> None:
    assert DEFAULTS.priority_for(alert(severity=severity, labels=labels)) == priority


def test_map_alertmanager_sample() -> None:
    first, second = load("alertmanager_firing.json")
    reg = DEFAULTS.map(first, tz=SHANGHAI)
    assert reg.title == "财务系统数据库不可用 (fin-db01:9104)"
    assert reg.type == "failure"
    assert reg.priority == "P1"  # critical + impact: major
    assert reg.system == "财务系统"
    assert reg.module == "fin-db01:9104"
    assert reg.key_user is False and reg.security is False
    assert reg.source == "monitoring"
    assert reg.alert_key == "5c1f7e1d0c3b2a91"
    assert reg.opened_at == first.starts_at
    lines = reg.description.splitlines()
    assert lines[0].startswith("财务系统主库 fin-db01:9104")
    assert "告警来源: alertmanager" in lines
    assert "开始时间: 2026-11-23T10:01:05+08:00" in lines
    assert "runbook_url: https://wiki.example.cn/runbooks/mysql-down" in lines
    assert DEFAULTS.map(second).priority == "P3"


def test_map_zabbix_sample() -> None:
    (problem,) = load("zabbix_problem.json")
    reg = DEFAULTS.map(problem)
    assert reg.title == "fin-app01 上的 Nginx 服务停止"  # host already in the name
    assert reg.priority == "P2"  # high
    assert (reg.system, reg.module) == ("财务系统", "fin-app01")
    assert "事件ID: 3148726" in reg.description.splitlines()


def test_zabbix_host_group_is_the_system_without_service_tag() -> None:
    body = payload("zabbix_problem.json")
    body["event_tags"] = "component:nginx"
    body["trigger_hostgroup_name"] = "OA系统, Linux servers"
    (problem,) = parse_alert_payload(dumps(body))
    assert DEFAULTS.map(problem).system == "OA系统"


def test_security_flag_and_missing_system() -> None:
    reg = DEFAULTS.map(alert(labels={"security": "true"}, instance=None))
    assert reg.security is True
    assert reg.system is None and reg.module is None
    assert reg.title == "磁盘空间不足"
    assert DEFAULTS.map(alert(labels={"security": "是"})).security is True
    assert DEFAULTS.map(alert(labels={"security": "false"})).security is False


def test_long_title_is_cut() -> None:
    reg = DEFAULTS.map(alert(summary="很长" * 100))
    assert len(reg.title) == 120 and reg.title.endswith("…")


def test_config_overrides() -> None:
    rules = AlertRules.from_config(
        {
            "severity": {"Critical": "P1", "page": "p2"},
            "default_priority": "P4",
            "major": {"labels": {"tier": "core"}},
            "priority_label": None,
            "system_labels": ["app"],
            "default_system": "监控平台",
            "security_label": "sec",
            "flap_window": "30m",
            "auto_resolve": True,
        }
    )
    assert rules.priority_for(alert(severity="critical")) == "P1"
    assert rules.priority_for(alert(severity="page")) == "P2"
    assert rules.priority_for(alert(severity="warning")) == "P3"  # default kept (merged)
    assert rules.priority_for(alert(severity="odd")) == "P4"
    assert rules.priority_for(alert(severity="disaster", labels={"tier": "core"})) == "P1"
    assert rules.priority_for(alert(severity="disaster", labels={"impact": "major"})) == "P2"
    assert rules.priority_for(alert(severity="info", labels={"priority": "P1"})) == "P4"
    assert rules.system_for(alert(labels={"app": "ERP", "service": "x"})) == "ERP"
    assert rules.system_for(alert(labels={"service": "x"})) == "监控平台"
    assert rules.is_security(alert(labels={"sec": "yes"}))
    assert rules.flap_window == dt.timedelta(minutes=30)
    assert rules.auto_resolve is True
    assert DEFAULTS.auto_resolve is False
    assert DEFAULTS.flap_window == dt.timedelta(minutes=10)


@pytest.mark.parametrize(
    ("mapping", "problem"),
    [
        ({"severity": {"critical": "P9"}}, "alerts.severity.critical: unknown priority P9"),
        ({"severity": ["critical"]}, "alerts.severity: must be a mapping"),
        ({"default_priority": "high"}, "alerts.default_priority: unknown priority high"),
        ({"major": {"priority": "P0"}}, "alerts.major.priority: unknown priority P0"),
        ({"major": {"labels": {"impact": {"a": 1}}}}, "alerts.major.labels.impact"),
        ({"major": {"colour": "red"}}, "alerts.major.colour: unknown key"),
        ({"major": "yes"}, "alerts.major: must be a mapping"),
        ({"flap_window": "ten minutes"}, "alerts.flap_window: invalid duration"),
        ({"flap_window": "1wd"}, "alerts.flap_window: "),
        ({"auto_resolve": "yes"}, "alerts.auto_resolve: must be true or false"),
        ({"system_labels": "service"}, "alerts.system_labels: must be a list"),
        ({"default_system": 5}, "alerts.default_system: must be text or null"),
        ({"flap": "10m"}, "alerts.flap: unknown key"),
    ],
)
def test_validation_names_the_field(mapping: dict[str, Any], problem: str) -> None:
    problems = validate_alert_rules(mapping)
    assert any(p.startswith(problem) for p in problems), problems
    with pytest.raises(ConfigError, match="sla.yaml: alerts"):
        AlertRules.from_config(mapping)


def test_validation_of_non_mapping_and_none() -> None:
    assert validate_alert_rules(None) == []
    assert validate_alert_rules(["x"]) == ["alerts: must be a mapping, got list"]


def test_validation_lists_every_problem() -> None:
    problems = validate_alert_rules({"severity": {"a": "P0", "b": "P5"}, "auto_resolve": 1})
    assert len(problems) == 3


# ---------------------------------------------------------------------------
# Flapping
# ---------------------------------------------------------------------------

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
WINDOW = dt.timedelta(minutes=10)


@pytest.mark.parametrize(
    ("resolved_ago", "fold"),
    [
        (None, False),
        (dt.timedelta(minutes=0), True),
        (dt.timedelta(minutes=9, seconds=59), True),
        (dt.timedelta(minutes=10), False),
        (dt.timedelta(hours=2), False),
        (dt.timedelta(minutes=-1), True),  # resolved "in the future": clock skew
    ],
)
def test_should_fold(resolved_ago: dt.timedelta | None, fold: bool) -> None:
    last = None if resolved_ago is None else NOW - resolved_ago
    assert should_fold(last, NOW, WINDOW) is fold
    assert DEFAULTS.should_fold(last, NOW) is fold


def test_zero_window_never_folds() -> None:
    assert should_fold(NOW, NOW, dt.timedelta(0)) is False
    assert AlertRules.from_config({"flap_window": 0}).should_fold(NOW, NOW) is False


# ---------------------------------------------------------------------------
# Robustness: any JSON gives alerts or an IngestError, never a crash
# ---------------------------------------------------------------------------

_KEYS = st.sampled_from(
    [
        "version",
        "alerts",
        "status",
        "labels",
        "annotations",
        "startsAt",
        "endsAt",
        "fingerprint",
        "commonLabels",
        "commonAnnotations",
        "generatorURL",
        "event_id",
        "event_name",
        "event_value",
        "event_status",
        "host",
        "severity",
        "event_nseverity",
        "trigger_id",
        "event_tags",
        "tags",
        "event_date",
        "event_time",
        "timestamp",
        "subject",
        "zabbix_url",
        "host_group",
    ]
)
_SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(_KEYS | st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=16,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        _KEYS, _JSON | st.lists(st.dictionaries(_KEYS, _JSON, max_size=6), max_size=3), max_size=8
    )
)
def test_any_json_gives_alerts_or_ingest_error(body: dict[str, Any]) -> None:
    try:
        alerts = parse_alert_payload(dumps(body))
    except IngestError:
        return
    for one in alerts:
        assert one.status in ("firing", "resolved") and one.key
        assert DEFAULTS.map(one, tz=SHANGHAI).priority in ("P1", "P2", "P3", "P4")


# ---------------------------------------------------------------------------
# Zabbix as the official media types post it (issue #20)
# ---------------------------------------------------------------------------

CORPORA = Path(__file__).parent / "corpora"


def corpus(group: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CORPORA / group / f"{name}.json").read_text("utf-8"))
    return data


@pytest.mark.parametrize(
    ("subject", "name", "service"),
    [
        ("Problem: 磁盘空间不足", "磁盘空间不足", None),
        ("Resolved in 12m 5s: 磁盘空间不足", "磁盘空间不足", None),
        ("Resolved in 1d 2h 3m: Nginx down", "Nginx down", None),
        ("Resolved: Nginx down", "Nginx down", None),
        ("Updated problem in 5m: Nginx down", "Nginx down", None),
        ("Update: Nginx down", "Nginx down", None),
        ("OK: Nginx down", "Nginx down", None),
        ("PROBLEM: Nginx down", "Nginx down", None),
        ("🚨 Problem: Nginx down", "Nginx down", None),
        ("✅ Resolved in 3m: Nginx down", "Nginx down", None),
        ("故障: 财务系统无法登录", "财务系统无法登录", None),
        ("故障：财务系统无法登录", "财务系统无法登录", None),
        ("恢复: 财务系统无法登录", "财务系统无法登录", None),
        ("已恢复：财务系统无法登录", "财务系统无法登录", None),
        ("【故障】财务系统无法登录", "财务系统无法登录", None),
        ("[PROBLEM] 财务系统无法登录", "财务系统无法登录", None),
        ('Service "网上报销" problem: 服务不可用', "服务不可用", "网上报销"),
        ('Service "网上报销" resolved in 5m: 服务不可用', "服务不可用", "网上报销"),
        # Not a template prefix: kept as written.
        ("故障转移失败", "故障转移失败", None),
        ("Problematic backup job", "Problematic backup job", None),
        ("Problem:", "Problem:", None),
    ],
)
def test_template_prefixes_are_removed(subject: str, name: str, service: str | None) -> None:
    from elinkctl.ingest.zabbixnames import strip_prefix

    assert strip_prefix(subject) == (name, service)
    body = {"alert_subject": subject, "event_value": "1", "trigger_id": "7", "event_id": "1"}
    (only,) = parse_alert_payload(dumps(body))
    assert only.name == name


def test_subject_prefix_does_not_split_the_key_of_a_trigger_less_event() -> None:
    problem = {
        "subject": "Problem: ping 失败",
        "status": "PROBLEM",
        "host": "h1",
        "severity": "High",
    }
    resolved = {**problem, "subject": "Resolved in 3m: ping 失败", "status": "OK"}
    one, two = (parse_alert_payload(dumps(b))[0] for b in (problem, resolved))
    assert one.key == two.key


@pytest.mark.parametrize(("source", "word"), [("1", "discovery"), ("2", "autoregistration")])
def test_discovery_and_autoregistration_are_not_alerts(source: str, word: str) -> None:
    from elinkctl.ingest import parse_alerts

    body = {"event_source": source, "event_value": "2", "alert_subject": "Discovery: Up 10.0.0.5"}
    batch = parse_alerts(dumps(body))
    assert batch.alerts == ()
    (note,) = batch.notes
    assert f"{word} event" in note and "not an incident" in note and "Actions" in note
    assert parse_alert_payload(dumps(body)) == []


def test_discovery_sample_needs_no_name_or_status() -> None:
    from elinkctl.ingest import parse_alerts

    assert parse_alerts(dumps({"event_source": "1", "event_id": "5"})).alerts == ()


@pytest.mark.parametrize("value", ["5", "trap", "-1"])
def test_unknown_event_source_is_refused(value: str) -> None:
    body = {"event_source": value, "event_value": "1", "event_name": "x", "trigger_id": "1"}
    with pytest.raises(IngestError, match="event_source .* is not 0–4"):
        parse_alert_payload(dumps(body))


def test_internal_events_are_their_own_kind() -> None:
    unknown = parse_alert_payload(dumps(corpus("zabbix", "slack_internal_unknown")))[0]
    normal = parse_alert_payload(dumps(corpus("zabbix", "slack_internal_normal")))[0]
    problem = parse_alert_payload(dumps(corpus("zabbix", "slack_problem")))[0]
    assert (unknown.kind, unknown.status) == ("internal", "firing")
    assert (normal.kind, normal.status) == ("internal", "resolved")
    assert problem.kind == "problem"
    assert unknown.key == normal.key == problem.key == "trigger:30517"
    assert unknown.event_id != problem.event_id


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"event_status": "UNKNOWN"}, "firing"),
        ({"status": "NOT SUPPORTED"}, "firing"),
        ({"event_status": "NORMAL"}, "resolved"),
        ({"alert_subject": "Trigger changed state to NORMAL"}, "resolved"),
        ({"alert_subject": "Item became not supported"}, "firing"),
    ],
)
def test_internal_event_state_without_event_value(fields: dict[str, Any], status: str) -> None:
    body = {"event_source": "3", "trigger_id": "9", **fields}
    (only,) = parse_alert_payload(dumps(body))
    assert (only.kind, only.status) == ("internal", status)


@pytest.mark.parametrize(
    ("subject", "status"),
    [
        ('Trigger "MySQL: Service is down" changed state to UNKNOWN', "firing"),
        ('Trigger "MySQL: Service is down" changed state to NORMAL', "resolved"),
        ('Item "vfs.fs.size[/data,pfree]" became not supported', "firing"),
        ("触发器 磁盘空间不足 状态变为未知", "firing"),
    ],
)
def test_internal_event_told_by_its_subject_when_the_source_is_not_posted(
    subject: str, status: str
) -> None:
    """A media type without {EVENT.SOURCE}: the internal event must still not be
    taken for the trigger's problem (or its recovery)."""
    body = {"alert_subject": subject, "trigger_id": "9", "event_id": "77", "host": "db01"}
    if status == "firing":
        body["event_value"] = "1"
    (only,) = parse_alert_payload(dumps(body))
    assert (only.kind, only.status) == ("internal", status)
    ordinary = {**body, "alert_subject": "Problem: MySQL: Service is down", "event_value": "1"}
    assert parse_alert_payload(dumps(ordinary))[0].kind == "problem"


def test_internal_event_without_any_state_is_refused() -> None:
    with pytest.raises(IngestError, match="internal event: event_value is missing"):
        parse_alert_payload(dumps({"event_source": "3", "trigger_id": "9", "subject": "x"}))


def test_msteams_update_carries_who_and_what() -> None:
    (ack,) = parse_alert_payload(dumps(corpus("zabbix", "msteams_update_ack")))
    (problem,) = parse_alert_payload(dumps(corpus("zabbix", "msteams_problem")))
    assert ack.kind == "update" and ack.update is not None
    assert ack.update.action == "acknowledged and commented"
    assert ack.update.user == "张三 (zhangsan)"
    assert ack.update.message == "正在处理，已联系网络组"
    assert not ack.update.closes
    assert (ack.key, ack.event_id, ack.starts_at) == (
        problem.key,
        problem.event_id,
        problem.starts_at,
    )
    (closed,) = parse_alert_payload(dumps(corpus("zabbix", "msteams_update_closed")))
    assert closed.update is not None and closed.update.closes
    assert closed.update.uid != ack.update.uid
    # The same update posted twice has the same identity.
    (again,) = parse_alert_payload(dumps(corpus("zabbix", "msteams_update_ack")))
    assert again.update == ack.update


def test_pagerduty_update_is_read_from_the_default_update_text() -> None:
    (ack,) = parse_alert_payload(dumps(corpus("zabbix", "pagerduty_ack")))
    assert ack.kind == "update" and ack.update is not None
    assert (ack.update.user, ack.update.action, ack.update.message) == (
        "王五 (wangwu)",
        "acknowledged",
        "清理日志中",
    )
    assert ack.update.at == "2026.11.23 10:02:07"


def test_update_with_unreadable_text_keeps_the_text() -> None:
    body = {"eventname": "x", "eventid": "3", "triggerid": "4", "eventvalue": "1"}
    body |= {"eventupdate": "1", "alert_message": "someone did something"}
    (only,) = parse_alert_payload(dumps(body))
    assert only.update is not None
    assert (only.update.action, only.update.message) == ("updated", "someone did something")


def test_eda_tags_lists_groups_and_numbers() -> None:
    (only,) = parse_alert_payload(dumps(corpus("zabbix", "eda_problem")))
    assert only.labels["component"] == "nginx"
    assert only.labels["env"] == "prod, dr"
    assert only.groups == ("Discovered hosts", "Linux servers", "OA系统")
    assert only.labels["host_group"] == "OA系统"
    assert only.event_id == "991207" and only.key == "trigger:23118"
    assert only.severity == "high" and only.instance == "oa-app03"
    assert DEFAULTS.map(only).system == "OA系统"


def test_builtin_groups_never_stand_for_the_system() -> None:
    (only,) = parse_alert_payload(dumps(corpus("zabbix", "eda_builtin_groups_only")))
    assert "host_group" not in only.labels
    assert DEFAULTS.map(only).system is None
    rules = AlertRules.from_config({"default_system": "运维平台"})
    assert rules.map(only).system == "运维平台"
    body = {"event_name": "x", "event_value": 1, "trigger_id": 1}
    body["trigger_hostgroup_name"] = "Discovered hosts, Linux servers, Zabbix servers"
    (text,) = parse_alert_payload(dumps(body))
    assert DEFAULTS.map(text).system is None


def test_generic_groups_rule() -> None:
    body = {"event_name": "x", "event_value": 1, "trigger_id": 1}
    body["trigger_hostgroup_name"] = "核心网络设备, 财务系统"
    (only,) = parse_alert_payload(dumps(body))
    assert DEFAULTS.map(only).system == "核心网络设备"
    rules = AlertRules.from_config({"generic_groups": ["核心网络设备"]})
    assert rules.map(only).system == "财务系统"
    # A tag always wins over any group.
    (tagged,) = parse_alert_payload(dumps({**body, "event_tags": "service:OA系统"}))
    assert rules.map(tagged).system == "OA系统"


@pytest.mark.parametrize(
    ("mapping", "problem"),
    [
        ({"generic_groups": "核心网络设备"}, "alerts.generic_groups: must be a list"),
        ({"generic_groups": [1]}, "alerts.generic_groups: must be a list"),
        ({"generic_groups": [""]}, "alerts.generic_groups: must be a list"),
    ],
)
def test_generic_groups_validation(mapping: dict[str, Any], problem: str) -> None:
    assert any(p.startswith(problem) for p in validate_alert_rules(mapping))
    assert validate_alert_rules({"generic_groups": ["a", "b"]}) == []


@pytest.mark.parametrize(
    ("url", "link"),
    [
        ("https://zabbix.example.cn/zabbix", "built"),
        ("https://zabbix.example.cn/zabbix/", "built"),
        ("https://zabbix.example.cn", "built"),
        ("https://zabbix.example.cn/zabbix/index.php", "built"),
        ("https://monitor.example.cn/zabbix.php", "built"),
        ("https://wiki.example.cn/runbooks/disk", "kept"),
        ("https://zabbix.example.cn/zabbix/tr_events.php?triggerid=1&eventid=2", "kept"),
    ],
)
def test_a_frontend_root_is_not_the_event_link(url: str, link: str) -> None:
    body = corpus("zabbix", "pagerduty_problem")
    body["url"] = url
    (only,) = parse_alert_payload(dumps(body))
    if link == "kept":
        assert only.url == url
    else:
        assert only.url == f"{url.rstrip('/')}/tr_events.php?triggerid=24790&eventid=3302214"


def test_frontend_root_without_ids_gives_no_link() -> None:
    body = corpus("zabbix", "pagerduty_problem")
    del body["eventid"]
    body["alert_message"] = body["alert_message"].replace("Original problem ID: 3302214\n", "")
    (only,) = parse_alert_payload(dumps(body))
    assert only.url is None


def test_service_event_has_its_own_identity() -> None:
    (only,) = parse_alert_payload(dumps(corpus("zabbix", "msteams_service")))
    assert only.key.startswith("service:") and only.name == "网上报销服务不可用"
    assert only.labels["service"] == "网上报销"
    assert DEFAULTS.map(only).system == "网上报销"


def test_unknown_macro_values_count_as_absent() -> None:
    body = {"event_name": "x", "event_value": "1", "trigger_id": "1", "host": "*UNKNOWN*"}
    (only,) = parse_alert_payload(dumps(body))
    assert only.instance is None


# ---------------------------------------------------------------------------
# Alertmanager: truncatedAlerts, version 3, Grafana
# ---------------------------------------------------------------------------


def test_truncated_alerts_become_a_note() -> None:
    from elinkctl.ingest import parse_alerts

    batch = parse_alerts((CORPORA / "alertmanager" / "truncated_alerts.json").read_bytes())
    assert len(batch.alerts) == 2
    (note,) = batch.notes
    assert "left 7 more alert(s)" in note and "max_alerts" in note
    for value in (0, "0", None, "x", True, -3):
        body = payload("alertmanager_firing.json")
        body["truncatedAlerts"] = value
        assert parse_alerts(dumps(body)).notes == ()


@pytest.mark.parametrize(
    ("name", "count"),
    [("dingtalk_playground_v3", 2), ("grafana_webhook", 2), ("msteams_prom_post_request", 1)],
)
def test_alertmanager_shapes_of_receivers(name: str, count: int) -> None:
    alerts = parse_alert_payload((CORPORA / "alertmanager" / f"{name}.json").read_bytes())
    assert len(alerts) == count
    assert all(a.status == "firing" and a.key for a in alerts)


def test_version_1_is_only_grafana_s() -> None:
    body = payload("alertmanager_firing.json")
    body["version"] = "1"
    with pytest.raises(IngestError, match="version '1' is not supported"):
        parse_alert_payload(dumps(body))
    body["orgId"] = 1
    assert len(parse_alert_payload(dumps(body))) == 2


def test_status_update_word_is_an_update() -> None:
    body = {"event_name": "x", "trigger_id": "9", "event_id": "3", "status": "UPDATE"}
    (only,) = parse_alert_payload(dumps(body))
    assert only.kind == "update" and only.status == "firing"
    assert only.update is not None and only.update.action == "updated"


def test_trigger_and_event_from_the_event_link() -> None:
    body = corpus("zabbix", "grafana_oncall_problem")
    (only,) = parse_alert_payload(dumps(body))
    assert (only.key, only.event_id, only.status) == ("trigger:38811", "6650123", "firing")
    body["link_to_upstream_details"] = "https://z.example.cn/tr_events.php?triggerid=x1&eventid=²"
    body["host"] = "h1"
    (odd,) = parse_alert_payload(dumps(body))
    assert odd.key.startswith("host:") and odd.event_id == "6650123"


def test_subject_and_message_only_chinese_template() -> None:
    """A hand-written WeCom/DingTalk script posting {ALERT.SUBJECT} and
    {ALERT.MESSAGE} of the Chinese template desks copy from one another."""
    problem = {
        "subject": "故障: 财务系统数据库不可用",
        "message": "告警主机: fin-db01\n主机地址: 10.20.3.11\n告警时间: 2026.11.23 10:05:00\n"
        "告警等级: High\n告警信息: 财务系统数据库不可用\n问题详情: mysql.ping: 0\n"
        "当前状态: PROBLEM: 0\n事件ID: 5120400\n",
    }
    (alert,) = parse_alert_payload(dumps(problem))
    assert (alert.kind, alert.status, alert.event_id) == ("problem", "firing", "5120400")
    assert (alert.name, alert.instance) == ("财务系统数据库不可用", "fin-db01")
    assert alert.severity == "high"
    assert alert.labels["host_ip"] == "10.20.3.11"
    assert alert.starts_at is not None and alert.starts_at.hour == 10
    recovery = {
        "subject": "恢复: 财务系统数据库不可用",
        "message": "告警主机: fin-db01\n告警时间: 2026.11.23 10:05:00\n"
        "恢复时间: 2026.11.23 10:35:00\n告警等级: High\n告警信息: 财务系统数据库不可用\n"
        "当前状态: OK: 1\n事件ID: 5120400\n",
    }
    (back,) = parse_alert_payload(dumps(recovery))
    assert (back.status, back.key, back.event_id) == ("resolved", alert.key, "5120400")
    assert back.ends_at is not None and back.ends_at.minute == 35


def test_subject_and_message_that_say_nothing_of_zabbix_are_refused() -> None:
    """Text alone is not enough: a payload naming no event, host or state is
    refused as unknown, not registered as an empty incident."""
    with pytest.raises(IngestError, match="unknown alert payload"):
        parse_alert_payload(dumps({"subject": "hello", "message": "just text"}))


def test_a_state_line_that_names_no_state_is_not_the_status() -> None:
    """ "状态: 磁盘使用率 95%" in a hand-written template is a value, not the
    event's state: the subject's prefix decides, the payload is not refused."""
    body = {
        "subject": "故障: 磁盘空间不足",
        "message": "告警主机: fin-db01\n状态: 磁盘使用率 95%\n事件ID: 77\n",
    }
    (alert,) = parse_alert_payload(dumps(body))
    assert (alert.status, alert.event_id) == ("firing", "77")
