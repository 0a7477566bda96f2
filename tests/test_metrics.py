"""What `/metrics` counts, moved by the real parts.

The command layer against the sandbox, the client over real HTTP to the
served sandbox with injected 429 and 5xx answers, a broadcast through the
scheduler harness. Values are read back the way Prometheus would: from
`bot.metrics.exposition()`, parsed by prometheus_client's own parser, and
compared before and after (the registry lives for the whole test session).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from conftest import ADMIN, STRANGER, VIEWER
from fake_bot_api import FakeBotApi, eventually
from prometheus_client.parser import text_string_to_metric_families
from scheduler_kit import RIO, SALES, START, HarnessFactory, broadcast
from telegram_kit import ADMIN as TG_ADMIN
from telegram_kit import barrier, fake_world, reply_to, telegram_settings

from bot import metrics
from bot.commands.layer import CommandLayer
from bot.commands.types import Pending, Principal
from bot.config import Settings
from bot.sandbox import SandboxServerThread
from bot.telegram import TelegramFrontEnd
from bot.whatsapp import RetryPolicy, WhatsAppClient
from bot.whatsapp.errors import ConnectFailed

MEMBER = "5511933334444"  # a regular member of Sales Team


def scrape() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of one scrape, by name and labels."""
    body, content_type = metrics.exposition()
    assert content_type.startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def value(name: str, **labels: str) -> float:
    return scrape().get((name, frozenset(labels.items())), 0.0)


class Delta:
    """A sample's change since construction."""

    def __init__(self, name: str, **labels: str) -> None:
        self.name, self.labels = name, labels
        self.before = value(name, **labels)

    @property
    def moved(self) -> float:
        return value(self.name, **self.labels) - self.before


# -- commands ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "text", "command", "outcome"),
    [
        (ADMIN, "/groups", "groups", "ok"),
        (ADMIN, "/group nosuch", "group", "failed"),
        (ADMIN, "/frobnicate", "unknown", "unknown"),
        (ADMIN, "hello", "unknown", "usage"),
        (ADMIN, "/pin", "pin", "usage"),
        (VIEWER, f"/add sales {MEMBER}", "add", "refused"),
        (STRANGER, "/groups", "groups", "denied"),
        (ADMIN, f"/remove sales {MEMBER}", "remove", "awaiting_confirmation"),
    ],
)
async def test_each_command_is_counted_by_name_and_outcome(
    layer: CommandLayer, principal: Principal, text: str, command: str, outcome: str
) -> None:
    counted = Delta("grouppilot_commands_total", command=command, outcome=outcome)
    await layer.execute(text, principal)
    assert counted.moved == 1


@pytest.mark.parametrize(("press", "outcome"), [("confirm", "confirmed"), ("cancel", "cancelled")])
async def test_a_confirmation_is_counted_when_it_is_answered(
    layer: CommandLayer, press: str, outcome: str
) -> None:
    pending = await layer.execute(f"/remove sales {MEMBER}", ADMIN)
    assert isinstance(pending, Pending)
    counted = Delta("grouppilot_commands_total", command="remove", outcome=outcome)
    if press == "confirm":
        await layer.confirm(pending.token, ADMIN)
    else:
        await layer.cancel(pending.token, ADMIN)
    assert counted.moved == 1


async def test_a_typed_name_never_becomes_a_label(layer: CommandLayer) -> None:
    await layer.execute("/zz_not_a_command_9f1", ADMIN)
    assert not any("zz_not_a_command" in str(labels) for _, labels in scrape())


# -- the API client over HTTP ---------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503])
async def test_a_retried_answer_counts_the_request_the_retry_and_the_status(
    sandbox_server: SandboxServerThread, http_client: WhatsAppClient, status: int
) -> None:
    code = "RATE_LIMITED" if status == 429 else "UNAVAILABLE"
    sandbox_server.sandbox.inject("list_groups", status=status, code=code, retry_after=0.05)
    failed = Delta("grouppilot_api_requests_total", operation="list_groups", status=str(status))
    ok = Delta("grouppilot_api_requests_total", operation="list_groups", status="200")
    retries = Delta("grouppilot_api_retries_total", operation="list_groups")
    limited = Delta("grouppilot_api_rate_limited_total", operation="list_groups")
    waited = Delta("grouppilot_api_rate_limited_wait_seconds_total")
    await http_client.list_groups()
    assert (failed.moved, ok.moved, retries.moved) == (1, 1, 1)
    if status == 429:
        assert limited.moved == 1
        assert 0.04 <= waited.moved < 1.0  # the Retry-After, honoured
    else:
        assert (limited.moved, waited.moved) == (0, 0)


