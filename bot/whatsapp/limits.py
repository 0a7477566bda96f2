"""The shared caps every request goes through: requests per second and in flight.

`max_rps` means "at most N request starts in any one-second window", with no
burst above it. A token bucket (aiolimiter) lets a full bucket burst and then
refill, which can put up to 2N starts in one second, so we keep the start
times of the last N requests instead (a sliding-window log; N is small).
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager


class SlidingWindowLimiter:
    """Admit at most `limit` starts in any `window` seconds."""

    def __init__(
        self,
        limit: float,
        window: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit <= 0:
            raise ValueError("limit must be positive")
        # A fractional max_rps (0.5) becomes one start per 2 s.
        if limit < 1:
            window, limit = window / limit, 1
        self._limit = int(limit)
        self._window = window
        self._clock = clock
        self._starts: collections.deque[float] = collections.deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait until one more start fits in the window, then record it."""
        # The lock hands out slots in arrival order (asyncio.Lock is FIFO).
        async with self._lock:
            while True:
                now = self._clock()
                while self._starts and now - self._starts[0] >= self._window:
                    self._starts.popleft()
                if len(self._starts) < self._limit:
                    self._starts.append(now)
                    return
                await asyncio.sleep(self._window - (now - self._starts[0]))


class RequestGate:
    """Rate cap plus concurrency cap, shared by every caller of one client."""

    def __init__(self, *, max_rps: float, concurrency: int) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        # 2% margin: jitter on the way can bunch starts that left 1.000 s apart.
        self._rate = SlidingWindowLimiter(max_rps, window=1.02)
        self._slots = asyncio.Semaphore(concurrency)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one in-flight slot; the rate cap is taken once the slot is ours."""
        async with self._slots:
            await self._rate.acquire()
            yield
