"""Who may do what (issue 15): a desk of six people with roles works a day;
each forbidden step is refused with one line naming the role and the rule."""

from __future__ import annotations

import pytest

from conftest import Desk
from test_major import at

T0 = "2026-11-23T10:00:00+08:00"

PEOPLE = """\
roles:
  desk: [小王]
  l1: [李四]
  l2: [王五]
  vendor: []
  pm: [赵六]
  management: [钱总]

people:
  小王: {email: xiaowang@example.com, aliases: [wang]}
  李四: {email: lisi@example.com}
  王五: {email: wangwu@example.com}
  赵六: {email: zhaoliu@example.com, aliases: [zhao]}
  钱总: {email: qian@example.com}
  孙七: {email: sunqi@example.com, roles: [desk]}
"""


def configure(desk: Desk, *, strict: bool = False) -> None:
    path = desk.root / "escalation.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("roles:\n  desk: []")
    end = text.index("people: {}") + len("people: {}")
    text = text[:start] + PEOPLE + text[end:]
    # the smtp channel people's addresses need
    text = text.replace(
        "channels: {}",
        "channels:\n  mail: {type: smtp, host: 127.0.0.1, port: 2525, from: desk@example.com}",
    )
    if strict:
        text = text.replace("# strict_people: true", "strict_people: true")
    path.write_text(text, encoding="utf-8")
    desk.git("commit", "-qam", "people")


@pytest.fixture
def staffed(desk: Desk) -> Desk:
    configure(desk)
    return desk


def refused(desk: Desk, *args: str, user: str, now: str, words: str) -> None:
    result = desk.run(*args, user=user, now=now)
    assert result.exit_code == 1, (args, result.stdout, result.stderr)
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("Error:")]
    assert lines and words in lines[0], (args, result.stderr)
    assert "Traceback" not in result.stderr


def test_a_day_with_roles(staffed: Desk) -> None:
    desk = staffed
    tid = desk.new(now=T0)
    before = desk.commit_count()
    refused(desk, "accept", tid, user="李四", now=at(1), words="needs role desk or pm")
    assert desk.commit_count() == before  # nothing written
    desk.ok("accept", tid, user="小王", now=at(2))
    refused(
        desk, "assign", tid, "--to", "李四", user="王五", now=at(3), words="permissions.dispatch"
    )
    desk.ok("assign", tid, "--to", "李四", "--tier", "l1", user="孙七", now=at(4))  # desk by roles:
    refused(
        desk, "escalate", tid, "--tier", "vendor", "--to", "华为", "--reason", "x",
        user="李四", now=at(5), words="escalate vendor",
    )  # fmt: skip
    desk.ok(
        "escalate", tid, "--tier", "l2", "--to", "王五", "--reason", "x", user="李四", now=at(6)
    )
    desk.ok(
        "escalate", tid, "--tier", "vendor", "--to", "华为", "--reason", "需原厂",
        user="王五", now=at(7),
    )  # fmt: skip
    refused(
        desk, "edit", tid, "--priority", "P2", "--reason", "影响扩大",
        user="王五", now=at(8), words="priority change",
    )  # fmt: skip
    desk.ok("resolve", tid, "--solution", "更换", user="王五", now=at(20))
    desk.ok("confirm", tid, user="小王", now=at(21))
    refused(desk, "callback", tid, "--satisfaction", "5", user="李四", now=at(22), words="callback")
    refused(desk, "close", tid, user="赵六", now=at(23), words="needs role desk")
    desk.ok("close", tid, user="小王", now=at(24))
    refused(
        desk, "kb", "decide", tid, "--none", "--reason", "x",
        user="小王", now=at(25), words="kb decision",
    )  # fmt: skip
    desk.ok("kb", "decide", tid, "--none", "--reason", "一次性", user="王五", now=at(26))


def test_pm_steps(staffed: Desk) -> None:
    desk = staffed
    tid = desk.new(now=T0, priority="P1")
    desk.ok("accept", tid, user="小王", now=at(1))
    refused(desk, "major", "confirm", tid, user="小王", now=at(2), words="needs role pm")
    desk.ok("major", "confirm", tid, user="zhao", now=at(3))  # an alias of 赵六
    shown = desk.json("show", tid, now=at(4))
    assert shown["events"][-1]["by"] == "赵六"
    author = desk.git("log", "-1", "--format=%an <%ae>").strip()
    assert author == "赵六 <zhaoliu@example.com>"


def test_a_transferred_incident_waits_for_the_pm(staffed: Desk) -> None:
    desk = staffed
    tid = desk.new(now=T0)
    desk.ok("transfer", tid, "--reason", "客户坚持", user="小王", now=at(1))
    refused(desk, "accept", tid, user="小王", now=at(2), words="pm decision")
    desk.ok("accept", tid, user="赵六", now=at(3))


def test_strict_people_refuses_an_unknown_name(desk: Desk) -> None:
    configure(desk, strict=True)
    result = desk.run("new", "--title", "x", "--type", "failure", "--reporter", "r",
                      user="随便谁", now=T0)  # fmt: skip
    assert result.exit_code == 1
    assert "not in the people list" in result.stderr and "--as" in result.stderr
    desk.ok("new", "--title", "x", "--type", "failure", "--reporter", "r", user="wang", now=T0)


def test_without_strict_people_unknown_names_act_and_config_check_warns(staffed: Desk) -> None:
    desk = staffed
    tid = desk.new(now=T0)
    desk.ok("accept", tid, user="随便谁", now=at(1))
    check = desk.run("config", "check", now=T0)
    assert check.exit_code == 0
    assert "strict_people is off" in check.stderr


def test_cron_identity_only_records_what_check_records(staffed: Desk) -> None:
    desk = staffed
    tid = desk.new(now=T0)
    refused(
        desk, "comment", tid, "-m", "x", user="elinkctl-check", now=at(1), words="cron identity"
    )
    desk.ok("check", now=at(90), user="elinkctl-check")  # escalations recorded fine


def test_config_check_names_bad_people_and_permissions(staffed: Desk) -> None:
    desk = staffed
    path = desk.root / "escalation.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace(
        "孙七: {email: sunqi@example.com, roles: [desk]}",
        "孙七: {email: sunqi@example.com, roles: [boss], aliases: [wang]}",
    )
    text += "permissions:\n  fly: [pm]\n  close: [cto]\nstrict_people: yes please\n"
    path.write_text(text, encoding="utf-8")
    result = desk.run("config", "check", now=T0)
    assert result.exit_code == 1
    out = result.stdout
    assert "unknown role 'boss'" in out
    assert "'wang' already names 小王" in out
    assert "permissions.fly: unknown step" in out
    assert "permissions.close: a list of roles" in out
    assert "strict_people: true or false" in out
    assert "escalation.yaml line" in out


def test_config_check_names_a_bad_verify_tolerance(staffed: Desk) -> None:
    path = staffed.root / "escalation.yaml"
    path.write_text(
        path.read_text(encoding="utf-8") + "verify: {tolerance: soon}\n", encoding="utf-8"
    )
    result = staffed.run("config", "check", now=T0)
    assert result.exit_code == 1 and "verify: {tolerance: 1h} expected" in result.stdout
