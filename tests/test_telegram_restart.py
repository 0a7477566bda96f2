"""A stop does not wait for a hung API, and loses no command (issue 8, item 6).

The real python-telegram-bot `Application` against the fake Bot API, the real
command layer against the sandbox (in process), the update journal in a real
SQLite store. A "restart" is a new command layer and a new front end on the
same database file and the same fake Telegram (which, like Telegram, does not
send again what the first front end fetched).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fake_bot_api import FakeBotApi, eventually
from telegram_kit import (
    ADMIN,
    CHANNEL,
    GROUP,
    MEMBER,
    answers,
    audit,
    barrier,
    fake_world,
    reply_to,
    role,
    telegram_settings,
)

from bot.config import Settings
from bot.runtime import build_commands
from bot.sandbox import Sandbox, SandboxServerThread
from bot.store import Store
from bot.telegram import TelegramFrontEnd
from bot.telegram.journal import UpdateJournal
from bot.whatsapp import WhatsAppClient

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

NEW = "5511955551234"  # nobody's number yet
HANG = 30.0  # longer than any test: only the stop ends it
BOT_ID = 123456789  # fake_bot_api's bot


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    with fake_world() as api:
        yield api


Start = Callable[..., Any]


@pytest.fixture
def start(
    fake: FakeBotApi, settings: Settings, client: WhatsAppClient, store: Store
) -> Callable[..., Any]:
    """`async with start() as front:` a new process's command layer and front end."""

    @asynccontextmanager
    async def started(
        clock: Callable[[], datetime] | None = None, **telegram: Any
    ) -> AsyncIterator[TelegramFrontEnd]:
        extra = {"clock": clock} if clock else {}
        layer = build_commands(settings, client=client, store=store, **extra)
        front = TelegramFrontEnd(
            telegram_settings(fake, **telegram),
            layer,
            poll_timeout=1.0,
            stop_grace=0.2,
            notice_timeout=1.0,
        )
        await front.start()
        try:
            yield front
        finally:
            await front.stop()

    return started


def journal(store: Store) -> dict[int, str]:
    return UpdateJournal(store.db, BOT_ID).states()


def changes(sandbox: Sandbox) -> list[str]:
    return [r.endpoint or "" for r in sandbox.requests if r.method != "GET"]


async def test_stop_cuts_a_hung_command_off_and_keeps_the_queued_ones_for_the_next_start(
    fake: FakeBotApi, start: Start, store: Store, sandbox_server: SandboxServerThread
) -> None:
    sandbox = sandbox_server.sandbox
    sandbox.inject("add", delay=HANG, times=None)
    async with start() as front:
        stuck = fake.channel_post(CHANNEL, f"/add sales {NEW}")
        await eventually(lambda: any(r.endpoint == "add" for r in sandbox.requests))
        queued = [
            fake.channel_post(CHANNEL, f"/promote sales {NEW}"),
            fake.group_message(GROUP, ADMIN, "/group sales"),
            fake.channel_post(CHANNEL, f"/demote sales {NEW}"),
        ]
        await eventually(lambda: front.intake.running == 4)  # all fetched, three in line
        async with asyncio.timeout(5):  # the grace is 0.2 s; the add would hang 30 s
            await front.stop()
        assert front.intake.running == 0
    told = await reply_to(fake, stuck)
    assert told["text"].startswith("Interrupted")
    assert "may have been partly done" in told["text"]
    assert not any(answers(fake, message) for message in queued)
    assert changes(sandbox) == ["add"]  # nothing queued ran
    assert audit(store)[-1][2:] == (f"/add sales {NEW}", "interrupted")
    first = journal(store)
    assert list(first.values()) == ["done", "queued", "queued", "queued"]

    sandbox.clear_faults()
    async with start() as front:  # the next start: the queued ones, in order, once
        for message in queued:
            await reply_to(fake, message)
        await barrier(fake, front)
    assert changes(sandbox) == ["add", "promote", "demote"]
    assert role(sandbox, NEW) is None  # promoted, then demoted
    assert all(len(answers(fake, message)) == 1 for message in queued)
    assert set(journal(store).values()) == {"done"}

    sent_before = len(fake.sent())
    async with start() as front:  # a third start: nothing left to replay
        await barrier(fake, front)
    assert changes(sandbox) == ["add", "promote", "demote"]
    assert len(fake.sent()) == sent_before + 1  # the barrier's /help
    assert all(len(answers(fake, message)) == 1 for message in queued)


