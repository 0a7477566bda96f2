"""The Telegram front end end to end (docs/telegram.md and docs/commands.md, issue 4).

The real python-telegram-bot `Application` polls a fake Bot API server on
127.0.0.1 (`fake_bot_api.FakeBotApi`) through ``base_url``; the real
`CommandLayer` reaches the sandbox through the real `WhatsAppClient` (in
process); the audit log is real SQLite. Tests inject updates and look at the
calls the bot made, the sandbox's state and the audit log. Waits are bounded
polling loops (`eventually`).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fake_bot_api import BOT_USERNAME, TOKEN, FakeBotApi, eventually, user
from telegram_kit import (
    ADMIN,
    ANONYMOUS_BOT,
    CHANNEL,
    GROUP,
    GROUP_ADMIN,
    MEMBER,
    OTHER_CHANNEL,
    OTHER_GROUP,
    STRANGER,
    VIEWER,
    audit,
    barrier,
    fake_world,
    replies,
    reply_to,
    role,
    telegram_settings,
)

from bot.commands.layer import CommandLayer
from bot.commands.types import Rights
from bot.config import Settings
from bot.sandbox import Sandbox, SandboxServerThread
from bot.store import Store
from bot.telegram import ALLOWED_UPDATES, TelegramFrontEnd, TelegramStartError

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


# -- fixtures ---------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    with fake_world() as api:
        yield api


@pytest.fixture
def tg_settings(fake: FakeBotApi, settings: Settings) -> Settings:
    return settings.model_copy(update={"telegram": telegram_settings(fake)})


@pytest.fixture
async def front(tg_settings: Settings, layer: CommandLayer) -> AsyncIterator[TelegramFrontEnd]:
    frontend = TelegramFrontEnd(tg_settings.telegram, layer, poll_timeout=1.0)
    await frontend.start()
    try:
        yield frontend
    finally:
        await frontend.stop()


# -- helpers ----------------------------------------------------------------------


def buttons_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


def button_data(message: dict[str, Any], label: str) -> str:
    [data] = [b["callback_data"] for b in buttons_of(message) if b["text"] == label]
    return str(data)


# -- start-up ---------------------------------------------------------------------


async def test_start_publishes_the_menu_and_polls_only_what_it_handles(
    fake: FakeBotApi, front: TelegramFrontEnd, layer: CommandLayer
) -> None:
    [menu] = fake.calls("setMyCommands")
    names = [c["command"] for c in menu.params["commands"]]
    assert names == [spec.name for spec in layer.commands_for(Rights.ADMIN)]
    assert {"help", "groups", "remove", "send"} <= set(names)
    assert all(0 < len(c["description"]) <= 256 for c in menu.params["commands"])
    assert front.application.bot.username == BOT_USERNAME  # from getMe: /cmd@OtherBot is dropped
    [webhook] = fake.calls("deleteWebhook")
    assert webhook.params.get("drop_pending_updates") in (None, False)
    polls = await eventually(lambda: fake.calls("getUpdates"))
    allowed = polls[0].params["allowed_updates"]
    assert set(allowed) == set(ALLOWED_UPDATES)
    assert {"channel_post", "message", "callback_query"} <= set(allowed)
    assert not {"edited_message", "edited_channel_post"} & set(allowed)


async def test_commands_sent_while_down_run_in_order(
    fake: FakeBotApi,
    tg_settings: Settings,
    layer: CommandLayer,
    sandbox_server: SandboxServerThread,
) -> None:
    first = fake.channel_post(CHANNEL, f"/promote sales {MEMBER}")
    second = fake.channel_post(CHANNEL, f"/demote sales {MEMBER}")
    async with TelegramFrontEnd(tg_settings.telegram, layer, poll_timeout=1.0):
        await reply_to(fake, first)
        await reply_to(fake, second)
    changes = [r.endpoint for r in sandbox_server.sandbox.requests if r.method != "GET"]
    assert changes == ["promote", "demote"]
    assert role(sandbox_server.sandbox) is None


async def test_drop_pending_updates_skips_what_was_sent_while_down(
    fake: FakeBotApi, settings: Settings, layer: CommandLayer, store: Store
) -> None:
    fake.channel_post(CHANNEL, "/groups")
    telegram = telegram_settings(fake, drop_pending_updates=True)
    async with TelegramFrontEnd(telegram, layer, poll_timeout=1.0) as front:
        [webhook] = fake.calls("deleteWebhook")
        assert webhook.params["drop_pending_updates"] is True
        await barrier(fake, front)
    assert replies(fake, CHANNEL) == []
    assert [row[2] for row in audit(store)] == ["/help"]


# -- who may do what (docs/telegram.md) -------------------------------------------


async def test_channel_post_runs_as_admin_signed_by_its_author(
    fake: FakeBotApi, front: TelegramFrontEnd, store: Store
) -> None:
    post = fake.channel_post(CHANNEL, "/groups sales", signature="Ann")
    reply = await reply_to(fake, post)
    assert "Sales Team" in reply["text"]
    assert reply["chat"]["id"] == CHANNEL
    assert audit(store) == [
        (f"telegram:{CHANNEL}", f"channel:{CHANNEL} signed Ann", "/groups sales", "ok")
    ]
    assert fake.calls("getChatMember") == []


async def test_listed_admin_in_admin_group_changes_the_group(
    fake: FakeBotApi, front: TelegramFrontEnd, sandbox_server: SandboxServerThread, store: Store
) -> None:
    message = fake.group_message(GROUP, ADMIN, f"/promote sales {MEMBER}")
    reply = await reply_to(fake, message)
    assert role(sandbox_server.sandbox) == "admin", reply["text"]
    assert fake.calls("getChatMember") == []  # listed: no need to ask
    [row] = audit(store)
    assert row[:2] == (f"telegram:{GROUP}", "user:1001 (@ana)")
    assert row[3] == "ok"


async def test_group_administrator_is_admin_via_get_chat_member_cached(
    fake: FakeBotApi, front: TelegramFrontEnd, sandbox_server: SandboxServerThread
) -> None:
    await reply_to(fake, fake.group_message(GROUP, GROUP_ADMIN, f"/promote sales {MEMBER}"))
    assert role(sandbox_server.sandbox) == "admin"
    await reply_to(fake, fake.group_message(GROUP, GROUP_ADMIN, f"/demote sales {MEMBER}"))
    assert role(sandbox_server.sandbox) is None
    [asked] = fake.calls("getChatMember")  # the second command used the cached answer
    assert (asked.params["chat_id"], asked.params["user_id"]) == (GROUP, GROUP_ADMIN["id"])


async def test_anonymous_admin_of_the_group_is_admin(
    fake: FakeBotApi, front: TelegramFrontEnd, sandbox_server: SandboxServerThread, store: Store
) -> None:
    group_chat = fake.chat(GROUP)
    message = fake.group_message(
        GROUP, ANONYMOUS_BOT, f"/promote sales {MEMBER}", sender_chat=group_chat
    )
    await reply_to(fake, message)
    assert role(sandbox_server.sandbox) == "admin"
    assert audit(store)[0][1] == "anonymous admin"


async def test_private_chat_of_a_listed_admin(
    fake: FakeBotApi, front: TelegramFrontEnd, store: Store
) -> None:
    reply = await reply_to(fake, fake.private_message(ADMIN, "/invite sales"))
    assert "https://chat.whatsapp.com/" in reply["text"]
    assert audit(store)[0][:2] == ("telegram:1001", "user:1001 (@ana)")


@pytest.mark.parametrize(
    "where",
    ["private", "admin-group", "other-group", "other-channel"],
)
async def test_a_stranger_gets_nothing_but_is_audited(
    fake: FakeBotApi,
    front: TelegramFrontEnd,
    sandbox_server: SandboxServerThread,
    store: Store,
    where: str,
) -> None:
    text = f"/remove sales {MEMBER}"
    if where == "private":
        message = fake.private_message(STRANGER, text)
    elif where == "admin-group":
        message = fake.group_message(GROUP, STRANGER, text)
    elif where == "other-group":
        message = fake.group_message(OTHER_GROUP, ADMIN, text)  # listed admin, unlisted group
    else:
        message = fake.channel_post(OTHER_CHANNEL, text)
    chat_id = message["chat"]["id"]
    await barrier(fake, front)
    assert replies(fake, chat_id) == []
    assert sandbox_server.sandbox.requests == []
    assert role(sandbox_server.sandbox) is None
    if where != "admin-group":  # only there may a stranger be a group administrator
        assert fake.calls("getChatMember") == []
    assert [c.method for c in fake.calls() if c.params.get("chat_id") == chat_id] == (
        ["getChatMember"] if where == "admin-group" else []
    )
    [attempt] = [row for row in audit(store) if row[2] == text]  # /help may be audited first
    assert attempt[0] == f"telegram:{chat_id}"
    assert attempt[3].startswith("denied")


@pytest.mark.parametrize("where", ["private", "admin-group"])
async def test_a_viewer_is_refused_a_write(
    fake: FakeBotApi,
    front: TelegramFrontEnd,
    sandbox_server: SandboxServerThread,
    store: Store,
    where: str,
) -> None:
    text = f"/promote sales {MEMBER}"
    message = (
        fake.private_message(VIEWER, text)
        if where == "private"
        else fake.group_message(GROUP, VIEWER, text)
    )
    reply = await reply_to(fake, message)
    assert "needs admin rights" in reply["text"]
    assert role(sandbox_server.sandbox) is None
    assert sandbox_server.sandbox.requests == []
    assert audit(store)[0][3] == "refused: viewer"
    # ...and may read.
    reply = await reply_to(fake, fake.private_message(VIEWER, "/groups sales"))
    assert "Sales Team" in reply["text"]


async def test_edited_messages_and_posts_do_nothing(
    fake: FakeBotApi, front: TelegramFrontEnd, sandbox_server: SandboxServerThread, store: Store
) -> None:
    fake.channel_post(CHANNEL, f"/promote sales {MEMBER}", edited=True)
    fake.group_message(GROUP, ADMIN, f"/promote sales {MEMBER}", edited=True)
    await barrier(fake, front)
    assert replies(fake, CHANNEL) == replies(fake, GROUP) == []
    assert sandbox_server.sandbox.requests == []
    assert [row[2] for row in audit(store)] == ["/help"]


async def test_other_bots_commands_and_linked_channel_copies_are_ignored(
    fake: FakeBotApi, front: TelegramFrontEnd, store: Store
) -> None:
    fake.group_message(GROUP, STRANGER, "/groups@some_other_bot")
    fake.group_message(
        GROUP,
        user(777000, "Telegram"),
        "/groups",
        is_automatic_forward=True,
        sender_chat=fake.chat(CHANNEL),
    )
    await barrier(fake, front)
    assert replies(fake, GROUP) == []
    assert fake.calls("getChatMember") == []
    assert [row[2] for row in audit(store)] == ["/help"]


@pytest.mark.parametrize("sender", [ADMIN, VIEWER, STRANGER], ids=["admin", "viewer", "stranger"])
@pytest.mark.parametrize(
    "text", ["/help@OtherBot", "/groups@OtherBot", "/send@OtherBot sales hi", "/nosuch@OtherBot"]
)
async def test_other_bots_commands_are_silently_ignored(
    fake: FakeBotApi,
    front: TelegramFrontEnd,
    sandbox_server: SandboxServerThread,
    sender: dict[str, Any],
    text: str,
) -> None:
    """Only Telegram has bot names: its front end drops them before the command layer."""
    fake.group_message(GROUP, sender, text)
    await barrier(fake, front)
    assert replies(fake, GROUP) == []
    assert sandbox_server.sandbox.requests == []
    assert sandbox_server.sandbox.sent_messages == []


async def test_command_addressed_to_this_bot_runs(
    fake: FakeBotApi, front: TelegramFrontEnd
) -> None:
    reply = await reply_to(fake, fake.group_message(GROUP, ADMIN, f"/groups@{BOT_USERNAME} rio"))
    assert "Sales Rio" in reply["text"]


async def test_start_shows_help_in_a_private_chat(
    fake: FakeBotApi, front: TelegramFrontEnd
) -> None:
    reply = await reply_to(fake, fake.private_message(VIEWER, "/start"))
    assert "/groups" in reply["text"]
    assert "/remove" not in reply["text"]  # a viewer's help lists a viewer's commands


# -- confirmation buttons ---------------------------------------------------------


async def ask_remove(fake: FakeBotApi) -> dict[str, Any]:
    """An admin channel post that needs confirmation; the bot's question message."""
    question = await reply_to(fake, fake.channel_post(CHANNEL, f"/remove sales {MEMBER}"))
    assert [b["text"] for b in buttons_of(question)] == ["Confirm", "Cancel"]
    return question


