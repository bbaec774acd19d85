"""Channel senders against real servers on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from elinkctl.notify import DeliveryError, Message, make_sender, validate_channels
from elinkctl.notify.channels import dingtalk_sign, feishu_sign, truncate_utf8

if TYPE_CHECKING:
    from collections.abc import Callable

    from notify_servers import RobotServer, SmtpServer

pytest_plugins = ["notify_servers"]

PHONE = "13800138000"
WECOM_KEY = "wecom-key-693c"  # RobotServer's tokens, to check errors never show them
FEISHU_TOKEN = "feishu-hook-77aa"
HOOK_TOKEN = "hook-bearer-5e11"


def msg(**over: Any) -> Message:
    fields: dict[str, Any] = dict(
        ticket="INC-261123-7KQ2",
        title="财务系统无法登录",
        priority="P1",
        kind="escalation",
        level=Message.level_for("30m", "management"),
        elapsed="35m",
        status="in_progress",
        assignee="李四",
        reporter="张三",
        department="财务部",
    )
    fields.update(over)
    return Message(**fields)


def config(channels: dict[str, Any]) -> dict[str, Any]:
    data = {"roles": {}, "people": {}, "channels": channels}
    assert validate_channels(data) == []
    return data


# --- SMTP ---------------------------------------------------------------------------


def test_smtp_delivers_chinese_subject_and_body(smtp_server: SmtpServer) -> None:
    send = make_sender(config({"mail": smtp_server.channel()}), {})
    send("mail", ["zhaoliu@example.com", "qianqi@example.com"], msg())

    [mail] = smtp_server.mails
    assert mail.rcpt_tos == ["zhaoliu@example.com", "qianqi@example.com"]
    assert mail.mail_from == "desk@example.com"
    assert mail.subject == "[elinkctl] 管理升级 P1 INC-261123-7KQ2 财务系统无法登录"
    assert b"\xe8\xb4\xa2" not in mail.raw.split(b"\r\n\r\n", 1)[0]  # headers are 7-bit encoded
    assert "升级: 30m → 管理层" in mail.body
    assert "状态: 处理中" in mail.body
    assert "报告人: 张三 / 财务部" in mail.body  # email may name the reporter
    assert "查看: elinkctl show INC-261123-7KQ2" in mail.body
    assert str(mail.message["From"]) == "elinkctl 服务台 <desk@example.com>"
    assert mail.message["X-Elinkctl-Ticket"] == "INC-261123-7KQ2"


def test_smtp_cc_is_added_to_envelope(smtp_server: SmtpServer) -> None:
    send = make_sender(config({"mail": smtp_server.channel(cc=["desk@example.com"])}), {})
    send("mail", ["zhaoliu@example.com"], msg())
    [mail] = smtp_server.mails
    assert mail.rcpt_tos == ["zhaoliu@example.com", "desk@example.com"]
    assert mail.message["Cc"] == "desk@example.com"


def test_smtp_login_uses_password_from_env(make_smtp_server: Callable[..., SmtpServer]) -> None:
    server = make_smtp_server(login=("desk@example.com", "s3cret"))
    chan = server.channel(username="desk@example.com", password="${SMTP_PASSWORD}")
    send = make_sender(config({"mail": chan}), {"SMTP_PASSWORD": "s3cret"})
    send("mail", ["zhaoliu@example.com"], msg())
    assert server.logins == [("desk@example.com", True)]
    assert len(server.mails) == 1

    bad = make_sender(config({"mail": chan}), {"SMTP_PASSWORD": "wrong"})
    with pytest.raises(DeliveryError, match=r"channels\.mail: login refused") as info:
        bad("mail", ["zhaoliu@example.com"], msg())
    assert "wrong" not in str(info.value)
    assert len(server.mails) == 1


def test_smtp_starttls_with_private_ca(
    make_smtp_server: Callable[..., SmtpServer], tls_files: tuple[Path, Path]
) -> None:
    cert, _key = tls_files
    server = make_smtp_server(tls=tls_files)
    chan = server.channel(starttls=True, cafile=str(cert))
    make_sender(config({"mail": chan}), {})("mail", ["zhaoliu@example.com"], msg())
    [mail] = server.mails
    assert mail.subject.endswith("财务系统无法登录")

    # Without trusting the private CA the certificate check must fail.
    untrusted = make_sender(config({"mail": server.channel(starttls=True)}), {})
    with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
        untrusted("mail", ["zhaoliu@example.com"], msg())


def test_smtp_unreachable_is_delivery_error(unused_port: int) -> None:
    chan = {
        "type": "smtp",
        "host": "127.0.0.1",
        "port": unused_port,
        "from": "d@example.com",
        "timeout": 2,
    }
    with pytest.raises(DeliveryError, match=r"channels\.mail: cannot send via 127\.0\.0\.1"):
        make_sender(config({"mail": chan}), {})("mail", ["a@example.com"], msg())


# --- robots ----------------------------------------------------------------------------


def test_wecom_markdown_and_errcode(robot_server: RobotServer) -> None:
    send = make_sender(config(robot_server.channels()), robot_server.env())
    send("ops-wecom", ["赵六", "钱七"], msg())
    [req] = robot_server.delivered("wecom")
    body = req.json
    assert body["msgtype"] == "markdown"
    content = body["markdown"]["content"]
    assert "**管理升级 P1 INC-261123-7KQ2 财务系统无法登录**" in content
    assert "> 升级: 30m → 管理层" in content
    assert "> 通知对象: 赵六、钱七" in content
    assert "`elinkctl show INC-261123-7KQ2`" in content


def test_dingtalk_signature_verified_by_server(robot_server: RobotServer) -> None:
    send = make_sender(config(robot_server.channels()), robot_server.env())
    send("ops-ding", ["赵六"], msg())
    [req] = robot_server.received("dingtalk")
    assert req.ok, req.reason
    assert req.query["timestamp"].isdigit() and len(req.query["timestamp"]) == 13
    assert req.json["markdown"]["title"].startswith("[elinkctl] 管理升级")


def test_feishu_signature_verified_by_server(robot_server: RobotServer) -> None:
    send = make_sender(config(robot_server.channels()), robot_server.env())
    send("ops-feishu", ["赵六"], msg())
    [req] = robot_server.received("feishu")
    assert req.ok, req.reason
    body = req.json
    assert body["msg_type"] == "interactive"
    assert isinstance(body["timestamp"], str) and len(body["timestamp"]) == 10
    assert "财务系统无法登录" in body["card"]["elements"][0]["content"]


@pytest.mark.parametrize("robot", ["ops-ding", "ops-feishu"])
def test_wrong_secret_is_refused_and_reported(robot_server: RobotServer, robot: str) -> None:
    env = {**robot_server.env(), "DINGTALK_SECRET": "nope", "FEISHU_SECRET": "nope"}
    send = make_sender(config(robot_server.channels()), env)
    with pytest.raises(DeliveryError, match=rf"channels\.{robot}: robot refused the message"):
        send(robot, ["赵六"], msg())
    assert robot_server.delivered() == []


def test_stale_clock_fails_signature(robot_server: RobotServer) -> None:
    send = make_sender(
        config(robot_server.channels()), robot_server.env(), clock=lambda: time.time() - 7200
    )
    with pytest.raises(DeliveryError, match="refused"):
        send("ops-ding", ["赵六"], msg())


@pytest.mark.parametrize("robot", ["ops-wecom", "ops-ding", "ops-feishu"])
def test_http_200_with_error_code_is_failure(robot_server: RobotServer, robot: str) -> None:
    robot_server.fail_next(1, "errcode")
    send = make_sender(config(robot_server.channels()), robot_server.env())
    with pytest.raises(DeliveryError, match=r"errcode 310000|code 19021"):
        send(robot, ["赵六"], msg())
    send(robot, ["赵六"], msg())  # the next one goes through
    assert len(robot_server.delivered()) == 1


def test_http_500_is_failure_without_leaking_token(robot_server: RobotServer) -> None:
    robot_server.fail_next(1, "http500")
    send = make_sender(config(robot_server.channels()), robot_server.env())
    with pytest.raises(DeliveryError, match="answered HTTP 500") as info:
        send("ops-wecom", ["赵六"], msg())
    assert WECOM_KEY not in str(info.value)
    assert robot_server.base_url in str(info.value)


def test_timeout_is_bounded(robot_server: RobotServer) -> None:
    robot_server.fail_next(1, "hang")
    send = make_sender(config(robot_server.channels(timeout=0.3)), robot_server.env())
    started = time.monotonic()
    with pytest.raises(DeliveryError, match=r"did not answer within 0\.3s|timed out") as info:
        send("ops-feishu", ["赵六"], msg())
    assert time.monotonic() - started < 3
    assert FEISHU_TOKEN not in str(info.value)


def test_missing_env_var_is_clear_delivery_error(robot_server: RobotServer) -> None:
    env = robot_server.env()
    del env["DINGTALK_SECRET"]
    send = make_sender(config(robot_server.channels()), env)
    with pytest.raises(
        DeliveryError, match=r"channels\.ops-ding\.secret: environment variable DINGTALK_SECRET"
    ):
        send("ops-ding", ["赵六"], msg())
    assert robot_server.received() == []


def test_unknown_channel_is_delivery_error() -> None:
    with pytest.raises(DeliveryError, match=r"channels\.nope: no such channel"):
        make_sender(config({}), {})("nope", ["赵六"], msg())


def test_webhook_headers_expanded_from_env(robot_server: RobotServer) -> None:
    send = make_sender(config(robot_server.channels()), robot_server.env())
    send("hook", ["赵六"], msg())
    [req] = robot_server.received("webhook")
    assert req.ok, req.reason
    assert req.headers["Authorization"] == f"Bearer {HOOK_TOKEN}"
    body = req.json
    assert body["ticket"] == "INC-261123-7KQ2"
    assert body["kind"] == "escalation"
    assert body["recipients"] == ["赵六"]
    assert body["channel"] == "hook"
    assert "reporter" not in body and "张三" not in req.text


def test_webhook_wrong_token_is_failure(robot_server: RobotServer) -> None:
    env = {**robot_server.env(), "HOOK_TOKEN": "stale"}
    with pytest.raises(DeliveryError, match="HTTP 401"):
        make_sender(config(robot_server.channels()), env)("hook", ["赵六"], msg())


def test_group_payloads_never_carry_reporter_phone(robot_server: RobotServer) -> None:
    """People type the caller's number into titles; group chats must not see it."""
    message = msg(title=f"来电 {PHONE} 财务系统无法登录", note="回电 138-0013-8000 或 010-62345678")
    send = make_sender(config(robot_server.channels()), robot_server.env())
    for name in ("ops-wecom", "ops-ding", "ops-feishu", "hook"):
        send(name, ["赵六"], message)
    assert len(robot_server.delivered()) == 4
    for req in robot_server.received():
        assert PHONE not in req.text
        assert "0013" not in req.text and "62345678" not in req.text
        assert "财务部" not in req.text and "张三" not in req.text  # nor the reporter
        assert "[号码已隐藏]" in req.text


