"""What git is told when the store commits: the environment naming the
author and the date, the message as ``git commit -m`` would store it, a
boolean setting as git reads it, and whether git accepts a name at all.

Kept apart from `elinkctl.store.gitrepo` (which runs git) so that these pure
helpers can be checked before anything is staged.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping

_GIT_SPACE = " \t\r"  # git's isspace() without the newline: VT and FF are not spaces

_CRUD = frozenset(",:;<>\"\\'.") | frozenset(chr(c) for c in range(33))
"""Characters git's ident code strips from the ends of a name (``crud()``
in git's ident.c); a name made only of them is refused by every commit."""


class ConfigValueError(ValueError):
    """A git setting whose value git itself would reject."""


def ident_problem(name: str, what: str = "name") -> str | None:
    """Why git would refuse ``name`` as an author or committer name, or
    None. Checked when a transaction opens, so a name like ``.`` is a
    clean error before anything is written rather than a failed commit."""
    if not name.strip():
        return f"{what} {name!r} is empty"
    if any(c in name for c in "\0\n\r") or any(ord(c) < 32 or ord(c) == 127 for c in name):
        return f"{what} {name!r} contains control characters"
    if any(0xD800 <= ord(c) <= 0xDFFF for c in name):
        return f"{what} {name.encode('utf-8', 'surrogateescape')!r} is not valid UTF-8"
    if all(c in _CRUD for c in name):
        return f"{what} {name!r} consists only of characters git does not accept in a name"
    if len(name.encode("utf-8")) > 1024:
        return f"{what} is longer than 1024 bytes"
    return None


def commit_env(author: str, email: str, date: dt.datetime | None = None) -> dict[str, str]:
    """Author and committer are the person who acted (DESIGN §6), and the
    commit is dated ``date`` when given (a command run with ``ELINKCTL_NOW``
    makes commits dated then, DESIGN §8).

    Also makes commits work on a machine where git has no user configured
    (a fresh CI runner, a cron host).
    """
    env = dict(os.environ)
    env.update(
        GIT_AUTHOR_NAME=author,
        GIT_AUTHOR_EMAIL=email,
        GIT_COMMITTER_NAME=author,
        GIT_COMMITTER_EMAIL=email,
    )
    if date is not None:
        stamp = f"@{int(date.timestamp())} {date.strftime('%z')}"
        env.update(GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
    return env


def cleanup_message(message: str) -> str:
    """A commit message as ``git commit -m`` stores it (cleanup mode
    ``whitespace``): trailing whitespace of each line removed, runs of empty
    lines collapsed to one, leading and trailing empty lines dropped, a final
    newline; empty when nothing is left."""
    lines: list[str] = []
    empties = 0
    for raw in message.split("\n"):
        line = raw.rstrip(_GIT_SPACE)
        if not line:
            empties += 1
            continue
        if empties and lines:
            lines.append("")
        empties = 0
        lines.append(line)
    return "".join(f"{line}\n" for line in lines)


def config_bool(config: Mapping[str, str | None], key: str, default: bool) -> bool:
    """A boolean as git reads it; a value git would reject: `ConfigValueError`."""
    if key not in config:
        return default
    value = config[key]
    if value is None:
        return True
    word = value.strip().lower()
    if word in ("true", "yes", "on"):
        return True
    if word in ("false", "no", "off", ""):
        return False
    try:
        return int(word, 0) != 0
    except ValueError:
        raise ConfigValueError(f"{key}: not a boolean: {value!r}") from None