async def answered(fake: FakeBotApi, query_id: str) -> dict[str, Any]:
    call = await eventually(
        lambda: [
            c
            for c in fake.calls("answerCallbackQuery")
            if c.params["callback_query_id"] == query_id
        ]
    )
    params: dict[str, Any] = call[0].params
    return params


@pytest.mark.parametrize("presser", [ADMIN, GROUP_ADMIN], ids=["listed-admin", "channel-admin"])
async def test_confirm_by_an_admin_acts_once_and_shows_the_outcome(
    fake: FakeBotApi,
    front: TelegramFrontEnd,
    sandbox_server: SandboxServerThread,
    store: Store,
    presser: dict[str, Any],
) -> None:
    question = await ask_remove(fake)
    data = button_data(question, "Confirm")
    assert len(data.encode()) <= 64
    assert role(sandbox_server.sandbox) is None  # nothing changes before Confirm
    await answered(fake, fake.press(presser, question, data))
    edited = await eventually(
        lambda: (
            fake.messages[(CHANNEL, question["message_id"])].get("edit_date")
            and fake.messages[(CHANNEL, question["message_id"])]
        )
    )
    assert "reply_markup" not in edited  # buttons removed
    assert edited["text"].startswith(question["text"])  # the question, then its outcome
    assert role(sandbox_server.sandbox) == "absent"
    assert audit(store)[-1][1:] == (
        f"user:{presser['id']} (@{presser['username']})",
        f"/remove sales {MEMBER}",
        "confirmed: ok",
    )
    # A second press changes nothing and is still answered.
    again = fake.press(presser, question, data)
    assert (await answered(fake, again))["text"] == "Already done."
    assert fake.messages[(CHANNEL, question["message_id"])]["text"] == edited["text"]