def test_robot_markdown_is_truncated_to_limit(robot_server: RobotServer) -> None:
    send = make_sender(config(robot_server.channels()), robot_server.env())
    send("ops-wecom", ["赵六"], msg(note="很长" * 3000))
    [req] = robot_server.delivered("wecom")
    content = req.json["markdown"]["content"]
    assert len(content.encode("utf-8")) <= 4096
    assert content.endswith("…")


# --- command ----------------------------------------------------------------------------

SCRIPT = """\
import json, os, sys, time
data = json.load(sys.stdin)
with open(sys.argv[1], "a", encoding="utf-8") as out:
    out.write(json.dumps({"data": data, "token": os.environ.get("PAGE_TOKEN")},
                         ensure_ascii=False) + "\\n")
mode = sys.argv[2] if len(sys.argv) > 2 else "ok"
if mode == "fail":
    print("pager gateway down", file=sys.stderr)
    sys.exit(3)
if mode == "slow":
    time.sleep(30)
"""


@pytest.fixture
def pager(tmp_path: Path) -> tuple[Path, Path]:
    script = tmp_path / "page.py"
    script.write_text(SCRIPT, encoding="utf-8")
    return script, tmp_path / "pages.jsonl"


def command_channel(script: Path, out: Path, *mode: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "command",
        "argv": [sys.executable, str(script), str(out), *mode],
        "env": {"PAGE_TOKEN": "${PAGER_TOKEN}"},
        **extra,
    }


