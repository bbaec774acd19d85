"""validate_channels (for `config check`) and ${VAR} expansion."""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from elinkctl.notify import DeliveryError, validate_channels
from elinkctl.notify.config import expand, has_ref, rate_limit_of, timeout_of

# The example of the brief, as an operator would write it: must be clean.
GOOD: dict[str, Any] = {
    "roles": {"pm": ["赵六"], "management": ["钱七"], "l1": ["李四"]},
    "people": {
        "赵六": {"email": "zhaoliu@example.com", "phone": "13900000000", "channels": ["ops-wecom"]},
        "钱七": {"email": "qianqi@example.com", "channels": ["ops-ding", "pager"]},
        "李四": {"channels": ["ops-feishu", "hook"]},
    },
    "channels": {
        "mail": {
            "type": "smtp",
            "host": "smtp.example.com",
            "port": 587,
            "starttls": True,
            "username": "desk@example.com",
            "password": "${SMTP_PASSWORD}",
            "from": "elinkctl <desk@example.com>",
        },
        "hook": {
            "type": "webhook",
            "url": "https://hooks.example.com/elinkctl",
            "headers": {"Authorization": "Bearer ${HOOK_TOKEN}", "X-Team": "ops"},
        },
        "ops-wecom": {"type": "wecom", "url": "${WECOM_WEBHOOK}"},
        "ops-ding": {
            "type": "dingtalk",
            "url": "${DINGTALK_WEBHOOK}",
            "secret": "${DINGTALK_SECRET}",
        },
        "ops-feishu": {"type": "feishu", "url": "${FEISHU_WEBHOOK}", "secret": "${FEISHU_SECRET}"},
        "pager": {"type": "command", "argv": ["/usr/local/bin/page-oncall", "--urgent"]},
    },
}


def with_channel(name: str, chan: Any) -> dict[str, Any]:
    return {"channels": {name: chan}}


def test_example_config_is_clean() -> None:
    assert validate_channels(GOOD) == []


def test_shipped_escalation_yaml_is_clean() -> None:
    text = resources.files("elinkctl").joinpath("data/escalation.yaml").read_text("utf-8")
    assert validate_channels(yaml.safe_load(text)) == []


def test_commented_examples_in_shipped_yaml_are_clean() -> None:
    """The examples operators copy from escalation.yaml must pass config check."""
    text = resources.files("elinkctl").joinpath("data/escalation.yaml").read_text("utf-8")
    marker = "# Example:\n#   mail:"
    if marker not in text:
        pytest.skip("escalation.yaml no longer carries the commented channel examples")
    block = text.split(marker, 1)[1]
    lines = ["  mail:" + block.split("\n", 1)[0]]
    for line in block.split("\n")[1:]:
        if not line.startswith("#  "):
            break
        lines.append("  " + line[4:])
    channels = yaml.safe_load("channels:\n" + "\n".join(lines))
    assert set(channels["channels"]) >= {"mail", "ops-wecom", "ops-ding", "ops-feishu", "pager"}
    assert validate_channels(channels) == []