@pytest.mark.parametrize("presser", [STRANGER, VIEWER], ids=["stranger", "viewer"])
async def test_confirm_by_someone_without_rights_is_refused_and_buttons_stay(
    fake: FakeBotApi,
    front: TelegramFrontEnd,
    sandbox_server: SandboxServerThread,
    store: Store,
    presser: dict[str, Any],
) -> None:
    question = await ask_remove(fake)
    data = button_data(question, "Confirm")
    answer = await answered(fake, fake.press(presser, question, data))
    assert "not allowed" in answer["text"].lower()
    assert fake.calls("editMessageText") == []
    assert buttons_of(fake.messages[(CHANNEL, question["message_id"])])  # still there
    assert role(sandbox_server.sandbox) is None
    assert audit(store)[-1][3] == "refused: confirm not allowed"
    # Cancel is no different.
    answer = await answered(fake, fake.press(presser, question, button_data(question, "Cancel")))
    assert "not allowed" in answer["text"].lower()
    # The buttons still work for an admin.
    await answered(fake, fake.press(ADMIN, question, data))
    await eventually(lambda: role(sandbox_server.sandbox) == "absent")


async def test_cancel_by_an_admin_changes_nothing(
    fake: FakeBotApi, front: TelegramFrontEnd, sandbox_server: SandboxServerThread, store: Store
) -> None:
    question = await ask_remove(fake)
    answer = await answered(fake, fake.press(ADMIN, question, button_data(question, "Cancel")))
    assert answer["text"] == "Cancelled."
    edited = await eventually(
        lambda: (
            "reply_markup" not in fake.messages[(CHANNEL, question["message_id"])]
            and fake.messages[(CHANNEL, question["message_id"])]
        )
    )
    assert "Cancelled" in edited["text"]
    assert role(sandbox_server.sandbox) is None
    assert audit(store)[-1][3] == "cancelled"


