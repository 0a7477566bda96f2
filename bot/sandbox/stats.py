"""Measurements taken at the sandbox, the server side of the caps."""

from __future__ import annotations

from collections.abc import Iterable


def most_in_window(moments: Iterable[float], window: float = 1.0) -> int:
    """The most `moments` (e.g. request arrivals) inside any `window` seconds."""
    ordered = sorted(moments)
    best, left = 0, 0
    for right, moment in enumerate(ordered):
        while moment - ordered[left] >= window:
            left += 1
        best = max(best, right - left + 1)
    return best
