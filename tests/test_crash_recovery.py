"""Crashes: no group gets the same scheduled message twice, none is silently lost.

First in process: the database is left exactly as a killed bot leaves it
(rows ``sent``, one ``sending``, the rest ``pending``, the run ``running``),
and a new scheduler starts on it. Then for real: a ``grouppilot run
--no-console`` subprocess broadcasting to 300 groups of a sandbox served over
HTTP with latency is killed midway (SIGKILL, or stopped with SIGTERM) and
started again; the sandbox's own record is the judge.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from scheduler_kit import (
    RIO,
    SALES,
    START,
    SUPPORT,
    VIP,
    Harness,
    HarnessFactory,
    broadcast,
    invite_reset,
    write_config,
)

from bot.sandbox import Sandbox, SandboxServerThread
from jobs.definitions import job_to_data
from jobs.records import DETAIL_LIMIT, joined_detail

ROOT = Path(__file__).resolve().parent.parent
GROUPS = [SALES, RIO, SUPPORT, VIP]
NAMES = {SALES: "Sales Team", RIO: "Sales Rio", SUPPORT: "Support", VIP: "VIP Customers"}


def crashed_run(harness: Harness, job: dict[str, Any], *, in_flight_applied: bool) -> int:
    """Leave the database as a bot killed mid-broadcast does: 1 sent, 1 sending, 2 pending."""
    from bot.jobconfig import JobConfig

    config = JobConfig.model_validate({**job, "timezone": "UTC"})
    ledger = harness.scheduler.ledger
    run = ledger.open_run(
        job=config.name,
        kind=config.kind,
        zone="UTC",
        scheduled=START,
        trigger="schedule",
        definition=job_to_data(config),
    )
    ledger.add_deliveries(run.id, [(gid, NAMES[gid]) for gid in GROUPS])
    ledger.mark_sending(run.id, SALES)
    harness.sandbox.send(SALES, "old text")
    ledger.mark_done(run.id, SALES, "sent", result="m1")
    ledger.mark_sending(run.id, RIO)  # killed while this request was in flight
    if in_flight_applied:
        harness.sandbox.send(RIO, "old text")
    return run.id


@pytest.mark.parametrize("in_flight_applied", [True, False])
@pytest.mark.parametrize("late", [timedelta(minutes=5), timedelta(hours=6)])
async def test_interrupted_run_within_window_is_resumed(
    make_harness: HarnessFactory, in_flight_applied: bool, late: timedelta
) -> None:
    job = broadcast(at=START.isoformat(), targets=["all"], text="old text")
    harness = make_harness([job], now=START + late)
    run_id = crashed_run(harness, job, in_flight_applied=in_flight_applied)
    # the config text changed meanwhile: the run goes on with the text it started with
    harness = await make_harness([{**job, "text": "new text"}], after=harness).start()
    sent = Counter(m.group_id for m in harness.sandbox.sent_messages)
    assert sent[SALES] == 1
    assert sent[RIO] == (1 if in_flight_applied else 0)  # never resent
    assert sent[SUPPORT] == sent[VIP] == 1
    assert {m.text for m in harness.sandbox.sent_messages} == {"old text"}
    run = harness.scheduler.ledger.get_run(run_id)
    assert run is not None
    assert (run.outcome, run.sent, run.failed, run.unknown) == ("partial", 3, 0, 1)
    assert "interrupted by a crash" in run.detail
    [report] = harness.notes.texts
    assert report.splitlines()[0].endswith("queued 3, failed 0, unknown 1")
    assert f"- Sales Rio ({RIO}): unknown INTERRUPTED" in report
    assert harness.runs("morning") == [run]  # no catch-up run on top


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ("late", "EXPIRED"),
        ("removed", "JOB_REMOVED"),
        ("disabled", "JOB_DISABLED"),
        ("paused", "JOB_PAUSED"),
    ],
)
async def test_interrupted_run_that_may_not_resume_fails_its_pending_rows(
    make_harness: HarnessFactory, change: str, code: str
) -> None:
    job = broadcast(at=START.isoformat(), targets=["all"], text="old text", notify="never")
    late = timedelta(hours=6, seconds=1) if change == "late" else timedelta(minutes=1)
    harness = make_harness([job], now=START + late)
    run_id = crashed_run(harness, job, in_flight_applied=True)
    jobs = {
        "late": [job],
        "removed": [],
        "disabled": [{**job, "enabled": False}],
        "paused": [job],
    }[change]
    if change == "paused":
        harness.scheduler.book.pause("morning", by="user:1")
    harness = await make_harness(jobs, after=harness).start()
    assert Counter(m.group_id for m in harness.sandbox.sent_messages) == {SALES: 1, RIO: 1}
    rows = {d.group_id: d for d in harness.scheduler.ledger.deliveries(run_id)}
    assert [rows[g].state for g in GROUPS] == ["sent", "unknown", "failed", "failed"]
    assert rows[SUPPORT].code == rows[VIP].code == code
    run = harness.scheduler.ledger.get_run(run_id)
    assert run is not None
    assert (run.outcome, run.sent, run.failed, run.unknown) == ("partial", 1, 2, 1)
    # notify = "never", yet a crash's unknown deliveries are always reported
    [report] = harness.notes.texts
    assert f"- Support ({SUPPORT}): failed {code}" in report
    assert f"- Sales Rio ({RIO}): unknown INTERRUPTED" in report


async def test_interrupted_invite_reset_reads_the_link_instead_of_resetting(
    make_harness: HarnessFactory,
) -> None:
    job = invite_reset(at=START.isoformat(), targets=["sales", "vip"])
    harness = make_harness([job], now=START + timedelta(minutes=1))
    from bot.jobconfig import JobConfig

    config = JobConfig.model_validate({**job, "timezone": "UTC"})
    ledger = harness.scheduler.ledger
    run = ledger.open_run(
        job="links", kind="invite_reset", zone="UTC", scheduled=START, trigger="schedule",
        definition=job_to_data(config),
    )  # fmt: skip
    ledger.add_deliveries(run.id, [(SALES, "Sales Team"), (VIP, "VIP Customers")])
    ledger.mark_sending(run.id, SALES)
    reset_link = harness.sandbox.invite_link(SALES, reset=True)  # it went through, then: killed
    vip_before = harness.sandbox.groups[VIP].invite_link
    harness = await make_harness([job], after=harness).start()
    resets = [r for r in harness.sandbox.requests if r.endpoint == "invite" and r.body["reset"]]
    assert [r.path for r in resets] == [f"/v1/groups/{VIP.replace('@', '%40')}/invite"]
    assert harness.sandbox.groups[SALES].invite_link == reset_link  # not killed by a second reset
    assert harness.sandbox.groups[VIP].invite_link != vip_before
    rows = {d.group_id: d for d in ledger.deliveries(run.id)}
    assert (rows[SALES].state, rows[SALES].result) == ("unknown", reset_link)
    assert harness.store.last_invite_link(SALES) == reset_link
    [text] = harness.notes.texts
    assert f"Sales Team ({SALES}): {reset_link} (current link" in text


async def test_two_crashes_leave_the_full_account_in_the_run(make_harness: HarnessFactory) -> None:
    """The run's detail keeps every restart's note, and the last one counts them all."""
    job = broadcast(at=START.isoformat(), targets=["all"], text="old text", notify="never")
    first = make_harness([job], now=START + timedelta(minutes=1))
    run_id = crashed_run(first, job, in_flight_applied=True)
    first.scheduler.ledger.mark_sending(run_id, SUPPORT)  # in flight too: 2 left mid-send
    # the second bot holds VIP's send in flight, then dies: its connection is gone at once
    first.sandbox.inject("send", delay=0.3)
    second = make_harness([job], after=first)
    await second.scheduler.start(second.notes)  # not waiting for the resumed run
    await second.until(lambda: second.sandbox.in_flight == 1)
    second.store.close()
    await second.idle()  # its writes now fail; the database stays as the crash left it
    third = await make_harness([job], after=second).start()
    run = third.scheduler.ledger.get_run(run_id)
    assert run is not None
    assert (run.outcome, run.sent, run.unknown) == ("partial", 1, 3)
    notes = run.detail.split("; ")
    assert notes == [
        "interrupted by a crash: 2 left mid-send became unknown (not resent), resumed on start",
        "interrupted by a crash: 1 more left mid-send became unknown, 3 in all (not resent), "
        "resumed on start",
    ]
    [report] = third.notes.texts
    assert report.splitlines()[0].endswith("queued 1, failed 0, unknown 3")
    assert "3 in all" in report
    assert Counter(m.group_id for m in third.sandbox.sent_messages) == {SALES: 1, RIO: 1, VIP: 1}


def test_the_account_stays_bounded_keeping_the_first_and_the_latest_notes() -> None:
    def note(n: int) -> str:
        return f"interrupted by a crash: {n} left mid-send became unknown, resumed on start"

    detail = ""
    for n in range(1, 60):
        detail = joined_detail(detail, note(n))
        assert len(detail) <= DETAIL_LIMIT
    notes = detail.split("; ")
    assert notes[:2] == [note(1), "…"]
    assert notes[2:] == [note(n) for n in range(60 - len(notes) + 2, 60)]  # whole notes


# -- the WAL deleted after a crash --------------------------------------------------------
# The bot dies with its connection open and someone deletes grouppilot.db-wal: what is left
# is the database file alone, exactly as it is at that moment (copied here, WAL left behind).


def crash_and_lose_the_wal(tmp_path: Path) -> str:
    shutil.copyfile(tmp_path / "grouppilot.db", tmp_path / "crashed.db")
    return "crashed.db"


async def test_a_finished_run_survives_losing_the_wal(
    make_harness: HarnessFactory, tmp_path: Path
) -> None:
    job = broadcast(at=(START + timedelta(minutes=1)).isoformat(), targets=["all"], text="once")
    harness = await make_harness([job]).start()
    await harness.advance(minutes=1)
    [run] = harness.runs("morning")
    assert (run.outcome, run.sent) == ("ok", 4)
    crashed = crash_and_lose_the_wal(tmp_path)
    await harness.stop()
    restarted = await make_harness([job], after=harness, db_name=crashed).start()
    assert [(r.trigger, r.outcome, r.sent) for r in restarted.runs("morning")] == [
        ("schedule", "ok", 4)
    ]
    assert Counter(m.group_id for m in restarted.sandbox.sent_messages) == dict.fromkeys(GROUPS, 1)


async def test_a_long_run_is_checkpointed_as_it_goes(
    make_harness: HarnessFactory, tmp_path: Path
) -> None:
    job = broadcast(at=START.isoformat(), targets=["all"], text="once", gap="1s")
    harness = await make_harness([job], now=START - timedelta(seconds=1)).start()
    harness.scheduler.ledger.checkpoint_every = 3
    harness.sleep.hold_after = 2  # held in the pause after the third send
    await harness.fire_next()
    await harness.until(lambda: len(harness.sleep.calls) == 3)
    crashed = crash_and_lose_the_wal(tmp_path)
    stopping = harness.stop()
    harness.sleep.gate.set()
    await stopping  # this bot sends nothing more
    assert len(harness.sandbox.sent_messages) == 3
    restarted = await make_harness([job], after=harness, db_name=crashed).start()
    [run] = restarted.runs("morning")
    assert (run.outcome, run.sent) == ("ok", 4)
    assert Counter(m.group_id for m in restarted.sandbox.sent_messages) == dict.fromkeys(GROUPS, 1)


# -- the real thing: a grouppilot process, killed --------------------------------------------

GROUP_COUNT = 300


def _sent_count(url: str) -> int:
    state = httpx.get(f"{url}/_sandbox/state", timeout=5).json()
    return len(state["sent_messages"])


def _run_bot(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUPPILOT_")}
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--no-console", "--config", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
        cwd=ROOT,
        env=env,
    )


def _wait(condition: Any, timeout: float, what: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None or what == "exit", f"the bot exited while waiting for {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _run_row(db: Path) -> dict[str, Any] | None:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        try:
            row = conn.execute("SELECT * FROM job_runs WHERE job = 'blast'").fetchone()
        except sqlite3.OperationalError:
            return None
        return dict(row) if row else None


@pytest.mark.parametrize("stop_signal", [signal.SIGKILL, signal.SIGTERM], ids=["kill", "term"])
def test_killed_bot_resumes_its_broadcast_without_duplicates(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    sandbox = Sandbox(groups=GROUP_COUNT, latency_ms=25)
    with SandboxServerThread(sandbox) as server:
        db = tmp_path / "grouppilot.db"
        at = time.time() + 1.5  # soon after start (or caught up at start if the start is slow)
        from datetime import UTC, datetime

        job = broadcast(
            "blast",
            at=datetime.fromtimestamp(at, UTC).isoformat(),
            targets=["all"],
            text="Hello {group}",
        )
        config = write_config(
            tmp_path / "bot.toml", base_url=server.url, db=db, jobs=[job], max_rps=200
        )
        log = tmp_path / "bot.log"
        first = _run_bot(config, log)
        try:
            _wait(lambda: _sent_count(server.url) >= 40, 30, "the broadcast to start", first)
            assert _sent_count(server.url) < GROUP_COUNT - 40, "too fast to interrupt"
            first.send_signal(stop_signal)
            first.wait(timeout=30)
        finally:
            if first.poll() is None:
                first.kill()
        if stop_signal == signal.SIGTERM:
            assert first.returncode == 0
        before_restart = _sent_count(server.url)
        assert before_restart < GROUP_COUNT
        second = _run_bot(config, log)
        try:
            _wait(
                lambda: (
                    (row := _run_row(db)) is not None
                    and row["outcome"] not in ("running", "interrupted")
                ),
                60,
                "the resumed run to finish",
                second,
            )
            time.sleep(0.2)  # the report is logged right after the row is finished
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=30)
        assert second.returncode == 0

        state = httpx.get(f"{server.url}/_sandbox/state", timeout=5).json()
        per_group = Counter(m["group_id"] for m in state["sent_messages"])
        names = {g["id"]: g["name"] for g in state["groups"]}
        assert max(per_group.values()) == 1, "a group got the message twice"
        for message in state["sent_messages"]:
            assert message["text"] == f"Hello {names[message['group_id']]}"
        with sqlite3.connect(db) as conn:
            unknown = {
                gid
                for (gid,) in conn.execute(
                    "SELECT group_id FROM deliveries"
                    " WHERE state = 'unknown' AND code = 'INTERRUPTED'"
                )
            }
            states = Counter(s for (s,) in conn.execute("SELECT state FROM deliveries"))
        missing = set(names) - set(per_group)
        assert missing <= unknown, "a group that surely did not get it was never sent to"
        assert len(unknown) <= 4  # at most `concurrency` requests were in flight
        if stop_signal == signal.SIGTERM:
            assert unknown == set()  # a clean stop lets the sends in flight finish
        else:
            assert unknown, "killed mid-broadcast: some sends were in flight"
        assert states == Counter(
            {"sent": GROUP_COUNT - len(unknown), **({"unknown": len(unknown)} if unknown else {})}
        )
        row = _run_row(db)
        assert row is not None
        assert (row["sent"], row["unknown"], row["failed"]) == (
            GROUP_COUNT - len(unknown),
            len(unknown),
            0,
        )
        text = log.read_text(encoding="utf-8")
        assert f"queued {GROUP_COUNT - len(unknown)}, failed 0, unknown {len(unknown)}" in text
        for gid in unknown:
            assert f"- {names[gid]} ({gid}): unknown INTERRUPTED" in text
        assert "Traceback" not in text
        assert json.dumps(row["outcome"]) in ('"ok"', '"partial"')