async def test_a_button_the_bot_no_longer_knows_is_answered_and_retired(
    fake: FakeBotApi, front: TelegramFrontEnd, sandbox_server: SandboxServerThread
) -> None:
    question = await ask_remove(fake)
    answer = await answered(fake, fake.press(ADMIN, question, "garbage"))
    assert answer["text"] == "This button is no longer valid."
    # As after a restart: the layer has no such pending command.
    await answered(fake, fake.press(ADMIN, question, "c:forgotten-token"))
    edited = await eventually(
        lambda: (
            "reply_markup" not in fake.messages[(CHANNEL, question["message_id"])]
            and fake.messages[(CHANNEL, question["message_id"])]
        )
    )
    assert "already used or has expired" in edited["text"]
    assert role(sandbox_server.sandbox) is None


# -- replies ----------------------------------------------------------------------


async def test_replies_are_escaped_html(fake: FakeBotApi, front: TelegramFrontEnd) -> None:
    reply = await reply_to(fake, fake.private_message(ADMIN, "/help add"))
    assert "/add <group> <number…>" in reply["text"]  # the fake parsed the HTML
    [sent] = [c for c in fake.calls("sendMessage") if c.status == 200][-1:]
    assert sent.params["parse_mode"] == "HTML"
    assert "&lt;group&gt;" in sent.params["text"]


