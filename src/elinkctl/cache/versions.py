"""What a cached value depends on besides a ticket's content: code and rules.

A cache's version string is made of `rules_digest` (the rule files it read)
and `code_digest` (the modules that computed it), so editing sla.yaml or
upgrading elinkctl recomputes what they affect, without a hand-made version
bump. Each is combined with the layer's `elinkctl.cache.FORMAT_VERSION`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from elinkctl.cache import versioned
from elinkctl.fsio import digest


def rules_digest(root: Path, names: Sequence[str] = ("sla.yaml", "escalation.yaml")) -> str:
    """A short digest of a store's rule files (a missing one counts as such)."""
    parts: list[bytes] = []
    for name in names:
        try:
            parts.append(b"+" + (root / name).read_bytes())
        except OSError:
            parts.append(b"-")
    return digest(*parts, size=16)


def code_digest(*modules: ModuleType) -> str:
    """A short digest of elinkctl's version, the layer's format and these
    modules' source files: cached values are recomputed when the code
    computing them changes, even without a version bump."""
    from elinkctl import __version__

    parts: list[str | bytes] = [versioned(__version__)]
    for module in modules:
        try:
            parts.append(Path(str(module.__file__)).read_bytes())
        except (OSError, TypeError, AttributeError):
            parts.append(repr(module))
    return digest(*parts, size=16)
