"""Measurements taken at the sandbox, the server side of the caps."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

MAX_RECORDS: Final = 100_000  # request records kept (oldest dropped first)


@dataclass
class RequestRecord:
    """One /v1 request as the sandbox saw it (times are `time.monotonic()`)."""

    method: str
    path: str
    started: float
    endpoint: str | None = None
    body: Any = None  # the parsed JSON body; None when empty or not JSON
    finished: float | None = None
    status: int | None = None  # None: no response was written (dropped, cancelled)

    @property
    def json(self) -> Any:
        """Alias of `body`."""
        return self.body


def most_in_window(moments: Iterable[float], window: float = 1.0) -> int:
    """The most `moments` (e.g. request arrivals) inside any `window` seconds."""
    ordered = sorted(moments)
    best, left = 0, 0
    for right, moment in enumerate(ordered):
        while moment - ordered[left] >= window:
            left += 1
        best = max(best, right - left + 1)
    return best
