"""Restarts: catch-up once / skip / out of window, pause and /schedule jobs kept, no bursts.

Each "restart" is a new scheduler on a new connection to the same SQLite
file, with the same fake clock moved forward while the bot was "down".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from scheduler_kit import (
    SALES,
    START,
    Harness,
    HarnessFactory,
    broadcast,
)

from bot.jobconfig import JobConfig

DAY2_NINE = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


async def restart(
    make: HarnessFactory, before: Harness, jobs: list[dict[str, Any]], *, down_until: datetime
) -> Harness:
    await before.stop()
    before.clock.now = down_until
    return await make(jobs, after=before).start()


@pytest.mark.parametrize(
    ("catch_up", "window", "back_at", "outcome", "trigger", "reason"),
    [
        ("once", "6h", DAY2_NINE + timedelta(hours=1), "ok", "catch-up", ""),
        ("once", "6h", DAY2_NINE + timedelta(hours=6), "ok", "catch-up", ""),
        ("once", "6h", DAY2_NINE + timedelta(hours=6, seconds=1), "missed", "schedule",
         "past catch_up_window 6h"),
        ("once", "30m", DAY2_NINE + timedelta(hours=1), "missed", "schedule",
         "1h late, past catch_up_window 30m"),
        ("skip", "6h", DAY2_NINE + timedelta(hours=1), "missed", "schedule", 'catch_up = "skip"'),
    ],
)  # fmt: skip
async def test_a_run_missed_while_down(
    make_harness: HarnessFactory,
    catch_up: str,
    window: str,
    back_at: datetime,
    outcome: str,
    trigger: str,
    reason: str,
) -> None:
    jobs = [broadcast(catch_up=catch_up, catch_up_window=window, targets=["sales"], text="x")]
    first = await make_harness(jobs).start()
    await first.advance(hours=8)  # Friday 20:00: nothing due yet
    second = await restart(make_harness, first, jobs, down_until=back_at)
    [run] = second.runs("morning")
    assert (run.scheduled, run.outcome, run.trigger) == (DAY2_NINE, outcome, trigger)
    assert reason in run.skip_reason
    assert second.texts_to(SALES) == (["x"] if outcome == "ok" else [])
    [report] = second.notes.texts
    assert report.startswith("morning (")
    assert ("catch-up run" in report) is (trigger == "catch-up")
    # the next regular run is armed as usual, and nothing runs twice on a further restart
    assert second.timer.when("morning") == DAY2_NINE + timedelta(days=1)
    third = await restart(make_harness, second, jobs, down_until=back_at + timedelta(minutes=5))
    assert len(third.runs("morning")) == 1


async def test_many_missed_runs_catch_up_once(make_harness: HarnessFactory) -> None:
    jobs = [broadcast(every="1h", targets=["sales"], text="x")]
    first = await make_harness(jobs).start()
    await first.advance(hours=2, minutes=30)  # runs at 13:00 and 14:00
    second = await restart(
        make_harness, first, jobs, down_until=START + timedelta(hours=7, minutes=10)
    )
    runs = second.runs("morning")
    assert [(r.outcome, r.trigger) for r in runs] == [
        ("ok", "schedule"),
        ("ok", "schedule"),
        ("missed", "schedule"),
        ("ok", "catch-up"),
    ]
    missed, caught = runs[2], runs[3]
    assert missed.scheduled == START + timedelta(hours=3)
    assert caught.scheduled == START + timedelta(hours=7)
    assert "4 runs missed" in missed.skip_reason
    assert len(second.texts_to(SALES)) == 3
    # every jobs keep their rhythm (issue 12): one interval after the last scheduled run
    assert second.timer.when("morning") == caught.scheduled + timedelta(hours=1)


async def test_a_very_long_downtime_is_counted_without_enumerating_it_all(
    make_harness: HarnessFactory,
) -> None:
    jobs = [broadcast(cron="* * * * *", targets=["sales"], text="x")]
    first = await make_harness(jobs).start()
    await first.advance(minutes=1)
    second = await restart(make_harness, first, jobs, down_until=START + timedelta(days=30))
    runs = second.runs("morning")
    assert [run.outcome for run in runs] == ["ok", "missed", "ok"]
    assert "more than" in runs[1].skip_reason
    assert runs[2].scheduled == START + timedelta(days=30)


@pytest.mark.parametrize(
    ("at_offset", "outcome"),
    [(timedelta(hours=-1), "ok"), (timedelta(hours=-7), "missed"), (timedelta(hours=1), None)],
)
async def test_an_at_time_that_passed_before_the_first_start(
    make_harness: HarnessFactory, at_offset: timedelta, outcome: str | None
) -> None:
    at = (START + at_offset).isoformat()
    jobs = [broadcast(at=at, targets=["sales"], text="x")]
    harness = await make_harness(jobs).start()
    runs = harness.runs("morning")
    if outcome is None:
        assert runs == []
        assert harness.timer.when("morning") == START + at_offset
        return
    [run] = runs
    assert run.outcome == outcome
    assert run.trigger == ("catch-up" if outcome == "ok" else "schedule")
    assert "morning" not in harness.timer.armed
    again = await restart(make_harness, harness, jobs, down_until=START + timedelta(minutes=1))
    assert len(again.runs("morning")) == 1  # never again


async def test_first_start_misses_nothing(make_harness: HarnessFactory) -> None:
    # 09:00 today already passed at START (12:00): a new cron job does not "miss" it
    harness = await make_harness([broadcast(targets=["sales"], text="x")]).start()
    assert harness.runs("morning") == []
    assert harness.timer.when("morning") == DAY2_NINE


async def test_pause_survives_restart_and_resume_does_not_burst(
    make_harness: HarnessFactory,
) -> None:
    jobs = [broadcast(every="1h", targets=["sales"], text="x")]
    first = await make_harness(jobs).start()
    await first.advance(hours=1)  # one run
    first.scheduler.pause("morning", by="user:1", note="holiday")
    second = await restart(make_harness, first, jobs, down_until=START + timedelta(hours=5))
    assert second.scheduler.book.state("morning").paused
    assert "morning" not in second.timer.armed
    assert len(second.runs("morning")) == 1  # no catch-up for a paused job
    await second.advance(hours=5)
    assert len(second.runs("morning")) == 1
    second.scheduler.resume("morning")
    resumed = second.clock.now
    await second.advance(hours=1)
    runs = second.runs("morning")
    assert len(runs) == 2
    assert resumed < runs[1].scheduled <= resumed + timedelta(hours=1)
    # and a restart later does not count the paused stretch as missed either
    third = await restart(
        make_harness, second, jobs, down_until=second.clock.now + timedelta(minutes=10)
    )
    assert [run.outcome for run in third.runs("morning")] == ["ok", "ok"]


async def test_schedule_jobs_survive_restart(make_harness: HarnessFactory) -> None:
    first = await make_harness([]).start()
    job = JobConfig(
        name="promo", kind="broadcast", every=timedelta(minutes=30), targets=["sales"], text="p"
    )
    first.scheduler.add(job, by="user:1")
    await first.advance(minutes=30)
    assert first.texts_to(SALES) == ["p"]
    second = await restart(
        make_harness, first, [], down_until=first.clock.now + timedelta(minutes=5)
    )
    definition = second.scheduler.book.get("promo")
    assert definition is not None
    assert (definition.source, definition.created_by, definition.config) == ("chat", "user:1", job)
    # nothing was due while down; an every job keeps its rhythm (issue 12)
    assert [r.trigger for r in second.runs("promo")] == ["schedule"]
    assert second.timer.when("promo") == second.runs("promo")[0].scheduled + timedelta(minutes=30)


async def test_removed_config_job_is_dropped_but_its_history_stays(
    make_harness: HarnessFactory,
) -> None:
    first = await make_harness([broadcast(every="1h", targets=["sales"], text="x")]).start()
    await first.advance(hours=1)
    second = await restart(make_harness, first, [], down_until=first.clock.now)
    assert second.scheduler.slots == {}
    assert len(second.runs("morning")) == 1


async def test_a_config_job_shadows_a_chat_job_of_the_same_name(
    make_harness: HarnessFactory,
) -> None:
    first = await make_harness([]).start()
    first.scheduler.add(
        JobConfig(
            name="morning", kind="broadcast", every=timedelta(hours=1), targets=["rio"], text="c"
        ),
        by="user:1",
    )
    second = await restart(
        make_harness, first, [broadcast(targets=["sales"], text="x")], down_until=first.clock.now
    )
    assert second.scheduler.slots["morning"].definition.source == "config"
    assert any("not loaded" in text for text in second.notes.texts)


async def test_disabled_job_never_runs_and_misses_nothing_when_enabled(
    make_harness: HarnessFactory,
) -> None:
    jobs = [broadcast(every="1h", targets=["sales"], text="x")]
    first = await make_harness(jobs).start()
    await first.advance(hours=1)
    disabled = [broadcast(every="1h", targets=["sales"], text="x", enabled=False)]
    second = await restart(
        make_harness, first, disabled, down_until=first.clock.now + timedelta(hours=1)
    )
    assert "morning" not in second.timer.armed
    await second.advance(hours=5)
    third = await restart(
        make_harness, second, jobs, down_until=second.clock.now + timedelta(minutes=1)
    )
    assert [run.outcome for run in third.runs("morning")] == ["ok"]