@pytest.mark.parametrize(
    ("chan", "problem"),
    [
        ({"type": "slack", "url": "x"}, "channels.c.type: unknown type 'slack'"),
        ({"url": "${X}"}, "channels.c.type: missing"),
        ("wecom", "channels.c: must be a mapping"),
        ({"type": "wecom"}, "channels.c.url: missing (required for a wecom channel)"),
        ({"type": "smtp", "from": "a@b.cn"}, "channels.c.host: missing"),
        ({"type": "command"}, "channels.c.argv: missing"),
        ({"type": "command", "argv": "page --urgent"}, "channels.c.argv: must be a list"),
        ({"type": "smtp", "host": "h", "from": "a@b.cn", "port": 0}, "channels.c.port: must be"),
        ({"type": "smtp", "host": "h", "from": "a@b.cn", "port": "25"}, "channels.c.port:"),
        ({"type": "smtp", "host": "h", "from": "a@b.cn", "port": 70000}, "channels.c.port:"),
        ({"type": "smtp", "host": "h", "from": "a@b.cn", "port": True}, "channels.c.port:"),
        ({"type": "smtp", "host": "h"}, "channels.c.from: missing"),
        (
            {"type": "smtp", "host": "h", "from": "a@b.cn", "ssl": True, "starttls": True},
            "channels.c.ssl: choose either",
        ),
        (
            {"type": "smtp", "host": "h", "from": "a@b.cn", "to": ["not-mail"]},
            "channels.c.to[0]: not an email address",
        ),
        (
            {"type": "wecom", "url": "${W}", "secret": "${S}"},
            "channels.c.secret: unknown key for a wecom channel",
        ),
        ({"type": "wecom", "url": "${W}", "tiemout": 3}, "channels.c.tiemout: unknown key"),
        ({"type": "wecom", "url": "${W}", "timeout": 0}, "channels.c.timeout: must be seconds"),
        ({"type": "wecom", "url": "${W}", "timeout": 1000}, "channels.c.timeout:"),
        ({"type": "wecom", "url": "${W}", "rate_limit": 0}, "channels.c.rate_limit:"),
        ({"type": "wecom", "url": "${W}", "kinds": ["escalaton"]}, "channels.c.kinds: unknown"),
        ({"type": "webhook", "url": "ftp://x"}, "channels.c.url: must start with http"),
        ({"type": "wecom", "url": "${W"}, "channels.c.url: malformed ${...} reference"),
    ],
)
def test_structural_problems(chan: Any, problem: str) -> None:
    problems = validate_channels(with_channel("c", chan))
    assert any(p.startswith(problem) for p in problems), problems


@pytest.mark.parametrize(
    ("chan", "problem"),
    [
        (
            {"type": "dingtalk", "url": "${D}", "secret": "SEC123abc"},
            "channels.ops.secret: literal secret; use ${ENV_VAR}",
        ),
        (
            {"type": "feishu", "url": "${F}", "secret": "abc"},
            "channels.ops.secret: literal secret; use ${ENV_VAR}",
        ),
        (
            {"type": "smtp", "host": "h", "username": "u@example.com", "password": "hunter2"},
            "channels.ops.password: literal secret; use ${ENV_VAR}",
        ),
        (
            {
                "type": "webhook",
                "url": "https://x.example",
                "headers": {"Authorization": "Bearer abc"},
            },
            "channels.ops.headers.Authorization: literal secret; use ${ENV_VAR}",
        ),
        (
            {"type": "webhook", "url": "https://x.example", "headers": {"X-Api-Key": "k"}},
            "channels.ops.headers.X-Api-Key: literal secret",
        ),
        (
            {"type": "webhook", "url": "https://x.example/h?token=abc"},
            "channels.ops.url: literal token in URL",
        ),
        (
            {"type": "webhook", "url": "https://bot:pw@x.example/h"},
            "channels.ops.url: literal password in URL",
        ),
        (
            {"type": "wecom", "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a"},
            "channels.ops.url: literal robot URL embeds its token",
        ),
        (
            {"type": "wecom", "url": "${HOST}/cgi-bin/webhook/send?key=693a"},
            "channels.ops.url: literal key in URL",
        ),
        (
            {"type": "dingtalk", "url": "https://oapi.dingtalk.com/robot/send?access_token=ab12"},
            "channels.ops.url: literal robot URL embeds its token",
        ),
        (
            {"type": "feishu", "url": "https://open.feishu.cn/open-apis/bot/v2/hook/0f3e"},
            "channels.ops.url: literal robot URL embeds its token",
        ),
        (
            {"type": "feishu", "url": "https://${FEISHU_HOST}/open-apis/bot/v2/hook/0f3e"},
            "channels.ops.url: literal hook token in URL",
        ),
        (
            {"type": "command", "argv": ["/bin/page"], "env": {"PAGER_TOKEN": "t0k"}},
            "channels.ops.env.PAGER_TOKEN: literal secret",
        ),
    ],
)
def test_literal_secrets_refused(chan: Any, problem: str) -> None:
    problems = validate_channels(with_channel("ops", chan))
    assert any(p.startswith(problem) for p in problems), problems