def test_command_gets_message_json_on_stdin(pager: tuple[Path, Path]) -> None:
    script, out = pager
    send = make_sender(config({"pager": command_channel(script, out)}), {"PAGER_TOKEN": "tk"})
    send("pager", ["赵六"], msg(title=f"来电 {PHONE}"))
    [line] = out.read_text(encoding="utf-8").splitlines()
    got = json.loads(line)
    assert got["token"] == "tk"
    assert got["data"]["ticket"] == "INC-261123-7KQ2"
    assert got["data"]["recipients"] == ["赵六"]
    assert got["data"]["text"].startswith("事件: INC-261123-7KQ2")
    assert PHONE not in line


def test_command_gets_the_phones_of_the_people_told(pager: tuple[Path, Path]) -> None:
    """An SMS gateway dials the staff's numbers from people:, never the reporter's."""
    script, out = pager
    data = config({"sms": command_channel(script, out)})
    data["people"] = {"赵六": {"phone": "13900000006", "channels": ["sms"]}}
    send = make_sender(data, {"PAGER_TOKEN": "tk"})
    send("sms", ["赵六", "无号码"], msg(title=f"来电 {PHONE}"))
    got = json.loads(out.read_text(encoding="utf-8"))
    assert got["data"]["phones"] == {"赵六": "13900000006"}
    assert PHONE not in json.dumps(got, ensure_ascii=False)


