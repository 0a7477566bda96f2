"""The console front end of `grouppilot run`: real subprocesses driven through stdin.

Each test writes a config in tmp_path (in-process sandbox, storage in
tmp_path), runs `python -m bot.cli run`, and checks stdout, the exit code
and, after the process ended, the audit log in the same SQLite file.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import clean_env

from bot.console import CONFIRM_PROMPT, PROMPT, Console
from bot.store import AuditEntry, Store

ROOT = Path(__file__).resolve().parent.parent
SALES = "120363123456789012@g.us"
LINK = re.compile(r"https://chat\.whatsapp\.com/\S+")


def write_config(tmp_path: Path) -> Path:
    config = tmp_path / "grouppilot.toml"
    db = tmp_path / "data" / "grouppilot.db"
    config.write_text(
        "[pilot]\n"
        'base_url = "sandbox"\n'
        "max_rps = 100\n"
        "[storage]\n"
        f"path = {json.dumps(str(db))}\n"
        "[groups]\n"
        f'sales = "{SALES}"\n'
    )
    return config


def db_of(tmp_path: Path) -> Path:
    return tmp_path / "data" / "grouppilot.db"


def run_console(
    config: Path, stdin: str, *, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env or clean_env(),
    )


def audit_of(db: Path) -> list[AuditEntry]:
    with Store(db) as store:
        return list(reversed(store.recent_audit(100)))


class Watched:
    """A `run` subprocess whose stdout is collected by a thread (bounded waits)."""

    def __init__(self, *args: str, stdin: int = subprocess.PIPE) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", *args],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=clean_env(),
        )
        self.out = ""
        self.err = ""
        self._lock = threading.Lock()
        assert self.process.stdout is not None and self.process.stderr is not None
        for stream, name in ((self.process.stdout, "out"), (self.process.stderr, "err")):
            threading.Thread(target=self._pump, args=(stream, name), daemon=True).start()

    def _pump(self, stream: io.TextIOBase, name: str) -> None:
        while chunk := stream.read(1):
            with self._lock:
                setattr(self, name, getattr(self, name) + chunk)

    def wait_for(self, text: str, *, stream: str = "out", timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if text in getattr(self, stream):
                    return
            if self.process.poll() is not None:
                time.sleep(0.2)  # let the pumps drain
                break
            time.sleep(0.02)
        raise AssertionError(f"{text!r} not seen on std{stream}: {self.out!r} / {self.err!r}")

    def finish(self, timeout: float = 30) -> int:
        try:
            return self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=10)
            time.sleep(0.1)


def test_scripted_session_with_confirmations(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    script = (
        "/groups\n"
        "\n"
        "   \n"
        "/invite sales\n"
        "/invite sales reset\n"
        "y\n"
        "/remove sales 5511933334444\n"
        "n\n"
        "/group sales\n"
    )
    result = run_console(config, script)

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    out = result.stdout
    assert out.startswith(PROMPT)
    for name in ("Sales Team", "Sales Rio", "Support", "VIP Customers"):
        assert name in out
    assert out.count(CONFIRM_PROMPT) == 2
    links = LINK.findall(out)
    # current link, the same link in the question, then the new one after "y"
    assert len(links) == 3
    assert links[0] == links[1] != links[2]
    assert "Cancelled" in out
    assert out.rstrip().endswith(PROMPT.rstrip())  # EOF: the last prompt, then a newline
    group_listing = out.split("Cancelled", 1)[1]
    assert "5511933334444" in group_listing  # "n" removed nobody

    entries = [(e.chat, e.who, e.command, e.outcome) for e in audit_of(db_of(tmp_path))]
    operator = ("console", "local operator")
    assert (*operator, "/groups", "ok") in entries
    assert (*operator, "/invite sales reset", "awaiting confirmation") in entries
    assert (*operator, "/invite sales reset", "confirmed: ok") in entries
    assert (*operator, "/remove sales 5511933334444", "cancelled") in entries
    assert not any(
        c == "/remove sales 5511933334444" and o.startswith("confirmed") for *_, c, o in entries
    )
    assert len(entries) == 7  # blank lines are not commands


def test_eof_stops_cleanly(tmp_path: Path) -> None:
    result = run_console(write_config(tmp_path), "")
    assert result.returncode == 0, result.stderr
    assert result.stdout == PROMPT + "\n"
    assert "started: sandbox" in result.stderr
    assert "Traceback" not in result.stderr
    assert audit_of(db_of(tmp_path)) == []


def test_eof_while_asking_cancels(tmp_path: Path) -> None:
    result = run_console(write_config(tmp_path), "/remove sales 5511933334444\n")
    assert result.returncode == 0, result.stderr
    assert CONFIRM_PROMPT in result.stdout
    assert "Cancelled" in result.stdout
    outcomes = [e.outcome for e in audit_of(db_of(tmp_path))]
    assert outcomes == ["awaiting confirmation", "cancelled"]


def test_failed_commands_keep_the_console_going(tmp_path: Path) -> None:
    result = run_console(write_config(tmp_path), "/add sales 12ab\n/frobnicate\n/groups\n")
    assert result.returncode == 0, result.stderr
    assert "12ab" in result.stdout
    assert "frobnicate" in result.stdout
    assert "VIP Customers" in result.stdout


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly(tmp_path: Path, signum: signal.Signals) -> None:
    bot = Watched("run", "--config", str(write_config(tmp_path)))
    bot.wait_for(PROMPT)
    bot.process.send_signal(signum)
    assert bot.finish() == 0, bot.err
    assert "Traceback" not in bot.err
    assert "stopped" in bot.err


def test_no_console_ignores_stdin_and_waits_for_sigterm(tmp_path: Path) -> None:
    bot = Watched(
        "run", "--config", str(write_config(tmp_path)), "--no-console", stdin=subprocess.DEVNULL
    )
    bot.wait_for("no console", stream="err")
    time.sleep(0.5)
    assert bot.process.poll() is None  # EOF on stdin does not stop it
    bot.process.send_signal(signal.SIGTERM)
    assert bot.finish() == 0, bot.err
    assert PROMPT not in bot.out


def test_config_error_exits_2(tmp_path: Path) -> None:
    result = run_console(tmp_path / "missing.toml", "")
    assert result.returncode == 2
    assert "missing.toml" in result.stderr


# -- the Console class in process ----------------------------------------------------


class ScriptedLines:
    """A line source that hands out lines when the test releases them."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()

    async def readline(self) -> str | None:
        return await self.queue.get()


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_notify_keeps_the_waiting_prompt(layer, sandbox, store) -> None:
    lines, out = ScriptedLines(), io.StringIO()
    console = Console(layer, lines=lines, out=out)
    session = asyncio.create_task(console.run())
    await settle()
    assert out.getvalue() == PROMPT
    console.notify("morning-sales (09:00 America/Sao_Paulo): sent 2, failed 0, unknown 0")
    assert out.getvalue() == (
        PROMPT + "\nmorning-sales (09:00 America/Sao_Paulo): sent 2, failed 0, unknown 0\n" + PROMPT
    )
    await lines.queue.put("/remove sales 5511933334444")
    for _ in range(100):  # the layer reads the group over HTTP before asking
        if out.getvalue().endswith(CONFIRM_PROMPT):
            break
        await asyncio.sleep(0.01)
    console.notify("alert")
    assert out.getvalue().endswith("\n" + CONFIRM_PROMPT + "\nalert\n" + CONFIRM_PROMPT)
    await lines.queue.put("YES ")
    await lines.queue.put(None)
    await asyncio.wait_for(session, 5)
    assert "+5511933334444: removed" in out.getvalue()
    assert "5511933334444" not in sandbox.groups["120363123456789012@g.us"].participants
    assert [e.outcome for e in store.recent_audit(5)] == ["confirmed: ok", "awaiting confirmation"]


async def test_stop_event_ends_the_session_and_cancels_a_question(layer, sandbox, store) -> None:
    lines, out = ScriptedLines(), io.StringIO()
    stop = asyncio.Event()
    session = asyncio.create_task(Console(layer, lines=lines, out=out).run(stop))
    await lines.queue.put("/remove sales 5511933334444")
    for _ in range(100):
        if out.getvalue().endswith(CONFIRM_PROMPT):
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(session, 5)
    assert out.getvalue().endswith("Cancelled. Nothing was changed.\n")
    assert "5511933334444" in sandbox.groups["120363123456789012@g.us"].participants
    assert [e.outcome for e in store.recent_audit(5)] == ["cancelled", "awaiting confirmation"]


def test_closed_stdin_counts_as_end_of_input(tmp_path: Path) -> None:
    # With fd 0 closed, the lock or the database may be opened as fd 0:
    # the console must not read that file as commands.
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run", "--config", str(write_config(tmp_path))],
        stdin=subprocess.DEVNULL,
        preexec_fn=lambda: os.close(0),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=clean_env(),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == PROMPT + "\n"
    assert audit_of(db_of(tmp_path)) == []
