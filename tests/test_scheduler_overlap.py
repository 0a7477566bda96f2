"""Overlap (skip / queue), manual runs, pause and resume while the bot runs.

A run is held "in progress" by its gap between two sends: the test's sleep
blocks until the gate opens, so no real time passes.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from scheduler_kit import (
    RIO,
    SALES,
    Harness,
    HarnessFactory,
    broadcast,
)

from jobs.scheduler import JobNotFound, SchedulerNotRunning


async def started_and_held(make: HarnessFactory, **keys: object) -> Harness:
    job = broadcast(every="1m", gap="5s", text="x", **keys)
    harness = await make([job]).start()
    harness.sleep.gate.clear()
    await harness.fire_next()  # the first run sends to Sales Team, then waits in its gap
    await harness.until(lambda: len(harness.sleep.calls) == 1)
    assert harness.texts_to(SALES) == ["x"]
    return harness


@pytest.mark.parametrize("extra_fires", [1, 2, 3])
async def test_skip_records_every_run_due_while_one_runs(
    make_harness: HarnessFactory, extra_fires: int
) -> None:
    harness = await started_and_held(make_harness, overlap="skip")
    for _ in range(extra_fires):
        await harness.fire_next()
    harness.sleep.gate.set()
    await harness.idle()
    runs = harness.runs("morning")
    assert [run.outcome for run in runs] == ["ok"] + ["skipped"] * extra_fires
    assert all("was still running (overlap = skip)" in run.skip_reason for run in runs[1:])
    assert harness.texts_to(SALES) == harness.texts_to(RIO) == ["x"]
    # skipped runs are reported under notify = "always"
    assert sum("skipped" in text for text in harness.notes.texts) == extra_fires


async def test_queue_runs_one_waiting_run_after_the_current(make_harness: HarnessFactory) -> None:
    harness = await started_and_held(make_harness, overlap="queue")
    first_queued = (await harness.fire_next())[1]
    await harness.fire_next()  # a second one due meanwhile: only one may wait
    harness.sleep.gate.set()
    await harness.idle()
    runs = harness.runs("morning")
    outcomes = {run.scheduled: run.outcome for run in runs}
    assert outcomes[first_queued] == "ok"
    assert sorted(outcomes.values()) == ["ok", "ok", "skipped"]
    [skipped] = [run for run in runs if run.outcome == "skipped"]
    assert "already waiting" in skipped.skip_reason
    assert harness.texts_to(SALES) == ["x", "x"]
    queued_run = next(run for run in runs if run.scheduled == first_queued)
    assert queued_run.trigger == "schedule"


@pytest.mark.parametrize("overlap", ["skip", "queue"])
async def test_manual_run_goes_through_the_overlap_policy(
    make_harness: HarnessFactory, overlap: str
) -> None:
    harness = await started_and_held(make_harness, overlap=overlap)
    submission = harness.scheduler.run_now("morning", by="user:1")
    expected = "queued" if overlap == "queue" else "skipped"
    assert submission.status == expected
    harness.sleep.gate.set()
    await harness.idle()
    manual = [run for run in harness.runs("morning") if run.trigger == "manual"]
    assert [run.outcome for run in manual] == ["ok" if overlap == "queue" else "skipped"]
    assert manual[0].requested_by == "user:1"


async def test_manual_run_is_recorded_and_does_not_move_the_schedule(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness([broadcast(text="x")]).start()
    armed = harness.timer.when("morning")
    harness.clock.advance(minutes=3)
    submission = harness.scheduler.run_now("morning", by="user:1")
    assert submission.status == "started"
    await harness.idle()
    [run] = harness.runs("morning")
    assert (run.trigger, run.outcome, run.scheduled) == ("manual", "ok", harness.clock.now)
    assert harness.timer.when("morning") == armed
    assert harness.notes.texts[0].startswith("morning (2026-11-27 12:03 UTC, manual run by user:1)")


async def test_pause_disarms_and_drops_a_waiting_run(make_harness: HarnessFactory) -> None:
    harness = await started_and_held(make_harness, overlap="queue")
    await harness.fire_next()  # queued
    harness.scheduler.pause("morning", by="user:1", note="holiday")
    assert "morning" not in harness.timer.armed
    harness.sleep.gate.set()
    await harness.idle()
    outcomes = [run.outcome for run in harness.runs("morning")]
    assert outcomes == ["ok", "skipped"]  # the run in progress finished, the waiting one did not
    assert harness.runs("morning")[1].skip_reason == "the job was paused"
    state = harness.scheduler.book.state("morning")
    assert (state.paused, state.paused_by, state.note) == (True, "user:1", "holiday")


async def test_resume_continues_from_now_without_a_burst(make_harness: HarnessFactory) -> None:
    harness = await make_harness([broadcast(every="10m", text="x")]).start()
    await harness.advance(minutes=25)  # runs at +10, +20
    harness.scheduler.pause("morning", by="user:1")
    await harness.advance(hours=3)  # 18 runs would have been due
    harness.scheduler.resume("morning")
    resumed_at = harness.clock.now
    next_fire = harness.timer.when("morning")
    assert next_fire is not None
    assert resumed_at < next_fire <= resumed_at + timedelta(minutes=10)
    await harness.advance(minutes=10)
    outcomes = [run.outcome for run in harness.runs("morning")]
    assert outcomes == ["ok", "ok", "ok"]  # nothing for the paused stretch


async def test_unknown_job_and_not_running(make_harness: HarnessFactory) -> None:
    harness = make_harness([broadcast(text="x")])
    with pytest.raises(SchedulerNotRunning):
        harness.scheduler.run_now("morning", by="user:1")
    await harness.start()
    with pytest.raises(JobNotFound):
        harness.scheduler.run_now("nope", by="user:1")
    await harness.stop()
    with pytest.raises(SchedulerNotRunning):
        harness.scheduler.pause("morning", by="user:1")


async def test_stop_leaves_a_held_run_interrupted_and_resumable(
    make_harness: HarnessFactory,
) -> None:
    harness = await started_and_held(make_harness, overlap="skip")
    stopping = harness.scheduler.stop()
    harness.sleep.gate.set()  # the gap ends; the run sees the stop flag before its next send
    await stopping
    [run] = harness.runs("morning")
    assert run.outcome == "interrupted"
    counts = harness.scheduler.ledger.counts(run.id)
    assert (counts["sent"], counts["pending"]) == (1, 1)
    assert harness.texts_to(RIO) == []
    # the next start resumes it (within the window): Rio gets its message, Sales no second one
    restarted = await make_harness(
        [broadcast(every="1m", gap="5s", text="x")], after=harness
    ).start()
    [run] = restarted.runs("morning")
    assert (run.outcome, run.sent) == ("ok", 2)
    assert "interrupted by a shutdown" in run.detail
    assert harness.texts_to(SALES) == harness.texts_to(RIO) == ["x"]
