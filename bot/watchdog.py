"""The watchdog: is the bot still doing its work, and if not for too long, end it for a restart.

Every few seconds (`CHECK_EVERY`, on a clock tests control) it checks:

- Telegram polling (when a token is set): the front end's last successful
  poll is recent. Older than `READY_WINDOW` (or the grace, if shorter): the
  bot is not ready; older than ``monitor.polling_grace``: the process ends.
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
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Protocol

from bot.sdnotify import SystemdNotifier

__all__ = ["CHECK_EVERY", "EXIT_UNHEALTHY", "READY_WINDOW", "Watchdog"]

log = logging.getLogger(__name__)

CHECK_EVERY = 5.0  # seconds between two checks
READY_WINDOW = 60.0  # seconds without a successful poll before /readyz fails
EXIT_UNHEALTHY = 1  # the exit code after a grace ran out (restart me)

# `polling_alive(now, grace)` of the Telegram front end: a poll succeeded within `grace`
# seconds of `now` (both on time.monotonic()).
PollingAlive = Callable[[float, float], bool]


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
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        check_every: float = CHECK_EVERY,
    ) -> None:
        """`polling_alive`: None without a Telegram token; `ping_every`: half of WATCHDOG_USEC."""
        self._scheduler = scheduler
        self._polling_alive = polling_alive
        self.polling_grace = polling_grace.total_seconds()
        self.scheduler_grace = scheduler_grace.total_seconds()
        self._on_fatal = on_fatal
        self._systemd = systemd
        self._ping_every = ping_every
        self._monotonic = monotonic
        self._sleep = sleep
        self.check_every = min(check_every, ping_every) if ping_every else check_every
        self.problems: tuple[str, ...] = ()
        self.fatal: str | None = None  # the reason the process was ended
        self._scheduler_down_since: float | None = None
        self._last_ping: float | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        return not self.problems

    def check(self) -> tuple[str, ...]:
        """One round: update `problems`, log changes, ping systemd or end the process."""
        now = self._monotonic()
        problems: list[str] = []
        fatal: str | None = None
        if self._polling_alive is not None:
            window = min(READY_WINDOW, self.polling_grace)
            if not self._polling_alive(now, window):
                problems.append(f"Telegram polling has not succeeded for over {window:.0f}s")
                if not self._polling_alive(now, self.polling_grace):
                    fatal = (
                        f"Telegram polling has not succeeded for over {self.polling_grace:.0f}s "
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
                    f"the scheduler has not run for {self.scheduler_grace:.0f}s "
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

    def _ping(self, now: float) -> None:
        if self._systemd is None or not self._ping_every:
            return
        if self._last_ping is None or now - self._last_ping >= self._ping_every:
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
