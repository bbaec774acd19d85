"""Real test servers for notifications: group robots over HTTP and an SMTP server.

Reusable by any test (``check`` tests too): put ``pytest_plugins =
["notify_servers"]`` in the test module (or the root conftest) to get the
``robot_server``, ``smtp_server``, ``make_smtp_server`` and ``tls_files``
fixtures. Import this module's names only under ``TYPE_CHECKING`` (for
annotations): importing it at run time before pytest registers the plugin makes
pytest warn that it cannot rewrite its asserts, an error under
``filterwarnings = error``. Everything listens on 127.0.0.1
on a free port and is shut down and closed at the end, so pytest's
``filterwarnings = error`` sees no unclosed sockets.

``RobotServer`` plays WeCom, DingTalk and Feishu the way the real services
behave: it checks the key/token, **verifies DingTalk and Feishu signatures**,
and answers HTTP 200 with ``errcode``/``code`` JSON even for refusals. It can
be told to fail (``fail_next``) to exercise retries.
"""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

# --- robots over HTTP ----------------------------------------------------------


@dataclass
class RobotRequest:
    """One request the robot server received, and what it decided."""

    robot: str  # wecom | dingtalk | feishu | webhook | unknown
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    ok: bool  # the server accepted it (auth and signature valid, no injected failure)
    reason: str = ""

    @property
    def json(self) -> Any:
        """The decoded JSON body."""
        return json.loads(self.body.decode("utf-8"))

    @property
    def text(self) -> str:
        """The raw body as text (for "never contains X" checks)."""
        return self.body.decode("utf-8")


@dataclass
class _Failure:
    how: str  # errcode | http500 | hang
    robots: frozenset[str] | None


class _Handler(BaseHTTPRequestHandler):
    server: _RobotHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        pass  # keep test output clean

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        self.server.robot.handle(self)


class _RobotHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    robot: RobotServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and went away is expected in timeout tests


