"""Intake: incidents registered from a mail message or a monitoring alert.

The parsing layer (:mod:`elinkctl.ingest`) turns bytes into facts; this
module decides what those facts mean for the store and writes them in ONE
commit per input, so a mail server or webhook either gets everything
recorded or nothing (a half-ingested payload would be re-sent and doubled).

Order of work, for both kinds of input: read (size-capped) → parse → map
(all pure; any problem raises before the store is touched) → under the
store lock: look up what is already recorded, build every change, commit.

**Mail** (``ingest email``)

* The message's own ``Message-ID`` already recorded on some event → it was
  delivered twice (mail servers retry on timeouts): nothing is written,
  the ticket's ID is reported.
* A reply — an incident ID in the subject that exists in this store, else
  ``In-Reply-To``/``References`` naming a ``message_id`` recorded on a
  ticket's events, else an incident ID inside those thread headers — becomes
  a ``commented`` event (``via: email``, ``message_id``, ``from``, the reply
  text without the quoted history). A comment is allowed in any status, so
  a reply to a closed incident is recorded too (with a note to the desk).
* Anything else registers an incident: source ``email``, the sender as
  reporter, the cleaned subject as title, the text body (HTML as text,
  attachment names listed) as description, ``message_id`` and ``from`` on
  the ``created`` event. Type: ``consultation`` when the subject asks a
  question (咨询, 如何, 怎么, 怎样, 请教), else ``failure`` — mail to the
  desk is mostly "something is broken"; the desk corrects it with
  ``edit --type … --reason``. ``--type`` overrides (e.g. a separate
  ``requests@`` alias piped with ``--type request``). Priority comes from
  the urgency × impact matrix at medium × medium, like ``new``.
* Reporter: the mail's display name (else the address). A reporter of an
  earlier ticket from the same address is reused (with the phone and
  department the desk recorded). Key user: the name, the address or that
  phone listed under ``key_users`` in sla.yaml.

**Alerts** (``ingest alert``)

* Mapped by the ``alerts:`` rules of sla.yaml (:class:`AlertRules`).
* Registered at *now*, not at the alert's ``starts_at``: the procedure's
  clocks (response, escalation) run from when the incident was reported to
  the desk, and the notification is that report. An alert delivered late
  (group_wait, a replay after an Alertmanager restart, a Zabbix queue) would
  otherwise be born overdue and fire every escalation level at once. The
  true start is kept as ``starts_at`` on the event and in the description.
* The incident of an alert is found by ``alert_key`` (recorded on the
  ``created`` event and on every ``alert`` event). Firing, incident open →
  an ``alert`` event (key, status, summary, starts_at). Firing, incident
  resolved less than ``flap_window`` ago → an ``alert`` event and a reopen
  ("告警再次触发"): the problem is back, and the reopen is counted like any
  other. Otherwise a new incident.
* Resolved → an ``alert`` event with status resolved on the open (or
  resolved) incident; with ``auto_resolve: true`` the open incident is also
  resolved ("监控告警已恢复"). A resolved notification for an alert with no
  incident (or a closed/rejected one) is not recorded.
* A *repeat* of a firing already recorded on some incident — same key and
  same Zabbix event ID, or (when either lacks an event ID) same key and same
  start — is matched to that incident **whatever its state** and nothing is
  written; its ID is printed and a note says the state. Alertmanager
  re-sends every ``repeat_interval`` and Zabbix repeats escalation steps: a
  false alarm rejected once stays silent, a repeat on a resolved incident
  does not reopen it. A *new* firing (new start, new event) is a fold, a
  reopen or a new incident as above.
* Zabbix: discovery and autoregistration events are not incidents (exit 0,
  a note); internal events (a trigger monitoring cannot evaluate, and back)
  are a comment on the trigger's open incident, never the problem and never
  its resolution; problem updates (acknowledged, commented, severity
  changed) are comments saying who did what, once each, and a "closed"
  update is the event's resolution. Alertmanager's ``truncatedAlerts`` is
  a note: those alerts were never sent.
* Every alert of one payload goes into ONE commit.

Text from mail and alerts is stored as plain text with control characters
(terminal escapes) removed; the HTML renderers escape it on output.
"""

from __future__ import annotations

from elinkctl.ingest.quotes import reply_text
from elinkctl.services.intake.alert import ingest_alerts
from elinkctl.services.intake.common import (
    ALERT_REOPEN_REASON,
    AUTO_RESOLVE_SOLUTION,
    MAX_INPUT_BYTES,
    IntakeResult,
    Outcome,
    guess_type,
    read_input,
)
from elinkctl.services.intake.mail import ingest_email

__all__ = [
    "ALERT_REOPEN_REASON",
    "AUTO_RESOLVE_SOLUTION",
    "MAX_INPUT_BYTES",
    "IntakeResult",
    "Outcome",
    "guess_type",
    "ingest_alerts",
    "ingest_email",
    "read_input",
    "reply_text",
]
