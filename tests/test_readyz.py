"""``GET /readyz`` over real HTTP on 127.0.0.1, and the endpoint inside ``grouppilot run``.

Readiness is checked against the runtime's real parts (the store's file, the
scheduler, the Telegram front end polling the fake Bot API); `grouppilot run`
itself runs as a subprocess.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import clean_env
from fake_bot_api import FakeBotApi, eventually
from telegram_kit import fake_world, telegram_settings

from bot.config import Settings
from bot.config_service import HttpSettings
from bot.http.readiness import Readiness
from bot.runtime import Runtime
from bot.sandbox import Sandbox
from bot.services import ConnectionState, utc_now
from bot.store import Store
from bot.telegram import TelegramFrontEnd

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


class Told:
    async def notify(self, text: str) -> None:
        pass

    async def tell(self, chat: str, text: str) -> None:
        pass

    async def progress(self, chat: str, key: str, text: str, final: bool) -> None:
        pass


def with_http(settings: Settings, tmp_path: Path, **changes: Any) -> Settings:
    storage = settings.storage.model_copy(update={"path": tmp_path / "grouppilot.db"})
    return settings.model_copy(
        update={"http": HttpSettings(listen="127.0.0.1:8080"), "storage": storage, **changes}
    )


async def readyz(runtime: Runtime, polling: TelegramFrontEnd | None = None) -> Any:
    """Start the runtime's endpoint; a function answering (status, body) of /readyz."""
    endpoint = await runtime.start_http(polling=polling, port=0)

    async def ask() -> tuple[int, dict[str, Any]]:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{endpoint.bound_port}") as http:
            answer = await http.get("/readyz")
        return answer.status_code, answer.json()

    return ask


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    with fake_world() as api:
        yield api


async def test_ready_once_the_scheduler_runs_and_a_disconnected_number_stays_ready(
    settings: Settings, tmp_path: Path, sandbox: Sandbox
) -> None:
    async with Runtime(with_http(settings, tmp_path), sandbox=sandbox) as runtime:
        ask = await readyz(runtime)
        status, body = await ask()
        assert status == 503
        assert body["failing"] == ["scheduler"]
        assert body["checks"]["storage"] == {"ok": True}
        assert "telegram" not in body["checks"]  # no token: no such check
        await runtime.start_scheduler(Told())
        status, body = await ask()
        assert (status, body["ready"], body["failing"]) == (200, True, [])
        assert body["checks"]["whatsapp"]["connected"] is None  # nothing reported yet
        runtime.connection.report(False, source="webhook")
        status, body = await ask()
        assert status == 200  # a restart does not re-pair a phone: reported, still ready
        whatsapp = body["checks"]["whatsapp"]
        assert (whatsapp["ok"], whatsapp["connected"], whatsapp["source"]) == (
            True,
            False,
            "webhook",
        )
        await runtime.scheduler.stop()
        status, body = await ask()
        assert (status, body["failing"]) == (503, ["scheduler"])


async def test_not_ready_when_telegram_polling_stops(
    settings: Settings, tmp_path: Path, sandbox: Sandbox, fake: FakeBotApi
) -> None:
    tg = with_http(settings, tmp_path, telegram=telegram_settings(fake))
    async with Runtime(tg, sandbox=sandbox) as runtime:
        front = TelegramFrontEnd(tg.telegram, runtime.commands, poll_timeout=0.2)
        assert front.last_poll_ok is None
        await front.start()
        runtime.on_close(front.stop)
        await runtime.start_scheduler(front)
        ask = await readyz(runtime, polling=front)
        await eventually(lambda: front.last_poll_ok is not None)  # getUpdates answered
        status, body = await ask()
        assert status == 200, body
        assert body["checks"]["telegram"]["ok"] is True
        await front.stop_commands()  # polling stops ...
        grace = tg.monitor.polling_grace
        assert front.last_poll_ok is not None
        front.last_poll_ok = utc_now() - grace - timedelta(seconds=1)  # ... and the grace passes
        status, body = await ask()
        assert (status, body["ready"], body["failing"]) == (503, False, ["telegram"])
        assert body["checks"]["telegram"]["grace_seconds"] == grace.total_seconds()


async def test_not_ready_when_the_database_does_not_answer(tmp_path: Path) -> None:
    from bot.http import HttpEndpoint

    class Running:
        running = True

    store = Store(tmp_path / "grouppilot.db")
    readiness = Readiness(
        store=store,
        scheduler=Running(),
        connection=ConnectionState(),
        polling=None,
        polling_grace=timedelta(minutes=3),
    )
    endpoint = HttpEndpoint(host="127.0.0.1", port=0, routes=readiness.routes())
    await endpoint.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{endpoint.bound_port}") as http:
            assert (await http.get("/readyz")).status_code == 200
            store.close()
            answer = await http.get("/readyz")
        assert answer.status_code == 503
        assert answer.json()["checks"]["storage"] == {
            "ok": False,
            "detail": "the database does not answer",
        }
    finally:
        await endpoint.stop()


# -- grouppilot run ---------------------------------------------------------------------


def write_config(tmp_path: Path, listen: str) -> Path:
    config = tmp_path / "grouppilot.toml"
    config.write_text(
        f'[pilot]\nbase_url = "sandbox"\n[storage]\npath = "{tmp_path / "grouppilot.db"}"\n'
        f'[http]\nlisten = "{listen}"\n'
    )
    return config


def test_run_serves_the_endpoint_until_it_stops(tmp_path: Path, unused_tcp_port: int) -> None:
    config = write_config(tmp_path, f"127.0.0.1:{unused_tcp_port}")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=clean_env(),
    )
    try:
        base = f"http://127.0.0.1:{unused_tcp_port}"
        answer = None
        for _ in range(200):  # bounded: about 20 s at most
            try:
                answer = httpx.get(f"{base}/readyz", timeout=1.0)
                if answer.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                break
            time.sleep(0.1)
        assert answer is not None and answer.status_code == 200, process.poll()
        assert httpx.get(f"{base}/healthz", timeout=1.0).json() == {"status": "ok"}
        assert httpx.post(f"{base}/webhooks/pilot", timeout=1.0).status_code == 404  # no secret
        _, stderr = process.communicate(input="", timeout=30)  # EOF on the console: stop
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert "HTTP endpoint listening on 127.0.0.1" in stderr


def test_run_on_a_taken_address_says_so_in_one_line(tmp_path: Path) -> None:
    with closing(socket.socket()) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path, f"127.0.0.1:{port}")
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli", "run", "--no-console", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            env=clean_env(),
        )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = [ln for ln in result.stderr.splitlines() if "cannot listen" in ln]
    assert line.startswith(f"grouppilot: cannot listen on 127.0.0.1:{port}: ")


async def test_without_http_run_never_loads_the_server() -> None:
    """`exec` and a `run` without [http] do not import aiohttp's server (start-up time)."""
    code = (
        "import sys, bot.cli, bot.runtime;"
        "print(sorted(m for m in sys.modules if m.startswith(('aiohttp.web', 'bot.http'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.stdout.strip() == "[]", result.stderr
