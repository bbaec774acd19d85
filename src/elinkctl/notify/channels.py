"""Channel senders: one function per outside service, stdlib only.

Every sender performs exactly one delivery and either returns or raises
``DeliveryError`` with a message that is safe to print: robot URLs embed their
token, so errors name the channel and the host, never the URL. Every network
call and command has a timeout (``timeout:`` on the channel). Robots answer
HTTP 200 even when they refuse a message, so their JSON reply (``errcode`` /
``code``) decides success, not the status line.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.client
import json
import re
import smtplib
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid, parseaddr
from typing import Any

from elinkctl.notify.config import (
    DeliveryError,
    channel_settings,
    expand,
    has_ref,
    rate_limit_of,
    timeout_of,
)
from elinkctl.notify.message import Message

_VAR_NAMES = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

Clock = Callable[[], float]
"""Wall-clock seconds since the epoch; robots sign with it (injectable for tests)."""

# Robots cut or refuse long messages; stay under their documented limits.
_MARKDOWN_LIMITS = {"wecom": 4096, "dingtalk": 20000, "feishu": 30000}


def truncate_utf8(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, on a character boundary, with ``…``."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    cut = raw[: max(0, limit - len("…".encode()))].decode("utf-8", errors="ignore")
    return cut + "…"


# --- HTTP -------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Robots and webhooks never redirect; following one would drop the POST body."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _host_of(url: str) -> str:
    try:
        parts = urllib.parse.urlsplit(url)
        return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    except ValueError:
        return "(invalid URL)"


def _proxies(url: str, env: Mapping[str, str]) -> dict[str, str]:
    """Proxy settings from the passed-in environment (not os.environ), honouring no_proxy.

    cron environments differ from shells; taking proxies from the same mapping
    as secrets keeps a delivery reproducible from what ``check`` was given.
    """
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in ("localhost", "::1") or host.startswith("127."):
        return {}
    no_proxy = env.get("no_proxy") or env.get("NO_PROXY") or ""
    for entry in (e.strip().lower().lstrip(".") for e in no_proxy.split(",")):
        if entry == "*" or (entry and (host == entry or host.endswith("." + entry))):
            return {}
    proxies = {}
    for scheme in ("http", "https"):
        value = env.get(f"{scheme}_proxy") or env.get(f"{scheme.upper()}_PROXY")
        if value:
            proxies[scheme] = value
    return proxies


def post_json(
    where: str,
    url: str,
    body: Mapping[str, Any],
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float,
    env: Mapping[str, str],
) -> bytes:
    """POST ``body`` as UTF-8 JSON and return the reply body; non-2xx is a DeliveryError."""
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    target = _host_of(url)
    # ValueError texts from urllib quote the whole URL, token included: never show them.
    try:
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ValueError("not http(s)")  # no file:, ftp: or data: through a robot URL
        request = urllib.request.Request(url, data=data, method="POST")
        proxies = _proxies(url, env)
    except ValueError:
        raise DeliveryError(f"{where}: not a valid http(s) URL after expanding ${{...}}") from None
    request.add_header("Content-Type", "application/json; charset=utf-8")
    request.add_header("User-Agent", "elinkctl")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler(proxies), _NoRedirect())
    try:
        with opener.open(request, timeout=timeout) as response:
            return bytes(response.read(1 << 20))
    except urllib.error.HTTPError as exc:
        with exc:
            snippet = exc.read(300).decode("utf-8", errors="replace").strip()
        detail = f": {snippet}" if snippet else ""
        raise DeliveryError(f"{where}: {target} answered HTTP {exc.code}{detail}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason if isinstance(exc.reason, OSError) else "bad URL or scheme"
        raise DeliveryError(f"{where}: cannot reach {target}: {reason}") from None
    except TimeoutError:
        raise DeliveryError(f"{where}: {target} did not answer within {timeout:g}s") from None
    except http.client.InvalidURL:
        # Its text quotes the path and query, token included (a space or a
        # newline in ${VAR} is the usual cause).
        raise DeliveryError(f"{where}: the URL has a space or control character") from None
    except http.client.HTTPException as exc:
        raise DeliveryError(f"{where}: {target}: {type(exc).__name__}") from None
    except OSError as exc:
        raise DeliveryError(f"{where}: {target}: {type(exc).__name__}: {exc}") from None
    except ValueError:
        raise DeliveryError(f"{where}: {target}: invalid URL") from None


def _robot_reply(where: str, raw: bytes, fields: Sequence[str]) -> None:
    """Raise unless the robot's JSON reply has one of ``fields`` equal to 0."""
    try:
        reply = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise DeliveryError(f"{where}: robot answered with non-JSON: {raw[:200]!r}") from None
    if not isinstance(reply, dict):
        raise DeliveryError(f"{where}: unexpected robot reply {reply!r}")
    for name in fields:
        if name in reply:
            code = reply[name]
            if code == 0:
                return
            msg = reply.get("errmsg") or reply.get("msg") or reply.get("StatusMessage") or ""
            raise DeliveryError(f"{where}: robot refused the message: {name} {code} {msg}".strip())
    raise DeliveryError(f"{where}: robot reply has no {'/'.join(fields)}: {reply!r}"[:300])


