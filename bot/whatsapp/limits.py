"""The shared caps every request goes through: requests per second and in flight.

`max_rps` means "the server sees at most N requests arrive in any one-second
window", with no burst above it. A token bucket (aiolimiter) lets a full
bucket burst and then refill, which can put up to 2N arrivals in one second,
so we keep the last N requests instead. Counting their *start* times is not
enough either: a request that was slow to leave (a new connection, a busy
process) arrives late and bunches up with the ones after it. So a request
holds its place in the window from its start until one window after it
*ended*. Every arrival lies between its request's start and end, so N+1
arrivals can never fit in one window, whatever the network does. The price:
with latency L the sustained rate is N per (1 s + L).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from bot import metrics

_POLL = 0.01  # seconds between two looks for a free place, when none can be foreseen


class SlidingWindowLimiter:
    """At most `limit` requests in any `window` seconds, from start to end."""

    def __init__(
        self,
        limit: float,
        window: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit <= 0:
            raise ValueError("limit must be positive")
        # A fractional max_rps (0.5) becomes one request per 2 s.
        if limit < 1:
            window, limit = window / limit, 1
        self._limit = int(limit)
        self._window = window
        self._clock = clock
        # The places taken: requests in flight, plus the end times of those that
        # ended less than a window ago. Ends are appended as they happen, so the
        # deque is in time order and the oldest expire from its left.
        self._in_flight = 0
        self._ends: deque[float] = deque()
        self._lock = asyncio.Lock()
        self._ended = asyncio.Event()

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """Wait for a place in the window; keep it while the request runs."""
        await self._take()
        try:
            yield
        finally:
            self.release()

    def release(self) -> None:
        """Give back a place taken by `hold` or `try_take` (its request ended now)."""
        self._in_flight -= 1
        self._ends.append(self._clock())
        self._ended.set()

    def try_take(self, *, spare: int = 0) -> float | None:
        """Take a place now if one is free beyond `spare` and nobody waits: None when taken.

        Otherwise the seconds until a place frees by age (a guess when every
        place is held by a request in flight). Background work polls with
        this instead of queueing in `hold`'s line, where a command arriving
        later would have to wait behind it, and leaves `spare` places free
        so that a command rarely has to wait for one at all.
        """
        if self._lock.locked():
            return _POLL
        now = self._clock()
        while self._ends and now - self._ends[0] >= self._window:
            self._ends.popleft()
        if self._in_flight + len(self._ends) < self._limit - spare:
            self._in_flight += 1
            return None
        return max(_POLL, self._window - (now - self._ends[0])) if self._ends else _POLL

    @property
    def limit(self) -> int:
        return self._limit

    async def _take(self) -> None:
        # The lock hands out places in arrival order (asyncio.Lock is FIFO).
        async with self._lock:
            while True:
                now = self._clock()
                while self._ends and now - self._ends[0] >= self._window:
                    self._ends.popleft()
                if self._in_flight + len(self._ends) < self._limit:
                    self._in_flight += 1
                    return
                wait = self._window - (now - self._ends[0]) if self._ends else None
                self._ended.clear()
                # Woken when a place frees up by age, or a request ends.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._ended.wait(), timeout=wait)


class RequestGate:
    """Rate cap plus concurrency cap, shared by every caller of one client.

    Background work (the delivery tracker's status checks) asks with
    `background=True`: it waits until no other request is waiting for the
    gate, never queues in the rate limiter's line, and uses at most half of
    the rate window, so commands and job sends neither queue behind it nor
    find the window full of its reads.
    """

    def __init__(self, *, max_rps: float, concurrency: int) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._rate = SlidingWindowLimiter(max_rps)
        self._slots = asyncio.Semaphore(concurrency)
        self._waiting = 0  # foreground requests not yet through the gate
        self._quiet = asyncio.Event()
        self._quiet.set()

    @asynccontextmanager
    async def slot(self, *, background: bool = False) -> AsyncIterator[None]:
        """Hold one in-flight slot and one place in the rate window.

        The time spent waiting for them is counted (grouppilot_rate_cap_wait_seconds).
        """
        asked = time.monotonic()
        if background:
            await self._background_slot()
            metrics.RATE_CAP_WAIT.inc(time.monotonic() - asked)
            try:
                yield
            finally:
                self._rate.release()
                self._slots.release()
            return
        self._waiting += 1
        self._quiet.clear()
        through = False
        try:
            async with self._slots, self._rate.hold():
                through = True
                self._passed()
                metrics.RATE_CAP_WAIT.inc(time.monotonic() - asked)
                yield
        finally:
            if not through:  # cancelled while waiting
                self._passed()

    async def _background_slot(self) -> None:
        """Take an in-flight slot and a rate place once no foreground request waits.

        A background caller never queues in the rate limiter's line (a
        command arriving later would wait behind it): it takes a free place
        or gives its slot back and looks again when one frees. One queued on
        the semaphore may be woken before a command that came later: it hands
        the slot back too.
        """
        for _ in range(10_000_000):  # bounded; each turn means a command went first
            await self._quiet.wait()
            await self._slots.acquire()
            if self._waiting == 0:
                wait = self._rate.try_take(spare=self._rate.limit // 2)
                if wait is None:
                    return
            else:
                wait = 0.0
            self._slots.release()
            if wait > 0:
                await asyncio.sleep(min(wait, 0.05))
        raise RuntimeError("a background request never got a turn")  # pragma: no cover

    def _passed(self) -> None:
        self._waiting -= 1
        if self._waiting == 0:
            self._quiet.set()
