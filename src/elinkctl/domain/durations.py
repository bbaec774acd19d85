"""Bags of durations and their exact statistics (median, p90).

`stats` reports exact medians, so every duration is kept (8 bytes each in an
``array('d')``). At 300,000 incidents sorting them is a visible share of a
warm `stats`; a bag that is folded once and cached (a month's fold) is
therefore kept sorted (`Durations.settle`): merging a few dozen sorted runs
and sorting the concatenation is what Python's sort does fastest (it finds
the runs and merges them), about three times faster than sorting the same
values in random order. The result is the same either way.
"""

from __future__ import annotations

import dataclasses
import math
from array import array
from collections.abc import Sequence
from typing import Any


def percentile(sorted_values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least ``share`` of
    the values at or below it (p90 of 10 values is the 9th)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(share * len(sorted_values)))
    return sorted_values[rank - 1]


def median(sorted_values: Sequence[float]) -> float | None:
    n = len(sorted_values)
    if not n:
        return None
    mid = n // 2
    return sorted_values[mid] if n % 2 else (sorted_values[mid - 1] + sorted_values[mid]) / 2


@dataclasses.dataclass
class Durations:
    """Collected durations in seconds; the statistics are computed at the end.

    An ``array('d')`` holds 8 bytes per value (a list of floats about 32):
    medians need every value, and 100,000 tickets × a few groups must stay small.
    """

    values: array[float] = dataclasses.field(default_factory=lambda: array("d"))

    def add(self, seconds: float | None) -> None:
        if seconds is not None:
            self.values.append(seconds)

    def settle(self) -> None:
        """Sort the values in place: a fold about to be cached and merged again
        and again is then one sorted run (see the module docstring)."""
        if len(self.values) > 1:
            self.values = array("d", sorted(self.values))

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.values)
        return {
            "count": len(ordered),
            "median_s": median(ordered),
            "p90_s": percentile(ordered, 0.9),
        }
