"""``every`` jobs keep their rhythm across restarts (docs/scheduling.md, "every").

The next run counts from the last scheduled run in the history (the first one
from when the job was first seen), never from the process start. The real
scheduler over a real SQLite file and the sandbox; each "restart" is a new
scheduler on the same database, with the same fake clock.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from scheduler_kit import SALES, START, Harness, HarnessFactory, broadcast

from bot.jobconfig import JobConfig


async def restart(
    make: HarnessFactory, before: Harness, jobs: list[dict[str, Any]], *, down: timedelta
) -> Harness:
    await before.stop()
    before.clock.now += down
    return await make(jobs, after=before).start()


@pytest.mark.parametrize(
    ("every", "interval", "cadence", "restarts"),
    [
        ("1d", timedelta(days=1), timedelta(hours=20), 7),  # restarted more often than it runs
        ("1d", timedelta(days=1), timedelta(hours=23, minutes=59), 5),
        ("1h", timedelta(hours=1), timedelta(minutes=50), 8),
        ("30m", timedelta(minutes=30), timedelta(minutes=17), 9),
    ],
)
async def test_a_bot_restarted_more_often_than_the_interval_still_runs_the_job(
    make_harness: HarnessFactory,
    every: str,
    interval: timedelta,
    cadence: timedelta,
    restarts: int,
) -> None:
    jobs = [broadcast(every=every, targets=["sales"], text="x")]
    bot = await make_harness(jobs).start()
    for _ in range(restarts):
        await bot.advance_to(bot.clock.now + cadence)
        bot = await restart(make_harness, bot, jobs, down=timedelta(0))
    end = bot.clock.now
    runs = bot.runs("morning")
    expected = [START + interval * k for k in range(1, (end - START) // interval + 1)]
    assert [run.scheduled for run in runs] == expected  # on the rhythm, none missed, none twice
    assert {run.trigger for run in runs} == {"schedule"}
    assert bot.timer.when("morning") == START + interval * (len(expected) + 1)


async def test_the_first_run_is_one_interval_after_the_job_was_first_seen(
    make_harness: HarnessFactory,
) -> None:
    jobs = [broadcast(every="1d", targets=["sales"], text="x")]
    bot = await make_harness(jobs).start()
    assert bot.timer.when("morning") == START + timedelta(days=1)
    again = await restart(make_harness, bot, jobs, down=timedelta(hours=10))
    assert again.runs("morning") == []
    assert again.timer.when("morning") == START + timedelta(days=1)


@pytest.mark.parametrize(("catch_up", "outcome"), [("once", "ok"), ("skip", "missed")])
async def test_after_a_downtime_the_rhythm_goes_on(
    make_harness: HarnessFactory, catch_up: str, outcome: str
) -> None:
    jobs = [broadcast(every="1h", catch_up=catch_up, targets=["sales"], text="x")]
    bot = await make_harness(jobs).start()
    await bot.advance(hours=1, minutes=30)  # ran at 13:00
    # down from 13:30 to 15:20: 14:00 and 15:00 missed
    again = await restart(make_harness, bot, jobs, down=timedelta(hours=1, minutes=50))
    last = again.runs("morning")[-1]
    assert (last.scheduled, last.outcome) == (START + timedelta(hours=3), outcome)
    assert again.timer.when("morning") == START + timedelta(hours=4)  # 16:00, not 16:20


async def test_manual_runs_do_not_move_the_rhythm(make_harness: HarnessFactory) -> None:
    jobs = [broadcast(every="1h", targets=["sales"], text="x")]
    bot = await make_harness(jobs).start()
    await bot.advance(hours=1, minutes=20)  # ran at 13:00
    submission = bot.scheduler.run_now("morning", by="user:1")
    assert submission.task is not None
    await submission.task
    again = await restart(make_harness, bot, jobs, down=timedelta(minutes=5))
    assert again.timer.when("morning") == START + timedelta(hours=2)
    assert again.texts_to(SALES) == ["x", "x"]


async def test_a_chat_job_counts_from_its_creation_across_restarts(
    make_harness: HarnessFactory,
) -> None:
    bot = await make_harness([]).start()
    bot.clock.advance(minutes=5)
    created = bot.clock.now
    job = JobConfig(
        name="promo", kind="broadcast", every=timedelta(minutes=30), targets=["sales"], text="p"
    )
    bot.scheduler.add(job, by="user:1")
    again = await restart(make_harness, bot, [], down=timedelta(minutes=15))
    assert again.timer.when("promo") == created + timedelta(minutes=30)
    await again.advance(minutes=50)
    assert [r.scheduled for r in again.runs("promo")] == [
        created + timedelta(minutes=30),
        created + timedelta(minutes=60),
    ]


async def test_a_changed_interval_counts_from_the_last_run(make_harness: HarnessFactory) -> None:
    hourly = [broadcast(every="1h", targets=["sales"], text="x")]
    bot = await make_harness(hourly).start()
    await bot.advance(hours=1, minutes=10)  # ran at 13:00
    every_two = [broadcast(every="2h", targets=["sales"], text="x")]
    again = await restart(make_harness, bot, every_two, down=timedelta(minutes=10))
    assert again.timer.when("morning") == START + timedelta(hours=3)
