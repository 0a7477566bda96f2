"""The watchdog: is the bot still doing its work, and if not for too long, end it for a restart.

Every few seconds (`CHECK_EVERY`, on a clock tests control) it checks:

- Telegram polling (when a token is set): the front end's last successful
  poll is recent (before the first one, counted from the first check). Older
  than `READY_WINDOW` (or the grace, if shorter): the bot is not ready; older
  than ``monitor.polling_grace``: the process ends.
- the scheduler is running. Stopped: not ready at once; stopped for
  ``monitor.scheduler_grace``: the process ends.

Each problem is logged once, in one sentence, when it starts, and once when
it is over; `ready` and `problems` answer ``/readyz``. Ending the process is
`on_fatal(1)`: ``grouppilot run`` stops cleanly and exits with 1, so a
service manager restarts it (exit 2, a config error, is not restarted:
``RestartPreventExitStatus=2``).

Under systemd with ``WatchdogSec=`` it also sends ``WATCHDOG=1`` every half
``WATCHDOG_USEC``, only while every check passes: a bot whose event loop hangs
or whose checks fail stops pinging, and systemd restarts it even before the
grace is over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol

from bot.sdnotify import SystemdNotifier
from bot.services import utc_now

__all__ = ["CHECK_EVERY", "EXIT_UNHEALTHY", "READY_WINDOW", "Watchdog"]

log = logging.getLogger(__name__)

CHECK_EVERY = 5.0  # seconds between two checks
READY_WINDOW = timedelta(seconds=60)  # without a successful poll: not ready
EXIT_UNHEALTHY = 1  # the exit code after a grace ran out (restart me)

# `polling_alive(now, grace)` of the Telegram front end: a getUpdates answered within
# `grace` of `now` (a UTC datetime, the front end's own clock).
PollingAlive = Callable[[datetime, timedelta], bool]


class SchedulerLike(Protocol):
    @property
    def running(self) -> bool: ...


class Watchdog:
    """Checks polling and the scheduler; not ready, then `on_fatal(1)` after a grace."""

    def __init__(
        self,
        *,
        scheduler: SchedulerLike,
        polling_alive: PollingAlive | None,
        polling_grace: timedelta,
        scheduler_grace: timedelta,
        on_fatal: Callable[[int], None],
        systemd: SystemdNotifier | None = None,
        ping_every: float | None = None,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        check_every: float = CHECK_EVERY,
    ) -> None:
        """`polling_alive`: None without a Telegram token; `ping_every`: half of WATCHDOG_USEC."""
        self._scheduler = scheduler
        self._polling_alive = polling_alive
        self.polling_grace = polling_grace
        self.scheduler_grace = scheduler_grace
        self._on_fatal = on_fatal
        self._systemd = systemd
        self._ping_every = ping_every
        self._clock = clock
        self._sleep = sleep
        self.check_every = min(check_every, ping_every) if ping_every else check_every
        self.problems: tuple[str, ...] = ()
        self.fatal: str | None = None  # the reason the process was ended
        self._scheduler_down_since: datetime | None = None
        self._last_ping: datetime | None = None
        self._started: datetime | None = None  # the first check
        self._task: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        return not self.problems

    def check(self) -> tuple[str, ...]:
        """One round: update `problems`, log changes, ping systemd or end the process."""
        now = self._clock()
        if self._started is None:
            self._started = now
        up = now - self._started  # a poll that has not come back yet is no fault at first
        problems: list[str] = []
        fatal: str | None = None
        if self._polling_alive is not None:
            window = min(READY_WINDOW, self.polling_grace)
            if not self._polling_alive(now, window) and up > window:
                problems.append(f"Telegram polling has not succeeded for over {_s(window)}")
                if not self._polling_alive(now, self.polling_grace) and up > self.polling_grace:
                    fatal = (
                        f"Telegram polling has not succeeded for over {_s(self.polling_grace)} "
                        "(monitor.polling_grace)"
                    )
        if self._scheduler.running:
            self._scheduler_down_since = None
        else:
            if self._scheduler_down_since is None:
                self._scheduler_down_since = now
            problems.append("the scheduler is not running")
            if now - self._scheduler_down_since >= self.scheduler_grace:
                fatal = fatal or (
                    f"the scheduler has not run for {_s(self.scheduler_grace)} "
                    "(monitor.scheduler_grace)"
                )
        self._log_changes(tuple(problems))
        if fatal is not None and self.fatal is None:
            self.fatal = fatal
            log.error(
                "Watchdog: %s; ending the process (exit %d) to be restarted.",
                fatal,
                EXIT_UNHEALTHY,
            )
            self._on_fatal(EXIT_UNHEALTHY)
        elif not problems:
            self._ping(now)
        return self.problems

    def _log_changes(self, problems: tuple[str, ...]) -> None:
        for problem in problems:
            if problem not in self.problems:
                log.warning("Watchdog: not ready: %s.", problem)
        for problem in self.problems:
            if problem not in problems:
                log.info("Watchdog: over: %s.", problem)
        self.problems = problems

    def _ping(self, now: datetime) -> None:
        if self._systemd is None or not self._ping_every:
            return
        due = timedelta(seconds=self._ping_every)
        if self._last_ping is None or not timedelta(0) <= now - self._last_ping < due:
            self._systemd.watchdog()
            self._last_ping = now

    async def run(self, rounds: int | None = None) -> None:
        """Check every `check_every` seconds; `rounds` bounds the loop (tests)."""
        done = 0
        while (rounds is None or done < rounds) and self.fatal is None:
            try:
                self.check()
            except Exception:  # a bug here must not end the bot: it is only the watchdog
                log.exception("the watchdog hit an unexpected error; it goes on")
            done += 1
            if self.fatal is not None or (rounds is not None and done >= rounds):
                return
            await self._sleep(self.check_every)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="watchdog")

    async def stop(self) -> None:
        """Stop checking (before a clean shutdown stops the scheduler on purpose)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _s(span: timedelta) -> str:
    return f"{span.total_seconds():.0f}s"
