"""When the scheduler fires: cron/every/at across DST changes, and jitter bounds.

The fake clock walks through DST changes in America/Sao_Paulo (2018, when it
still had DST: midnight skipped in spring, 23:xx repeated in autumn) and
Europe/Berlin; the runs recorded in the history are what docs/scheduling.md promises:
a skipped local time runs once right after the change, a repeated one once.
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from scheduler_kit import (
    START,
    FakeClock,
    FakeTimer,
    HarnessFactory,
    broadcast,
)

from bot.durations import parse_duration
from bot.jobconfig import JobConfig, build_schedule
from jobs.schedule import EverySchedule, Schedule
from jobs.scheduler import jitter_delay


def local(run_times: list[datetime], zone: str) -> list[str]:
    from zoneinfo import ZoneInfo

    return [t.astimezone(ZoneInfo(zone)).isoformat() for t in run_times]


@pytest.mark.parametrize(
    ("zone", "cron", "start", "days", "expected"),
    [
        # Sao Paulo 2018-11-04: 00:00 -> 01:00 (midnight does not exist)
        (
            "America/Sao_Paulo",
            "0 0 * * *",
            datetime(2018, 11, 2, 12, tzinfo=UTC),
            3,
            ["2018-11-03T00:00:00-03:00", "2018-11-04T01:00:00-02:00", "2018-11-05T00:00:00-02:00"],
        ),
        # Sao Paulo 2018-02-18: 00:00 -> 23:00 the day before (23:30 happens twice)
        (
            "America/Sao_Paulo",
            "30 23 * * *",
            datetime(2018, 2, 16, 12, tzinfo=UTC),
            3,
            ["2018-02-16T23:30:00-02:00", "2018-02-17T23:30:00-02:00", "2018-02-18T23:30:00-03:00"],
        ),
        # Berlin 2026-03-29: 02:00 -> 03:00 (02:30 does not exist)
        (
            "Europe/Berlin",
            "30 2 * * *",
            datetime(2026, 3, 27, 12, tzinfo=UTC),
            3,
            ["2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"],
        ),
        # Berlin 2026-10-25: 03:00 -> 02:00 (02:30 happens twice: runs once)
        (
            "Europe/Berlin",
            "30 2 * * *",
            datetime(2026, 10, 23, 12, tzinfo=UTC),
            3,
            ["2026-10-24T02:30:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"],
        ),
        # every-15-minutes through the Berlin spring gap: no run lost, none doubled
        (
            "Europe/Berlin",
            "*/30 1-3 29 3 *",
            datetime(2026, 3, 28, 12, tzinfo=UTC),
            1,
            ["2026-03-29T01:00:00+01:00", "2026-03-29T01:30:00+01:00", "2026-03-29T03:00:00+02:00",
             "2026-03-29T03:30:00+02:00"],
        ),
        # weekday names mean what they say, in the job's zone
        (
            "America/Sao_Paulo",
            "0 9 * * mon-fri",
            datetime(2026, 11, 27, 10, tzinfo=UTC),
            4,
            ["2026-11-27T09:00:00-03:00", "2026-11-30T09:00:00-03:00"],
        ),
    ],
)  # fmt: skip
async def test_cron_runs_across_dst(
    make_harness: HarnessFactory,
    zone: str,
    cron: str,
    start: datetime,
    days: int,
    expected: list[str],
) -> None:
    harness = await make_harness(
        [broadcast(cron=cron, timezone=zone, targets=["sales"], text="x")], now=start
    ).start()
    await harness.advance(days=days)
    runs = harness.runs("morning")
    assert local([run.scheduled for run in runs], zone) == expected
    assert [run.outcome for run in runs] == ["ok"] * len(expected)
    assert len(harness.sandbox.sent_messages) == len(expected)


@pytest.mark.parametrize(
    ("every", "zone", "start", "hours", "gaps"),
    [
        ("1d", "Europe/Berlin", datetime(2026, 3, 28, 12, tzinfo=UTC), 50, [24, 24]),
        ("6h", "America/Sao_Paulo", datetime(2018, 11, 3, 12, tzinfo=UTC), 25, [6, 6, 6, 6]),
        ("45m", "UTC", START, 3, [0.75, 0.75, 0.75, 0.75]),
    ],
)
async def test_every_is_elapsed_time_from_start(
    make_harness: HarnessFactory,
    every: str,
    zone: str,
    start: datetime,
    hours: float,
    gaps: list[float],
) -> None:
    harness = await make_harness(
        [broadcast(every=every, timezone=zone, targets=["sales"], text="x")], now=start
    ).start()
    first_due = harness.timer.when("morning")
    await harness.advance(hours=hours)
    times = [run.scheduled for run in harness.runs("morning")]
    interval = times[0] - start
    assert first_due == times[0]  # the first run one interval after start
    assert interval == timedelta(hours=gaps[0])
    hours_between = [(b - a) / timedelta(hours=1) for a, b in itertools.pairwise(times)]
    assert hours_between == gaps[1:]


@pytest.mark.parametrize(
    ("at", "zone", "expected"),
    [
        ("2026-11-28T09:00:00", "America/Sao_Paulo", "2026-11-28T12:00:00+00:00"),
        ("2026-11-28T09:00:00+01:00", "America/Sao_Paulo", "2026-11-28T08:00:00+00:00"),
        ("2026-03-29T02:30:00", "Europe/Berlin", "2026-03-29T01:00:00+00:00"),  # in the gap
    ],
)
async def test_at_runs_once_then_nothing_is_armed(
    make_harness: HarnessFactory, at: str, zone: str, expected: str
) -> None:
    start = datetime.fromisoformat(expected) - timedelta(hours=20)
    harness = await make_harness(
        [broadcast(at=at, timezone=zone, targets=["sales"], text="x")], now=start
    ).start()
    await harness.advance(days=3)
    [run] = harness.runs("morning")
    assert run.scheduled.isoformat() == expected
    assert harness.timer.armed == {}


# -- jitter --------------------------------------------------------------------------------


def schedule_of(job: dict[str, Any]) -> Schedule:
    return build_schedule(JobConfig.model_validate(job), start=START)


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize(
    ("schedule", "jitter", "bound"),
    [
        ({"every": "1m"}, "10m", timedelta(seconds=59)),  # capped a second before the next run
        ({"every": "1h"}, "5m", timedelta(minutes=5)),
        ({"cron": "*/5 * * * *"}, "1h", timedelta(minutes=4, seconds=59)),
        ({"cron": "0 9 * * *"}, "30s", timedelta(seconds=30)),
        ({"every": "1s"}, "5s", timedelta(0)),  # no room at all: no jitter
        ({"cron": "0 9 * * *"}, "0s", timedelta(0)),
    ],
)
def test_jitter_stays_within_its_bound_and_before_the_next_run(
    schedule: dict[str, str], jitter: str, bound: timedelta, seed: int
) -> None:
    job = {"name": "j", "kind": "broadcast", "targets": ["all"], "text": "x", **schedule}
    plan = schedule_of(job)
    scheduled = plan.next_after(START)
    assert scheduled is not None
    delay = jitter_delay(plan, parse_duration(jitter), scheduled, random.Random(seed))
    following = plan.next_after(scheduled)
    assert timedelta(0) <= delay <= bound
    assert following is None or scheduled + delay < following


@pytest.mark.parametrize("seed", range(10))
def test_jitter_before_the_next_run_across_a_dst_change(seed: int) -> None:
    # Berlin springs forward at 02:00 on 2026-03-29: 01:30 CET to the next hourly
    # run is one real hour, though the wall clocks read 01:30 and 03:30.
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 29, 0, 30, tzinfo=berlin)
    plan = EverySchedule(timedelta(hours=1), start=start, zone=berlin)
    scheduled = plan.next_after(start)
    assert scheduled is not None
    following = plan.next_after(scheduled)
    assert following is not None
    delay = jitter_delay(plan, timedelta(minutes=90), scheduled, random.Random(seed))
    assert delay <= timedelta(minutes=59, seconds=59)
    assert scheduled.astimezone(UTC) + delay < following.astimezone(UTC)


def test_jitter_is_random_across_runs() -> None:
    job = {"name": "j", "kind": "broadcast", "cron": "0 9 * * *", "targets": ["all"], "text": "x"}
    plan, rng = schedule_of(job), random.Random(1)
    delays = {jitter_delay(plan, timedelta(minutes=10), START, rng) for _ in range(20)}
    assert len(delays) == 20


async def test_jittered_run_fires_late_but_keeps_its_scheduled_time(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness(
        [broadcast(jitter="20m", targets=["sales"], text="{time}")]
    ).start()
    nine = START.replace(hour=9) + timedelta(days=1)
    fire_at = harness.timer.when("morning")
    assert fire_at is not None
    assert nine <= fire_at <= nine + timedelta(minutes=20)
    await harness.advance_to(fire_at - timedelta(seconds=1))
    assert harness.runs("morning") == []
    await harness.advance_to(fire_at)
    [run] = harness.runs("morning")
    assert run.scheduled == nine
    assert run.started == fire_at
    assert harness.texts_to(harness.settings.groups["sales"]) == ["09:00"]  # scheduled, not fired


def test_fake_timer_protocol() -> None:
    # the fake is a faithful Timer: arming again replaces the moment
    timer = FakeTimer()
    clock = FakeClock(START)

    async def noop() -> None:
        return None

    timer.arm("a", clock(), noop)
    timer.arm("a", clock() + timedelta(hours=1), noop)
    assert timer.when("a") == START + timedelta(hours=1)
    timer.disarm("a")
    assert timer.next_due() is None