async def test_a_press_waiting_at_a_stop_is_answered_and_not_kept(
    fake: FakeBotApi, start: Start, store: Store, sandbox_server: SandboxServerThread
) -> None:
    sandbox = sandbox_server.sandbox
    async with start() as front:
        question = await reply_to(fake, fake.channel_post(CHANNEL, f"/remove sales {MEMBER}"))
        sandbox.inject("add", delay=HANG, times=None)
        fake.channel_post(CHANNEL, f"/add sales {NEW}")
        await eventually(lambda: any(r.endpoint == "add" for r in sandbox.requests))
        [confirm] = [
            b["callback_data"]
            for row in question["reply_markup"]["inline_keyboard"]
            for b in row
            if b["text"] == "Confirm"
        ]
        press = fake.press(ADMIN, question, confirm)  # waits for the add on the same group
        await eventually(lambda: front.intake.running == 2)
    [answer] = [
        c for c in fake.calls("answerCallbackQuery") if c.params["callback_query_id"] == press
    ]
    assert answer.params["text"] == "Not done: the bot is stopping. Nothing was changed."
    assert "queued" not in journal(store).values()
    sandbox.clear_faults()
    async with start() as front:
        await barrier(fake, front)
    assert "remove" not in changes(sandbox)
    assert role(sandbox, MEMBER) is None  # still a member
    assert len(fake.calls("answerCallbackQuery")) == 1


async def test_a_command_cut_off_by_a_crash_is_reported_never_run_again(
    fake: FakeBotApi, start: Start, store: Store, sandbox_server: SandboxServerThread
) -> None:
    async with start() as front:  # it ran; then the process died before marking it done
        post = fake.channel_post(CHANNEL, f"/promote sales {MEMBER}")
        await reply_to(fake, post)
        await barrier(fake, front)
    update_id = min(journal(store))  # the post's, before the barrier's
    UpdateJournal(store.db, BOT_ID).take(update_id)  # as a crash leaves it: taken, not done
    async with start():
        notices = await eventually(
            lambda: [m for m in answers(fake, post) if m["text"].startswith("Interrupted")]
        )
    assert "may have been partly done" in notices[0]["text"]
    assert changes(sandbox_server.sandbox) == ["promote"]  # never run again
    assert journal(store)[update_id] == "done"


async def test_an_update_telegram_sends_again_runs_once(
    fake: FakeBotApi, start: Start, store: Store, sandbox_server: SandboxServerThread
) -> None:
    async with start() as front:
        post = fake.channel_post(CHANNEL, f"/add sales {NEW}")
        await reply_to(fake, post)
        await barrier(fake, front)
    # The process died after fetching, before Telegram heard that it had.
    fake.redeliver(min(journal(store)))
    async with start() as front:
        await eventually(lambda: fake.pending_updates() == 0)
        await barrier(fake, front)
    assert changes(sandbox_server.sandbox) == ["add"]
    assert len(answers(fake, post)) == 1


async def test_drop_pending_updates_drops_the_kept_ones_too(
    fake: FakeBotApi, start: Start, store: Store, sandbox_server: SandboxServerThread
) -> None:
    sandbox = sandbox_server.sandbox
    sandbox.inject("add", delay=HANG, times=None)
    async with start() as front:
        fake.channel_post(CHANNEL, f"/add sales {NEW}")
        queued = fake.channel_post(CHANNEL, f"/promote sales {NEW}")
        await eventually(lambda: front.intake.running == 2)
    sandbox.clear_faults()
    async with start(drop_pending_updates=True) as front:
        await barrier(fake, front)
    assert not answers(fake, queued)
    assert "promote" not in changes(sandbox)
    assert set(journal(store).values()) == {"done"}


async def test_a_change_kept_too_long_is_not_run_late(
    fake: FakeBotApi, start: Start, store: Store, sandbox_server: SandboxServerThread
) -> None:
    sandbox = sandbox_server.sandbox
    sandbox.inject("add", delay=HANG, times=None)
    async with start() as front:
        fake.channel_post(CHANNEL, f"/add sales {NEW}")
        change = fake.channel_post(CHANNEL, f"/promote sales {NEW}")
        read = fake.channel_post(CHANNEL, "/group sales")
        await eventually(lambda: front.intake.running == 3)
    sandbox.clear_faults()
    later = datetime.now(UTC) + timedelta(minutes=30)  # the bot was down half an hour
    async with start(clock=lambda: later) as front:
        told = await reply_to(fake, change)
        shown = await reply_to(fake, read)  # a read still answers: it shows the state now
        await barrier(fake, front)
    assert told["text"].startswith("Not run: this command was sent 30 minutes ago")
    assert "Sales Team" in shown["text"]
    assert "promote" not in changes(sandbox)
    assert (f"/promote sales {NEW}", "not run: too old") in [row[2:] for row in audit(store)]


async def test_commands_still_run_when_the_journal_cannot_be_written(
    fake: FakeBotApi, start: Start, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    async with start():
        store.db.execute("DROP TABLE telegram_updates")  # e.g. a broken database file
        reply = await reply_to(fake, fake.channel_post(CHANNEL, "/groups sales"))
    assert "Sales Team" in reply["text"]
    assert "cannot journal Telegram update" in caplog.text