async def test_no_answer_at_all_is_status_0(unused_tcp_port: int) -> None:
    attempts = 3
    counted = Delta("grouppilot_api_requests_total", operation="list_groups", status="0")
    async with WhatsAppClient(
        base_url=f"http://127.0.0.1:{unused_tcp_port}",
        api_key="ps_test_key",
        timeout=1.0,
        retry=RetryPolicy.fast(attempts=attempts),
    ) as client:
        with pytest.raises(ConnectFailed):
            await client.list_groups()
    assert counted.moved == attempts


async def test_time_spent_waiting_for_the_concurrency_cap_is_counted(
    sandbox_server: SandboxServerThread,
) -> None:
    sandbox_server.sandbox.inject("list_groups", delay=0.05, times=None)
    waited = Delta("grouppilot_rate_cap_wait_seconds_total")
    async with WhatsAppClient(
        base_url=sandbox_server.url,
        api_key="ps_test_key",
        timeout=2.0,
        max_rps=1000,
        concurrency=1,  # three at once: the second waits one answer, the third two
        retry=RetryPolicy.fast(),
    ) as client:
        await asyncio.gather(*(client.list_groups() for _ in range(3)))
    assert waited.moved >= 0.14


# -- deliveries, runs, the ledger's pending rows ----------------------------------------


async def test_a_broadcast_counts_its_deliveries_and_its_run(make_harness: HarnessFactory) -> None:
    harness = await make_harness([broadcast(targets=["sales", "rio"], text="x")]).start()
    harness.sandbox.inject("send", status=400, code="BRAND_NEW_CODE")
    sent = Delta("grouppilot_deliveries_total", outcome="sent", code="")
    failed = Delta("grouppilot_deliveries_total", outcome="failed", code="BRAND_NEW_CODE")
    partial = Delta("grouppilot_job_runs_total", outcome="partial")
    await harness.advance(days=1)
    [run] = harness.runs("morning")
    assert (run.outcome, run.sent, run.failed) == ("partial", 1, 1)
    assert (sent.moved, failed.moved, partial.moved) == (1, 1, 1)


async def test_ledger_pending_is_read_at_scrape_time(make_harness: HarnessFactory) -> None:
    harness = make_harness([])
    ledger = harness.scheduler.ledger
    unwatch = metrics.watch_ledger(ledger.pending_count)
    try:
        run = ledger.open_run(
            job="adhoc", kind="broadcast", zone="UTC", scheduled=START, trigger="manual",
            definition={},
        )  # fmt: skip
        ledger.add_deliveries(run.id, [(SALES, "Sales"), (RIO, "Rio")])
        assert value("grouppilot_ledger_pending") == 2
        ledger.mark_sending(run.id, SALES)
        assert value("grouppilot_ledger_pending") == 2  # sending: not answered yet
        ledger.mark_done(run.id, SALES, "sent")
        assert value("grouppilot_ledger_pending") == 1
    finally:
        unwatch()
    assert math.isnan(value("grouppilot_ledger_pending"))


def test_a_ledger_that_cannot_be_read_shows_nan_and_the_scrape_still_works() -> None:
    def broken() -> int:
        raise RuntimeError("the database is gone")

    unwatch: Callable[[], None] = metrics.watch_ledger(broken)
    try:
        assert math.isnan(value("grouppilot_ledger_pending"))
        assert value("process_resident_memory_bytes") > 0
    finally:
        unwatch()


# -- Telegram ------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    with fake_world() as api:
        yield api


@pytest.fixture
async def front(
    fake: FakeBotApi, settings: Settings, layer: CommandLayer
) -> AsyncIterator[TelegramFrontEnd]:
    tg = settings.model_copy(update={"telegram": telegram_settings(fake)})
    frontend = TelegramFrontEnd(tg.telegram, layer, poll_timeout=1.0)
    await frontend.start()
    try:
        yield frontend
    finally:
        await frontend.stop()


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_telegram_updates_handled_are_counted(
    fake: FakeBotApi, front: TelegramFrontEnd
) -> None:
    messages = Delta("grouppilot_telegram_updates_total", kind="message")
    presses = Delta("grouppilot_telegram_updates_total", kind="button")
    commands = Delta("grouppilot_commands_total", command="groups", outcome="ok")
    await reply_to(fake, fake.private_message(TG_ADMIN, "/groups"))
    await barrier(fake, front)  # one more message: /help
    await eventually(lambda: messages.moved == 2)
    assert (messages.moved, presses.moved, commands.moved) == (2, 0, 1)
