"""Issue 11's messages from Telegram, end to end: templates, media, invite links by DM, follow-ups.

The real python-telegram-bot `Application` polls the fake Bot API
(`fake_bot_api.FakeBotApi`); the parts are wired as `grouppilot run` wires
them (`bot.runtime.build_parts`: command layer, job scheduler, delivery
tracker, with the front end as their notifier) over the real client to the
sandbox (in process). One fake clock moves the bot and the sandbox (message
status follows the sandbox clock), the scheduler's timer never fires by
itself, and the tracker is driven step by step (``run_due``): nothing sleeps.
Every test checks the Telegram replies and the requests the sandbox received.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fake_bot_api import FakeBotApi, eventually
from scheduler_kit import FakeTimer, broadcast, write_config
from telegram_kit import ADMIN, CHANNEL, SALES, fake_world, replies, reply_to, telegram_settings

from bot.config import Settings, load_config
from bot.runtime import Parts, build_parts
from bot.sandbox import Sandbox
from bot.store import Store
from bot.telegram import TelegramFrontEnd
from bot.whatsapp import WhatsAppClient
from jobs.schema import ensure_schema

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

INVITE_TEXT = "Join {group} on WhatsApp: {link}"
BLOCKED = "5511955550000"  # the sandbox refuses to add it: privacy settings
SALES_LABEL = f"Sales Team ({SALES})"
OUTSIDE_WINDOW = (
    "This Meta number can only send free-form text or media to a chat within 24 hours of its "
    "last message (META_OUTSIDE_24H_WINDOW): send a template instead (/templates lists them)."
)
WRONG_JOB = broadcast(
    "welcome", template="boas_vindas", variables={"nome": "equipe {group}", "grupo": "{group}"}
)
WRONG_JOB.pop("text")


class Clock:
    """One time for the bot (datetime) and the sandbox (seconds), moved by the test.

    It starts at the real time: the front end compares it with the date Telegram
    gives each message (older commands are not run).
    """

    def __init__(self) -> None:
        self.start = self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def seconds(self) -> float:
        return (self.now - self.start).total_seconds()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(clock: Clock) -> Sandbox:
    return Sandbox(clock=clock.seconds)


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    with fake_world() as api:
        yield api


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Sales aliases and targets, a template job with a missing variable, an invite text."""
    config = write_config(
        tmp_path / "grouppilot.toml", base_url="sandbox", db=tmp_path / "x.db", jobs=[WRONG_JOB]
    )
    with config.open("a", encoding="utf-8") as out:
        out.write(f'[messages]\ninvite = "{INVITE_TEXT}"\ntrack_delivery = "30m"\n')
    return load_config(config)


@pytest.fixture
def parts(settings: Settings, client: WhatsAppClient, store: Store, clock: Clock) -> Parts:
    ensure_schema(store.db)
    return build_parts(settings, client=client, store=store, clock=clock, timer=FakeTimer())


@pytest.fixture
async def front(fake: FakeBotApi, parts: Parts) -> AsyncIterator[TelegramFrontEnd]:
    """The front end, started as `grouppilot run` starts it: scheduler and tracker report to it."""
    started = TelegramFrontEnd(
        telegram_settings(fake), parts.commands, poll_timeout=1.0, stop_grace=0.2
    )
    await started.start()
    try:
        await parts.scheduler.start(started)
        await parts.tracker.start(started)
        yield started
    finally:
        await parts.tracker.stop()
        await parts.scheduler.stop()
        await started.stop()


# -- helpers ---------------------------------------------------------------------------


def sends(sandbox: Sandbox) -> list[dict[str, Any]]:
    """Bodies of every send request the sandbox received, in order."""
    return [r.body for r in sandbox.requests if r.endpoint == "send"]


def endpoints(sandbox: Sandbox) -> list[str | None]:
    return [r.endpoint for r in sandbox.requests]


async def say(fake: FakeBotApi, text: str) -> dict[str, Any]:
    """An admin channel post; the bot's answer to it."""
    return await reply_to(fake, fake.channel_post(CHANNEL, text))


def button_data(message: dict[str, Any], label: str) -> str:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    [data] = [b["callback_data"] for row in rows for b in row if b["text"] == label]
    return str(data)