@pytest.mark.parametrize("sandbox", [pytest.param(Sandbox(groups=300), id="300-groups")])
async def test_a_long_reply_arrives_in_pieces(
    fake: FakeBotApi, front: TelegramFrontEnd, sandbox: Sandbox
) -> None:
    post = fake.channel_post(CHANNEL, "/groups")
    await reply_to(fake, post)
    pieces = await eventually(
        lambda: (found := replies(fake, CHANNEL)) and "Group 300" in found[-1]["text"] and found,
        timeout=10,
    )
    assert len(pieces) >= 2
    assert all(len(p["text"]) <= 4096 for p in pieces)
    assert [p.get("reply_to_message_id") for p in pieces] == [post["message_id"]] + [None] * (
        len(pieces) - 1
    )
    text = "\n".join(p["text"] for p in pieces)
    assert all(f"Group {n:03d}" in text for n in range(5, 301))
    assert text.index("Group 005") < text.index("Group 300")


async def test_flood_control_429_is_retried_and_the_reply_arrives(
    fake: FakeBotApi, front: TelegramFrontEnd
) -> None:
    fake.fail(
        "sendMessage",
        status=429,
        description="Too Many Requests: retry after 0.2",
        retry_after=0.2,
    )
    reply = await reply_to(fake, fake.private_message(ADMIN, "/groups sales"))
    assert "Sales Team" in reply["text"]
    first, second = fake.calls("sendMessage")[:2]
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 0.2


