"""A hung WhatsApp API holds up only the commands that depend on it (issue 8, item 7).

The real python-telegram-bot `Application` polls the fake Bot API; the real
command layer talks HTTP to the sandbox, whose fault injection makes one
endpoint hang (the client fixture gives up after 2 s per attempt). The
tests look at events: a request in flight at the sandbox, the replies that
arrived, the order of the requests the sandbox saw.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from urllib.parse import quote

import pytest
from fake_bot_api import FakeBotApi, eventually
from telegram_kit import (
    ADMIN,
    CHANNEL,
    GROUP,
    GROUP_ADMIN,
    MEMBER,
    SALES,
    SUPPORT,
    SUPPORT_MEMBER,
    answers,
    fake_world,
    reply_to,
    role,
    telegram_settings,
)

from bot.commands.layer import CommandLayer
from bot.config import Settings
from bot.sandbox import Sandbox, SandboxServerThread
from bot.telegram import TelegramFrontEnd
from bot.whatsapp import WhatsAppClient

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

NEW = "5511955551234"  # nobody's number yet
HANG = 30.0  # longer than any test: the stop at the end cuts it off


@pytest.fixture
def client(http_client: WhatsAppClient) -> WhatsAppClient:
    """Over real HTTP: a hung request holds a real connection."""
    return http_client


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    with fake_world() as api:
        yield api


@pytest.fixture
async def front(
    fake: FakeBotApi, settings: Settings, layer: CommandLayer
) -> AsyncIterator[TelegramFrontEnd]:
    frontend = TelegramFrontEnd(
        telegram_settings(fake), layer, poll_timeout=1.0, stop_grace=0.2, notice_timeout=1.0
    )
    await frontend.start()
    try:
        yield frontend
    finally:
        await frontend.stop()


def in_flight(sandbox: Sandbox, endpoint: str) -> bool:
    return any(r.endpoint == endpoint and r.finished is None for r in sandbox.requests)


def endpoints(sandbox: Sandbox, group: str | None = None) -> list[str]:
    """The endpoints the sandbox was asked for, in arrival order (of one group's paths)."""
    prefix = f"/v1/groups/{quote(group, safe='')}" if group else "/"
    return [r.endpoint or "" for r in sandbox.requests if r.path.startswith(prefix)]


@pytest.mark.parametrize("local", ["/help", "/aliases", "/log", "/jobs", "/job morning-sales"])
async def test_commands_without_the_api_answer_while_groups_hangs(
    fake: FakeBotApi,
    front: TelegramFrontEnd,
    sandbox_server: SandboxServerThread,
    local: str,
) -> None:
    sandbox = sandbox_server.sandbox
    sandbox.inject("list_groups", delay=HANG, times=None)
    groups = fake.channel_post(CHANNEL, "/groups")
    await eventually(lambda: in_flight(sandbox, "list_groups"))
    reply = await reply_to(fake, fake.private_message(ADMIN, local))
    assert reply["text"]
    assert in_flight(sandbox, "list_groups")  # /groups still hangs...
    assert not answers(fake, groups)  # ...and has not been answered


async def test_commands_on_different_groups_do_not_wait_for_each_other(
    fake: FakeBotApi,
    front: TelegramFrontEnd,
    sandbox_server: SandboxServerThread,
) -> None:
    sandbox = sandbox_server.sandbox
    sandbox.inject("add", delay=HANG, times=None)
    stuck = fake.channel_post(CHANNEL, f"/add sales {NEW}")
    await eventually(lambda: in_flight(sandbox, "add"))
    reply = await reply_to(fake, fake.channel_post(CHANNEL, f"/promote support {SUPPORT_MEMBER}"))
    assert SUPPORT_MEMBER in reply["text"]
    assert role(sandbox, SUPPORT_MEMBER, SUPPORT) == "admin"
    assert in_flight(sandbox, "add")
    assert not answers(fake, stuck)


async def test_commands_on_one_group_keep_their_order(
    fake: FakeBotApi,
    front: TelegramFrontEnd,
    sandbox_server: SandboxServerThread,
) -> None:
    sandbox = sandbox_server.sandbox
    sandbox.inject("add", delay=HANG, times=1)  # the first attempt hangs; the retry goes through
    # The first comes from a group administrator the bot must ask Telegram about
    # (getChatMember), the second from a listed admin: arrival order still wins.
    first = fake.group_message(GROUP, GROUP_ADMIN, f"/add sales {NEW}")
    second = fake.group_message(GROUP, ADMIN, f"/promote sales {NEW}")
    read = fake.group_message(GROUP, ADMIN, "/group sales")
    await eventually(lambda: in_flight(sandbox, "add"))
    # A later command on another group is done while these wait for the add.
    await reply_to(fake, fake.group_message(GROUP, ADMIN, f"/promote support {SUPPORT_MEMBER}"))
    assert in_flight(sandbox, "add")
    assert endpoints(sandbox, SALES) == ["get_group", "add"]  # the add's own check, the add
    assert not any(answers(fake, m) for m in (first, second, read))
    # The add ends (its retry is answered), then the promote, then the read.
    await reply_to(fake, read)
    assert answers(fake, first) and answers(fake, second)
    seen = endpoints(sandbox, SALES)
    assert [e for e in seen if e != "get_group"] == ["add", "add", "promote"]
    assert seen[-1] == "get_group"  # the read came after the promote
    assert role(sandbox, NEW) == "admin"


async def test_two_reads_of_one_group_run_side_by_side(
    fake: FakeBotApi,
    front: TelegramFrontEnd,
    sandbox_server: SandboxServerThread,
) -> None:
    sandbox = sandbox_server.sandbox
    await reply_to(fake, fake.channel_post(CHANNEL, "/groups"))  # names are cached now
    sandbox.inject("get_group", delay=HANG, times=1)
    stuck = fake.channel_post(CHANNEL, "/group sales")
    await eventually(lambda: in_flight(sandbox, "get_group"))
    reply = await reply_to(fake, fake.channel_post(CHANNEL, "/group sales"))
    assert MEMBER in reply["text"]
    assert not answers(fake, stuck)


@pytest.mark.parametrize("second", ["Confirm", "Cancel"])
async def test_a_double_press_acts_once_and_shows_one_outcome(
    fake: FakeBotApi,
    front: TelegramFrontEnd,
    sandbox_server: SandboxServerThread,
    second: str,
) -> None:
    sandbox = sandbox_server.sandbox
    question = await reply_to(fake, fake.channel_post(CHANNEL, f"/remove sales {MEMBER}"))
    sandbox.inject("remove", delay=0.5, times=1)  # the first press is still at work...
    [confirm] = [b for row in question["reply_markup"]["inline_keyboard"] for b in row][:1]
    [other] = [
        b["callback_data"]
        for row in question["reply_markup"]["inline_keyboard"]
        for b in row
        if b["text"] == second
    ]
    first_press = fake.press(ADMIN, question, confirm["callback_data"])
    second_press = fake.press(ADMIN, question, other)  # ...when the second one comes
    answers_ = await eventually(
        lambda: (
            len(found := fake.calls("answerCallbackQuery")) == 2
            and {c.params["callback_query_id"]: c.params.get("text") for c in found}
        )
    )
    assert answers_ == {first_press: "Done.", second_press: "Already done."}
    assert role(sandbox) == "absent"
    edits = [c.params["text"] for c in fake.calls("editMessageText")]
    assert len(edits) == 1 and "already used" not in edits[0]