async def press(fake: FakeBotApi, question: dict[str, Any], label: str) -> str:
    """An admin presses `label` under `question`; the question's text once it was edited."""
    assert [b["text"] for row in question["reply_markup"]["inline_keyboard"] for b in row] == [
        "Confirm",
        "Cancel",
    ]
    fake.press(ADMIN, question, button_data(question, label))
    key = (CHANNEL, question["message_id"])
    edited = await eventually(
        lambda: "reply_markup" not in fake.messages[key] and fake.messages[key]
    )
    return str(edited["text"])


def lines(message: dict[str, Any]) -> list[str]:
    return str(message["text"]).splitlines()


# -- /templates and /send's content modes ---------------------------------------------


async def test_templates_lists_the_demo_templates(
    fake: FakeBotApi, front: TelegramFrontEnd, sandbox: Sandbox
) -> None:
    reply = await say(fake, "/templates")
    assert lines(reply) == [
        "3 templates:",
        "- boas_vindas — sendable — variables: nome, grupo, cupom",
        "- lembrete — sendable — variables: none",
        "- promo_rejeitada — not sendable (Meta status REJECTED) — variables: codigo",
        "Send one with /send <target> template <id> name=value …",
    ]
    assert [(r.endpoint, r.path) for r in sandbox.requests] == [
        ("list_templates", "/v1/templates"),
        ("get_template", "/v1/templates/boas_vindas"),
        ("get_template", "/v1/templates/lembrete"),
        ("get_template", "/v1/templates/promo_rejeitada"),
    ]


async def test_a_template_send_carries_exactly_the_rendered_variables(
    fake: FakeBotApi, front: TelegramFrontEnd, sandbox: Sandbox
) -> None:
    reply = await say(fake, "/send sales template boas_vindas nome=Ana grupo={group} cupom=X1")
    assert endpoints(sandbox).count("get_template") == 1  # read once, before the send
    assert endpoints(sandbox)[-2:] == ["get_template", "send"]
    assert sends(sandbox) == [
        {
            "groupId": SALES,
            "templateId": "boas_vindas",
            "variables": {"nome": "Ana", "grupo": "Sales Team", "cupom": "X1"},
        }
    ]
    [message] = sandbox.sent_messages
    assert (message.kind, message.template_id) == ("template", "boas_vindas")
    assert lines(reply) == [
        f"Queued to {SALES_LABEL} (message {message.id}).",
        "Delivery follow-up in this chat within 30m.",
    ]


@pytest.mark.parametrize(
    ("words", "sentence"),
    [
        ("nome=Ana grupo={group}", "missing variable cupom"),
        ("nome=Ana grupo=x cupom=1 extra=2", "unknown variable extra"),
        ("nome= grupo=x cupom=1", "Variable nome is empty"),
    ],
)
async def test_a_wrong_variable_sends_nothing_and_says_which(
    fake: FakeBotApi, front: TelegramFrontEnd, sandbox: Sandbox, words: str, sentence: str
) -> None:
    reply = await say(fake, f"/send sales template boas_vindas {words}")
    assert sentence in reply["text"]
    assert len(lines(reply)) == 1
    assert sends(sandbox) == []
    assert sandbox.sent_messages == []


async def test_media_by_link_is_sent_as_image_media(
    fake: FakeBotApi, front: TelegramFrontEnd, sandbox: Sandbox
) -> None:
    reply = await say(fake, "/send sales media https://example.com/a.png Look")
    assert sends(sandbox) == [
        {
            "groupId": SALES,
            "media": "https://example.com/a.png",
            "mediaType": "image",
            "caption": "Look",
        }
    ]
    [message] = sandbox.sent_messages
    assert (message.kind, message.media_type, message.caption) == ("media", "image", "Look")
    assert lines(reply)[0] == f"Queued to {SALES_LABEL} (message {message.id})."


async def test_a_meta_number_outside_the_window_is_one_sentence(
    fake: FakeBotApi, front: TelegramFrontEnd, sandbox: Sandbox
) -> None:
    sandbox.mode = "meta"
    reply = await say(fake, "/send sales Hello team")
    assert lines(reply) == [
        f"{SALES_LABEL}: failed — {OUTSIDE_WINDOW}",
    ]
    assert sends(sandbox) == [{"groupId": SALES, "text": "Hello team"}]  # tried once, no retry
    assert sandbox.sent_messages == []


# -- invite links by WhatsApp message --------------------------------------------------


