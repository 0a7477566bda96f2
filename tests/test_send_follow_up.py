"""/send and invite messages are followed by the real tracker: one follow-up to the chat.

The command layer is wired as `grouppilot run` wires it (`follower` = the
delivery tracker); the sandbox and the tracker share one fake clock, and the
tracker is driven step by step (`run_due`), so nothing sleeps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from conftest import ADMIN

from bot.commands.layer import CommandLayer
from bot.commands.types import Pending, Reply
from bot.config import Settings
from bot.runtime import build_directory, command_options
from bot.sandbox import Sandbox
from bot.store import Store
from bot.whatsapp.client import WhatsAppClient
from jobs.schema import ensure_schema
from jobs.tracker import DeliveryTracker

SALES = "120363123456789012@g.us"
RIO = "120363000000000001@g.us"
START = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


class Clock:
    """One time for the bot (datetime) and the sandbox (seconds)."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def seconds(self) -> float:
        return (self.now - START).total_seconds()


class Told:
    def __init__(self) -> None:
        self.told: list[tuple[str, str]] = []

    async def notify(self, text: str) -> None:  # run reports: none here
        raise AssertionError(f"unexpected report: {text}")

    async def tell(self, chat: str, text: str) -> None:
        self.told.append((chat, text))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(clock: Clock) -> Sandbox:
    return Sandbox(clock=clock.seconds)


@pytest.fixture
async def tracker(
    store: Store, client: WhatsAppClient, clock: Clock
) -> AsyncIterator[DeliveryTracker]:
    ensure_schema(store.db)
    opened = DeliveryTracker(store=store, client=client, horizon=timedelta(minutes=30), clock=clock)
    yield opened
    await opened.stop()


def layer_for(
    settings: Settings, client: WhatsAppClient, store: Store, tracker: DeliveryTracker
) -> CommandLayer:
    return CommandLayer(
        options=command_options(settings),
        client=client,
        store=store,
        directory=build_directory(settings, client=client, store=store),
        follower=tracker,
    )


async def follow(tracker: DeliveryTracker, clock: Clock, seconds: int) -> None:
    await tracker.stop()  # the test drives it
    for _ in range(seconds // 5):
        clock.now += timedelta(seconds=5)
        await tracker.run_due()


async def confirmed(layer: CommandLayer, text: str) -> Reply:
    outcome = await layer.execute(text, ADMIN)
    if isinstance(outcome, Pending):
        return await layer.confirm(outcome.token, ADMIN)
    return outcome


async def test_a_send_to_several_groups_gets_one_follow_up_naming_the_failure(
    settings: Settings,
    client: WhatsAppClient,
    store: Store,
    sandbox: Sandbox,
    tracker: DeliveryTracker,
    clock: Clock,
) -> None:
    told = Told()
    await tracker.start(told)
    sandbox.doom(RIO, "RECIPIENT_UNREACHABLE")
    reply = await confirmed(layer_for(settings, client, store, tracker), "/send all-sales Big news")
    assert reply.text.startswith("Queued 2 of 2.")
    assert reply.text.endswith("Delivery follow-up in this chat within 30m.")
    await follow(tracker, clock, 120)
    [(chat, text)] = told.told
    assert chat == ADMIN.chat
    assert text.startswith("Delivery of /send all-sales Big news: delivered 1 · failed 1")
    assert f"Sales Rio ({RIO}): failed RECIPIENT_UNREACHABLE" in text
    await follow(tracker, clock, 3600)
    assert len(told.told) == 1  # once
    assert len(sandbox.sent_messages) == 2  # the tracker never sends


async def test_no_follow_up_is_promised_when_the_tracker_is_not_running(
    settings: Settings,
    client: WhatsAppClient,
    store: Store,
    sandbox: Sandbox,
    tracker: DeliveryTracker,
) -> None:
    # as in `grouppilot exec`: the layer has a tracker, but it never starts
    reply = await confirmed(layer_for(settings, client, store, tracker), "/send sales Hi")
    [message] = sandbox.sent_messages
    assert reply.text == f"Queued to Sales Team ({SALES}) (message {message.id})."


async def test_nothing_is_followed_when_nothing_was_queued(
    settings: Settings,
    client: WhatsAppClient,
    store: Store,
    sandbox: Sandbox,
    tracker: DeliveryTracker,
    clock: Clock,
) -> None:
    told = Told()
    await tracker.start(told)
    sandbox.inject("send", status=409, code="WHATSAPP_INSTANCE_NOT_CONNECTED", times=1)
    reply = await confirmed(layer_for(settings, client, store, tracker), "/send sales Hi")
    assert not reply.ok and "Delivery follow-up" not in reply.text
    await follow(tracker, clock, 600)
    assert told.told == []


async def test_invite_messages_are_followed_per_number(
    settings: Settings,
    client: WhatsAppClient,
    store: Store,
    sandbox: Sandbox,
    tracker: DeliveryTracker,
    clock: Clock,
) -> None:
    told = Told()
    await tracker.start(told)
    sandbox.doom("5511955550002", "RECIPIENT_UNREACHABLE")
    layer = layer_for(settings, client, store, tracker)
    reply = await confirmed(layer, "/invite sales send +5511955550001 +5511955550002")
    assert "2 of 2 queued" in reply.text
    await follow(tracker, clock, 120)
    [(chat, text)] = told.told
    assert chat == ADMIN.chat
    assert "delivered 1 · failed 1" in text
    assert "+5511955550002: failed RECIPIENT_UNREACHABLE" in text
