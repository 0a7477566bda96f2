"""When a failed request may be tried again, and how long to wait (docs/operations.md).

Built on stamina (exponential backoff with jitter, bounded attempts and total
time, a global testing switch) rather than by hand. What stamina cannot know
is which failures are safe to repeat; that is `should_retry`:

- a *safe* operation (reads, invite without reset, add/remove/promote/demote,
  pin) is retried after timeouts, lost connections, 429 and 5xx;
- an *unsafe* one (create, send, invite reset) only when the request surely
  never reached the server (`ConnectFailed`): a second group, a second
  message, or a second reset that kills the link just handed out are worse
  than an error.

A `Retry-After` from the server replaces the backoff when it is not longer
than `max_retry_after`; a longer one ends the retries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from bot.whatsapp.errors import (
    ApiError,
    ConnectFailed,
    OutcomeUnknown,
    RateLimited,
    UpstreamError,
)


class Safety(Enum):
    """Whether repeating an operation can do harm."""

    SAFE = "safe"
    UNSAFE = "unsafe"


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of the retry loop: attempts, total time, and the backoff curve."""

    attempts: int = 4
    timeout: float = 45.0
    wait_initial: float = 0.5
    wait_max: float = 8.0
    wait_jitter: float = 1.0
    max_retry_after: float = 30.0

    @classmethod
    def fast(cls, attempts: int = 4) -> RetryPolicy:
        """Same decisions, near-zero waits: for tests and benchmarks."""
        return cls(
            attempts=attempts,
            timeout=10.0,
            wait_initial=0.001,
            wait_max=0.01,
            wait_jitter=0.001,
            max_retry_after=1.0,
        )


def should_retry(
    safety: Safety, policy: RetryPolicy
) -> Callable[[Exception], bool | float | dt.timedelta]:
    """A stamina backoff hook: False, True (normal backoff) or seconds to wait."""

    def hook(exc: Exception) -> bool | float:
        if isinstance(exc, ConnectFailed):
            return True
        if safety is Safety.UNSAFE:
            return False
        if isinstance(exc, OutcomeUnknown):
            return True
        if isinstance(exc, (RateLimited, UpstreamError)) or (
            isinstance(exc, ApiError) and exc.status >= 500
        ):
            assert isinstance(exc, ApiError)
            if exc.retry_after is None:
                return True
            return exc.retry_after if exc.retry_after <= policy.max_retry_after else False
        return False

    return hook


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - dt.datetime.now(dt.UTC)).total_seconds()
    return max(0.0, seconds)
