"""Connection alerts without webhooks: the probe, notices once per change, broadcasts failing fast.

Real client to the sandbox (in process), whose ``disconnected`` mode answers
every request with ``WHATSAPP_INSTANCE_NOT_CONNECTED``; a fake sleep counts the
probe's pauses; the real scheduler with a fake clock for broadcast runs.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import ADMIN
from scheduler_kit import RIO, SALES, START, SUPPORT, HarnessFactory, Notes, broadcast

from bot.commands.types import Pending
from bot.config import Settings
from bot.runtime import Runtime
from bot.sandbox import Sandbox
from bot.services import ConnectionState
from bot.whatsapp.client import WhatsAppClient
from jobs.connection import ConnectionAlerts, ConnectionProbe
from jobs.records import ADHOC_JOB

NINE = START.replace(hour=9) + timedelta(days=1)
NOT_CONNECTED = "WHATSAPP_INSTANCE_NOT_CONNECTED"


class CountedSleep:
    """Records the pauses asked for, and returns at once."""

    def __init__(self) -> None:
        self.pauses: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)


def make_probe(
    client: WhatsAppClient, every: timedelta = timedelta(minutes=5)
) -> tuple[ConnectionProbe, Notes, CountedSleep]:
    notes, sleep = Notes(), CountedSleep()
    alerts = ConnectionAlerts(ConnectionState(), notes.notify)
    return ConnectionProbe(client=client, alerts=alerts, every=every, sleep=sleep), notes, sleep


async def test_a_disconnect_and_reconnect_cycle_gives_exactly_two_notices(
    client: WhatsAppClient, sandbox: Sandbox
) -> None:
    probe, notes, _ = make_probe(client)
    modes = ["normal", "normal", "disconnected", "disconnected", "disconnected", "normal", "normal"]
    seen = []
    for mode in modes:
        sandbox.mode = mode
        seen.append(await probe.probe())
    assert seen == [True, True, False, False, False, True, True]
    first, second = notes.texts
    assert NOT_CONNECTED in first and "re-pair" in first and "probe" in first
    assert second.startswith("The WhatsApp number is connected again (probe,")
    assert probe.alerts.state.connected is True


async def test_the_probe_lists_groups_at_background_priority(
    client: WhatsAppClient, sandbox: Sandbox
) -> None:
    probe, _, _ = make_probe(client)
    await probe.probe()
    assert [r.endpoint for r in sandbox.requests] == ["list_groups"]


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ({"status": 500, "code": "WHATSAPP_UPSTREAM_ERROR"}, "WHATSAPP_UPSTREAM_ERROR"),
        ({"drop": True}, "OutcomeUnknown"),
        ({"status": 401, "code": "INVALID_API_KEY"}, "INVALID_API_KEY"),
    ],
)
async def test_other_failures_change_nothing_and_are_logged_once(
    client: WhatsAppClient,
    sandbox: Sandbox,
    caplog: pytest.LogCaptureFixture,
    fault: dict[str, object],
    kind: str,
) -> None:
    probe, notes, _ = make_probe(client)
    sandbox.mode = "disconnected"
    assert await probe.probe() is False
    sandbox.mode = "normal"
    sandbox.inject("list_groups", times=None, **fault)  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger="jobs.connection"):
        for _ in range(3):
            assert await probe.probe() is None
        sandbox.clear_faults()
        assert await probe.probe() is True
    warnings = [m for m in caplog.messages if m.startswith("The connection probe got no answer")]
    assert len(warnings) == 1, warnings
    assert kind in warnings[0]
    assert "The connection probe gets answers again." in caplog.messages
    assert len(notes.texts) == 2  # the disconnect, then the return: no notice for the faults
    assert "ps_test_key" not in caplog.text


async def test_the_loop_is_bounded_and_waits_the_configured_gap(
    client: WhatsAppClient, sandbox: Sandbox
) -> None:
    probe, _, sleep = make_probe(client, every=timedelta(seconds=90))
    await probe.run(rounds=3)
    assert [r.endpoint for r in sandbox.requests] == ["list_groups"] * 3
    assert sleep.pauses == [90.0, 90.0, 90.0]  # the first probe waits too


async def test_a_probe_of_zero_is_off(client: WhatsAppClient, sandbox: Sandbox) -> None:
    probe, _, _ = make_probe(client, every=timedelta(0))
    await probe.start()
    assert not probe.running
    await probe.stop()
    assert sandbox.requests == []


async def test_the_first_report_of_connected_is_no_news(client: WhatsAppClient) -> None:
    probe, notes, _ = make_probe(client)
    assert await probe.probe() is True
    assert notes.texts == []


async def test_runtime_starts_and_stops_the_probe_with_the_scheduler(
    settings: Settings, tmp_path: Path, sandbox: Sandbox
) -> None:
    storage = settings.storage.model_copy(update={"path": tmp_path / "gp.db"})
    settings = settings.model_copy(update={"storage": storage})
    async with Runtime(settings, sandbox=sandbox) as runtime:
        assert runtime.probe.every == settings.monitor.probe_every
        assert not runtime.probe.running  # not in exec: only with the scheduler
        await runtime.start_scheduler(Notes())
        assert runtime.probe.running
        await asyncio.sleep(0.01)
        assert sandbox.requests == []  # the first probe waits probe_every: a start is as before
        assert runtime.scheduler.context.connection is runtime.alerts
        assert runtime.alerts.state is runtime.connection
        probe = runtime.probe
    assert not probe.running


# -- broadcasts while the number is known disconnected -------------------------------------


async def test_a_broadcast_fails_fast_while_known_disconnected(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness([broadcast(targets=["sales", "rio", "support"], text="x")]).start()
    connection = harness.scheduler.context.connection
    assert connection is not None
    await connection.seen(False, source="probe")
    await harness.advance_to(NINE)
    [run] = harness.runs("morning")
    assert (run.outcome, run.failed, run.sent) == ("failed", 3, 0)
    assert [r for r in harness.sandbox.requests if r.endpoint == "send"] == []
    rows = harness.scheduler.ledger.deliveries(run.id)
    assert {r.group_id for r in rows} == {SALES, RIO, SUPPORT}
    assert {r.code for r in rows} == {NOT_CONNECTED}
    assert "not connected" in run.detail and "no group was tried" in run.detail
    notice, report = harness.notes.texts
    assert NOT_CONNECTED in notice
    assert "no group was tried" in report


async def test_a_send_that_goes_through_reports_the_number_connected(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness([broadcast(targets=["sales"], text="x")]).start()
    connection = harness.scheduler.context.connection
    assert connection is not None
    assert connection.state.connected is None  # nobody said anything yet
    await harness.advance_to(NINE)
    [run] = harness.runs("morning")
    assert run.outcome == "ok"
    assert (connection.state.connected, connection.state.source) == (True, "send")
    assert harness.notes.texts == ["morning (09:00 UTC): queued 1, failed 0, unknown 0"]


async def test_an_ad_hoc_send_fails_fast_while_known_disconnected(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness([]).start()
    connection = harness.scheduler.context.connection
    assert connection is not None
    await connection.seen(False, source="probe")
    pending = await harness.layer.execute("/send all-sales hello", ADMIN)
    assert isinstance(pending, Pending)
    await harness.layer.confirm(pending.token, ADMIN)
    await harness.idle()
    [run] = harness.scheduler.ledger.runs(ADHOC_JOB, 10)
    assert (run.outcome, run.failed, run.sent) == ("failed", 2, 0)
    assert [r for r in harness.sandbox.requests if r.endpoint == "send"] == []
