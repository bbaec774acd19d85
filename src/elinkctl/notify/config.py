"""The ``channels:`` section of escalation.yaml: its schema, checks and ``${VAR}`` expansion.

Channel keys (all channels)
    ``type``        one of ``smtp webhook wecom dingtalk feishu command`` (required)
    ``timeout``     seconds for one network call or command run, 0 < t <= 300
                    (default 10; 30 for ``command``)
    ``rate_limit``  at most this many messages per minute through this channel; the
                    rest stay queued for the next flush (default 20 for the three
                    robots, which is what WeCom/DingTalk/Feishu allow; unlimited
                    otherwise)
    ``kinds``       only these message kinds go here (``escalation sla_warning
                    sla_breach test``); default all

``smtp``
    ``host`` (required), ``port`` (default 465 with ``ssl``, 587 with ``starttls``,
    else 25), ``starttls`` (bool), ``ssl`` (bool, implicit TLS; not with starttls),
    ``username`` and ``password`` (login only when a username is given),
    ``from`` (required unless the username is an address), ``to`` (a list: when
    set, every mail goes to these addresses *instead of* people's ``email:``, e.g.
    a shared mailbox or a staging inbox), ``cc`` (a list added to every mail),
    ``cafile`` (a CA bundle for a relay with a private CA).
``webhook``
    ``url`` (required), ``headers`` (a mapping; values may use ``${VAR}``). The
    body is the message as JSON; any 2xx reply is success.
``wecom`` / ``dingtalk`` / ``feishu``
    ``url`` (required, and it must be or contain ``${VAR}``: robot URLs embed their
    token); ``secret`` for DingTalk/Feishu signed robots (optional: a robot may be
    protected by keywords or an IP list instead).
``command``
    ``argv`` (required, a list; run without a shell, the message as JSON on stdin),
    ``env`` (extra environment variables for the command).

Secrets are never written literally in escalation.yaml, which lives in git and is
read in pull requests: ``password``, ``secret``, ``token``-like fields,
credential headers, and the token part of robot URLs must reference the
environment as ``${VAR}``. Expansion happens only at send time, from the
environment mapping the caller passes, so nothing secret is ever stored in the
outbox either.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from elinkctl.domain.glossary import NOTIFICATIONS
from elinkctl.errors import ElinkError

TYPES = ("smtp", "webhook", "wecom", "dingtalk", "feishu", "command")
ROBOT_TYPES = frozenset({"wecom", "dingtalk", "feishu"})
KINDS = tuple(NOTIFICATIONS)
"""Why a notice may be sent (a channel's ``kinds:`` filter): the glossary's
notification vocabulary, the one list `notify.message.Kind` also follows."""

DEFAULT_TIMEOUT = 10.0
DEFAULT_COMMAND_TIMEOUT = 30.0
MAX_TIMEOUT = 300.0
# WeCom, DingTalk and Feishu all document "20 messages per minute per robot";
# beyond that they answer with an error code and drop the message.
ROBOT_RATE_LIMIT = 20

_COMMON_KEYS = frozenset({"type", "timeout", "rate_limit", "kinds"})
_TYPE_KEYS: dict[str, frozenset[str]] = {
    "smtp": frozenset(
        {"host", "port", "starttls", "ssl", "username", "password", "from", "to", "cc", "cafile"}
    ),
    "webhook": frozenset({"url", "headers"}),
    "wecom": frozenset({"url"}),
    "dingtalk": frozenset({"url", "secret"}),
    "feishu": frozenset({"url", "secret"}),
    "command": frozenset({"argv", "env"}),
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "smtp": ("host",),
    "webhook": ("url",),
    "wecom": ("url",),
    "dingtalk": ("url",),
    "feishu": ("url",),
    "command": ("argv",),
}

_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_BAD_REF_RE = re.compile(r"\$\{(?![A-Za-z_][A-Za-z0-9_]*\})")
# Field and header names that carry credentials. Matching by substring catches
# access_token, api_key, X-Auth-Token, client_secret and friends.
_SECRET_NAME_RE = re.compile(r"pass|secret|token|key|sign|auth|cookie|credential", re.I)
_EMAIL_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


class DeliveryError(ElinkError):
    """One delivery failed; the outbox keeps it and retries with back-off.

    The message must never contain a secret (robot URLs carry tokens): it ends up
    in ``check --json`` and in cron mail.
    """


def has_ref(value: str) -> bool:
    """True when the value references the environment as ``${VAR}``."""
    return _VAR_RE.search(value) is not None


def expand(value: str, env: Mapping[str, str], where: str) -> str:
    """Replace every ``${VAR}`` from ``env``.

    A missing or empty variable is a delivery error naming the field and the
    variable (never its value), because cron's environment is the usual culprit
    and the operator must be able to tell which one.
    """

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        got = env.get(name)
        if not got:
            raise DeliveryError(f"{where}: environment variable {name} is not set")
        return got

    return _VAR_RE.sub(one, value)


def _is_secret_name(name: str) -> bool:
    return _SECRET_NAME_RE.search(name) is not None


def _literal_url_secrets(url: str, type_: str) -> str | None:
    """Why ``url`` embeds a literal credential, or None.

    Robot URLs always embed a token (WeCom ``?key=``, DingTalk ``?access_token=``,
    Feishu ``/hook/<token>``), so for robots the URL must reference the
    environment at all, and the token part in particular.
    """
    if _VAR_RE.fullmatch(url.strip()):
        return None
    if type_ in ROBOT_TYPES and not has_ref(url):
        return "literal robot URL embeds its token; use ${ENV_VAR}"
    try:
        parts = urlsplit(url)
    except ValueError:
        return None  # reported as a bad URL elsewhere
    if parts.password is not None and not has_ref(parts.password):
        return "literal password in URL; use ${ENV_VAR}"
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if _is_secret_name(name) and value and not has_ref(value):
            return f"literal {name} in URL; use ${{ENV_VAR}}"
    if type_ == "feishu" and "/hook/" in parts.path:
        token = parts.path.split("/hook/", 1)[1]
        if token and not has_ref(token):
            return "literal hook token in URL; use ${ENV_VAR}"
    return None


def _check_url(where: str, value: Any, type_: str, out: list[str]) -> None:
    if not isinstance(value, str) or not value.strip():
        out.append(f"{where}: must be a URL")
        return
    if not value.startswith("${") and not re.match(r"^https?://[^/\s]+", value):
        out.append(f"{where}: must start with http:// or https://")
        return
    why = _literal_url_secrets(value, type_)
    if why:
        out.append(f"{where}: {why}")


def _check_refs(where: str, value: str, out: list[str]) -> None:
    if _BAD_REF_RE.search(value):
        out.append(f"{where}: malformed ${{...}} reference (use ${{NAME}} with A-Z, 0-9, _)")


def _check_secret(where: str, value: Any, out: list[str]) -> None:
    if not isinstance(value, str):
        out.append(f"{where}: must be a string reference like ${{ENV_VAR}}")
    elif not has_ref(value):
        out.append(f"{where}: literal secret; use ${{ENV_VAR}}")


def _check_addresses(where: str, value: Any, out: list[str]) -> None:
    if not isinstance(value, list) or not value:
        out.append(f"{where}: must be a non-empty list of email addresses")
        return
    for i, addr in enumerate(value):
        if not isinstance(addr, str) or not _EMAIL_RE.match(addr):
            out.append(f"{where}[{i}]: not an email address: {addr!r}")


def _check_channel(name: str, data: Any, out: list[str]) -> None:
    base = f"channels.{name}"
    if not isinstance(data, Mapping):
        out.append(f"{base}: must be a mapping with a type")
        return
    type_ = data.get("type")
    if type_ is None:
        out.append(f"{base}.type: missing (use {', '.join(TYPES)})")
        return
    if type_ not in TYPES:
        out.append(f"{base}.type: unknown type {type_!r} (use {', '.join(TYPES)})")
        return
    allowed = _COMMON_KEYS | _TYPE_KEYS[type_]
    for key in data:
        if key not in allowed:
            out.append(
                f"{base}.{key}: unknown key for a {type_} channel "
                f"(allowed: {', '.join(sorted(allowed))})"
            )
    for key in _REQUIRED[type_]:
        if data.get(key) in (None, "", []):
            out.append(f"{base}.{key}: missing (required for a {type_} channel)")

    for key, value in data.items():
        if isinstance(value, str):
            _check_refs(f"{base}.{key}", value, out)

    timeout = data.get("timeout")
    if timeout is not None and (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0 < timeout <= MAX_TIMEOUT
    ):
        out.append(f"{base}.timeout: must be seconds, 0 < timeout <= {MAX_TIMEOUT:g}")
    rate = data.get("rate_limit")
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int) or rate < 1):
        out.append(f"{base}.rate_limit: must be a positive number of messages per minute")
    kinds = data.get("kinds")
    if kinds is not None:
        if not isinstance(kinds, list) or not kinds:
            out.append(f"{base}.kinds: must be a non-empty list of {', '.join(KINDS)}")
        else:
            for kind in kinds:
                if kind not in KINDS:
                    out.append(f"{base}.kinds: unknown kind {kind!r} (use {', '.join(KINDS)})")

    if type_ == "smtp":
        _check_smtp(base, data, out)
    elif type_ == "command":
        _check_command(base, data, out)
    else:
        if data.get("url") not in (None, ""):
            _check_url(f"{base}.url", data["url"], type_, out)
        if "secret" in data:
            _check_secret(f"{base}.secret", data["secret"], out)
        if type_ == "webhook" and "headers" in data:
            headers = data["headers"]
            if not isinstance(headers, Mapping):
                out.append(f"{base}.headers: must be a mapping of header name to value")
            else:
                for hname, hvalue in headers.items():
                    hwhere = f"{base}.headers.{hname}"
                    if not isinstance(hname, str) or not isinstance(hvalue, str):
                        out.append(f"{hwhere}: header names and values must be strings")
                    elif _is_secret_name(hname):
                        _check_secret(hwhere, hvalue, out)


def _check_smtp(base: str, data: Mapping[str, Any], out: list[str]) -> None:
    host = data.get("host")
    if host not in (None, "") and (not isinstance(host, str) or any(c.isspace() for c in host)):
        out.append(f"{base}.host: must be a host name")
    port = data.get("port")
    if port is not None and (
        isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535
    ):
        out.append(f"{base}.port: must be a number 1-65535, got {port!r}")
    for flag in ("starttls", "ssl"):
        if flag in data and not isinstance(data[flag], bool):
            out.append(f"{base}.{flag}: must be true or false")
    if data.get("starttls") is True and data.get("ssl") is True:
        out.append(f"{base}.ssl: choose either ssl (implicit TLS, port 465) or starttls")
    if "password" in data:
        _check_secret(f"{base}.password", data["password"], out)
        if not data.get("username"):
            out.append(f"{base}.password: given without a username")
    username = data.get("username")
    if username is not None and not isinstance(username, str):
        out.append(f"{base}.username: must be a string")
    sender = data.get("from")
    if sender is None:
        if not (isinstance(username, str) and _EMAIL_RE.match(username)):
            out.append(f"{base}.from: missing (required unless username is an email address)")
    elif not isinstance(sender, str) or "@" not in sender:
        out.append(f"{base}.from: must be an address, e.g. 'elinkctl <desk@example.com>'")
    for key in ("to", "cc"):
        if key in data:
            _check_addresses(f"{base}.{key}", data[key], out)
    if "cafile" in data and not isinstance(data["cafile"], str):
        out.append(f"{base}.cafile: must be a path")


def _check_command(base: str, data: Mapping[str, Any], out: list[str]) -> None:
    argv = data.get("argv")
    if argv not in (None, "", []):
        if not isinstance(argv, list) or not all(isinstance(a, str) and a for a in argv):
            out.append(f"{base}.argv: must be a list of non-empty strings (no shell is used)")
    if "env" in data:
        env = data["env"]
        if not isinstance(env, Mapping):
            out.append(f"{base}.env: must be a mapping of variable name to value")
        else:
            for key, value in env.items():
                where = f"{base}.env.{key}"
                if not isinstance(key, str) or not isinstance(value, str):
                    out.append(f"{where}: names and values must be strings")
                elif _is_secret_name(key):
                    _check_secret(where, value, out)


def validate_channels(data: Mapping[str, Any]) -> list[str]:
    """Problems with the delivery part of escalation.yaml, one line each, naming the field.

    ``data`` is the whole parsed escalation.yaml. Checked here: every entry of
    ``channels:`` (type, required and unknown keys, port, timeouts, literal
    secrets) and how people are reached (``people.*.email`` and
    ``people.*.channels`` naming existing channels; addresses need exactly one
    smtp channel). The matrix and ``roles:`` belong to the escalation rules'
    own validation.
    """
    out: list[str] = []
    channels = data.get("channels")
    if channels is None:
        channels = {}
    if not isinstance(channels, Mapping):
        return ["channels: must be a mapping of channel name to settings"]
    for name, chan in channels.items():
        _check_channel(str(name), chan, out)

    smtp = smtp_channels(data)
    if len(smtp) > 1:
        out.append(
            f"channels: more than one smtp channel ({', '.join(smtp)}); "
            "people's email addresses are sent through one"
        )

    from elinkctl.domain.notices import validate as validate_notices

    out.extend(validate_notices(data))  # notices: (who is told of each step)
    people = data.get("people") or {}
    if not isinstance(people, Mapping):
        out.append("people: must be a mapping of person to contact details")
        return out
    for person, info in people.items():
        base = f"people.{person}"
        if info is None:
            continue
        if not isinstance(info, Mapping):
            out.append(f"{base}: must be a mapping (email, phone, channels)")
            continue
        email = info.get("email")
        if email is not None:
            if not isinstance(email, str) or not _EMAIL_RE.match(email):
                out.append(f"{base}.email: not an email address: {email!r}")
            elif not smtp:
                out.append(f"{base}.email: no smtp channel is configured to send it")
        names = info.get("channels")
        if names is None:
            continue
        if not isinstance(names, list):
            out.append(f"{base}.channels: must be a list of channel names")
            continue
        for chan_name in names:
            if chan_name not in channels:
                out.append(f"{base}.channels: unknown channel {chan_name!r}")
    return out


def smtp_channels(data: Mapping[str, Any]) -> list[str]:
    """Names of the smtp channels, in file order (normally exactly one)."""
    channels = data.get("channels") or {}
    if not isinstance(channels, Mapping):
        return []
    return [
        str(name)
        for name, chan in channels.items()
        if isinstance(chan, Mapping) and chan.get("type") == "smtp"
    ]


def channel_settings(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """The settings of one channel, validated; a DeliveryError if it is unusable.

    Used at send time, so a broken channel fails its own deliveries (reported in
    ``check``) instead of stopping every other notification.
    """
    channels = data.get("channels") or {}
    chan = channels.get(name) if isinstance(channels, Mapping) else None
    if chan is None:
        raise DeliveryError(f"channels.{name}: no such channel in escalation.yaml")
    problems: list[str] = []
    _check_channel(name, chan, problems)
    if problems:
        raise DeliveryError(problems[0])
    assert isinstance(chan, Mapping)
    return chan


def timeout_of(chan: Mapping[str, Any]) -> float:
    """The channel's timeout in seconds (see the module docstring for defaults)."""
    value = chan.get("timeout")
    if value is None:
        return DEFAULT_COMMAND_TIMEOUT if chan.get("type") == "command" else DEFAULT_TIMEOUT
    return float(value)


def rate_limit_of(chan: Mapping[str, Any]) -> int | None:
    """Messages per minute allowed through the channel, None for unlimited."""
    value = chan.get("rate_limit")
    if value is not None:
        return int(value)
    return ROBOT_RATE_LIMIT if chan.get("type") in ROBOT_TYPES else None
