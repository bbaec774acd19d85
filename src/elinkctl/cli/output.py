"""The one way the CLI writes text: ticket text is untrusted, so control
characters become visible before they reach a terminal or a pipe.

A title, reporter, description or hand-edited field may hold escape
sequences (a window-title or clipboard write, a screen clear) that a
terminal would act on. Every line `elinkctl` prints goes through `echo`,
which shows each C0 control character as a visible picture (``␛`` for
ESC) and DEL, C1, line separators and bidirectional overrides as
``\\u009b``-style escapes (valid inside JSON, so a --json document stays
exact), keeping newline, tab and CRLF line ends; files keep the exact bytes.
"""

from __future__ import annotations

import re

import click

# Besides C0, DEL and C1: the line and paragraph separators U+2028/U+2029
# (a line break to some terminals and every line-reading script) and the
# bidirectional controls U+061C, U+200E/F, U+202A–U+202E, U+2066–U+2069,
# which reorder what a terminal shows ("Trojan Source": a title can make
# ``exe.txt`` read as ``txt.exe`` or hide text after it).
_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
    r"|\r(?!\n)"
)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ … ␟ (␛ for ESC); JSON never holds these raw
    # DEL, C1, the separators and bidi controls may stand raw inside JSON
    # strings: the JSON escape keeps a --json document valid and exact, and
    # is visible text everywhere else.
    return f"\\u{code:04x}"


def safe(text: str) -> str:
    """``text`` with every control character a terminal could act on made visible."""
    return _CONTROL.sub(_visible, text)


def echo(message: object = None, *, err: bool = False, nl: bool = True) -> None:
    """`click.echo`, made safe (`safe`)."""
    if message is not None and not isinstance(message, bytes | bytearray):
        message = safe(str(message))
    click.echo(message, err=err, nl=nl)


def columns() -> int:
    """How wide output may be: the terminal's width (``COLUMNS`` first, as
    the shell sets it), else 80 (a pipe, cron mail); never below 40."""
    import shutil

    return max(shutil.get_terminal_size((80, 24)).columns, 40)


def page(text: str) -> None:
    """Show long output through a pager on a terminal, as git does; print it
    as it is anywhere else (a pipe, a file, cron) or when it fits the screen.

    The pager is ``ELINKCTL_PAGER``, else ``PAGER``, else ``less`` with
    ``LESS=FRX`` unless set (quit when it fits, keep colours, leave the
    screen as it was); an empty ``ELINKCTL_PAGER`` or ``cat`` turns it off.
    """
    import os
    import shutil
    import sys

    text = safe(text)
    if not text.endswith("\n"):
        text += "\n"
    command = os.environ.get("ELINKCTL_PAGER", os.environ.get("PAGER", "less"))
    rows = shutil.get_terminal_size((80, 24)).lines
    if (
        not command.strip()
        or command.strip() == "cat"
        or (command == "less" and shutil.which("less") is None)  # the default, not installed
        or not (sys.stdout.isatty() and sys.stdin.isatty())
        or text.count("\n") < rows
    ):
        click.echo(text, nl=False)
        return
    import subprocess

    env = dict(os.environ)
    env.setdefault("LESS", "FRX")
    env.setdefault("LV", "-c")
    try:
        pager = subprocess.Popen(command, shell=True, stdin=subprocess.PIPE, env=env)  # noqa: S602 - the user's own pager setting, as git runs it
    except OSError:
        click.echo(text, nl=False)
        return
    assert pager.stdin is not None
    try:
        pager.stdin.write(text.encode("utf-8", errors="replace"))
        pager.stdin.close()
    except BrokenPipeError:  # the user quit the pager early: fine
        pass
    pager.wait()
