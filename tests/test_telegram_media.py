"""Files posted with /send in Telegram, end to end (docs/telegram.md, "Files with /send").

The real python-telegram-bot `Application` polls the fake Bot API
(`fake_bot_api.FakeBotApi`), downloads the file from it (``getFile``, then the
file URL), and the real command layer sends it to the sandbox (in process) as
a ``data:`` URI. Tests look at the Bot API calls, the requests the sandbox
received and the replies.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fake_bot_api import FakeBotApi, eventually
from telegram_kit import (
    ADMIN,
    CHANNEL,
    GROUP,
    OTHER_GROUP,
    STRANGER,
    VIEWER,
    answers,
    barrier,
    fake_world,
    reply_to,
    telegram_settings,
)

from bot.config import Settings
from bot.runtime import build_commands
from bot.sandbox import Sandbox
from bot.store import Store
from bot.telegram import TelegramFrontEnd
from bot.telegram.files import file_base_url
from bot.whatsapp import WhatsAppClient

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

SALES = "120363123456789012@g.us"
PHOTO = bytes(range(256)) * 2  # small enough for the sandbox to keep its data URI whole
PDF = b"%PDF-1.4 a small offer\n%%EOF\n"
MB = 1024 * 1024


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
    async def started() -> AsyncIterator[TelegramFrontEnd]:
        layer = build_commands(settings, client=client, store=store)
        front = TelegramFrontEnd(
            telegram_settings(fake), layer, poll_timeout=1.0, stop_grace=0.2, notice_timeout=1.0
        )
        await front.start()
        try:
            yield front
        finally:
            await front.stop()

    return started


def sends(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [r.body for r in sandbox.requests if r.endpoint == "send"]


def uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


async def test_a_photo_captioned_send_arrives_as_image_media(
    fake: FakeBotApi, start: Start, sandbox: Sandbox
) -> None:
    async with start():
        post = fake.photo_message(CHANNEL, None, "/send sales Look!", PHOTO)
        reply = await reply_to(fake, post)
    assert sends(sandbox) == [
        {
            "groupId": SALES,
            "media": uri(PHOTO, "image/jpeg"),
            "mediaType": "image",
            "caption": "Look!",
        }
    ]
    [message] = sandbox.sent_messages
    assert reply["text"].startswith("Queued to Sales Team")
    assert message.id in reply["text"]
    # The largest size Telegram made, fetched once.
    [get_file] = fake.calls("getFile")
    assert get_file.params["file_id"] == post["photo"][-1]["file_id"]
    assert [c.params["path"] for c in fake.calls("download")] == [
        "files/" + get_file.params["file_id"]
    ]


async def test_a_document_from_an_admin_in_a_group_keeps_its_type_and_name(
    fake: FakeBotApi, start: Start, sandbox: Sandbox
) -> None:
    async with start():
        post = fake.document_message(GROUP, ADMIN, "/send sales Our offer", PDF)
        await reply_to(fake, post)
    assert sends(sandbox) == [
        {
            "groupId": SALES,
            "media": uri(PDF, "application/pdf"),
            "mediaType": "document",
            "caption": "Our offer",
            "fileName": "offer.pdf",
        }
    ]


async def test_a_photo_without_caption_text_is_sent_without_caption(
    fake: FakeBotApi, start: Start, sandbox: Sandbox
) -> None:
    async with start():
        await reply_to(fake, fake.photo_message(ADMIN["id"], ADMIN, "/send sales", PHOTO))
    assert sends(sandbox) == [
        {"groupId": SALES, "media": uri(PHOTO, "image/jpeg"), "mediaType": "image"}
    ]


@pytest.mark.parametrize("stated", [16 * MB + 1, 25 * MB])
async def test_a_too_large_file_is_refused_before_the_download(
    fake: FakeBotApi, start: Start, sandbox: Sandbox, stated: int
) -> None:
    async with start():
        post = fake.document_message(CHANNEL, None, "/send sales Big", PDF, file_size=stated)
        reply = await reply_to(fake, post)
    assert reply["text"].startswith(f"The file is {stated / MB:.1f} MB; files sent with /send")
    assert "at most 16 MB" in reply["text"]
    assert fake.calls("getFile") == []
    assert fake.calls("download") == []
    assert sandbox.requests == []


async def test_a_failed_download_is_one_sentence_and_nothing_is_sent(
    fake: FakeBotApi, start: Start, sandbox: Sandbox
) -> None:
    fake.fail("getFile", status=400, description="Bad Request: wrong file_id", times=5)
    async with start():
        reply = await reply_to(fake, fake.photo_message(CHANNEL, None, "/send sales x", PHOTO))
    assert reply["text"].startswith("Could not download the file from Telegram")
    assert sandbox.requests == []


@pytest.mark.parametrize("caption", ["/groups", "/add sales +5511955551234", "/start"])
async def test_a_file_with_another_command_is_answered_not_run(
    fake: FakeBotApi, start: Start, sandbox: Sandbox, caption: str
) -> None:
    async with start():
        reply = await reply_to(fake, fake.photo_message(CHANNEL, None, caption, PHOTO))
    assert reply["text"].startswith("Files only go with /send")
    assert fake.calls("getFile") == []
    assert sandbox.requests == []


async def test_rights_are_those_of_text_commands_and_nothing_is_downloaded_without_them(
    fake: FakeBotApi, start: Start, sandbox: Sandbox
) -> None:
    async with start() as front:
        viewer = fake.photo_message(GROUP, VIEWER, "/send sales x", PHOTO)
        told = await reply_to(fake, viewer)
        stranger = fake.photo_message(STRANGER["id"], STRANGER, "/send sales x", PHOTO)
        elsewhere = fake.photo_message(OTHER_GROUP, ADMIN, "/send sales x", PHOTO)
        other_bot = fake.photo_message(CHANNEL, None, "/send@other_bot sales x", PHOTO)
        plain = fake.photo_message(CHANNEL, None, "holiday photos", PHOTO)
        await barrier(fake, front)
    assert "needs admin rights" in told["text"]
    assert not any(answers(fake, m) for m in (stranger, elsewhere, other_bot, plain))
    assert fake.calls("getFile") == []
    assert sandbox.requests == []


async def test_a_media_post_kept_at_a_stop_is_downloaded_again_and_sent_once(
    fake: FakeBotApi, start: Start, sandbox: Sandbox
) -> None:
    sandbox.inject("add", delay=30.0, times=None)
    async with start() as front:
        fake.channel_post(CHANNEL, "/add sales +5511955551234")  # holds /send sales in line
        await eventually(lambda: any(r.endpoint == "add" for r in sandbox.requests))
        post = fake.photo_message(CHANNEL, None, "/send sales Look!", PHOTO)
        await eventually(lambda: front.intake.running == 2)
        await eventually(lambda: fake.calls("download"))
        async with asyncio.timeout(5):
            await front.stop()
    assert not answers(fake, post)
    assert sends(sandbox) == []

    sandbox.clear_faults()
    async with start():
        reply = await reply_to(fake, post)
    assert reply["text"].startswith("Queued to Sales Team")
    assert len(sends(sandbox)) == 1
    assert len(fake.calls("download")) == 2  # the replay downloads it again


@pytest.mark.parametrize(
    ("base", "files"),
    [
        ("http://127.0.0.1:8081/bot", "http://127.0.0.1:8081/file/bot"),
        ("https://tg.example.com/api/bot/", "https://tg.example.com/api/file/bot"),
        ("https://tg.example.com/custom", "https://tg.example.com/custom/file/bot"),
    ],
)
def test_file_url_follows_the_api_base_url(base: str, files: str) -> None:
    assert file_base_url(base) == files
