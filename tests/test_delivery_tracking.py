"""Delivery status: the tracker follows sent messages and sends one follow-up per run or /send.

The real client against the sandbox (in process), a real SQLite file, and one
fake clock that moves both the bot and the sandbox (message status follows
the sandbox clock): the tracker is driven step by step with ``run_due``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from scheduler_kit import (
    START,
    FakeClock,
    Harness,
    HarnessFactory,
    broadcast,
    harness_factory,
)

from bot.sandbox import Sandbox
from bot.whatsapp.client import WhatsAppClient
from jobs.tracker import DeliveryTracker

GROUPS = 200


class Told:
    """A notifier that keeps reports (`notify`) and chat follow-ups (`tell`)."""

    def __init__(self) -> None:
        self.reports: list[str] = []
        self.told: list[tuple[str, str]] = []

    async def notify(self, text: str) -> None:
        self.reports.append(text)

    async def tell(self, chat: str, text: str) -> None:
        self.told.append((chat, text))


class SharedClock:
    """The sandbox reads the bot's clock: the harness's fake clock, once it is built."""

    def __init__(self) -> None:
        self.clock = FakeClock(START)

    def seconds(self) -> float:
        return (self.clock() - START).total_seconds()


@pytest.fixture
def shared() -> SharedClock:
    return SharedClock()


@pytest.fixture
def sandbox(shared: SharedClock) -> Sandbox:
    return Sandbox(groups=GROUPS, clock=shared.seconds)


@pytest.fixture
async def make_harness(
    tmp_path: Path, sandbox: Sandbox, client: WhatsAppClient, shared: SharedClock
) -> AsyncIterator[HarnessFactory]:
    async with harness_factory(tmp_path, sandbox, client) as factory:

        def make(*args: object, **kwargs: object) -> Harness:
            harness = factory(*args, **kwargs)  # type: ignore[arg-type]
            shared.clock = harness.clock  # one clock for the bot and the sandbox
            return harness

        yield make


def tracker_for(harness: Harness, horizon: timedelta = timedelta(minutes=30)) -> DeliveryTracker:
    return DeliveryTracker(
        store=harness.store,
        client=harness.client,
        horizon=horizon,
        clock=harness.clock,
        sleep=harness.sleep,
    )


async def follow(tracker: DeliveryTracker, clock: FakeClock, seconds: float) -> None:
    """Move time in 5 s steps for ``seconds``, checking what is due at each step."""
    for _ in range(int(seconds // 5)):
        clock.advance(seconds=5)
        await tracker.run_due()


def status_reads(sandbox: Sandbox) -> int:
    return sum(1 for r in sandbox.requests if r.method == "GET" and "/messages/" in r.path)


def sends(sandbox: Sandbox) -> int:
    return sum(1 for r in sandbox.requests if r.method == "POST" and "/messages/send" in r.path)


async def run_broadcast(make_harness: HarnessFactory, sandbox: Sandbox, **keys: object) -> Harness:
    ids = [gid for gid, _ in sandbox.list_groups()][:GROUPS]
    harness = make_harness([broadcast(targets=ids, gap="0s", jitter="0s", **keys)])
    await harness.start()
    await harness.advance_to(START.replace(hour=9) + timedelta(days=1))
    return harness


async def test_status_progression_is_recorded_per_group(
    make_harness: HarnessFactory, sandbox: Sandbox
) -> None:
    harness = await run_broadcast(make_harness, sandbox)
    (run,) = harness.runs("morning")
    counts = harness.store.db.execute(
        "SELECT status, COUNT(*) FROM deliveries WHERE run_id = ? GROUP BY status", (run.id,)
    ).fetchall()
    assert dict(counts) == {"QUEUED": GROUPS}
    told = Told()
    tracker = tracker_for(harness)
    await tracker.start(told)
    await tracker.stop()  # the task is not needed: the test drives the checks
    await follow(tracker, harness.clock, 600)
    statuses = dict(
        harness.store.db.execute(
            "SELECT status, COUNT(*) FROM deliveries WHERE run_id = ? GROUP BY status", (run.id,)
        ).fetchall()
    )
    assert statuses == {"READ": GROUPS}
    assert told.reports == []  # nothing failed: no follow-up
    assert tracker.tracking.next_due() is None


async def test_doomed_groups_are_reported_once_even_after_a_restart(
    make_harness: HarnessFactory, sandbox: Sandbox
) -> None:
    ids = [gid for gid, _ in sandbox.list_groups()][:GROUPS]
    doomed = ids[::20]  # 5 %
    for gid in doomed:
        sandbox.doom(gid, "RECIPIENT_UNREACHABLE")
    harness = await run_broadcast(make_harness, sandbox)
    sent_before = sends(sandbox)
    assert sent_before == GROUPS
    told = Told()
    tracker = tracker_for(harness)
    await tracker.start(told)
    await tracker.stop()
    await follow(tracker, harness.clock, 15)  # the first checks: all reached at 10 s
    assert len(told.reports) == 1
    (report,) = told.reports
    assert "10 messages failed after being queued" in report
    for gid in doomed:
        assert f"({gid}): failed RECIPIENT_UNREACHABLE" in report
    assert report.count("failed RECIPIENT_UNREACHABLE") == len(doomed)
    # a restart: a new tracker over the same database owes nothing
    again = tracker_for(harness)
    await again.start(told)
    await asyncio.sleep(0)
    await again.stop()
    await follow(again, harness.clock, 600)
    assert len(told.reports) == 1
    assert sends(sandbox) == sent_before  # the tracker never sends
    failed = harness.store.db.execute(
        "SELECT group_id, status_code FROM deliveries WHERE status = 'FAILED'"
    ).fetchall()
    assert sorted(failed) == sorted((gid, "RECIPIENT_UNREACHABLE") for gid in doomed)


async def test_notify_never_sends_no_follow_up(
    make_harness: HarnessFactory, sandbox: Sandbox
) -> None:
    sandbox.doom(sandbox.list_groups()[0][0], "RECIPIENT_UNREACHABLE")
    harness = await run_broadcast(make_harness, sandbox, notify="never")
    told = Told()
    tracker = tracker_for(harness)
    await follow(tracker, harness.clock, 60)
    assert told.reports == []


async def test_send_follow_up_goes_once_to_the_chat_it_came_from(
    make_harness: HarnessFactory, sandbox: Sandbox
) -> None:
    harness = make_harness([])
    ids = [gid for gid, _ in sandbox.list_groups()][:3]
    sandbox.doom(ids[2], "RECIPIENT_UNREACHABLE")
    messages = [await harness.client.send_text(gid, "hi") for gid in ids]
    told = Told()
    tracker = tracker_for(harness)
    tracker.follow_sends(
        "telegram:-1001", "/send x hi", [(m.id, g, g) for m, g in zip(messages, ids, strict=True)]
    )
    assert tracker.tracking.next_due() is None  # not started (exec): not followed
    await tracker.start(told)
    tracker.follow_sends(
        "telegram:-1001", "/send x hi", [(m.id, g, g) for m, g in zip(messages, ids, strict=True)]
    )
    await tracker.stop()
    await follow(tracker, harness.clock, 15)
    assert told.told == [
        (
            "telegram:-1001",
            "Delivery of /send x hi: delivered 2 · failed 1\n"
            f"- {ids[2]}: failed RECIPIENT_UNREACHABLE",
        )
    ]
    await follow(tracker, harness.clock, 600)
    assert len(told.told) == 1


async def test_the_horizon_ends_tracking_and_zero_turns_it_off(
    make_harness: HarnessFactory, sandbox: Sandbox
) -> None:
    harness = make_harness([])
    gid = sandbox.list_groups()[0][0]
    message = await harness.client.send_text(gid, "hi")
    off = tracker_for(harness, timedelta(0))
    await off.start(Told())
    assert not off.running
    off.follow_sends("console", "/send", [(message.id, gid, gid)])
    assert off.tracking.next_due() is None
    sandbox.set_status(message.id, "SENT")  # stuck: never settles
    told = Told()
    tracker = tracker_for(harness, timedelta(minutes=1))
    await tracker.start(told)
    tracker.follow_sends("console", "/send", [(message.id, gid, gid)])
    await tracker.stop()
    await follow(tracker, harness.clock, 600)
    assert tracker.tracking.next_due() is None
    assert told.told == [("console", "Delivery of /send: sent 1")]
    assert status_reads(sandbox) <= 6  # 10 s, 20, 40, then the horizon: no more


async def test_a_failing_status_read_is_retried_at_the_next_gap(
    make_harness: HarnessFactory, sandbox: Sandbox
) -> None:
    harness = make_harness([])
    gid = sandbox.list_groups()[0][0]
    message = await harness.client.send_text(gid, "hi")
    told = Told()
    tracker = tracker_for(harness)
    await tracker.start(told)
    tracker.follow_sends("console", "/send", [(message.id, gid, gid)])
    await tracker.stop()
    sandbox.inject("message_status", status=503, code="SERVICE_UNAVAILABLE", times=None)
    await follow(tracker, harness.clock, 60)
    assert told.told == []
    sandbox.clear_faults()
    await follow(tracker, harness.clock, 120)
    assert told.told == [("console", "Delivery of /send: read 1")]
    assert sends(sandbox) == 1


async def test_the_background_task_follows_without_real_sleeps(
    make_harness: HarnessFactory, sandbox: Sandbox
) -> None:
    harness = make_harness([])
    gid = sandbox.list_groups()[0][0]
    message = await harness.client.send_text(gid, "hi")
    told = Told()

    async def sleep(seconds: float) -> None:  # time passes at once
        harness.clock.advance(seconds=seconds)
        await asyncio.sleep(0)

    tracker = DeliveryTracker(
        store=harness.store,
        client=harness.client,
        horizon=timedelta(minutes=30),
        clock=harness.clock,
        sleep=sleep,
    )
    await tracker.start(told)
    tracker.follow_sends("console", "/send", [(message.id, gid, gid)])
    await harness.until(lambda: bool(told.told))
    await tracker.stop()
    assert told.told[0][1] in ("Delivery of /send: delivered 1", "Delivery of /send: read 1")