async def test_invite_send_asks_and_confirm_sends_the_configured_text_with_the_link(
    fake: FakeBotApi, front: TelegramFrontEnd, sandbox: Sandbox
) -> None:
    link = sandbox.groups[SALES].invite_link
    text = INVITE_TEXT.format(group="Sales Team", link=link)
    question = await say(fake, "/invite sales send +5511955550001")
    assert f"Text: {text}" in question["text"]
    assert sends(sandbox) == []  # nothing before Confirm

    outcome = await press(fake, question, "Confirm")

    assert sends(sandbox) == [{"destinationNumber": "+5511955550001", "text": text}]
    [message] = sandbox.sent_messages
    assert (message.group_id, message.destination_number) == (None, "5511955550001")
    assert f"+5511955550001: queued (message {message.id})" in outcome.splitlines()
    assert sandbox.groups[SALES].invite_link == link  # read, never reset
    assert all(r.body == {"reset": False} for r in sandbox.requests if r.endpoint == "invite")


async def test_add_blocked_by_privacy_offers_the_link_and_confirm_sends_it_to_that_number(
    fake: FakeBotApi, front: TelegramFrontEnd, sandbox: Sandbox
) -> None:
    question = await say(fake, f"/add sales {BLOCKED}")
    text = INVITE_TEXT.format(group="Sales Team", link=sandbox.groups[SALES].invite_link)
    assert question["text"].endswith(
        f"Send them (+{BLOCKED}) the group's invite link by WhatsApp message? (text: {text})"
    )
    assert sends(sandbox) == []

    outcome = await press(fake, question, "Confirm")

    assert sends(sandbox) == [{"destinationNumber": f"+{BLOCKED}", "text": text}]
    [message] = sandbox.sent_messages
    assert f"+{BLOCKED}: queued (message {message.id})" in outcome.splitlines()
    assert BLOCKED not in sandbox.groups[SALES].participants


async def test_add_offer_cancelled_sends_nothing(
    fake: FakeBotApi, front: TelegramFrontEnd, sandbox: Sandbox
) -> None:
    question = await say(fake, f"/add sales {BLOCKED}")
    outcome = await press(fake, question, "Cancel")
    assert "No invite link was sent" in outcome
    assert sends(sandbox) == []
    assert sandbox.sent_messages == []


# -- /run of a template job -----------------------------------------------------------


async def test_run_of_a_template_job_with_a_wrong_variable_is_refused_online(
    fake: FakeBotApi, front: TelegramFrontEnd, sandbox: Sandbox, parts: Parts
) -> None:
    reply = await say(fake, "/run welcome")
    assert lines(reply) == [
        "Not run: Template boas_vindas: missing variable cupom "
        "(its variables: nome, grupo, cupom). Nothing was sent."
    ]
    assert "reply_markup" not in reply  # refused before asking
    assert endpoints(sandbox) == ["get_template"]  # checked online; nothing sent
    assert parts.scheduler.ledger.runs("welcome") == []  # no run was started


# -- delivery follow-up ----------------------------------------------------------------


async def follow(parts: Parts, clock: Clock, seconds: int) -> None:
    """Move the shared clock in 5 s steps, checking what is due at each step."""
    for _ in range(seconds // 5):
        clock.now += timedelta(seconds=5)
        await parts.tracker.run_due()


async def test_a_sends_follow_up_reaches_the_same_chat_once(
    fake: FakeBotApi, front: TelegramFrontEnd, sandbox: Sandbox, parts: Parts, clock: Clock
) -> None:
    sandbox.doom(SALES, "RECIPIENT_UNREACHABLE")
    reply = await say(fake, "/send sales Big news")
    assert reply["text"].endswith("Delivery follow-up in this chat within 30m.")
    await parts.tracker.stop()  # from here the test drives it
    before = len(replies(fake, CHANNEL))

    await follow(parts, clock, 120)

    def follow_ups() -> list[dict[str, Any]]:
        return [m for m in replies(fake, CHANNEL) if m["text"].startswith("Delivery of ")]

    [told] = await eventually(follow_ups)
    assert told["text"].startswith("Delivery of /send sales Big news: ")
    assert f"{SALES_LABEL}: failed RECIPIENT_UNREACHABLE" in told["text"]
    assert "reply_to_message_id" not in told  # a message of its own in the chat
    await follow(parts, clock, 3600)
    assert follow_ups() == [told]  # once
    assert len(replies(fake, CHANNEL)) == before + 1
    assert len(sends(sandbox)) == 1  # the tracker only reads
    assert endpoints(sandbox).count("send") == 1
