"""Commands through Telegram: injection-to-reply latency, beside the in-process figure.

The real PTB Application (`bot.telegram.TelegramFrontEnd`) long-polls the
fake Bot API of the tests (tests/fake_bot_api.py, imported by path) on
127.0.0.1; the command layer talks to the in-process sandbox (zero API
latency) and a real SQLite file. 300 mixed commands (/group, /promote,
/invite, in turn) are injected one at a time as private messages of an
admin; latency is from the injection to the bot's first message answering
it (polled every millisecond, bounded). The in-process figure runs the
same commands straight through the command layer. Targets: p50 <= 15 ms,
p95 <= 40 ms.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import Options, Row, absolute, percentile

TESTS = Path(__file__).resolve().parent.parent / "tests"
EXAMPLE = TESTS.parent / "config.example.toml"
ADMIN_ID = 1001
COMMANDS = ("/group sales", "/promote sales 5511933334444", "/invite sales")
WAIT = 5.0  # seconds: a reply slower than this fails the row


def fake_bot_api() -> Any:
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    import fake_bot_api

    return fake_bot_api


async def measure(folder: Path, count: int) -> tuple[list[float], list[float]]:
    from bot.commands.types import Principal, Rights
    from bot.config import TelegramSettings, load_config
    from bot.runtime import build_commands, client_from_settings
    from bot.sandbox import Sandbox
    from bot.store import Store
    from bot.telegram import TelegramFrontEnd

    fake_module = fake_bot_api()
    settings = load_config(EXAMPLE).model_copy(deep=True)
    settings.storage.path = folder / "telegram.db"
    # Zero API latency means the example's rate cap (max_rps = 5) must not be
    # what is measured: this row is about the bot's own overhead.
    settings.pilot.max_rps = 1000
    settings.pilot.concurrency = 16
    admin = fake_module.user(ADMIN_ID, "ana")
    principal = Principal(chat="bench", who="user:1", rights=Rights.ADMIN)
    through: list[float] = []
    direct: list[float] = []
    with fake_module.FakeBotApi() as fake:
        telegram = TelegramSettings(
            token=fake_module.TOKEN, api_base_url=fake.base_url, admins=[ADMIN_ID]
        )
        async with client_from_settings(settings.pilot, sandbox=Sandbox()) as client:
            with Store(settings.storage.path) as store:
                layer = build_commands(settings, client=client, store=store)
                front = TelegramFrontEnd(telegram, layer, poll_timeout=1.0, stop_grace=0.2)
                await front.start()
                try:
                    for i in range(count):
                        text = COMMANDS[i % len(COMMANDS)]
                        message = fake.private_message(admin, text)
                        began = time.perf_counter()
                        deadline = time.monotonic() + WAIT
                        while not any(
                            m.get("reply_to_message_id") == message["message_id"]
                            for m in fake.sent(ADMIN_ID)
                        ):
                            if time.monotonic() > deadline:
                                raise RuntimeError(f"no reply to {text!r} within {WAIT:g} s")
                            await asyncio.sleep(0.001)
                        through.append((time.perf_counter() - began) * 1000)
                finally:
                    await front.stop()
                for i in range(min(count, 60)):  # bounded: the slow commands dominate
                    began = time.perf_counter()
                    await layer.execute(COMMANDS[i % len(COMMANDS)], principal)
                    direct.append((time.perf_counter() - began) * 1000)
    return through, direct


def rows(options: Options) -> list[Row]:
    count = options.size(300, 9)
    p50: list[float] = []
    p95: list[float] = []
    inproc50: list[float] = []
    inproc95: list[float] = []
    for _ in range(1):  # one repetition: 300 commands already take a minute
        with tempfile.TemporaryDirectory() as temp:
            through, direct = asyncio.run(measure(Path(temp), count))
        p50.append(percentile(through, 50))
        p95.append(percentile(through, 95))
        inproc50.append(percentile(direct, 50))
        inproc95.append(percentile(direct, 95))
    name = f"{count} commands via Telegram, injection to reply"
    return [
        absolute(
            f"{name} p50",
            "ms",
            p50,
            target=15.0,
            floor=statistics.median(inproc50),
            floor_name="in-process p50",
        ),
        absolute(
            f"{name} p95",
            "ms",
            p95,
            target=40.0,
            floor=statistics.median(inproc95),
            floor_name="in-process p95",
        ),
    ]
