"""`grouppilot exec "<command>"`: one command as the local operator, real subprocesses.

Commands that change state run against the sandbox served over HTTP
(`sandbox_server`), so the test can see what did or did not change.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

from conftest import clean_env

from bot.sandbox import SandboxServerThread
from bot.store import AuditEntry, Store

ROOT = Path(__file__).resolve().parent.parent
SALES = "120363123456789012@g.us"
MEMBER = "5511933334444"


def write_config(tmp_path: Path, base_url: str = "sandbox", api_key: str = "") -> Path:
    config = tmp_path / "grouppilot.toml"
    config.write_text(
        "[pilot]\n"
        f"base_url = {json.dumps(base_url)}\n"
        f"api_key = {json.dumps(api_key)}\n"
        "max_rps = 100\n"
        "[storage]\n"
        f"path = {json.dumps(str(tmp_path / 'grouppilot.db'))}\n"
        "[groups]\n"
        f'sales = "{SALES}"\n'
    )
    return config


def grouppilot_exec(
    config: Path, *args: str, stdin: int | None = subprocess.DEVNULL
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "exec", "--config", str(config), *args],
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=clean_env(),
    )


def audit_of(tmp_path: Path) -> list[AuditEntry]:
    with Store(tmp_path / "grouppilot.db") as store:
        return list(reversed(store.recent_audit(100)))


def served_config(tmp_path: Path, server: SandboxServerThread) -> Path:
    return write_config(tmp_path, base_url=server.url, api_key="ps_test")


def test_groups_prints_the_demo_groups(tmp_path: Path) -> None:
    result = grouppilot_exec(write_config(tmp_path), "/groups")
    assert result.returncode == 0, result.stderr
    for name in ("Sales Team", "Sales Rio", "Support", "VIP Customers"):
        assert name in result.stdout
    assert SALES in result.stdout
    assert result.stderr == ""  # exec logs only warnings and errors
    [entry] = audit_of(tmp_path)
    assert (entry.chat, entry.who, entry.command, entry.outcome) == (
        "exec",
        "local operator",
        "/groups",
        "ok",
    )


def test_bad_number_exits_1_and_names_it(tmp_path: Path) -> None:
    result = grouppilot_exec(write_config(tmp_path), "/add sales 12ab")
    assert result.returncode == 1
    assert "12ab" in result.stdout
    assert "Traceback" not in result.stderr


def test_unknown_and_unparseable_commands_exit_1(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    assert grouppilot_exec(config, "/frobnicate").returncode == 1
    assert grouppilot_exec(config, '/group "sales').returncode == 1


def test_config_error_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[pilot]\nbase_url = "https://pilotstatus.com.br"\n')
    result = grouppilot_exec(config, "/groups")
    assert result.returncode == 2
    assert "pilot.api_key" in result.stderr
    assert result.stdout == ""


def test_yes_confirms(tmp_path: Path, sandbox_server: SandboxServerThread) -> None:
    group = sandbox_server.sandbox.groups[SALES]
    assert MEMBER in group.participants
    result = grouppilot_exec(
        served_config(tmp_path, sandbox_server), "--yes", f"/remove sales {MEMBER}"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert MEMBER not in sandbox_server.sandbox.groups[SALES].participants
    assert "Remove" in result.stderr  # the question, for the record
    outcomes = [e.outcome for e in audit_of(tmp_path)]
    assert outcomes == ["awaiting confirmation", "confirmed: ok"]


def test_without_yes_and_no_terminal_is_refused(
    tmp_path: Path, sandbox_server: SandboxServerThread
) -> None:
    link = sandbox_server.sandbox.groups[SALES].invite_link
    config = served_config(tmp_path, sandbox_server)
    for command in (f"/remove sales {MEMBER}", "/invite sales reset"):
        result = grouppilot_exec(config, command)
        assert result.returncode == 1
        assert "--yes" in result.stderr
        assert "Traceback" not in result.stderr
    assert MEMBER in sandbox_server.sandbox.groups[SALES].participants
    assert sandbox_server.sandbox.groups[SALES].invite_link == link
    outcomes = [e.outcome for e in audit_of(tmp_path)]
    assert outcomes == ["awaiting confirmation", "cancelled"] * 2


def exec_on_terminal(config: Path, command: str, answer: str) -> subprocess.CompletedProcess[str]:
    """Run exec with a pseudo-terminal as stdin and type `answer` into it."""
    master, slave = pty.openpty()
    try:
        os.write(master, answer.encode() + b"\n")  # waits in the terminal until read
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", "exec", "--config", str(config), command],
            stdin=slave,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            env=clean_env(),
        )
    finally:
        os.close(slave)
        os.close(master)


def test_terminal_answer_yes_confirms(tmp_path: Path, sandbox_server: SandboxServerThread) -> None:
    config = served_config(tmp_path, sandbox_server)
    result = exec_on_terminal(config, f"/remove sales {MEMBER}", "y")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Confirm? [y/N] " in result.stderr
    assert MEMBER not in sandbox_server.sandbox.groups[SALES].participants


def test_terminal_answer_other_than_yes_cancels(
    tmp_path: Path, sandbox_server: SandboxServerThread
) -> None:
    config = served_config(tmp_path, sandbox_server)
    result = exec_on_terminal(config, f"/remove sales {MEMBER}", "sure")
    assert result.returncode == 1
    assert "Cancelled" in result.stdout
    assert MEMBER in sandbox_server.sandbox.groups[SALES].participants


LOADED_BY_EXEC = """
import runpy, sys
sys.argv = ["grouppilot", "exec", "--config", sys.argv[1], "/groups"]
try:
    runpy.run_module("bot.cli", run_name="__main__")
except SystemExit as exit:
    assert exit.code in (0, None), exit.code
print(" ".join(sorted(sys.modules)), file=sys.stderr)
"""


def test_exec_loads_neither_the_apscheduler_scheduler_nor_telegram(tmp_path: Path) -> None:
    # exec never starts the scheduler or Telegram: loading them only slows every call
    result = subprocess.run(
        [sys.executable, "-c", LOADED_BY_EXEC, str(write_config(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=clean_env(),
    )
    assert result.returncode == 0, result.stderr
    loaded = set(result.stderr.split())
    assert "bot.commands.layer" in loaded  # the command ran
    assert not {"apscheduler.schedulers.asyncio", "jobs.timer", "telegram"} & loaded
