"""How Zabbix names things, for :mod:`elinkctl.ingest.zabbix` and the rules:
the prefixes message templates put before an event name, and the host
groups Zabbix itself creates.

Media types that post only ``{ALERT.SUBJECT}`` (Slack, MS Teams, PagerDuty,
Opsgenie …) carry the template's prefix in the name — Zabbix's defaults
(``ui/include/classes/helpers/CMediatypeHelper.php``: ``Problem: ``,
``Resolved in {EVENT.DURATION}: ``, ``Updated problem in {EVENT.AGE}: ``,
``Service "{SERVICE.NAME}" problem: ``) and what Chinese desks write
(``故障: ``, ``恢复: ``, ``【故障】``). Without the prefix the title reads as
the problem, and the problem and its recovery have the same name.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["BUILTIN_GROUPS", "is_builtin_group", "strip_prefix"]

#: Host groups a fresh Zabbix creates (and ships templates into): they say
#: how a host was added or what it runs, never which service it belongs to.
BUILTIN_GROUPS = frozenset(
    {
        "discovered hosts",
        "zabbix servers",
        "linux servers",
        "windows servers",
        "virtual machines",
        "hypervisors",
        "templates",
        "applications",
        "databases",
    }
)

_DUR = r"[^:：]{1,40}"
_PREFIX_RE = re.compile(
    r"^(?:"
    r"(?:problem|resolved|recovered|recovery|ok|update|updated)(?:\s+problem)?"
    rf"(?:\s+in\s+{_DUR})?\s*[:：]"
    r"|service\s+\"(?P<svc>[^\"]{1,200})\"\s+(?:problem|resolved(?:\s+in\s+" + _DUR + r")?)\s*[:：]"
    r"|changed\s+\"(?P<svc2>[^\"]{1,200})\"\s+service status to\b[^:：]*$"
    r"|(?:故障|问题|告警|报警|恢复|已恢复|已解决|恢复正常|更新|已更新|确认)\s*[:：]"
    r"|[\[【]\s*(?:故障|问题|告警|报警|恢复|已恢复|已解决|更新|problem|resolved|ok|recovery|update)"
    r"\s*[\]】]\s*[:：]?"
    r")\s*",
    re.IGNORECASE,
)


def is_builtin_group(name: str) -> bool:
    """Whether ``name`` is one of Zabbix's own host groups (or ``Templates/…``)."""
    folded = " ".join(name.lower().split())
    return folded in BUILTIN_GROUPS or folded.startswith("templates/")


def strip_prefix(name: str) -> tuple[str, str | None]:
    """``name`` without a message-template prefix, and the service a
    service-event subject names (``Service "支付" problem: …``)."""
    text = name.strip()
    start = 0
    # An emoji or symbol some templates put first ("🚨 Problem: …").
    while start < len(text) and (
        unicodedata.category(text[start]).startswith("S")
        or text[start] in "\ufe0f\u200d"
        or text[start].isspace()
    ):
        start += 1
    rest, service = text[start:], None
    # Templates stack them: VictorOps' "[{EVENT.STATUS}] " before "【故障】…".
    for _ in range(3):
        match = _PREFIX_RE.match(rest)
        if match is None:
            break
        service = service or match.group("svc") or match.group("svc2")
        rest = rest[match.end() :].strip()
    if rest == text[start:]:
        return text, None
    return (rest or text), service
