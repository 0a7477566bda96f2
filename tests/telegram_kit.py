"""Helpers shared by the Telegram front end tests: the chats, the people, the waits.

`fake_world()` starts a fake Bot API (`fake_bot_api.FakeBotApi`) that knows
the admin channel and groups used everywhere; `telegram_settings` points the
bot at it. Waits are bounded polling loops (`eventually`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fake_bot_api import TOKEN, FakeBotApi, eventually, user

from bot.config import TelegramSettings
from bot.sandbox import Sandbox
from bot.store import Store
from bot.telegram import TelegramFrontEnd

CHANNEL = -1001000000001  # admin channel
GROUP = -1001000000002  # admin group
OTHER_GROUP = -1001000000003  # not in admin_chats
OTHER_CHANNEL = -1001000000004  # not in admin_chats
ADMIN = user(1001, "ana")
VIEWER = user(1002, "vic")
STRANGER = user(1003, "sam")
GROUP_ADMIN = user(
    1004, "gus"
)  # not listed; an administrator of GROUP and CHANNEL per getChatMember
ANONYMOUS_BOT = user(1087968824, "GroupAnonymousBot", "Group")

SALES = "120363123456789012@g.us"
SUPPORT = "120363000000000002@g.us"
MEMBER = "5511933334444"  # a regular member of Sales Team
SUPPORT_MEMBER = "5511977778888"  # a regular member of Support


@contextmanager
def fake_world() -> Iterator[FakeBotApi]:
    """The fake Bot API with the admin channel, the admin group and two others."""
    with FakeBotApi() as api:
        api.add_chat(CHANNEL, "channel", "Ops")
        api.add_chat(GROUP, "supergroup", "Ops team")
        api.add_chat(OTHER_GROUP, "supergroup", "Random")
        api.add_chat(OTHER_CHANNEL, "channel", "Other")
        api.set_admins(GROUP, [GROUP_ADMIN["id"]])
        api.set_admins(CHANNEL, [GROUP_ADMIN["id"]])
        yield api


def telegram_settings(fake: FakeBotApi, **changes: Any) -> TelegramSettings:
    values: dict[str, Any] = {
        "token": TOKEN,
        "api_base_url": fake.base_url,
        "admin_chats": [CHANNEL, GROUP],
        "admins": [ADMIN["id"]],
        "viewers": [VIEWER["id"]],
        **changes,
    }
    return TelegramSettings(**values)


def replies(fake: FakeBotApi, chat_id: int) -> list[dict[str, Any]]:
    return fake.sent(chat_id)


def answers(fake: FakeBotApi, message: dict[str, Any]) -> list[dict[str, Any]]:
    """The bot's messages answering `message` so far (no wait)."""
    chat_id, message_id = message["chat"]["id"], message["message_id"]
    return [m for m in fake.sent(chat_id) if m.get("reply_to_message_id") == message_id]


async def reply_to(fake: FakeBotApi, message: dict[str, Any]) -> dict[str, Any]:
    """The bot's first message answering `message` (waits for it)."""
    found: list[dict[str, Any]] = await eventually(lambda: answers(fake, message))
    return found[0]


async def barrier(fake: FakeBotApi, front: TelegramFrontEnd) -> None:
    """Every update sent before this call has been handled.

    Updates run side by side, so an answer to /help alone proves nothing; but
    once it is answered, every earlier update has been fetched and started,
    and once nothing is running any more, they have all finished.
    """
    await reply_to(fake, fake.private_message(ADMIN, "/help"))
    await eventually(lambda: front.intake.running == 0)


def audit(store: Store) -> list[tuple[str, str, str, str]]:
    """(chat, who, command, outcome), oldest first."""
    return [(r.chat, r.who, r.command, r.outcome) for r in reversed(store.recent_audit(100))]


def role(sandbox: Sandbox, number: str = MEMBER, group: str = SALES) -> str | None:
    return sandbox.groups[group].participants.get(number, "absent")
