"""`grouppilot run` with a Telegram token, as a real subprocess against the fake Bot API.

With a token the console is off (stdin ignored), commands come from Telegram,
SIGTERM stops cleanly with exit 0; a rejected token or an unreachable Bot API
stops start-up with exit 1 and one clear line; the token never appears.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import clean_env
from fake_bot_api import TOKEN, FakeBotApi, user

ROOT = Path(__file__).resolve().parent.parent
ADMIN = user(1001, "ana")
CHANNEL = -1001000000001
SECRET = TOKEN.split(":")[1]


def write_config(tmp_path: Path, api_base_url: str) -> Path:
    config = tmp_path / "grouppilot.toml"
    config.write_text(
        "[pilot]\n"
        'base_url = "sandbox"\n'
        "max_rps = 100\n"
        "[telegram]\n"
        f"api_base_url = {json.dumps(api_base_url)}\n"
        f"admin_chats = [{CHANNEL}]\n"
        f"admins = [{ADMIN['id']}]\n"
        "[storage]\n"
        f"path = {json.dumps(str(tmp_path / 'grouppilot.db'))}\n"
        "[groups]\n"
        'sales = "120363123456789012@g.us"\n'
    )
    return config


def env_with_token() -> dict[str, str]:
    return clean_env(GROUPPILOT_TELEGRAM__TOKEN=TOKEN)


class Bot:
    """A `grouppilot run` subprocess; stdout and stderr collected by threads."""

    def __init__(self, config: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env_with_token(),
        )
        self.out: list[str] = []
        self.err: list[str] = []
        assert self.process.stdout is not None and self.process.stderr is not None
        self._pumps = [
            threading.Thread(target=self._pump, args=(stream, sink), daemon=True)
            for stream, sink in ((self.process.stdout, self.out), (self.process.stderr, self.err))
        ]
        for pump in self._pumps:
            pump.start()

    @staticmethod
    def _pump(stream: Any, sink: list[str]) -> None:
        for line in stream:
            sink.append(line)

    @property
    def stderr(self) -> str:
        return "".join(self.err)

    @property
    def stdout(self) -> str:
        return "".join(self.out)

    def finish(self, timeout: float = 20) -> int:
        try:
            return self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            for pump in self._pumps:
                pump.join(timeout=5)
            for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
                if stream is not None and not stream.closed:
                    stream.close()


def wait_until(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout} s")


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    with FakeBotApi() as api:
        api.add_chat(CHANNEL, "channel", "Ops")
        yield api


def test_run_with_a_token_serves_telegram_and_stops_on_sigterm(
    fake: FakeBotApi, tmp_path: Path
) -> None:
    bot = Bot(write_config(tmp_path, fake.base_url))
    try:
        assert bot.process.stdin is not None
        bot.process.stdin.write("/groups\n")  # stdin is ignored with a token
        bot.process.stdin.close()
        wait_until(lambda: "Telegram front end started" in bot.stderr or bot.process.poll())
        assert bot.process.poll() is None, bot.stderr
        post = fake.channel_post(CHANNEL, "/groups sales")
        reply = wait_until(lambda: fake.sent(CHANNEL))
        assert "Sales Team" in reply[0]["text"]
        assert reply[0]["reply_to_message_id"] == post["message_id"]
        bot.process.send_signal(signal.SIGTERM)
        assert bot.finish() == 0, bot.stderr
    finally:
        bot.finish()
    assert bot.stdout == ""  # no console prompt, no reply printed
    assert "Telegram front end stopped" in bot.stderr
    assert TOKEN not in bot.stderr and SECRET not in bot.stderr
    assert "Traceback" not in bot.stderr
    assert fake.calls("setMyCommands")


def test_a_rejected_token_stops_start_up_without_showing_it(tmp_path: Path) -> None:
    with FakeBotApi(token="999:SomeOtherTokenTheServerKnows") as fake:
        bot = Bot(write_config(tmp_path, fake.base_url))
        assert bot.finish() == 1
    assert "Telegram rejected the bot token" in bot.stderr
    assert TOKEN not in bot.stderr + bot.stdout and SECRET not in bot.stderr
    assert "Traceback" not in bot.stderr


def test_an_unreachable_bot_api_stops_start_up_clearly(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bot = Bot(write_config(tmp_path, f"http://127.0.0.1:{port}/bot"))
    assert bot.finish() == 1
    assert "cannot reach the Telegram Bot API" in bot.stderr
    assert SECRET not in bot.stderr
    assert "Traceback" not in bot.stderr
