"""The watchdog: not ready, then exit 1 after a grace; WATCHDOG=1 only while its checks pass.

The real scheduler (started and stopped) over the sandbox; a fake Telegram front
end with the one method the watchdog reads (`polling_alive`); a fake UTC
clock the test moves; a real AF_UNIX datagram socket standing in for systemd.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from scheduler_kit import Harness, HarnessFactory

from bot.sdnotify import SystemdNotifier
from bot.watchdog import Watchdog


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FakePolling:
    """What the Telegram front end tells: when a getUpdates last came back."""

    def __init__(self, last_poll_ok: datetime | None) -> None:
        self.last_poll_ok = last_poll_ok

    def polling_alive(self, now: datetime, grace: timedelta) -> bool:
        return self.last_poll_ok is not None and now - self.last_poll_ok <= grace


class Fatal:
    def __init__(self) -> None:
        self.codes: list[int] = []

    def __call__(self, code: int) -> None:
        self.codes.append(code)


@pytest.fixture
async def harness(make_harness: HarnessFactory) -> Harness:
    return await make_harness([]).start()


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[tuple[socket.socket, SystemdNotifier]]:
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.setblocking(False)
        yield sock, SystemdNotifier(path)


def received(sock: socket.socket) -> list[bytes]:
    out = []
    while True:
        try:
            out.append(sock.recv(4096))
        except BlockingIOError:
            return out


def watchdog(
    harness: Harness,
    clock: Clock,
    fatal: Fatal,
    polling: FakePolling | None = None,
    systemd: SystemdNotifier | None = None,
    ping_every: float | None = None,
) -> Watchdog:
    return Watchdog(
        scheduler=harness.scheduler,
        polling_alive=polling.polling_alive if polling is not None else None,
        polling_grace=timedelta(minutes=3),
        scheduler_grace=timedelta(minutes=1),
        on_fatal=fatal,
        systemd=systemd,
        ping_every=ping_every,
        clock=clock,
    )


async def test_all_well_is_ready(harness: Harness) -> None:
    clock, fatal = Clock(), Fatal()
    dog = watchdog(harness, clock, fatal, FakePolling(clock.now))
    assert dog.check() == ()
    assert dog.ready and fatal.codes == []


@pytest.mark.parametrize(
    ("silent_for", "ready", "codes"),
    [(30, True, []), (61, False, []), (179, False, []), (181, False, [1])],
)
async def test_dead_polling_is_not_ready_then_fatal_after_the_grace(
    harness: Harness, silent_for: float, ready: bool, codes: list[int]
) -> None:
    clock, fatal = Clock(), Fatal()
    polling = FakePolling(clock.now)
    dog = watchdog(harness, clock, fatal, polling)
    dog.check()
    clock.advance(silent_for)
    dog.check()
    assert (dog.ready, fatal.codes) == (ready, codes)
    if not ready:
        assert dog.problems == ("Telegram polling has not succeeded for over 60s",)


@pytest.mark.parametrize(
    ("after", "ready", "codes"), [(0, True, []), (61, False, []), (181, False, [1])]
)
async def test_a_first_poll_that_never_comes_counts_from_the_first_check(
    harness: Harness, after: float, ready: bool, codes: list[int]
) -> None:
    clock, fatal = Clock(), Fatal()
    dog = watchdog(harness, clock, fatal, FakePolling(None))  # no getUpdates came back yet
    dog.check()
    clock.advance(after)
    dog.check()
    assert (dog.ready, fatal.codes) == (ready, codes)


async def test_a_stopped_scheduler_is_fatal_after_its_grace_and_logged_once(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    clock, fatal = Clock(), Fatal()
    dog = watchdog(harness, clock, fatal)  # no token: polling is not checked
    await harness.scheduler.stop()
    with caplog.at_level(logging.INFO, logger="bot.watchdog"):
        for _ in range(11):  # every 5 s for 50 s: not ready, not yet fatal
            dog.check()
            clock.advance(5)
        assert (dog.ready, fatal.codes) == (False, [])
        clock.advance(10)
        dog.check()
        dog.check()
    assert fatal.codes == [1]  # once
    assert dog.fatal is not None and "monitor.scheduler_grace" in dog.fatal
    lines = [r.getMessage() for r in caplog.records]
    assert lines.count("Watchdog: not ready: the scheduler is not running.") == 1
    assert len([line for line in lines if "ending the process (exit 1)" in line]) == 1


async def test_recovery_is_ready_again_and_logged(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    clock, fatal = Clock(), Fatal()
    polling = FakePolling(clock.now)
    dog = watchdog(harness, clock, fatal, polling)
    dog.check()
    clock.advance(90)
    with caplog.at_level(logging.INFO, logger="bot.watchdog"):
        dog.check()
        polling.last_poll_ok = clock.now
        dog.check()
    assert dog.ready and fatal.codes == []
    assert "Watchdog: over: Telegram polling has not succeeded for over 60s." in caplog.messages


async def test_systemd_pings_every_half_period_only_while_checks_pass(
    harness: Harness, systemd: tuple[socket.socket, SystemdNotifier]
) -> None:
    sock, notifier = systemd
    clock, fatal = Clock(), Fatal()
    polling = FakePolling(clock.now)
    dog = watchdog(harness, clock, fatal, polling, systemd=notifier, ping_every=30.0)
    assert dog.check_every == 5.0
    for _ in range(13):  # 60 s of checks every 5 s: pings at 0, 30 and 60 s
        polling.last_poll_ok = clock.now
        dog.check()
        clock.advance(5)
    assert received(sock) == [b"WATCHDOG=1"] * 3
    clock.advance(100)  # polling silent past the ready window: no more pings
    for _ in range(3):
        dog.check()
        clock.advance(30)
    assert received(sock) == []


async def test_the_loop_is_bounded_and_stops_at_the_first_fatal(harness: Harness) -> None:
    clock, fatal = Clock(), Fatal()
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        clock.advance(seconds)

    dog = Watchdog(
        scheduler=harness.scheduler,
        polling_alive=FakePolling(clock.now).polling_alive,
        polling_grace=timedelta(seconds=20),
        scheduler_grace=timedelta(minutes=1),
        on_fatal=fatal,
        clock=clock,
        sleep=sleep,
    )
    await dog.run(rounds=100)
    assert fatal.codes == [1]
    assert pauses == [5.0] * 5  # fatal at 25 s: polling silent past its 20 s grace


async def test_a_short_watchdog_period_checks_more_often(harness: Harness) -> None:
    dog = watchdog(harness, Clock(), Fatal(), ping_every=2.0)
    assert dog.check_every == 2.0
