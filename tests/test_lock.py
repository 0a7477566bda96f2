"""The single-instance lock: in process, and between real `grouppilot run` processes."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import clean_env

from bot.lock import AlreadyRunning, InstanceLock, lock_path_for
from bot.store import Store

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


# -- one database, several paths: the lock follows the file, not the spelling -------------


def _symlinked_file(tmp_path: Path, db: Path) -> Path:
    link = tmp_path / "elsewhere" / "link.db"
    link.parent.mkdir()
    link.symlink_to(db)
    return link


def _symlinked_directory(tmp_path: Path, db: Path) -> Path:
    alias = tmp_path / "alias"
    alias.symlink_to(db.parent, target_is_directory=True)
    return alias / db.name


def _dot_dot(tmp_path: Path, db: Path) -> Path:
    (db.parent / "sub").mkdir()
    return db.parent / "sub" / ".." / db.name


def _relative_from_another_cwd(tmp_path: Path, db: Path) -> Path:
    os.chdir(db.parent / "sub" if (db.parent / "sub").is_dir() else db.parent)
    return Path(db.name)


def _hard_link(tmp_path: Path, db: Path) -> Path:
    other = tmp_path / "other" / "hard.db"
    other.parent.mkdir()
    os.link(db, other)  # the database exists: the first lock created it
    return other


@pytest.mark.parametrize(
    "second_path",
    [_symlinked_file, _symlinked_directory, _dot_dot, _relative_from_another_cwd, _hard_link],
    ids=["symlinked-file", "symlinked-directory", "dot-dot", "relative-path", "hard-link"],
)
def test_another_path_to_the_same_database_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, second_path: Callable[[Path, Path], Path]
) -> None:
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "data" / "gp.db"
    Store(db).close()  # a database in use
    with InstanceLock(Path("data") / "gp.db"):  # relative to the first process's directory
        other = second_path(tmp_path, db)
        assert os.path.samefile(other, db)
        with pytest.raises(AlreadyRunning) as caught:
            InstanceLock(other).acquire()
        assert "grouppilot is already running with storage" in str(caught.value)
    with InstanceLock(other):
        pass  # released with the first holder


def test_a_hard_link_made_after_the_lock_to_a_new_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "gp.db"
    with InstanceLock(db):  # no database yet: the bot creates it after taking the lock
        Store(db).close()
        other = _hard_link(tmp_path, db)
        with pytest.raises(AlreadyRunning):
            InstanceLock(other).acquire()


def test_lock_is_keyed_on_the_resolved_database(tmp_path: Path) -> None:
    db = tmp_path / "data" / "gp.db"
    db.parent.mkdir()
    link = _symlinked_file(tmp_path, db)
    assert lock_path_for(link) == lock_path_for(db) == tmp_path / "data" / "gp.db.lock"
    assert InstanceLock(link).storage_path == db


def test_a_lock_file_that_does_not_hold_an_ascii_pid_gives_no_pid(tmp_path: Path) -> None:
    db = tmp_path / "gp.db"
    holder = os.open(lock_path_for(db), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(holder, "²\n".encode())  # str.isdigit() is true for '²', int() refuses it
        with pytest.raises(AlreadyRunning) as caught:
            InstanceLock(db).acquire()
    finally:
        os.close(holder)
    assert caught.value.pid is None
    assert "pid" not in str(caught.value)


def test_second_run_through_a_symlink_exits_1(tmp_path: Path) -> None:
    config, db = write_config(tmp_path)
    linked = tmp_path / "linked"
    linked.mkdir()
    link = _symlinked_file(linked, db)
    other_config = linked / "other.toml"
    other_config.write_text(
        f'[pilot]\nbase_url = "sandbox"\n[storage]\npath = {json.dumps(str(link))}\n'
    )
    first = start_bot(config)
    try:
        wait_until_locked(db, first)
        second = cli("run", "--config", str(other_config))
        assert second.returncode == 1, second.stderr
        assert "already running" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        code, _, err = stop(first)
    assert code == 0, err
