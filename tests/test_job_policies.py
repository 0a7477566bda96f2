"""Job policies: ``pause_on_failure``, ``until`` and ``skip_dates`` (docs/scheduling.md).

The real scheduler over a real SQLite file and the in-process sandbox, with a
fake clock and timer (tests/scheduler_kit.py); a "restart" is a new scheduler
on the same database, the clock moved on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import ADMIN
from scheduler_kit import SALES, START, Harness, HarnessFactory, broadcast

from bot.commands.types import Pending, Reply

FAIL = {"status": 502, "code": "WHATSAPP_UPSTREAM_ERROR"}
PAUSED = "paused after {n} failed runs in a row: /resume {name} when fixed"


async def restart(make: HarnessFactory, before: Harness, jobs: list[dict[str, Any]]) -> Harness:
    await before.stop()
    return await make(jobs, after=before).start()


async def say(bot: Harness, text: str) -> Reply:
    outcome = await bot.layer.execute(text, ADMIN)
    assert isinstance(outcome, Reply), outcome
    return outcome


async def run_hour(bot: Harness, outcome: str) -> None:
    """Let the hourly job run once, failing both groups, one of them, or none."""
    failures = {"failed": 2, "partial": 1, "ok": 0}[outcome]
    if failures:
        bot.sandbox.inject("send", times=failures, **FAIL)
    await bot.advance(hours=1)
    assert bot.runs("hourly")[-1].outcome == outcome


# -- pause_on_failure -------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 3])
async def test_n_failed_runs_in_a_row_pause_the_job_and_say_so_once(
    make_harness: HarnessFactory, limit: int
) -> None:
    jobs = [broadcast("hourly", every="1h", targets=["all-sales"], pause_on_failure=limit)]
    bot = await make_harness(jobs).start()
    for _ in range(limit):
        await run_hour(bot, "failed")
    state = bot.scheduler.book.state("hourly")
    assert (state.paused, state.paused_by) == (True, "policy")
    assert state.note == f"pause_on_failure: {limit} failed runs in a row"
    assert "hourly" not in bot.timer.armed
    told = [t for t in bot.notes.texts if "paused after" in t]
    assert told == ["hourly " + PAUSED.format(n=limit, name="hourly")]
    await bot.advance(hours=5)  # paused: nothing runs, nothing more is said
    assert len(bot.runs("hourly")) == limit
    # a manual run of the paused job that fails again does not say it twice
    bot.sandbox.inject("send", times=2, **FAIL)
    submission = bot.scheduler.run_now("hourly", by="user:1")
    assert submission.task is not None
    await submission.task
    await bot.idle()
    assert len([t for t in bot.notes.texts if "paused after" in t]) == 1
    # kept across a restart, like /pause; /resume arms it again
    again = await restart(make_harness, bot, jobs)
    assert again.scheduler.book.state("hourly").paused
    assert "hourly" not in again.timer.armed
    again.clock.advance(minutes=1)
    assert (await say(again, "/resume hourly")).ok
    assert "hourly" in again.timer.armed
    # a fresh streak after /resume: the failures before it do not count
    for count in range(1, limit + 1):
        again.sandbox.inject("send", times=2, **FAIL)
        await again.advance(hours=1)
        assert again.scheduler.book.state("hourly").paused is (count == limit)


@pytest.mark.parametrize(
    ("outcomes", "paused"),
    [
        (["failed", "failed"], True),
        (["failed", "partial", "failed"], False),  # a partial run reached groups: streak ends
        (["failed", "ok", "failed"], False),
        (["partial", "partial", "partial"], False),  # partial never counts
        (["ok", "failed", "failed"], True),
    ],
)
async def test_only_consecutive_failed_runs_count(
    make_harness: HarnessFactory, outcomes: list[str], paused: bool
) -> None:
    jobs = [broadcast("hourly", every="1h", targets=["all-sales"], pause_on_failure=2)]
    bot = await make_harness(jobs).start()
    for outcome in outcomes:
        await run_hour(bot, outcome)
    assert bot.scheduler.book.state("hourly").paused is paused
    assert any("paused after" in t for t in bot.notes.texts) is paused


async def test_skipped_runs_neither_count_nor_break_the_streak(
    make_harness: HarnessFactory,
) -> None:
    # runs every day at 09:00 (from the 28th); the 29th is a skip date between two failed runs
    jobs = [
        broadcast(
            "daily",
            targets=["sales"],
            pause_on_failure=2,
            skip_dates=["2026-11-29"],
            text="x",
        )
    ]
    bot = await make_harness(jobs).start()
    bot.sandbox.inject("send", times=2, **FAIL)
    await bot.advance_to(datetime(2026, 11, 30, 10, 0, tzinfo=UTC))
    outcomes = [(run.outcome, run.skip_reason) for run in bot.runs("daily")]
    assert outcomes == [("failed", ""), ("skipped", "skip date"), ("failed", "")]
    assert bot.scheduler.book.state("daily").paused


async def test_manual_runs_count_too(make_harness: HarnessFactory) -> None:
    bot = await make_harness([broadcast(targets=["sales"], pause_on_failure=2, text="x")]).start()
    for _ in range(2):
        bot.sandbox.inject("send", times=1, **FAIL)
        submission = bot.scheduler.run_now("morning", by="user:1")
        assert submission.task is not None
        await submission.task
        bot.clock.advance(minutes=1)
    await bot.idle()
    assert bot.scheduler.book.state("morning").paused_by == "policy"


async def test_no_policy_no_pause(make_harness: HarnessFactory) -> None:
    bot = await make_harness([broadcast("hourly", every="1h", targets=["all-sales"])]).start()
    for _ in range(4):
        await run_hour(bot, "failed")
    assert not bot.scheduler.book.state("hourly").paused


# -- until --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "cron", "last_local"),
    [
        ("UTC", "0 9 * * *", "2026-11-29 09:00"),
        # 23:00 in São Paulo on the 29th is 02:00 UTC on the 30th: still the until day there
        ("America/Sao_Paulo", "0 23 * * *", "2026-11-29 23:00"),
    ],
)
async def test_no_run_after_until_and_jobs_shows_it_ended(
    make_harness: HarnessFactory, zone: str, cron: str, last_local: str
) -> None:
    job = broadcast(cron=cron, timezone=zone, targets=["sales"], until="2026-11-29", text="x")
    bot = await make_harness([job]).start()
    await bot.advance(days=5)
    runs = bot.runs("morning")
    assert len(runs) == 2 + (zone != "UTC")  # the 27th's 23:00 local is still ahead at START
    last = runs[-1].scheduled.astimezone(bot.scheduler.slots["morning"].schedule.zone)
    assert last.strftime("%Y-%m-%d %H:%M") == last_local
    assert "morning" not in bot.timer.armed
    reply = await say(bot, "/jobs")
    assert "next: none (ended 2026-11-29)" in reply.text
    # a restart after it catches nothing up and arms nothing
    bot.clock.advance(days=2)
    again = await restart(make_harness, bot, [job])
    assert len(again.runs("morning")) == len(runs)
    assert "morning" not in again.timer.armed


async def test_until_in_the_future_changes_nothing_yet(make_harness: HarnessFactory) -> None:
    job = broadcast(targets=["sales"], until="2027-01-01", text="x")
    bot = await make_harness([job]).start()
    assert bot.timer.when("morning") == datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    assert "ended" not in (await say(bot, "/jobs")).text


# -- skip_dates ---------------------------------------------------------------------------


@pytest.mark.parametrize(("notify", "reported"), [("always", True), ("failures", False)])
async def test_a_run_on_a_skip_date_is_recorded_as_skipped(
    make_harness: HarnessFactory, notify: str, reported: bool
) -> None:
    # 01:00 in São Paulo is 04:00 UTC: the date that counts is the job's own
    job = broadcast(
        cron="0 1 * * *",
        timezone="America/Sao_Paulo",
        targets=["sales"],
        skip_dates=["2026-11-28", "2026-12-25"],
        notify=notify,
        text="x",
    )
    bot = await make_harness([job]).start()
    await bot.advance_to(datetime(2026, 11, 29, 5, 0, tzinfo=UTC))
    runs = bot.runs("morning")
    assert [(r.outcome, r.skip_reason) for r in runs] == [("skipped", "skip date"), ("ok", "")]
    assert runs[0].scheduled == datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
    assert bot.texts_to(SALES) == ["x"]
    skip_reports = [t for t in bot.notes.texts if "skip date" in t]
    assert len(skip_reports) == (1 if reported else 0)
    assert bot.timer.when("morning") == datetime(2026, 11, 30, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize("catch_up", ["once", "skip"])
async def test_catch_up_never_runs_a_skip_date(make_harness: HarnessFactory, catch_up: str) -> None:
    job = broadcast(targets=["sales"], skip_dates=["2026-11-28"], catch_up=catch_up, text="x")
    bot = await make_harness([job]).start()
    await bot.advance(hours=8)
    await bot.stop()
    bot.clock.now = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)  # down over the 28th's 09:00
    again = await make_harness([job], after=bot).start()
    [run] = again.runs("morning")
    assert run.scheduled == datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    assert run.outcome in ("skipped", "missed")
    if catch_up == "once":
        assert (run.outcome, run.skip_reason) == ("skipped", "skip date")
    assert again.texts_to(SALES) == []
    assert again.timer.when("morning") == datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


async def test_a_manual_run_on_a_skip_date_still_runs(make_harness: HarnessFactory) -> None:
    bot = await make_harness(
        [broadcast(targets=["sales"], skip_dates=[START.date().isoformat()], text="x")]
    ).start()
    outcome = await bot.layer.execute("/run morning", ADMIN)
    assert isinstance(outcome, Pending)
    assert (await bot.layer.confirm(outcome.token, ADMIN)).ok
    assert bot.texts_to(SALES) == ["x"]
    assert timedelta(0) <= bot.clock.now - START


@pytest.mark.parametrize(
    ("keys", "line"),
    [
        ({}, None),
        (
            {"pause_on_failure": 3, "until": "2027-12-31", "skip_dates": ["2026-12-25"]},
            "policies: pause after 3 failed runs in a row · until 2027-12-31 · skip 2026-12-25",
        ),
        ({"skip_dates": ["2027-01-01", "2026-12-25"]}, "policies: skip 2026-12-25, 2027-01-01"),
    ],
)
async def test_job_shows_the_policies(
    make_harness: HarnessFactory, keys: dict[str, Any], line: str | None
) -> None:
    bot = await make_harness([broadcast(targets=["sales"], text="x", **keys)]).start()
    lines = (await say(bot, "/job morning")).text.splitlines()
    policy_lines = [text for text in lines if text.startswith("policies:")]
    assert policy_lines == ([line] if line else [])