@pytest.mark.parametrize(
    "chan",
    [
        {"type": "wecom", "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${WK}"},
        {"type": "dingtalk", "url": "https://oapi.dingtalk.com/robot/send?access_token=${DT}"},
        {"type": "feishu", "url": "https://open.feishu.cn/open-apis/bot/v2/hook/${FT}"},
        {"type": "dingtalk", "url": "${D}"},  # keyword-protected robot, no secret
        {"type": "webhook", "url": "https://x.example/h?token=${T}&team=ops"},
        {"type": "smtp", "host": "relay.internal", "from": "desk@example.com"},  # no login
        {"type": "smtp", "host": "h", "username": "desk@example.com"},  # from = username
        {"type": "command", "argv": ["/bin/page"], "env": {"PAGER_TOKEN": "${PT}", "LANG": "C"}},
    ],
)
def test_acceptable_channels(chan: Any) -> None:
    assert validate_channels(with_channel("ok", chan)) == []


def test_people_references() -> None:
    data = {
        "people": {
            "赵六": {"email": "zhaoliu.example.com", "channels": ["ops-wechat"]},
            "钱七": {"email": "qianqi@example.com"},
        },
        "channels": {"ops-wecom": {"type": "wecom", "url": "${W}"}},
    }
    assert validate_channels(data) == [
        "people.赵六.email: not an email address: 'zhaoliu.example.com'",
        "people.赵六.channels: unknown channel 'ops-wechat'",
        "people.钱七.email: no smtp channel is configured to send it",
    ]


def test_two_smtp_channels_are_ambiguous() -> None:
    smtp = {"type": "smtp", "host": "h", "from": "a@example.com"}
    problems = validate_channels({"channels": {"a": smtp, "b": smtp}})
    assert problems == [
        "channels: more than one smtp channel (a, b); people's email addresses are sent through one"
    ]


def test_empty_and_missing_sections() -> None:
    assert validate_channels({}) == []
    assert validate_channels({"channels": None, "people": None}) == []
    assert validate_channels({"channels": []}) == [
        "channels: must be a mapping of channel name to settings"
    ]


def test_defaults() -> None:
    assert timeout_of({"type": "wecom"}) == 10
    assert timeout_of({"type": "command"}) == 30
    assert timeout_of({"type": "smtp", "timeout": 2.5}) == 2.5
    assert rate_limit_of({"type": "feishu"}) == 20
    assert rate_limit_of({"type": "webhook"}) is None
    assert rate_limit_of({"type": "webhook", "rate_limit": 5}) == 5


# --- expansion ---------------------------------------------------------------------


def test_expand_replaces_every_reference() -> None:
    env = {"HOST": "oapi.dingtalk.com", "TOKEN": "ab+c/d"}
    got = expand("https://${HOST}/robot/send?access_token=${TOKEN}", env, "channels.d.url")
    assert got == "https://oapi.dingtalk.com/robot/send?access_token=ab+c/d"


@pytest.mark.parametrize("env", [{}, {"WECOM_WEBHOOK": ""}])
def test_expand_missing_variable_names_field_and_variable(env: dict[str, str]) -> None:
    with pytest.raises(DeliveryError) as info:
        expand("${WECOM_WEBHOOK}", env, "channels.ops-wecom.url")
    assert str(info.value) == (
        "channels.ops-wecom.url: environment variable WECOM_WEBHOOK is not set"
    )


names = st.from_regex(r"[A-Z_][A-Z0-9_]{0,8}", fullmatch=True)
plain = st.text(alphabet=st.characters(blacklist_characters="$"), max_size=20)


@given(parts=st.lists(st.tuples(plain, names, st.text(max_size=10)), max_size=4), tail=plain)
def test_expand_property(parts: list[tuple[str, str, str]], tail: str) -> None:
    """Expansion substitutes exactly the referenced values and leaves other text alone."""
    env: dict[str, str] = {}
    template, expected = "", ""
    for text, name, value in parts:
        value = env.setdefault(name, value or "v")
        template += f"{text}${{{name}}}"
        expected += text + value
    template += tail
    expected += tail
    assert has_ref(template) == bool(parts)
    assert expand(template, env, "x") == expected
