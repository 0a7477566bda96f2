"""The single-instance lock: in process, and between real `grouppilot run` processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import clean_env

from bot.lock import AlreadyRunning, InstanceLock, lock_path_for

ROOT = Path(__file__).resolve().parent.parent


def write_config(tmp_path: Path) -> tuple[Path, Path]:
    config = tmp_path / "grouppilot.toml"
    db = tmp_path / "grouppilot.db"
    config.write_text(f'[pilot]\nbase_url = "sandbox"\n[storage]\npath = {json.dumps(str(db))}\n')
    return config, db


def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=clean_env(),
    )


def start_bot(config: Path) -> subprocess.Popen[str]:
    """`run` with its console waiting on an open stdin (it stops at EOF)."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=clean_env(),
    )


def wait_until_locked(db: Path, process: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate(timeout=10)
        try:
            with InstanceLock(db):
                pass
        except AlreadyRunning:
            return
        time.sleep(0.05)
    raise AssertionError("the bot never took the lock")


def stop(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(input="", timeout=30)  # EOF: the console stops
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    return process.returncode, out, err


def test_lock_file_is_beside_the_storage(tmp_path: Path) -> None:
    assert lock_path_for(tmp_path / "gp.db") == tmp_path / "gp.db.lock"


def test_second_lock_on_the_same_storage_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "gp.db"  # a missing directory is created
    with InstanceLock(db) as first:
        assert first.held
        assert (tmp_path / "sub" / "gp.db.lock").read_text().strip() == str(os.getpid())
        with pytest.raises(AlreadyRunning) as caught:
            InstanceLock(db).acquire()
        message = str(caught.value)
        assert message.startswith(f"grouppilot is already running with storage {db}")
        assert f"pid {os.getpid()}" in message
        with InstanceLock(tmp_path / "other.db"):
            pass  # another storage is another lock
    with InstanceLock(db):
        pass  # released on exit


def test_second_run_on_the_same_storage_exits_1(tmp_path: Path) -> None:
    config, db = write_config(tmp_path)
    first = start_bot(config)
    try:
        wait_until_locked(db, first)
        second = cli("run", "--config", str(config))
        assert second.returncode == 1
        assert "already running" in second.stderr
        assert str(db) in second.stderr
        assert "Traceback" not in second.stderr
        assert second.stdout == ""
    finally:
        code, _, err = stop(first)
    assert code == 0, err


def test_exec_runs_beside_a_running_bot(tmp_path: Path) -> None:
    config, db = write_config(tmp_path)
    bot = start_bot(config)
    try:
        wait_until_locked(db, bot)
        result = cli("exec", "--config", str(config), "/groups")
        assert result.returncode == 0, result.stderr
        assert "Sales Team" in result.stdout
    finally:
        code, _, err = stop(bot)
    assert code == 0, err


def test_a_killed_run_leaves_no_blocking_lock(tmp_path: Path) -> None:
    config, db = write_config(tmp_path)
    bot = start_bot(config)
    try:
        wait_until_locked(db, bot)
        bot.send_signal(signal.SIGKILL)
        bot.wait(timeout=10)
    finally:
        if bot.poll() is None:
            bot.kill()
        bot.communicate(timeout=10)
    assert lock_path_for(db).exists()  # left behind, but no longer locked
    restarted = cli("run", "--config", str(config), stdin="/groups\n")
    assert restarted.returncode == 0, restarted.stderr
    assert "Sales Team" in restarted.stdout
