"""A database that refuses writes (disk full, read-only) while jobs run.

Real scheduler, real SQLite file, real client to the sandbox (in process). The
faults are SQLite's own: the file is held at its size with ``PRAGMA
max_page_count`` after a filler took the free pages ("database or disk is
full"), or made read-only with ``PRAGMA query_only``. Nothing is sent that
the ledger did not mark ``sending`` first, the notify chats and the log are
told, nothing dies unseen, and what could not be recorded is recorded (and
the run resumed) once the database accepts writes again.
"""

from __future__ import annotations

import gc
from collections import Counter
from datetime import timedelta

import pytest
from scheduler_kit import (
    SALES,
    START,
    VIP,
    Harness,
    HarnessFactory,
    StorageFault,
    broadcast,
    invite_reset,
)

from bot.sandbox import Sandbox
from jobs.scheduler import RETRY_KEY, StorageRefused

GROUPS = 120
NINE = START.replace(hour=9) + timedelta(days=1)  # Saturday 09:00 UTC


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(groups=GROUPS)


def never_retrieved(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Task exceptions asyncio found unretrieved (it logs them when the task is collected)."""
    gc.collect()
    return [r.getMessage() for r in caplog.records if "never retrieved" in r.getMessage()]


def sent_per_group(harness: Harness) -> Counter[str]:
    return Counter(m.group_id for m in harness.sandbox.sent_messages)


def assert_ledger_came_first(harness: Harness, run_id: int) -> None:
    """Every group that got the message has a row that was committed ``sending`` before."""
    rows = {d.group_id: d for d in harness.scheduler.ledger.deliveries(run_id)}
    for group_id in sent_per_group(harness):
        assert rows[group_id].state != "pending", f"{group_id} was sent to while pending"


async def held_after_first_send(make_harness: HarnessFactory, **keys: object) -> Harness:
    """A broadcast to every group, fired and held in its gap after the first send."""
    harness = await make_harness([broadcast(targets=["all"], gap="1s", text="Hi", **keys)]).start()
    harness.sleep.gate.clear()
    await harness.fire_next()
    await harness.until(lambda: bool(harness.sleep.calls))
    assert len(harness.sandbox.sent_messages) == 1
    return harness


@pytest.mark.parametrize("fault", ["disk full", "read-only"])
async def test_a_run_stopped_by_storage_is_reported_and_resumes_when_writes_return(
    make_harness: HarnessFactory, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    harness = await held_after_first_send(make_harness)
    storage = StorageFault(harness.store.db)
    storage.fill() if fault == "disk full" else storage.read_only()
    harness.sleep.gate.set()
    await harness.idle()

    [run] = harness.runs("morning")
    assert run.outcome == "running"  # unfinished: resumable
    assert 1 <= len(harness.sandbox.sent_messages) < GROUPS  # sending stopped at once
    assert max(sent_per_group(harness).values()) == 1
    assert_ledger_came_first(harness, run.id)
    [told] = harness.notes.texts
    cause = "database or disk is full" if fault == "disk full" else "readonly database"
    assert told.startswith("morning (09:00 UTC): stopped")
    assert cause in told
    assert "resumes when the database accepts writes again" in told
    assert told in caplog.text
    assert never_retrieved(caplog) == []

    storage.restore()  # space is back: the next retry records and resumes
    await harness.advance(minutes=1)
    [run] = harness.runs("morning")
    assert (run.outcome, run.sent, run.failed, run.unknown) == ("ok", GROUPS, 0, 0)
    assert set(sent_per_group(harness).values()) == {1}
    assert len(sent_per_group(harness)) == GROUPS
    assert "stopped by a storage failure" in run.detail
    back, report = harness.notes.texts[1:]
    assert back.startswith("The database accepts writes again")
    assert "morning (09:00 UTC)" in back
    assert report.startswith(f"morning (09:00 UTC): queued {GROUPS}, failed 0, unknown 0")
    assert "Traceback" not in caplog.text
    assert never_retrieved(caplog) == []


async def test_a_restart_during_the_outage_resumes_the_run_without_duplicates(
    make_harness: HarnessFactory, caplog: pytest.LogCaptureFixture
) -> None:
    harness = await held_after_first_send(make_harness)
    StorageFault(harness.store.db).fill()
    harness.sleep.gate.set()
    await harness.idle()
    await harness.stop()  # still full: what it could not record stays as a crash leaves it
    assert "stopping while the database refuses writes" in caplog.text
    # a new process (a new connection: the cap is gone, like space freed meanwhile)
    job = broadcast(targets=["all"], gap="1s", text="Hi")
    restarted = await make_harness([job], after=harness).start()
    [run] = restarted.runs("morning")
    rows = {d.group_id: d for d in restarted.scheduler.ledger.deliveries(run.id)}
    sent = sent_per_group(restarted)
    assert max(sent.values()) == 1
    assert {gid for gid, row in rows.items() if row.state == "sent"} <= set(sent)
    unknown = {gid for gid, row in rows.items() if row.state == "unknown"}
    assert set(rows) - set(sent) <= unknown  # never silently skipped
    assert run.sent + run.unknown == GROUPS
    assert run.unknown == len(unknown) <= 1  # the one answer it could not write
    assert "interrupted by a crash" in run.detail
    assert never_retrieved(caplog) == []


@pytest.mark.parametrize("fault", ["disk full", "read-only"])
async def test_runs_due_during_the_outage_follow_the_catch_up_rules_once_writes_work(
    make_harness: HarnessFactory, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    text = "x" * 2500  # each history row holds the definition: one row per page
    job = broadcast(every="1h", targets=["sales"], text=text, notify="always")
    harness = await make_harness([job]).start()
    await harness.advance(hours=1)  # 13:00 runs
    storage = StorageFault(harness.store.db)
    storage.fill() if fault == "disk full" else storage.read_only()
    await harness.advance(hours=2)  # 14:00 and 15:00 cannot open their history row
    assert [run.outcome for run in harness.runs("morning")] in (["ok"], ["ok", "missed"])
    assert len(harness.texts_to(SALES)) == 1
    # the chats hear it once per outage; a full disk that took the 14:00 missed row at 15:00
    # (it fits in place) ended that outage, and the 15:00 refusal began another
    told = [t for t in harness.notes.texts if "not started" in t]
    assert len(told) == 1 if fault == "read-only" else 1 <= len(told) <= 2
    assert told[0].startswith("morning (2026-11-27 14:00 UTC): not started")
    assert "catch-up rules" in told[0]
    assert told[0] in caplog.text
    assert "morning (2026-11-27 15:00 UTC): not started" in caplog.text  # the log hears all

    storage.restore()
    await harness.advance(minutes=5)  # the next retry
    runs = harness.runs("morning")
    assert [(r.scheduled.hour, r.trigger, r.outcome) for r in runs] == [
        (13, "schedule", "ok"),
        (14, "schedule", "missed"),
        (15, "catch-up", "ok"),
    ]
    # 15:00 superseded 14:00 (never an older message after a newer one); 15:00 ran late
    assert runs[1].skip_reason.startswith("the database refused writes (")
    assert runs[1].skip_reason.endswith("not run: a later run is due")
    assert len(harness.texts_to(SALES)) == 2
    assert any(t.startswith("The database accepts writes again") for t in harness.notes.texts)
    await harness.advance(hours=1)  # and it goes on as usual
    assert [r.outcome for r in harness.runs("morning")][-1] == "ok"
    assert never_retrieved(caplog) == []


async def test_a_run_refused_before_a_newer_one_is_due_is_missed_not_run_late(
    make_harness: HarnessFactory,
) -> None:
    job = broadcast(every="1h", targets=["sales"], text="x", notify="always")
    harness = await make_harness([job]).start()
    await harness.advance(hours=1)  # 13:00 runs
    storage = StorageFault(harness.store.db)
    storage.read_only()
    await harness.advance_to(START.replace(hour=14, minute=59))  # 14:00 refused
    storage.restore()
    fifteen = START.replace(hour=15)
    retry_at = harness.timer.when(RETRY_KEY)
    assert retry_at is not None and retry_at > fifteen  # the 15:00 fire comes first
    await harness.advance_to(fifteen)
    runs = harness.runs("morning")
    assert [(r.scheduled.hour, r.trigger, r.outcome) for r in runs] == [
        (13, "schedule", "ok"),
        (14, "schedule", "missed"),
        (15, "schedule", "ok"),
    ]
    assert runs[1].skip_reason.endswith("not run: a later run is due")
    assert harness.texts_to(SALES) == ["x", "x"]


async def test_run_now_is_refused_with_a_reason_when_the_run_cannot_be_recorded(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness([broadcast(targets=["sales"], text="x")]).start()
    storage = StorageFault(harness.store.db)
    storage.read_only()
    with pytest.raises(StorageRefused, match="the database refused to record the run"):
        harness.scheduler.run_now("morning", by="user:1")
    await harness.idle()
    assert harness.sandbox.sent_messages == []
    storage.restore()
    await harness.advance(minutes=1)
    [run] = harness.runs("morning")  # the refused /run is in the history now
    assert (run.trigger, run.outcome, run.requested_by) == ("manual", "skipped", "user:1")


async def test_a_new_invite_link_the_database_refused_is_kept_and_announced(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness([invite_reset(targets=["vip"])]).start()
    before = harness.sandbox.groups[VIP].invite_link
    harness.sandbox.inject("invite", delay=0.2)  # the answer comes 0.2 s after the reset
    storage = StorageFault(harness.store.db)
    await harness.fire_next()
    await harness.until(lambda: harness.sandbox.groups[VIP].invite_link != before)
    storage.read_only()  # the old link is dead, the new one not yet recorded
    await harness.idle()
    [run] = harness.runs("links")
    assert run.outcome == "running"
    assert harness.store.last_invite_link(VIP) is None
    storage.restore()
    await harness.advance(minutes=1)
    fresh = harness.sandbox.groups[VIP].invite_link
    [run] = harness.runs("links")
    assert (run.outcome, run.sent) == ("ok", 1)
    assert harness.store.last_invite_link(VIP) == fresh
    [row] = harness.scheduler.ledger.deliveries(run.id)
    assert (row.state, row.result) == ("sent", fresh)
    assert any(f"VIP Customers ({VIP}): {fresh}" in t for t in harness.notes.texts)
    resets = [r for r in harness.sandbox.requests if r.endpoint == "invite" and r.body["reset"]]
    assert len(resets) == 1


async def test_a_failing_side_task_is_logged_not_lost(
    make_harness: HarnessFactory, caplog: pytest.LogCaptureFixture
) -> None:
    harness = await make_harness([]).start()

    async def broken() -> None:
        raise RuntimeError("boom")

    harness.scheduler.spawn(broken())
    await harness.idle()
    assert "a scheduler side task failed" in caplog.text
    assert never_retrieved(caplog) == []