class RobotServer:
    """WeCom, DingTalk, Feishu robots and a generic bearer-token webhook on one port.

    Use ``env()`` for the variables a channel config references and
    ``channels()`` for a ready ``channels:`` mapping with ``${VAR}`` references.
    """

    WECOM_KEY = "wecom-key-693c"
    DINGTALK_TOKEN = "ding-token-41f0"
    DINGTALK_SECRET = "SEC-ding-secret-8d2e"
    FEISHU_TOKEN = "feishu-hook-77aa"
    FEISHU_SECRET = "feishu-secret-c01b"
    HOOK_TOKEN = "hook-bearer-5e11"

    def __init__(self, *, clock: Callable[[], float] = time.time, max_skew: float = 3600) -> None:
        self.clock = clock
        self.max_skew = max_skew
        self.requests: list[RobotRequest] = []
        self._lock = threading.Lock()
        self._failures: list[_Failure] = []
        self._release = threading.Event()
        self._httpd = _RobotHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.robot = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # --- lifecycle --------------------------------------------------------

    def start(self) -> RobotServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> RobotServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- addresses --------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def wecom_url(self) -> str:
        return f"{self.base_url}/cgi-bin/webhook/send?key={self.WECOM_KEY}"

    @property
    def dingtalk_url(self) -> str:
        return f"{self.base_url}/robot/send?access_token={self.DINGTALK_TOKEN}"

    @property
    def feishu_url(self) -> str:
        return f"{self.base_url}/open-apis/bot/v2/hook/{self.FEISHU_TOKEN}"

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}/hook"

    def env(self) -> dict[str, str]:
        """Environment variables the ``channels()`` config refers to."""
        return {
            "WECOM_WEBHOOK": self.wecom_url,
            "DINGTALK_WEBHOOK": self.dingtalk_url,
            "DINGTALK_SECRET": self.DINGTALK_SECRET,
            "FEISHU_WEBHOOK": self.feishu_url,
            "FEISHU_SECRET": self.FEISHU_SECRET,
            "HOOK_URL": self.webhook_url,
            "HOOK_TOKEN": self.HOOK_TOKEN,
        }

    def channels(self, **extra: Any) -> dict[str, dict[str, Any]]:
        """A ``channels:`` mapping for these robots (``extra`` is merged into each)."""
        return {
            "ops-wecom": {"type": "wecom", "url": "${WECOM_WEBHOOK}", "timeout": 5, **extra},
            "ops-ding": {
                "type": "dingtalk",
                "url": "${DINGTALK_WEBHOOK}",
                "secret": "${DINGTALK_SECRET}",
                "timeout": 5,
                **extra,
            },
            "ops-feishu": {
                "type": "feishu",
                "url": "${FEISHU_WEBHOOK}",
                "secret": "${FEISHU_SECRET}",
                "timeout": 5,
                **extra,
            },
            "hook": {
                "type": "webhook",
                "url": "${HOOK_URL}",
                "headers": {"Authorization": "Bearer ${HOOK_TOKEN}"},
                "timeout": 5,
                **extra,
            },
        }

    # --- behaviour --------------------------------------------------------

    def fail_next(
        self, count: int = 1, how: str = "errcode", robots: set[str] | None = None
    ) -> None:
        """Make the next ``count`` requests (to ``robots``, default any) fail.

        ``errcode``: HTTP 200 with errcode 310000 / code 19021, the way robots
        refuse; ``http500``: a server error; ``hang``: no answer until the server
        stops (for client timeouts).
        """
        with self._lock:
            scope = frozenset(robots) if robots else None
            self._failures.extend(_Failure(how, scope) for _ in range(count))

    def received(self, robot: str | None = None, *, ok: bool | None = None) -> list[RobotRequest]:
        """Requests so far, optionally only one robot's and only accepted/refused ones."""
        with self._lock:
            return [
                r
                for r in self.requests
                if (robot is None or r.robot == robot) and (ok is None or r.ok == ok)
            ]

    def delivered(self, robot: str | None = None) -> list[RobotRequest]:
        """Accepted requests: what people would actually have seen."""
        return self.received(robot, ok=True)

    def _take_failure(self, robot: str) -> _Failure | None:
        with self._lock:
            for i, failure in enumerate(self._failures):
                if failure.robots is None or robot in failure.robots:
                    return self._failures.pop(i)
        return None

    def handle(self, handler: _Handler) -> None:
        split = urllib.parse.urlsplit(handler.path)
        query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length)
        headers = {k: v for k, v in handler.headers.items()}

        robot, verdict = self._judge(split.path, query, headers, body)
        failure = self._take_failure(robot) if verdict == "" else None
        reason = verdict or (f"injected {failure.how}" if failure else "")
        request = RobotRequest(
            robot, handler.command, split.path, query, headers, body, ok=not reason, reason=reason
        )
        with self._lock:
            self.requests.append(request)

        if failure and failure.how == "hang":
            self._release.wait(timeout=10)
            return
        if failure and failure.how == "http500":
            self._reply(handler, 500, {"error": "internal"})
            return
        if robot == "webhook":
            status = 401 if verdict else 500 if failure else 200
            self._reply(handler, status, {"ok": not reason, "reason": reason})
            return
        # Robots refuse with HTTP 200 and an error code in the body.
        if robot == "feishu":
            answer = {"code": 19021 if reason else 0, "msg": reason or "success", "data": {}}
        else:
            answer = {"errcode": 310000 if reason else 0, "errmsg": reason or "ok"}
        self._reply(handler, 200, answer)

    def _judge(
        self, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> tuple[str, str]:
        """(robot, refusal reason or "")."""
        try:
            data = json.loads(body.decode("utf-8"))
        except ValueError:
            data = None
        if path == "/cgi-bin/webhook/send":
            if query.get("key") != self.WECOM_KEY:
                return "wecom", "invalid webhook url"
            if not (isinstance(data, dict) and data.get("msgtype") == "markdown"):
                return "wecom", "bad payload"
            return "wecom", ""
        if path == "/robot/send":
            if query.get("access_token") != self.DINGTALK_TOKEN:
                return "dingtalk", "token is not exist"
            if not (isinstance(data, dict) and data.get("msgtype") == "markdown"):
                return "dingtalk", "bad payload"
            return "dingtalk", self._check_dingtalk(query)
        if path.startswith("/open-apis/bot/v2/hook/"):
            if path.rsplit("/", 1)[1] != self.FEISHU_TOKEN:
                return "feishu", "token invalid"
            if not isinstance(data, dict):
                return "feishu", "bad payload"
            return "feishu", self._check_feishu(data)
        if path == "/hook":
            if headers.get("Authorization") != f"Bearer {self.HOOK_TOKEN}":
                return "webhook", "unauthorized"
            return "webhook", "" if isinstance(data, dict) else "bad payload"
        return "unknown", "no such robot"

    def _check_dingtalk(self, query: dict[str, str]) -> str:
        raw_ts = query.get("timestamp", "")
        if not raw_ts.isdigit():
            return "sign not match: no timestamp"
        if abs(int(raw_ts) / 1000 - self.clock()) > self.max_skew:
            return "sign not match: timestamp expired"
        secret = self.DINGTALK_SECRET
        digest = hmac.new(secret.encode(), f"{raw_ts}\n{secret}".encode(), hashlib.sha256).digest()
        # parse_qsl already URL-decoded the sign parameter once.
        if not hmac.compare_digest(query.get("sign", ""), base64.b64encode(digest).decode()):
            return "sign not match"
        return ""

    def _check_feishu(self, data: dict[str, Any]) -> str:
        raw_ts = str(data.get("timestamp", ""))
        if not raw_ts.isdigit():
            return "sign match fail: no timestamp"
        if abs(int(raw_ts) - self.clock()) > self.max_skew:
            return "sign match fail or timestamp is not within one hour from current time"
        digest = hmac.new(f"{raw_ts}\n{self.FEISHU_SECRET}".encode(), b"", hashlib.sha256).digest()
        if not hmac.compare_digest(str(data.get("sign", "")), base64.b64encode(digest).decode()):
            return "sign match fail or timestamp is not within one hour from current time"
        return ""

    @staticmethod
    def _reply(handler: _Handler, status: int, answer: dict[str, Any]) -> None:
        payload = json.dumps(answer).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(payload)
        handler.close_connection = True


# --- SMTP ------------------------------------------------------------------------


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1 (aiosmtpd's Controller needs a fixed one)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ReceivedMail:
    """One mail as the server got it: SMTP envelope and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage = field(repr=False)

    @property
    def subject(self) -> str:
        """The decoded subject."""
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        """The decoded text body."""
        part = self.message.get_body(preferencelist=("plain",))
        assert isinstance(part, EmailMessage)
        return str(part.get_content())


class _MailHandler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        raw = bytes(envelope.original_content or envelope.content)
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        mail = ReceivedMail(str(envelope.mail_from), list(envelope.rcpt_tos), raw, parsed)
        with self.server.lock:
            self.server.mails.append(mail)
        return "250 Message accepted for delivery"


class SmtpServer:
    """A real aiosmtpd server on 127.0.0.1; ``mails`` records what it accepted.

    ``login=(user, password)`` enables AUTH (without requiring TLS, for tests);
    ``tls=(certfile, keyfile)`` offers STARTTLS.
    """

    def __init__(
        self,
        *,
        login: tuple[str, str] | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        import ssl

        self.lock = threading.Lock()
        self.mails: list[ReceivedMail] = []
        self.logins: list[tuple[str, bool]] = []
        self.port = free_port()
        kwargs: dict[str, Any] = {}
        if login is not None:
            kwargs.update(authenticator=self._authenticator(login), auth_require_tls=False)
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            kwargs.update(tls_context=context)
        self.controller = Controller(
            _MailHandler(self), hostname="127.0.0.1", port=self.port, **kwargs
        )

    def _authenticator(self, login: tuple[str, str]) -> Callable[..., AuthResult]:
        def check(
            server: Any, session: Any, envelope: Any, mechanism: str, data: Any
        ) -> AuthResult:
            ok = (
                isinstance(data, LoginPassword)
                and data.login.decode() == login[0]
                and data.password.decode() == login[1]
            )
            with self.lock:
                self.logins.append((data.login.decode() if ok else "?", ok))
            return AuthResult(success=ok, handled=False)

        return check

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def channel(self, **extra: Any) -> dict[str, Any]:
        """An smtp channel config pointing at this server."""
        return {
            "type": "smtp",
            "host": "127.0.0.1",
            "port": self.port,
            "from": "elinkctl 服务台 <desk@example.com>",
            "timeout": 5,
            **extra,
        }


# --- fixtures ----------------------------------------------------------------------


@pytest.fixture
def robot_server() -> Iterator[RobotServer]:
    """A running ``RobotServer``."""
    with RobotServer() as server:
        yield server


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A running plain ``SmtpServer`` (no TLS, no AUTH)."""
    with SmtpServer() as server:
        yield server


@pytest.fixture
def make_smtp_server() -> Iterator[Callable[..., SmtpServer]]:
    """Start ``SmtpServer(**options)`` (AUTH, STARTTLS); all are stopped after the test."""
    started: list[SmtpServer] = []

    def make(**options: Any) -> SmtpServer:
        server = SmtpServer(**options).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def unused_port() -> int:
    """A port on 127.0.0.1 where nothing listens (for "cannot connect" tests)."""
    return free_port()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (skips without openssl)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key
