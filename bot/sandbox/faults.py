"""Fault injection for the sandbox: counted, per-endpoint faults that tests arm.

A fault is armed for an endpoint name (see `ENDPOINTS`, or `"*"` for any endpoint)
and affects the next `times` calls of that endpoint (`None`: until cleared).
Each call consumes at most one fault: the oldest armed one that matches.

What a fault does (the dispatch in `api.py` carries it out):

- `status` (without `invalid_json`): the operation is NOT applied; the answer is
  that status with `{"error": "Injected fault", "code": code}` (no `code` key
  when `code` is None, so clients must fall back to the HTTP status).
- `invalid_json`: the operation IS applied; the answer is `status or 200` with a
  body that is not JSON.
- `delay`: the response waits that many seconds (after the operation, if any,
  was applied): the server did it, but the client may time out.
- `drop`: the connection is closed without any response (after the delay).
  With `status` and no `invalid_json` this models a request that never got
  processed; otherwise the operation was applied before the drop.
- `retry_after`: a `Retry-After` header (seconds) is added to the answer.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any, Final

ENDPOINTS: Final[tuple[str, ...]] = (
    "list_groups",
    "get_group",
    "create_group",
    "add",
    "remove",
    "promote",
    "demote",
    "invite",
    "pin",
    "send",
    "message_status",
    "list_templates",
    "get_template",
)
ANY_ENDPOINT: Final = "*"
MAX_DELAY: Final = 600.0


@dataclass(frozen=True)
class Fault:
    """One kind of misbehaviour for one endpoint name (or `"*"`)."""

    endpoint: str
    status: int | None = None
    code: str | None = None
    delay: float = 0.0
    drop: bool = False
    invalid_json: bool = False
    retry_after: float | None = None

    def __post_init__(self) -> None:
        if self.endpoint != ANY_ENDPOINT and self.endpoint not in ENDPOINTS:
            known = ", ".join((*ENDPOINTS, ANY_ENDPOINT))
            raise ValueError(f"unknown endpoint {self.endpoint!r} (known: {known})")
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status (100-599), not {self.status}")
        if self.code is not None and self.status is None:
            raise ValueError("code needs a status")
        if not 0.0 <= self.delay <= MAX_DELAY:
            raise ValueError(f"delay must be between 0 and {MAX_DELAY} seconds")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError("retry_after must not be negative")
        if (
            self.status is None
            and self.delay == 0.0
            and not self.drop
            and not self.invalid_json
            and self.retry_after is None
        ):
            raise ValueError("a fault needs at least one of status, delay, drop, invalid_json")

    @property
    def applies_operation(self) -> bool:
        """Whether the endpoint's operation still runs under this fault."""
        return self.status is None or self.invalid_json

    def matches(self, endpoint: str) -> bool:
        """Whether this fault is meant for calls of `endpoint`."""
        return self.endpoint in (endpoint, ANY_ENDPOINT)


@dataclass
class _Armed:
    fault: Fault
    remaining: int | None


class FaultBook:
    """Thread-safe list of armed faults; `take` consumes one call's worth."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[_Armed] = []

    def add(self, fault: Fault, times: int | None = 1) -> None:
        """Arm `fault` for the next `times` matching calls (None: until cleared)."""
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for until cleared)")
        with self._lock:
            self._armed.append(_Armed(fault, times))

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._armed.clear()

    def take(self, endpoint: str) -> Fault | None:
        """Consume and return the oldest fault armed for `endpoint`, if any."""
        with self._lock:
            for index, armed in enumerate(self._armed):
                if not armed.fault.matches(endpoint):
                    continue
                if armed.remaining is not None:
                    armed.remaining -= 1
                    if armed.remaining <= 0:
                        del self._armed[index]
                return armed.fault
        return None

    def describe(self) -> list[dict[str, Any]]:
        """The armed faults as JSON-ready dicts (with `times` left)."""
        with self._lock:
            return [{**asdict(a.fault), "times": a.remaining} for a in self._armed]
