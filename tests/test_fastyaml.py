"""The fast reader must mean exactly what PyYAML means, or step aside."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from elinkctl import fastyaml, yamlio

TZ = dt.timezone(dt.timedelta(hours=8))

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.text(max_size=30),
    st.text(alphabet="中文财务系统 :#-'\"{}[],&*!|>%@`?\n\\ab01", max_size=30),
    st.sampled_from(
        [
            "13800138000",
            "true",
            "no",
            "null",
            "~",
            "1.5",
            "0x1F",
            "1_000",
            "12:30",
            "2026-11-23",
            "2026-11-23T10:00:00+08:00",
            "- x",
            "a: b",
            "a #b",
            "",
        ]
    ),
    st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1)).map(
        lambda d: d.replace(microsecond=0, tzinfo=TZ)
    ),
)
keys = st.from_regex(r"[a-z_][a-z0-9_.]{0,12}", fullmatch=True)
trees = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(keys, children, max_size=4),
    ),
    max_leaves=25,
)


def reference(text: str) -> Any:
    return yaml.load(text, Loader=yaml.CSafeLoader)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(keys, trees, min_size=1, max_size=6))
def test_fast_reader_agrees_with_pyyaml_or_steps_aside(data: dict[str, Any]) -> None:
    text = yamlio.dump(data)
    expected = reference(text)
    try:
        got = fastyaml.load(text)
    except fastyaml.Unsupported:
        return
    assert got == expected
    assert repr(got) == repr(expected)


def test_tickets_take_the_fast_path() -> None:
    from elinkctl.domain import lifecycle, ticketfile

    t0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=TZ)
    change = lifecycle.register(
        "INC-261123-7KQ2M",
        {
            "title": "财务系统: 无法登录 #2",
            "type": "failure",
            "priority": "P3",
            "reporter": {"name": "张三", "phone": "13800138000"},
            "description": "第一行\n  缩进\n\n末行",
        },
        "desk",
        t0,
        t0,
        t0,
    )
    t = lifecycle.record(change.ticket, "accepted", "x", t0, t0, "accepted", note="it's ok")
    text = ticketfile.dumps(t.ticket)
    assert fastyaml.load(text) == reference(text)


@pytest.mark.parametrize(
    "text",
    [
        "# a comment\na: 1\n",
        "a: &x 1\nb: *x\n",
        "a: !!str 1\n",
        "a: [1, 2]\n",
        "a: >\n  folded\n",
        "a: |+\n  keep\n\n",
        "---\na: 1\n",
        "a:\n\tb: 1\n",
        "- a\n-\n  - b\n",
        "a: 1 # trailing comment\n",
        "a: x \n",
        "yes: 1\n",
        "1: a\n",
    ],
)
def test_unusual_yaml_is_left_to_pyyaml(text: str) -> None:
    with pytest.raises(fastyaml.Unsupported):
        fastyaml.load(text)
    # yamlio.load still reads it, exactly as PyYAML does.
    try:
        expected = reference(text)
    except yaml.YAMLError:
        with pytest.raises(yamlio.YamlError):
            yamlio.load(text)
        return
    assert yamlio.load(text) == expected


def test_a_duplicate_key_is_refused_with_both_lines() -> None:
    """PyYAML keeps the last of two equal keys silently; the readers refuse it
    (a second `channels:` in escalation.yaml would replace the first)."""
    with pytest.raises(fastyaml.Unsupported):
        fastyaml.load("a: 1\na: 2\n")
    with pytest.raises(yamlio.Refused, match=r"duplicate key 'a' \(first on line 1\)") as err:
        yamlio.load("a: 1\nb:\n  c: 2\na: 2\n")
    assert err.value.line == 4
    with pytest.raises(yamlio.Refused, match="duplicate key 'k'"):
        yamlio.load("a: {k: 1, k: 2}\n")
    merged = "base: &b {x: 1}\nc:\n  <<: *b\n  x: 2\n"  # overriding a merge is no duplicate
    assert yamlio.load(merged) == {"base": {"x": 1}, "c": {"x": 2}}