async def test_conflict_is_logged_noticed_and_polling_continues(
    fake: FakeBotApi,
    front: TelegramFrontEnd,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    fake.fail(
        "getUpdates",
        status=409,
        description="Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running",
        times=2,
    )
    await eventually(lambda: "409 Conflict" in caplog.text)
    notices = await eventually(
        lambda: (
            (found := [m for m in fake.sent() if "another program is polling" in m["text"]])
            and len(found) == 2
            and found
        )
    )
    assert {m["chat"]["id"] for m in notices} == {CHANNEL, GROUP}  # notify_chats = admin_chats
    await eventually(lambda: len([c for c in fake.calls("getUpdates") if c.status == 409]) == 2)
    assert caplog.text.count("409 Conflict from Telegram") == 1  # once, not per retry
    reply = await reply_to(fake, fake.private_message(ADMIN, "/groups sales"))
    assert "Sales Team" in reply["text"]


async def test_forbidden_is_reported_not_fatal(
    fake: FakeBotApi, front: TelegramFrontEnd, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail("sendMessage", status=403, description="Forbidden: bot was kicked from the chat")
    fake.group_message(GROUP, ADMIN, "/groups sales")
    await eventually(lambda: "removed from that chat" in caplog.text)
    reply = await reply_to(fake, fake.group_message(GROUP, ADMIN, "/groups rio"))
    assert "Sales Rio" in reply["text"]


async def test_an_unexpected_error_is_logged_and_told_briefly(
    fake: FakeBotApi, front: TelegramFrontEnd, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail("getChatMember", status=500, description="Internal Server Error")
    fake.group_message(GROUP, STRANGER, "/groups")
    told = await eventually(
        lambda: [m for m in replies(fake, GROUP) if "Something went wrong" in m["text"]]
    )
    incident = told[0]["text"].split("logged as ")[1][:8]
    assert f"incident {incident}" in caplog.text
    reply = await reply_to(fake, fake.group_message(GROUP, ADMIN, "/groups rio"))
    assert "Sales Rio" in reply["text"]


# -- reports (bot.notify.Notifier) ------------------------------------------------


async def test_notify_sends_to_every_notify_chat_and_survives_a_bad_one(
    fake: FakeBotApi, settings: Settings, layer: CommandLayer, caplog: pytest.LogCaptureFixture
) -> None:
    telegram = telegram_settings(fake, notify_chats=[OTHER_GROUP, GROUP])
    async with TelegramFrontEnd(telegram, layer, poll_timeout=1.0) as frontend:
        fake.fail("sendMessage", status=403, description="Forbidden: bot is not a member")
        report = "morning-sales (09:00 America/Sao_Paulo): sent 1, failed 1 <Group & co>\n" * 80
        await frontend.notify(report)
    assert replies(fake, OTHER_GROUP) == []
    pieces = replies(fake, GROUP)
    assert len(pieces) >= 2
    assert "\n".join(p["text"] for p in pieces) == report.strip()
    assert "cannot post the report in chat" in caplog.text


async def test_notify_after_stop_goes_to_the_log(
    fake: FakeBotApi, tg_settings: Settings, layer: CommandLayer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with TelegramFrontEnd(tg_settings.telegram, layer, poll_timeout=1.0) as frontend:
        pass
    await frontend.notify("late report")
    assert fake.sent() == []
    assert "late report" in caplog.text


# -- the token --------------------------------------------------------------------


async def test_token_never_reaches_logs(
    fake: FakeBotApi, tg_settings: Settings, layer: CommandLayer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with TelegramFrontEnd(tg_settings.telegram, layer, poll_timeout=1.0):
        await reply_to(fake, fake.channel_post(CHANNEL, "/groups"))
        fake.fail("getUpdates", status=502, description="Bad Gateway")
        fake.fail("sendMessage", status=500, description="Internal Server Error")
        fake.group_message(GROUP, ADMIN, "/groups")  # its reply fails: an incident
        await eventually(lambda: "incident" in caplog.text)
        logging.getLogger("test").info("the bot object: %r", "bot" + TOKEN)
    assert "Calling Bot API endpoint" in caplog.text  # PTB's debug lines were captured
    secret = TOKEN.split(":")[1]
    assert TOKEN not in caplog.text
    assert secret not in caplog.text
    for record in caplog.records:
        assert secret not in record.getMessage()
    assert all(secret not in str(c.params) for c in fake.calls())


async def test_a_rejected_token_fails_start_without_showing_it(
    fake: FakeBotApi, layer: CommandLayer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "42:WrongButWellFormedToken_x7Qe"
    frontend = TelegramFrontEnd(telegram_settings(fake, token=wrong), layer)
    with pytest.raises(TelegramStartError) as caught:
        await frontend.start()
    assert "rejected the bot token" in str(caught.value)
    assert "WrongButWellFormedToken" not in str(caught.value) + caplog.text
    await frontend.stop()  # harmless after a failed start
    gc.collect()  # an unclosed connection would surface here as an unraisable warning
    assert [c.method for c in fake.calls()] == ["getMe"]
