"""Done means, for ad-hoc broadcasts: a `/send` to 300 groups never blocks the bot.

In process: the real PTB `Application` polls the fake Bot API, the parts are
wired as `grouppilot run` wires them (`bot.runtime.build_parts`), the client
talks to a sandbox of 300 groups answering each request after 50 ms. The
`/send` is acknowledged within a second, a `/groups` sent right after it is
answered before the broadcast ends, one progress message is edited in place
and ends as the report, once.

As a real process: `grouppilot run` with a token (fake Bot API, sandbox served
over HTTP) is killed (SIGKILL) mid-broadcast and started again: no group gets
the message twice, every group is sent or reported unknown.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import clean_env
from fake_bot_api import TOKEN, FakeBotApi, eventually
from scheduler_kit import FakeTimer, write_config
from telegram_kit import ADMIN, CHANNEL, fake_world, reply_to, telegram_settings

from bot.config import Settings, load_config
from bot.runtime import Parts, build_parts
from bot.sandbox import Sandbox, SandboxServerThread
from bot.store import Store
from bot.telegram import TelegramFrontEnd
from bot.telegram.progress import ProgressMessages
from bot.whatsapp import WhatsAppClient
from jobs.records import ADHOC_JOB
from jobs.schema import ensure_schema

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

GROUP_COUNT = 300
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(groups=GROUP_COUNT, latency_ms=50)


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    with fake_world() as api:
        yield api


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    config = write_config(
        tmp_path / "grouppilot.toml", base_url="sandbox", db=tmp_path / "x.db", jobs=[],
        concurrency=8,
    )  # fmt: skip
    return load_config(config)


@pytest.fixture
def parts(settings: Settings, client: WhatsAppClient, store: Store) -> Parts:
    ensure_schema(store.db)
    built = build_parts(settings, client=client, store=store, timer=FakeTimer())
    built.scheduler.adhoc.progress_every = 0.2  # progress counts read often...
    return built


@pytest.fixture
async def front(fake: FakeBotApi, parts: Parts) -> AsyncIterator[TelegramFrontEnd]:
    started = TelegramFrontEnd(
        telegram_settings(fake),
        parts.commands,
        poll_timeout=1.0,
        stop_grace=0.2,
        progress_every=0.4,  # ...and the message edited at most every 0.4 s
    )
    await started.start()
    try:
        await parts.scheduler.start(started)
        yield started
    finally:
        await parts.scheduler.stop()
        await started.stop()


def buttons(message: dict[str, Any]) -> dict[str, str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return {b["text"]: b["callback_data"] for row in rows for b in row}


async def test_a_send_to_300_groups_answers_at_once_and_never_blocks_the_bot(
    fake: FakeBotApi, front: TelegramFrontEnd, parts: Parts, sandbox: Sandbox
) -> None:
    question = await reply_to(fake, fake.channel_post(CHANNEL, "/send all Hello {group}"))
    assert question["text"].startswith(f"Send to {GROUP_COUNT} groups")
    asked = time.monotonic()
    fake.press(ADMIN, question, buttons(question)["Confirm"])
    key = (CHANNEL, question["message_id"])
    answered = await eventually(
        lambda: "reply_markup" not in fake.messages[key] and fake.messages[key], timeout=5
    )
    assert time.monotonic() - asked < 1.0
    assert f"\n\nQueued to {GROUP_COUNT} groups, run #" in answered["text"]  # below the question
    [run] = parts.scheduler.ledger.runs(ADHOC_JOB)

    groups = await reply_to(fake, fake.channel_post(CHANNEL, "/groups"))
    assert groups["text"]
    finished = parts.scheduler.ledger.get_run(run.id)
    assert finished is not None and finished.outcome == "running"  # answered meanwhile
    assert len(sandbox.sent_messages) < GROUP_COUNT

    title = f"run #{run.id} "
    final = await eventually(
        lambda: [
            m for m in fake.sent(CHANNEL) if m["text"].startswith(title) and "…" not in m["text"]
        ],
        timeout=20,
    )
    [report] = final  # the final report arrives once...
    assert f"queued {GROUP_COUNT}, failed 0, unknown 0" in report["text"]
    progress = [m for m in fake.sent(CHANNEL) if m["text"].startswith(title)]
    assert progress == [report]  # ...in the one progress message
    edits = [
        c
        for c in fake.calls("editMessageText")
        if c.params.get("message_id") in (report["message_id"], str(report["message_id"]))
    ]
    assert len(edits) >= 2  # progress edited in place, then the report
    assert Counter(m.group_id for m in sandbox.sent_messages) == dict.fromkeys(sandbox.groups, 1)


# -- the progress message: one per run, edited at most every few seconds ---------------------


class Seconds:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_progress_is_one_message_edited_at_most_every_interval(
    fake: FakeBotApi, front: TelegramFrontEnd
) -> None:
    clock = Seconds()
    front.progress_messages = ProgressMessages(
        lambda: front.application.bot, min_interval=3.0, clock=clock
    )
    chat = f"telegram:{CHANNEL}"
    await front.progress(chat, "run-7", "run #7: 1 of 9 done…", False)
    [message] = fake.sent(CHANNEL)
    await front.progress(chat, "run-7", "run #7: 2 of 9 done…", False)  # too soon: dropped
    assert fake.calls("editMessageText") == []
    clock.now += 3.0
    await front.progress(chat, "run-7", "run #7: 5 of 9 done…", False)
    assert fake.sent(CHANNEL)[0]["text"] == "run #7: 5 of 9 done…"
    clock.now += 0.1
    await front.progress(chat, "run-7", "run #7: queued 9, failed 0, unknown 0", True)  # always
    clock.now += 10
    await front.progress(chat, "run-7", "run #7: 9 of 9 done…", False)  # after the report: no
    assert [m["text"] for m in fake.sent(CHANNEL)] == ["run #7: queued 9, failed 0, unknown 0"]
    assert fake.sent(CHANNEL)[0]["message_id"] == message["message_id"]
    assert len(fake.calls("editMessageText")) == 2


async def test_a_failed_edit_falls_back_to_a_new_message(
    fake: FakeBotApi, front: TelegramFrontEnd
) -> None:
    chat = f"telegram:{CHANNEL}"
    await front.progress(chat, "run-8", "run #8: 1 of 2 done…", False)
    fake.fail("editMessageText", status=400, description="Bad Request: message to edit not found")
    await front.progress(chat, "run-8", "run #8: queued 2, failed 0, unknown 0", True)
    assert [m["text"] for m in fake.sent(CHANNEL)] == [
        "run #8: 1 of 2 done…",
        "run #8: queued 2, failed 0, unknown 0",
    ]


# -- the real thing: killed mid-broadcast, started again -----------------------------------


def _config(tmp_path: Path, sandbox_url: str, bot_api: str) -> Path:
    config = tmp_path / "grouppilot.toml"
    config.write_text(
        "[pilot]\n"
        f"base_url = {json.dumps(sandbox_url)}\n"
        'api_key = "ps_test_key"\n'
        "max_rps = 200\n"
        "concurrency = 8\n"
        "[telegram]\n"
        f"api_base_url = {json.dumps(bot_api)}\n"
        f"admin_chats = [{CHANNEL}]\n"
        f"admins = [{ADMIN['id']}]\n"
        "[storage]\n"
        f"path = {json.dumps(str(tmp_path / 'grouppilot.db'))}\n"
    )
    return config


def _run_bot(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
        cwd=ROOT,
        env=clean_env(GROUPPILOT_TELEGRAM__TOKEN=TOKEN),
    )


def _wait(check: Any, timeout: float, what: str, process: subprocess.Popen[bytes]) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert process.poll() is None, f"the bot exited while waiting for {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)
    return value


def _sent(url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = httpx.get(f"{url}/_sandbox/state", timeout=5).json()[
        "sent_messages"
    ]
    return messages


def _run_row(db: Path) -> dict[str, Any] | None:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        try:
            row = conn.execute("SELECT * FROM job_runs WHERE job = ?", (ADHOC_JOB,)).fetchone()
        except sqlite3.OperationalError:
            return None
        return dict(row) if row else None


def test_a_killed_bot_resumes_the_send_without_duplicates(tmp_path: Path) -> None:
    sandbox = Sandbox(groups=GROUP_COUNT, latency_ms=50)
    with SandboxServerThread(sandbox) as server, fake_world() as fake:
        config = _config(tmp_path, server.url, fake.base_url)
        db = tmp_path / "grouppilot.db"
        log = tmp_path / "bot.log"
        first = _run_bot(config, log)
        try:
            post = fake.channel_post(CHANNEL, "/send all Hello {group}")
            question = _wait(
                lambda: [m for m in fake.sent(CHANNEL) if m.get("reply_to_message_id")
                         == post["message_id"]],
                30, "the question", first,
            )[0]  # fmt: skip
            fake.press(ADMIN, question, buttons(question)["Confirm"])
            _wait(lambda: len(_sent(server.url)) >= 40, 30, "the broadcast to start", first)
            assert len(_sent(server.url)) < GROUP_COUNT - 40, "too fast to interrupt"
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
        finally:
            if first.poll() is None:
                first.kill()
        before = len(_sent(server.url))
        assert before < GROUP_COUNT
        second = _run_bot(config, log)
        try:
            _wait(
                lambda: (row := _run_row(db)) is not None
                and row["outcome"] not in ("running", "interrupted"),
                60, "the resumed run to finish", second,
            )  # fmt: skip
            report = _wait(
                lambda: [m for m in fake.sent(CHANNEL)
                         if m["text"].startswith("run #1 ") and "…" not in m["text"]],
                10, "the report", second,
            )  # fmt: skip
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=30)
        per_group = Counter(m["group_id"] for m in _sent(server.url))
        assert max(per_group.values()) == 1, "a group got the message twice"
        with sqlite3.connect(db) as conn:
            states = dict(conn.execute("SELECT group_id, state FROM deliveries").fetchall())
        assert len(states) == GROUP_COUNT
        assert set(states.values()) <= {"sent", "unknown"}  # sent, or reported unknown
        assert {g for g, s in states.items() if s == "sent"} <= set(per_group)
        missing = set(states) - set(per_group)
        assert all(states[g] == "unknown" for g in missing)
        unknown = [g for g, s in states.items() if s == "unknown"]
        assert unknown, "killed mid-send: some requests were in flight"
        [text] = [m["text"] for m in report]
        assert f"unknown {len(unknown)}" in text.splitlines()[0]  # reported, each by name
        assert all(f"{g}): unknown INTERRUPTED" in text for g in unknown)
        assert len(_sent(server.url)) > before  # the rest went out after the restart
