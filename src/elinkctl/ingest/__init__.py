"""Intake of incidents from mail and monitoring (``elinkctl ingest``).

Pure parsing and mapping — bytes in, records out; the CLI decides what to
do with them (new ticket, comment on an existing one, fold a repeat):

* :func:`parse_email` → :class:`ParsedEmail`; :func:`find_ticket_ids` and
  :func:`clean_subject` for replies and titles.
* :func:`parse_alerts` → :class:`AlertBatch` (Alertmanager, Zabbix: alerts and
  notes on what is not an alert); :func:`parse_alert_payload` → ``list[Alert]``.
* :class:`AlertRules` (``sla.yaml`` ``alerts:``) → :class:`Registration`;
  :func:`should_fold` for flapping alerts; :func:`validate_alert_rules`.

Every malformed input raises :class:`IngestError` (an ``ElinkError``).
"""

from __future__ import annotations

from elinkctl.ingest.alert import (
    Alert,
    AlertBatch,
    ZabbixUpdate,
    normalise_severity,
    parse_alert_payload,
    parse_alerts,
)
from elinkctl.ingest.errors import IngestError
from elinkctl.ingest.html import html_to_text
from elinkctl.ingest.mail import (
    TRUNCATION_NOTE,
    ParsedEmail,
    clean_subject,
    find_ticket_ids,
    parse_email,
)
from elinkctl.ingest.rules import (
    DEFAULT_ALERT_RULES,
    AlertRules,
    Registration,
    should_fold,
    validate_alert_rules,
)

__all__ = [
    "DEFAULT_ALERT_RULES",
    "TRUNCATION_NOTE",
    "Alert",
    "AlertBatch",
    "AlertRules",
    "IngestError",
    "ParsedEmail",
    "Registration",
    "clean_subject",
    "find_ticket_ids",
    "html_to_text",
    "normalise_severity",
    "parse_alert_payload",
    "parse_alerts",
    "parse_email",
    "should_fold",
    "validate_alert_rules",
    "ZabbixUpdate",
]