def test_command_nonzero_exit_is_failure(pager: tuple[Path, Path]) -> None:
    script, out = pager
    chan = command_channel(script, out, "fail")
    send = make_sender(config({"pager": chan}), {"PAGER_TOKEN": "t"})
    with pytest.raises(DeliveryError, match="exited with 3: pager gateway down"):
        send("pager", ["赵六"], msg())


def test_command_timeout(pager: tuple[Path, Path]) -> None:
    script, out = pager
    chan = command_channel(script, out, "slow", timeout=0.5)
    send = make_sender(config({"pager": chan}), {"PAGER_TOKEN": "t"})
    started = time.monotonic()
    with pytest.raises(DeliveryError, match=r"did not finish within 0\.5s"):
        send("pager", ["赵六"], msg())
    assert time.monotonic() - started < 5


def test_command_missing_program(tmp_path: Path) -> None:
    chan = {"type": "command", "argv": [str(tmp_path / "no-such-pager")]}
    with pytest.raises(DeliveryError, match="cannot run"):
        make_sender(config({"pager": chan}), {})("pager", ["赵六"], msg())


# --- signatures and helpers -----------------------------------------------------------------


def test_dingtalk_sign_known_vector() -> None:
    # Computed independently: base64(HMAC-SHA256("SECabc", "1700000000000\nSECabc")), urlencoded.
    import base64
    import hashlib
    import hmac
    import urllib.parse

    expected = urllib.parse.quote_plus(
        base64.b64encode(
            hmac.new(b"SECabc", b"1700000000000\nSECabc", hashlib.sha256).digest()
        ).decode()
    )
    assert dingtalk_sign("SECabc", 1700000000000) == expected
    assert "%" in expected or "+" not in expected  # '+' and '/' must be encoded


def test_feishu_sign_uses_string_as_key() -> None:
    import base64
    import hashlib
    import hmac

    key = b"1700000000\nsec"
    assert (
        feishu_sign("sec", 1700000000)
        == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    )


@pytest.mark.parametrize("limit", [0, 1, 3, 4, 5, 10])
def test_truncate_utf8_respects_boundaries(limit: int) -> None:
    text = "财务系统无法登录"
    cut = truncate_utf8(text, limit)
    assert len(cut.encode()) <= max(limit, 3)
    cut.encode("utf-8")  # valid


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (b'{"errcode": 0, "errmsg": "ok"}', None),
        (b'{"code": 0, "msg": "success"}', None),
        (b'{"StatusCode": 0, "StatusMessage": "success"}', None),  # older Feishu robots
        (b'{"StatusCode": 9499, "StatusMessage": "Bad Request"}', "StatusCode 9499 Bad Request"),
        (b'{"errcode": 45009, "errmsg": "api freq out of limit"}', "errcode 45009 api freq"),
        (b"<html>gateway</html>", "non-JSON"),
        (b"{}", "reply has no"),
    ],
)
def test_robot_reply_is_judged_by_body(reply: bytes, error: str | None) -> None:
    from elinkctl.notify.channels import _robot_reply

    if error is None:
        _robot_reply("channels.r", reply, ("errcode", "code", "StatusCode"))
    else:
        with pytest.raises(DeliveryError, match=error):
            _robot_reply("channels.r", reply, ("errcode", "code", "StatusCode"))


def test_loopback_bypasses_proxy_from_env(robot_server: RobotServer, unused_port: int) -> None:
    env = {**robot_server.env(), "http_proxy": f"http://127.0.0.1:{unused_port}"}
    make_sender(config(robot_server.channels()), env)("ops-wecom", ["赵六"], msg())
    assert len(robot_server.delivered("wecom")) == 1


def test_proxy_and_no_proxy_come_from_passed_env() -> None:
    from elinkctl.notify.channels import _proxies

    env = {"https_proxy": "http://proxy:3128", "NO_PROXY": "internal.example,.corp"}
    assert _proxies("https://oapi.dingtalk.com/robot/send", env) == {"https": "http://proxy:3128"}
    assert _proxies("https://hooks.internal.example/x", env) == {}
    assert _proxies("https://a.corp/x", env) == {}
    assert _proxies("https://oapi.dingtalk.com/robot/send", {}) == {}


@pytest.mark.parametrize(
    "url", ["notaurl?key=SECRET-123", "ftp://h/x?key=SECRET-123", "http://h:99999/?key=SECRET-123"]
)
def test_bad_expanded_url_never_shows_token(url: str) -> None:
    chan = {"type": "wecom", "url": "${WECOM_WEBHOOK}", "timeout": 2}
    with pytest.raises(DeliveryError) as info:
        make_sender(config({"w": chan}), {"WECOM_WEBHOOK": url})("w", ["赵六"], msg())
    assert "SECRET-123" not in str(info.value)
    assert str(info.value).startswith("channels.w: ")
