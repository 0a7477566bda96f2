"""The `grouppilot` command line, run as real subprocesses."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import httpx
from conftest import clean_env

from bot.store import Store

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"


def grouppilot(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def test_check_example_config_exits_0() -> None:
    result = grouppilot("check", "--config", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "morning-sales" in result.stdout
    assert "-03:00" in result.stdout  # next runs shown in the job's zone


def test_check_names_every_problem_and_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(
        "[pilot]\n"
        'base_url = "https://pilotstatus.com.br"\n'
        "[[jobs]]\n"
        'name = "morning"\n'
        'kind = "broadcast"\n'
        'cron = "0 9 * * funday"\n'
        'targets = ["all"]\n'
        'text = "Hi {nome}"\n'
    )
    result = grouppilot("check", "--config", str(config))
    assert result.returncode == 2
    assert "pilot.api_key" in result.stderr
    assert "jobs[0] (morning).cron" in result.stderr
    assert "{nome}" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_missing_file_exits_2(tmp_path: Path) -> None:
    result = grouppilot("check", "--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert "nope.toml" in result.stderr


def test_secret_from_env_never_printed() -> None:
    secret = "ps_live_VERY_SECRET_42"
    result = grouppilot(
        "check",
        "--config",
        str(EXAMPLE),
        env={
            "GROUPPILOT_PILOT__BASE_URL": "https://pilotstatus.com.br",
            "GROUPPILOT_PILOT__API_KEY": secret,
        },
    )
    assert result.returncode == 0, result.stderr
    assert "pilotstatus.com.br" in result.stdout
    assert secret not in result.stdout + result.stderr


def test_sandbox_command_serves_demo_groups(unused_tcp_port: int) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "sandbox", "--port", str(unused_tcp_port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert f"http://127.0.0.1:{unused_tcp_port}" in line
        url = f"http://127.0.0.1:{unused_tcp_port}/v1/groups"
        groups = httpx.get(url, headers={"x-api-key": "x"}, timeout=5).json()["groups"]
        assert {"id": "120363123456789012@g.us", "name": "Sales Team"} in groups
        assert httpx.get(url, timeout=5).status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0


async def test_client_from_settings_uses_in_process_sandbox() -> None:
    from bot.config import load_config
    from bot.runtime import client_from_settings
    from bot.sandbox import Sandbox

    settings = load_config(EXAMPLE)
    assert settings.pilot.is_sandbox
    sandbox = Sandbox()
    async with client_from_settings(settings.pilot, sandbox=sandbox) as client:
        sent = await client.send_text(settings.groups["sales"], "hello")
    assert [m.id for m in sandbox.sent_messages] == [sent.id]


def test_a_clean_run_stop_leaves_everything_in_the_database_file(tmp_path: Path) -> None:
    """After a clean stop the write-ahead log is empty: deleting it loses nothing.

    Another connection stays open meanwhile (a backup tool, an ``exec``), so
    SQLite's own checkpoint of the last connection to close does not happen.
    """
    db = tmp_path / "grouppilot.db"
    config = tmp_path / "grouppilot.toml"
    config.write_text(f'[pilot]\nbase_url = "sandbox"\n[storage]\npath = "{db}"\n')
    Store(db).close()
    with closing(sqlite3.connect(db)) as other:
        other.execute("SELECT count(*) FROM audit_log").fetchone()
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
            input="/groups\n/status\n/groups sales\n",
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            env=clean_env(),
        )
        assert result.returncode == 0, result.stderr
        wal = tmp_path / "grouppilot.db-wal"
        assert not wal.exists() or wal.stat().st_size == 0
        shutil.copy(db, tmp_path / "alone.db")  # the database file without its log
    with Store(tmp_path / "alone.db") as alone:
        commands = [entry.command for entry in reversed(alone.recent_audit(10))]
    assert commands == ["/groups", "/status", "/groups sales"]


def test_sandbox_with_an_option_out_of_range_says_so_in_one_line() -> None:
    result = grouppilot("sandbox", "--groups", "20000")
    assert result.returncode == 2
    assert result.stderr.strip() == "grouppilot sandbox: groups must be between 0 and 10000"


def test_sandbox_on_a_taken_port_says_so_in_one_line() -> None:
    import socket

    with closing(socket.socket()) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = grouppilot("sandbox", "--port", str(port))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
