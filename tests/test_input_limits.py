"""Long input: commands are capped at 4,096 characters, replies quote input only as an excerpt.

A megabyte line used to block the event loop (shlex: seconds per megabyte,
the scheduler included) and replies echoed 100 KB inputs whole. The cap sits
in command parsing, where Telegram, the console and `exec` all pass. Real
command layer (real client to the sandbox in process, real SQLite), real
console over a pipe, real `grouppilot exec` subprocess.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import ADMIN, STRANGER, VIEWER, clean_env
from fake_bot_api import TOKEN, FakeBotApi, eventually, user
from scheduler_kit import Harness, HarnessFactory

from bot.commands.catalog import build_registry
from bot.commands.layer import CommandLayer
from bot.commands.parsing import ParseError, split_args, split_command
from bot.commands.types import Pending, Principal, Reply, Rights
from bot.config import Settings, TelegramSettings
from bot.console import Console, LineReader
from bot.durations import parse_duration
from bot.sandbox import SandboxServerThread
from bot.services import ResolveError
from bot.store import Store
from bot.telegram import TelegramFrontEnd
from bot.usertext import EXCERPT_LENGTH, MAX_COMMAND_CHARS
from jobs.schedule import CronSchedule, parse_at

ROOT = Path(__file__).resolve().parent.parent
REFUSAL = "Commands can be at most 4,096 characters long; nothing was run."
MEGABYTE = 1 << 20
SHORT_REPLY = 400  # a reply quoting input stays around this size, whatever was typed


def reply_of(outcome: Reply | Pending) -> Reply:
    assert isinstance(outcome, Reply), f"expected a Reply, got {outcome!r}"
    return outcome


def assert_quoted_only_as_excerpt(text: str, typed: str) -> None:
    assert len(text) < SHORT_REPLY, text
    assert typed[: EXCERPT_LENGTH + 1] not in text
    assert "…" in text


# -- the cap --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "/send sales " + "x" * MEGABYTE,  # would send, if it ran
        '/group "' + "x" * MEGABYTE,  # an unclosed quote: shlex would say "check the quotes"
        "/help " + "a " * (MEGABYTE // 2),
        "/" + "x" * MEGABYTE,
        "x" * MEGABYTE,
        " " * MEGABYTE + "/help",
        "/send sales " + "x" * (MAX_COMMAND_CHARS - 11),  # one past the limit
    ],
    ids=["send", "unclosed-quote", "many-words", "long-name", "no-slash", "blanks", "4097"],
)
@pytest.mark.parametrize("principal", [ADMIN, VIEWER], ids=["admin", "viewer"])
async def test_a_line_past_the_limit_is_refused_before_parsing(
    layer: CommandLayer,
    sandbox_server: SandboxServerThread,
    store: Store,
    text: str,
    principal: Principal,
) -> None:
    assert len(text) > MAX_COMMAND_CHARS
    reply = reply_of(await layer.execute(text, principal))
    assert not reply.ok
    assert reply.text == REFUSAL
    assert sandbox_server.sandbox.requests == []
    assert sandbox_server.sandbox.sent_messages == []
    [row] = store.recent_audit(10)
    assert row.outcome == "unparseable"
    assert row.command == text[:1000]  # the audit log keeps 1,000 characters, as for any command
    assert row.detail == REFUSAL


async def test_a_line_at_the_limit_is_read(
    layer: CommandLayer, sandbox_server: SandboxServerThread
) -> None:
    text = "/send sales " + "x" * (MAX_COMMAND_CHARS - 12)
    assert len(text) == MAX_COMMAND_CHARS
    reply = reply_of(await layer.execute(text, ADMIN))
    assert reply.ok, reply.text
    [message] = sandbox_server.sandbox.sent_messages
    assert message.text == "x" * (MAX_COMMAND_CHARS - 12)


async def test_a_stranger_gets_silence_even_for_a_huge_line(
    layer: CommandLayer, store: Store
) -> None:
    outcome = await layer.execute("/help " + "x" * MEGABYTE, STRANGER)
    assert outcome.silent
    [row] = store.recent_audit(10)
    assert row.outcome.startswith("denied")
    assert len(row.command) == 1000


@pytest.mark.parametrize("free", [None, 1, 3])
def test_split_args_never_shlexes_past_the_limit(free: int | None) -> None:
    with pytest.raises(ParseError) as caught:
        split_args('"' + "x" * MEGABYTE, free_text_after=free)
    assert str(caught.value) == REFUSAL


def test_split_command_refuses_past_the_limit() -> None:
    with pytest.raises(ParseError) as caught:
        split_command("/help" + " x" * MAX_COMMAND_CHARS)
    assert str(caught.value) == REFUSAL


async def test_console_refuses_a_megabyte_line_and_goes_on(layer: CommandLayer) -> None:
    read_end, write_end = os.pipe()
    data = ("/send sales " + "x" * (8 * MEGABYTE) + "\n/help\n").encode()

    def write() -> None:
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(data)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    out = io.StringIO()
    try:
        await Console(layer, lines=LineReader(read_end), out=out).run()
    finally:
        writer.join(timeout=10)
        os.close(read_end)
    printed = out.getvalue()
    assert REFUSAL in printed
    assert "Commands you can use:" in printed  # the next line still runs
    assert len(printed) < 4000


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_telegram_refuses_an_overlong_message(
    settings: Settings, layer: CommandLayer, sandbox_server: SandboxServerThread, store: Store
) -> None:
    # Telegram itself stops at 4,096 characters; the bot does not rely on it.
    admin = user(1001, "ana")
    with FakeBotApi() as fake:
        telegram = TelegramSettings(token=TOKEN, api_base_url=fake.base_url, admins=[admin["id"]])
        frontend = TelegramFrontEnd(telegram, layer, poll_timeout=1.0)
        await frontend.start()
        try:
            asked = fake.private_message(admin, "/send sales " + "x" * 5_000)
            answer = await eventually(
                lambda: [m for m in fake.sent(admin["id"]) if m.get("reply_to_message_id")]
            )
        finally:
            await frontend.stop()
    assert [m["text"] for m in answer] == [REFUSAL]
    assert answer[0]["reply_to_message_id"] == asked["message_id"]
    assert sandbox_server.sandbox.sent_messages == []
    [row] = store.recent_audit(10)
    assert row.outcome == "unparseable"


def test_exec_refuses_a_long_argument(tmp_path: Path) -> None:
    config = tmp_path / "grouppilot.toml"
    db = tmp_path / "grouppilot.db"
    config.write_text(f'[pilot]\nbase_url = "sandbox"\n[storage]\npath = {json.dumps(str(db))}\n')
    text = "/send all " + "x" * 100_000  # under the OS limit for one argument (128 KiB)
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "exec", "--config", str(config), "--yes", text],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=clean_env(),
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout == REFUSAL + "\n"


# -- replies quote input as an excerpt -------------------------------------------------------------

LONG = "q" * 4000  # within the cap: the longest word a command can carry


@pytest.mark.parametrize(
    "text",
    [
        f"/{LONG}",  # unknown command
        f"/help {LONG}",  # unknown command in /help
        f"/1{LONG}",  # not a command name
        f"/group {LONG}",  # no such group
        f"/group Z{LONG}",
        f"/send {LONG} hello",  # no such target
        f"/alias {LONG.upper()} sales",  # not an alias name
        f"/unalias {LONG}",  # no such runtime alias
        f"/add sales 12ab{LONG}",  # not a phone number
        f"/log {LONG}",
        f"/group {'9' * 4000}",  # digits: read as a group id when they look like one
        f"/send {'9' * 4000} hello",
        f"/send {'9' * (EXCERPT_LENGTH + 1)} hello",
        f"/group {'x' * 4000}@g.us",
        f"/send {'x' * 4000}@g.us hello",
    ],
)
async def test_replies_quote_long_input_as_an_excerpt(
    layer: CommandLayer, sandbox_server: SandboxServerThread, store: Store, text: str
) -> None:
    reply = reply_of(await layer.execute(text, ADMIN))
    assert not reply.ok
    assert not reply.text.startswith("Internal error"), reply.text
    assert len(reply.text) < SHORT_REPLY, reply.text
    for long_run in (LONG, "9" * (EXCERPT_LENGTH + 1), "x" * 4000):
        assert long_run[: EXCERPT_LENGTH + 1] not in reply.text


@pytest.fixture
async def bot(make_harness: HarnessFactory) -> Harness:
    return await make_harness([]).start()


@pytest.mark.parametrize(
    "text",
    [
        f"/job {LONG}",
        f"/pause {LONG}",
        f"/resume {LONG}",
        f"/run {LONG}",
        f"/unschedule {LONG}",
        f"/schedule promo every {LONG} send sales Hi",
        f"/schedule promo every 1{LONG} send sales Hi",
        f'/schedule promo "0 9 * * {LONG}" send sales Hi',
        f'/schedule promo "{LONG} 9 * * *" send sales Hi',
        f'/schedule promo "0 9 * * 1-{LONG}" send sales Hi',
        f"/schedule promo at {LONG} send sales Hi",
        f"/schedule promo {LONG} send sales Hi",
        f"/schedule promo every 1h send {LONG} Hi",
        f"/schedule promo every 1h reset-invite vip {LONG}",
        f"/schedule {LONG.upper()} every 1h send sales Hi",  # not a job name
        f"/schedule {LONG}! every 1h send sales Hi",
    ],
)
async def test_job_command_replies_quote_long_input_as_an_excerpt(bot: Harness, text: str) -> None:
    reply = reply_of(await bot.layer.execute(text, ADMIN))
    assert not reply.ok
    assert not reply.text.startswith("Internal error"), reply.text
    assert len(reply.text) < SHORT_REPLY, reply.text
    assert LONG[: EXCERPT_LENGTH + 1] not in reply.text
    assert bot.scheduler.book.all() == []  # nothing was scheduled


async def test_log_shows_each_command_as_an_excerpt(layer: CommandLayer) -> None:
    for _ in range(5):
        await layer.execute(f"/group {LONG}", ADMIN)
    reply = reply_of(await layer.execute("/log 5", VIEWER))
    assert reply.ok
    lines = reply.text.splitlines()
    assert len(lines) == 5
    assert all(len(line) < 200 for line in lines), lines
    assert all("/group qqq" in line and "…" in line for line in lines)


# -- 100 KB words, straight to the parts that quote them ------------------------------------------

HUGE = "z" * 100_000


def test_unknown_command_text_quotes_an_excerpt() -> None:
    text = build_registry().unknown_text(HUGE, Rights.ADMIN)
    assert_quoted_only_as_excerpt(text, HUGE)


async def test_resolve_quotes_an_excerpt(layer: CommandLayer) -> None:
    for resolve in (layer.directory.resolve_group, layer.directory.resolve_target):
        with pytest.raises(ResolveError) as caught:
            await resolve(HUGE)
        assert_quoted_only_as_excerpt(str(caught.value), HUGE)


@pytest.mark.parametrize(
    "parse",
    [
        parse_duration,
        lambda text: parse_duration("1" + text),
        lambda text: parse_at(text),
        lambda text: CronSchedule(f"0 9 * * {text}", ZoneInfo("UTC")),
        lambda text: CronSchedule(f"{text} 9 * * *", ZoneInfo("UTC")),
        lambda text: CronSchedule(" ".join([text] * 6), ZoneInfo("UTC")),
    ],
    ids=["duration", "duration-unit", "at", "weekday", "minute", "fields"],
)
def test_schedule_errors_quote_an_excerpt(parse: Callable[[str], object]) -> None:
    with pytest.raises(ValueError) as caught:
        parse(HUGE)
    assert_quoted_only_as_excerpt(str(caught.value), HUGE)


# -- what is quoted is one line, without control characters ---------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "/x\x1b[2J",  # not a command name
        '/group "a\x1b[2Jb"',
        '/group "line one\nline two"',
        '/alias "\x07\u202e" sales',
        '/unalias "\x1b]0;owned\x07"',
        '/add sales "12\x1bab"',
    ],
)
async def test_quoted_input_has_no_control_characters(layer: CommandLayer, text: str) -> None:
    reply = reply_of(await layer.execute(text, ADMIN))
    assert not reply.ok
    assert "\n" not in reply.text
    assert not any(ch in reply.text for ch in "\x1b\x07\u202e"), reply.text


async def test_log_shows_each_command_on_one_line(layer: CommandLayer) -> None:
    await layer.execute("/send nosuch line one\nline two\x1b[2J", ADMIN)
    reply = reply_of(await layer.execute("/log", VIEWER))
    [line] = reply.text.splitlines()
    assert "/send nosuch line one\\nline two\\x1b[2J -> failed" in line


@pytest.mark.parametrize("needle", [LONG, "zz\x1b[2Jq\x9b"])
async def test_groups_filter_is_quoted_as_a_short_clean_excerpt(
    layer: CommandLayer, needle: str
) -> None:
    reply = reply_of(await layer.execute(f"/groups {needle}", VIEWER))
    assert reply.text.startswith("No group matches")
    assert len(reply.text) < SHORT_REPLY, reply.text
    assert LONG[: EXCERPT_LENGTH + 1] not in reply.text
    assert not any(ch in reply.text for ch in "\x1b\x9b"), reply.text