# --- signatures ------------------------------------------------------------


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature, URL-encoded, for the ``sign`` query parameter.

    base64(HMAC-SHA256(key=secret, msg="{timestamp}\\n{secret}")), then urlencoded.
    """
    digest = hmac.new(
        secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest).decode("ascii"))


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu's signature for the ``sign`` body field.

    Feishu uses the string "{timestamp}\\n{secret}" as the HMAC *key* over an
    empty message, the reverse of DingTalk.
    """
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


# --- senders -----------------------------------------------------------------


def send_smtp(
    name: str,
    chan: Mapping[str, Any],
    recipients: Sequence[str],
    message: Message,
    env: Mapping[str, str],
) -> None:
    """Mail ``message`` to ``recipients`` (addresses) with one SMTP transaction.

    The subject and display names are RFC 2047 encoded and the body is UTF-8,
    so clients show the Chinese text as written.
    """
    where = f"channels.{name}"
    if not recipients:
        raise DeliveryError(f"{where}: no recipients")
    host = expand(str(chan["host"]), env, f"{where}.host")
    use_ssl = bool(chan.get("ssl", False))
    starttls = bool(chan.get("starttls", False))
    port = int(chan.get("port") or (465 if use_ssl else 587 if starttls else 25))
    username = (
        expand(str(chan["username"]), env, f"{where}.username") if chan.get("username") else ""
    )
    password = expand(str(chan.get("password", "")), env, f"{where}.password")
    sender = expand(str(chan.get("from") or username), env, f"{where}.from")
    timeout = timeout_of(chan)
    if chan.get("to") and message.security:
        # `to:` sends to a fixed list (a shared mailbox), not to the people
        # told: a security incident's details go to named people only.
        message = message.for_group()

    mail = EmailMessage()
    mail["Subject"] = message.subject()
    mail["From"] = sender
    mail["To"] = ", ".join(recipients)
    if chan.get("cc"):
        mail["Cc"] = ", ".join(str(a) for a in chan["cc"])
    mail["Date"] = formatdate(localtime=True)
    domain = sender.rpartition("@")[2].strip(" >") or "elinkctl"
    # A notice the reporter may answer carries the Message-ID recorded on the
    # ticket, so the reply's In-Reply-To says which question it answers.
    mail["Message-ID"] = message.mail_id or make_msgid("elinkctl", domain=domain)
    mail["X-Elinkctl-Ticket"] = message.ticket
    mail["X-Elinkctl-Kind"] = str(message.kind)
    mail.set_content(message.text())
    envelope_to = [addr for _, addr in getaddresses([mail["To"], mail["Cc"] or ""]) if addr]
    envelope_from = parseaddr(sender)[1]

    context = ssl.create_default_context(cafile=chan.get("cafile"))
    try:
        client: smtplib.SMTP
        if use_ssl:
            client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        with client:
            client.ehlo()
            if starttls:
                client.starttls(context=context)
                client.ehlo()
            if username:
                client.login(username, password)
            client.send_message(mail, from_addr=envelope_from, to_addrs=envelope_to)
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"{where}: login refused by {host}: {exc.smtp_code}") from None
    except smtplib.SMTPRecipientsRefused as exc:
        refused = ", ".join(sorted(exc.recipients))
        raise DeliveryError(f"{where}: {host} refused every recipient ({refused})") from None
    except smtplib.SMTPResponseException as exc:
        text = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        raise DeliveryError(f"{where}: {host} answered {exc.smtp_code} {text}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"{where}: cannot send via {host}:{port}: {exc}") from None


def send_webhook(
    name: str,
    chan: Mapping[str, Any],
    recipients: Sequence[str],
    message: Message,
    env: Mapping[str, str],
) -> None:
    """POST the message as JSON (see ``Message.payload``); any 2xx is success."""
    where = f"channels.{name}"
    url = expand(str(chan["url"]), env, f"{where}.url")
    headers = {
        str(k): expand(str(v), env, f"{where}.headers.{k}")
        for k, v in (chan.get("headers") or {}).items()
    }
    body = message.payload(recipients)
    body["channel"] = name
    post_json(where, url, body, headers=headers, timeout=timeout_of(chan), env=env)


def send_wecom(
    name: str,
    chan: Mapping[str, Any],
    recipients: Sequence[str],
    message: Message,
    env: Mapping[str, str],
) -> None:
    """WeCom (企业微信) group robot: a markdown message; success is ``errcode`` 0."""
    where = f"channels.{name}"
    url = expand(str(chan["url"]), env, f"{where}.url")
    content = truncate_utf8(message.for_group().markdown(recipients), _MARKDOWN_LIMITS["wecom"])
    body = {"msgtype": "markdown", "markdown": {"content": content}}
    raw = post_json(where, url, body, timeout=timeout_of(chan), env=env)
    _robot_reply(where, raw, ("errcode",))


def send_dingtalk(
    name: str,
    chan: Mapping[str, Any],
    recipients: Sequence[str],
    message: Message,
    env: Mapping[str, str],
    clock: Clock = time.time,
) -> None:
    """DingTalk (钉钉) robot, signed when ``secret`` is set; success is ``errcode`` 0."""
    where = f"channels.{name}"
    url = expand(str(chan["url"]), env, f"{where}.url")
    if chan.get("secret"):
        secret = expand(str(chan["secret"]), env, f"{where}.secret")
        timestamp = int(clock() * 1000)
        sep = "&" if urllib.parse.urlsplit(url).query else "?"
        url = f"{url}{sep}timestamp={timestamp}&sign={dingtalk_sign(secret, timestamp)}"
    safe = message.for_group()
    text = truncate_utf8(safe.markdown(recipients), _MARKDOWN_LIMITS["dingtalk"])
    body = {"msgtype": "markdown", "markdown": {"title": safe.subject(), "text": text}}
    raw = post_json(where, url, body, timeout=timeout_of(chan), env=env)
    _robot_reply(where, raw, ("errcode",))


def send_feishu(
    name: str,
    chan: Mapping[str, Any],
    recipients: Sequence[str],
    message: Message,
    env: Mapping[str, str],
    clock: Clock = time.time,
) -> None:
    """Feishu (飞书) robot: an interactive card with markdown, signed when ``secret`` is set.

    Success is ``code`` 0 (newer API) or ``StatusCode`` 0 (older robots).
    """
    where = f"channels.{name}"
    url = expand(str(chan["url"]), env, f"{where}.url")
    safe = message.for_group()
    content = truncate_utf8(safe.markdown(recipients), _MARKDOWN_LIMITS["feishu"])
    body: dict[str, Any] = {
        "msg_type": "interactive",
        "card": {
            "header": {"title": {"tag": "plain_text", "content": safe.subject()}},
            "elements": [{"tag": "markdown", "content": content}],
        },
    }
    if chan.get("secret"):
        secret = expand(str(chan["secret"]), env, f"{where}.secret")
        timestamp = int(clock())
        body["timestamp"] = str(timestamp)
        body["sign"] = feishu_sign(secret, timestamp)
    raw = post_json(where, url, body, timeout=timeout_of(chan), env=env)
    _robot_reply(where, raw, ("code", "StatusCode"))


def send_command(
    name: str,
    chan: Mapping[str, Any],
    recipients: Sequence[str],
    message: Message,
    env: Mapping[str, str],
    phones: Mapping[str, str] | None = None,
) -> None:
    """Run ``argv`` (no shell) with the message JSON on stdin; exit 0 is success.

    The command sees the passed-in environment plus the channel's ``env:``; its
    output is captured so a chatty script cannot spam cron mail, and the tail of
    stderr explains a failure. ``phones`` (``{person: number}`` of the people
    told, from ``people:``) is what an SMS gateway dials: staff numbers only,
    never the reporter's.
    """
    where = f"channels.{name}"
    argv = [expand(str(a), env, f"{where}.argv") for a in chan["argv"]]
    child_env = dict(env)
    for key, value in (chan.get("env") or {}).items():
        child_env[str(key)] = expand(str(value), env, f"{where}.env.{key}")
    body = message.payload(recipients)
    body["channel"] = name
    body["phones"] = dict(phones or {})
    stdin = json.dumps(body, ensure_ascii=False).encode("utf-8")
    timeout = timeout_of(chan)
    try:
        done = subprocess.run(
            argv,
            input=stdin,
            capture_output=True,
            timeout=timeout,
            env=child_env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise DeliveryError(f"{where}: {argv[0]} did not finish within {timeout:g}s") from None
    except OSError as exc:
        raise DeliveryError(f"{where}: cannot run {argv[0]}: {exc.strerror or exc}") from None
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", errors="replace").strip().splitlines()[-3:]
        detail = f": {' | '.join(tail)}" if tail else ""
        raise DeliveryError(f"{where}: {argv[0]} exited with {done.returncode}{detail}")


_SENDERS: dict[str, Callable[..., None]] = {
    "smtp": send_smtp,
    "webhook": send_webhook,
    "wecom": send_wecom,
    "command": send_command,
}
_SIGNED_SENDERS = {"dingtalk": send_dingtalk, "feishu": send_feishu}


class ChannelSender:
    """Performs one delivery: ``sender(channel_name, recipients, message)``.

    Built once per ``check`` run by ``make_sender``. Raises ``DeliveryError`` on
    any failure, including configuration that only shows at send time (a missing
    environment variable, an unknown channel). ``rate_limits`` tells the outbox
    how many messages per minute each channel accepts.
    """

    def __init__(
        self, config: Mapping[str, Any], env: Mapping[str, str], *, clock: Clock = time.time
    ) -> None:
        self._config = config
        self._env = dict(env)
        self._clock = clock
        self.rate_limits: dict[str, int] = {}
        channels = config.get("channels") or {}
        if isinstance(channels, Mapping):
            for name, chan in channels.items():
                if isinstance(chan, Mapping):
                    limit = rate_limit_of(chan)
                    if limit is not None:
                        self.rate_limits[str(name)] = limit

    def __call__(self, channel: str, recipients: Sequence[str], message: Message) -> None:
        chan = channel_settings(self._config, channel)
        type_ = str(chan["type"])
        try:
            if type_ in _SIGNED_SENDERS:
                _SIGNED_SENDERS[type_](
                    channel, chan, list(recipients), message, self._env, clock=self._clock
                )
            elif type_ == "command":
                send_command(
                    channel, chan, list(recipients), message, self._env, self._phones(recipients)
                )
            else:
                _SENDERS[type_](channel, chan, list(recipients), message, self._env)
        except Exception as exc:  # noqa: BLE001 - every failure's text is scrubbed
            text = str(exc) or type(exc).__name__
            raise DeliveryError(scrub(text, secrets_of(chan, self._env))) from None

    def _phones(self, recipients: Sequence[str]) -> dict[str, str]:
        """The ``phone:`` of each person told (an SMS gateway's numbers)."""
        people = self._config.get("people") or {}
        found: dict[str, str] = {}
        for name in recipients:
            info = people.get(name) if isinstance(people, Mapping) else None
            phone = info.get("phone") if isinstance(info, Mapping) else None
            if phone:
                found[name] = str(phone)
        return found


_SECRET_FIELDS = ("secret", "password", "headers", "env", "argv")


def _token_like(segment: str) -> bool:
    return len(segment) >= 12 or (len(segment) >= 8 and any(c.isdigit() for c in segment))


def secrets_of(chan: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    """The expanded values of a channel that must never be shown.

    Robot URLs carry their token in the query (WeCom, DingTalk) or the path
    (Feishu), so a URL's path, its query and values and its token-like
    segments count; its host does not (errors name it on purpose). So do
    secrets, passwords, header values and a command's env and ``${VAR}``
    arguments, expanded, and the variables they reference.
    """
    found: list[str] = []
    url = chan.get("url")
    if isinstance(url, str):
        with contextlib.suppress(DeliveryError, ValueError):
            parts = urllib.parse.urlsplit(expand(url, env, ""))
            found += [parts.path, parts.query, urllib.parse.unquote(parts.query)]
            found += [seg for seg in parts.path.split("/") if _token_like(seg)]
            found += [v for _, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)]
            found.append(parts.password or "")
    for field in _SECRET_FIELDS:
        value = chan.get(field)
        items = list(value.values()) if isinstance(value, Mapping) else value
        for item in items if isinstance(items, list) else [items]:
            if not isinstance(item, str) or (field == "argv" and not has_ref(item)):
                continue  # a command's literal arguments are not secrets
            found += [env.get(name, "") for name in _VAR_NAMES.findall(item)]
            with contextlib.suppress(DeliveryError):
                found.append(expand(item, env, ""))
    # A value with a space or line break (a badly formatted env file) reaches
    # an error cut or stripped: a command's stderr tail is stripped and split
    # into lines, so each part counts too.
    forms = [p for s in found for p in (s, s.strip(), *s.split())]
    return [s for s in forms if len(s) >= 6]


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every one of ``secrets`` replaced by ``***`` (longest first)."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def make_sender(
    config: Mapping[str, Any], env: Mapping[str, str], *, clock: Clock = time.time
) -> ChannelSender:
    """The sender ``Outbox.flush`` uses; ``env`` supplies ``${VAR}`` values (usually os.environ)."""
    return ChannelSender(config, env, clock=clock)
