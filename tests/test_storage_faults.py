"""Storage faults at start: one sentence naming the file and what to do, never a traceback.

A damaged, read-only, full or misplaced database stops `Store`, `grouppilot run`
and `grouppilot exec` with a `StorageError`: exit 1, or 2 when the configured
path itself is wrong, and nothing half-written (an existing database is left
byte for byte, a database the failed start created is removed again).

The faults are real: damaged files, ``chmod`` for a normal user and
``chattr +i`` for root (who ignores file modes), and a full disk that is a
tiny tmpfs mounted in a private mount namespace (``unshare``; skipped where
the machine does not allow it).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import clean_env
from sqlite_utils import Database, Migrations

from bot.storage_errors import StorageError
from bot.store import Store

ROOT = Path(__file__).resolve().parent.parent
SALES = "120363123456789012@g.us"
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ ")


# -- helpers -----------------------------------------------------------------------


def write_config(tmp_path: Path, db: Path) -> Path:
    """A sandbox config with one job, so the scheduler's start writes to the database."""
    config = tmp_path / "grouppilot.toml"
    config.write_text(
        '[pilot]\nbase_url = "sandbox"\n'
        f"[storage]\npath = {json.dumps(str(db))}\n"
        f'[groups]\nsales = "{SALES}"\n'
        '[[jobs]]\nname = "tick"\nkind = "broadcast"\nevery = "1h"\n'
        'targets = ["sales"]\ntext = "hi"\n'
    )
    return config


def cli_command(command: str, config: Path) -> list[str]:
    tail = ["/groups"] if command == "exec" else []
    return [sys.executable, "-m", "bot.cli", command, "--config", str(config), *tail]


def grouppilot(command: str, config: Path) -> subprocess.CompletedProcess[str]:
    """``run`` (its console gets EOF at once) or ``exec "/groups"``."""
    return subprocess.run(
        cli_command(command, config),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=clean_env(),
    )


def the_problem(stderr: str) -> str:
    """The one line of stderr that is not a log record; fails on anything else."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip() and not LOG_LINE.match(line)]
    assert len(lines) == 1, stderr
    [line] = lines
    assert line.startswith("grouppilot: "), stderr
    return line


def make_database(path: Path) -> None:
    """A real grouppilot database with some audit rows, closed cleanly."""
    with Store(path) as store:
        for n in range(200):
            store.audit(chat="exec", who="local operator", command=f"/groups {n}", outcome="ok")


def fingerprint(directory: Path) -> dict[str, str]:
    """Every file under ``directory`` and a digest of its bytes."""
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def garbage(db: Path) -> None:
    db.write_bytes(b"these are not the bytes of a SQLite database\n" * 200)


def truncated(db: Path) -> None:
    make_database(db)
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])


def truncated_to_its_header(db: Path) -> None:
    make_database(db)
    db.write_bytes(db.read_bytes()[:100])


DAMAGE = [garbage, truncated, truncated_to_its_header]


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make ``path`` unwritable: ``chmod`` for a normal user, ``chattr +i`` for root."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"root ignores file modes and chattr +i fails here: {made.stderr!r}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


# -- the store ---------------------------------------------------------------------------


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_database_is_one_sentence_and_left_as_it_was(
    tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    db = tmp_path / "grouppilot.db"
    damage(db)
    before = fingerprint(tmp_path)
    with pytest.raises(StorageError) as caught:
        Store(db)
    message = str(caught.value)
    assert str(db) in message
    assert "damaged" in message
    assert "backup" in message
    assert "\n" not in message
    assert not caught.value.config_problem
    assert fingerprint(tmp_path) == before


def test_a_read_only_database_is_refused_at_open_not_at_the_first_write(tmp_path: Path) -> None:
    db = tmp_path / "grouppilot.db"
    make_database(db)
    with read_only(db), pytest.raises(StorageError) as caught:
        Store(db)
    message = str(caught.value)
    assert str(db) in message
    assert "writable" in message
    with Store(db) as store:  # nothing was changed
        assert len(store.recent_audit(1000)) == 200


def test_a_new_database_in_a_read_only_directory_leaves_nothing(tmp_path: Path) -> None:
    directory = tmp_path / "locked"
    directory.mkdir()
    db = directory / "sub" / "grouppilot.db"
    with read_only(directory), pytest.raises(StorageError) as caught:
        Store(db)
    assert str(db) in str(caught.value)
    assert "writable" in str(caught.value)
    assert list(directory.iterdir()) == []


@pytest.mark.parametrize("where", ["directory", "under-a-file"])
def test_a_storage_path_that_cannot_be_a_file_is_a_config_problem(
    tmp_path: Path, where: str
) -> None:
    if where == "directory":
        path = tmp_path / "data"
        path.mkdir()
    else:
        (tmp_path / "data").write_text("a file")
        path = tmp_path / "data" / "grouppilot.db"
    before = fingerprint(tmp_path)
    with pytest.raises(StorageError) as caught:
        Store(path)
    assert caught.value.config_problem
    assert "storage.path" in str(caught.value)
    assert str(path) in str(caught.value)
    assert fingerprint(tmp_path) == before


def _failing_migrations() -> Migrations:
    later = Migrations("later-part")

    @later(name="0001_fine")
    def _fine(db: Database) -> None:
        db.execute("CREATE TABLE later_part (id INTEGER PRIMARY KEY)")

    @later(name="0002_fails")
    def _fails(db: Database) -> None:
        db.execute("CREATE TABLE audit_log (id INTEGER)")  # already exists: SQLite refuses

    return later


def test_a_failed_migration_of_a_new_database_leaves_no_file(tmp_path: Path) -> None:
    db = tmp_path / "data" / "grouppilot.db"
    with pytest.raises(StorageError):
        Store(db, migrations=(_failing_migrations(),))
    assert list(tmp_path.iterdir()) == []  # not even the directory it created


def test_a_failed_migration_of_an_existing_database_applies_nothing(tmp_path: Path) -> None:
    db = tmp_path / "grouppilot.db"
    make_database(db)
    before = fingerprint(tmp_path)
    with pytest.raises(StorageError):
        Store(db, migrations=(_failing_migrations(),))
    assert fingerprint(tmp_path) == before
    with sqlite3.connect(db) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "later_part" not in tables  # the first migration of the set was rolled back too


def test_store_and_scheduler_schemas_are_created_together(tmp_path: Path) -> None:
    from jobs.schema import JOB_MIGRATIONS

    db = tmp_path / "grouppilot.db"
    with Store(db, migrations=(JOB_MIGRATIONS,)) as store:
        assert not JOB_MIGRATIONS.pending(store.db)
        assert store.db.table("deliveries").exists()


# -- run and exec ------------------------------------------------------------------------


COMMANDS = ["run", "exec"]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("damage", [garbage])  # every kind of damage: the `Store` tests above
def test_a_damaged_database_stops_the_command_with_one_sentence(
    tmp_path: Path, command: str, damage: Callable[[Path], None]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = data / "grouppilot.db"
    damage(db)
    before = fingerprint(data)
    result = grouppilot(command, write_config(tmp_path, db))
    assert result.returncode == 1
    assert result.stdout == ""
    problem = the_problem(result.stderr)
    assert str(db) in problem
    assert "damaged" in problem
    after = fingerprint(data)
    after.pop("grouppilot.db.lock", None)  # run's lock file stays, by design
    assert after == before


@pytest.mark.parametrize("command", COMMANDS)
def test_a_read_only_database_stops_the_command_with_one_sentence(
    tmp_path: Path, command: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = data / "grouppilot.db"
    make_database(db)
    before = fingerprint(data)["grouppilot.db"]
    with read_only(db):
        result = grouppilot(command, write_config(tmp_path, db))
    assert result.returncode == 1, result.stderr
    problem = the_problem(result.stderr)
    assert str(db) in problem
    assert "writable" in problem
    assert fingerprint(data)["grouppilot.db"] == before


def test_exec_in_a_read_only_directory_says_so_and_creates_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = data / "grouppilot.db"
    with read_only(data):
        result = grouppilot("exec", write_config(tmp_path, db))
    assert result.returncode == 1
    problem = the_problem(result.stderr)
    assert str(db) in problem
    assert "writable" in problem
    assert list(data.iterdir()) == []


@pytest.mark.parametrize("command", COMMANDS)
def test_a_storage_path_that_is_a_directory_exits_2(tmp_path: Path, command: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    result = grouppilot(command, write_config(tmp_path, data))
    assert result.returncode == 2
    problem = the_problem(result.stderr)
    assert "storage.path" in problem
    assert str(data) in problem
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "grouppilot.toml"]
    assert list(data.iterdir()) == []


# -- a full disk: a tiny tmpfs in a private mount namespace ---------------------------------


def _namespace_prefix() -> list[str]:
    rootless = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    return ["unshare", *rootless, "--mount", "--propagation", "private"]


@pytest.fixture(scope="module")
def private_mounts() -> list[str]:
    """The command prefix that runs a shell where ``mount -t tmpfs`` stays private."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    prefix = _namespace_prefix()
    probe = subprocess.run(
        [*prefix, "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"no private tmpfs mounts here: {probe.stderr!r}")
    return prefix


# A process that dies with the database open (its log and shared memory stay behind).
CRASH = (
    "import os, sys; from bot.store import Store; from jobs.schema import JOB_MIGRATIONS; "
    "store = Store(sys.argv[1], migrations=(JOB_MIGRATIONS,)); "
    "store.audit(chat='exec', who='local operator', command='/crashed', outcome='ok'); "
    "os._exit(0)"
)


def on_a_full_disk(
    prefix: list[str], tmp_path: Path, command: str, *, state: str
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``command`` with the database on a tmpfs with no room left.

    ``state``: ``new`` (no database yet), ``existing`` (a first ``exec``
    created it while there was room) or ``crashed`` (then a process died
    with it open, leaving its write-ahead log); then a file fills the disk.
    The disk's files are copied to ``<tmp_path>/after`` (the tmpfs goes
    away with the namespace).
    """
    disk, after = tmp_path / "disk", tmp_path / "after"
    disk.mkdir()
    after.mkdir()
    db = disk / "grouppilot.db"
    config = write_config(tmp_path, db)
    prepare = ""
    if state != "new":
        prepare = " ".join(cli_command("exec", config)) + " >/dev/null && "
    if state == "crashed":
        prepare += f"{sys.executable} -c {shlex.quote(CRASH)} {db} && "
    if prepare:
        prepare += f"(cat /dev/zero > {disk}/filler 2>/dev/null; true) && "
    script = (
        f"mount -t tmpfs -o size={'64k' if state == 'new' else '1m'} tmpfs {disk} && {prepare}"
        f"{{ {' '.join(cli_command(command, config))} </dev/null; echo $? > {after}/code; }}; "
        f"rm -f {disk}/filler; cp -a {disk}/. {after}/"
    )
    shell = subprocess.run(
        [*prefix, "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=clean_env(),
    )
    code = int((after / "code").read_text()) if (after / "code").exists() else -1
    (after / "code").unlink(missing_ok=True)
    return subprocess.CompletedProcess(shell.args, code, shell.stdout, shell.stderr), after


@pytest.mark.parametrize("command", COMMANDS)
def test_a_new_database_on_a_full_disk_says_so_and_leaves_nothing(
    private_mounts: list[str], tmp_path: Path, command: str
) -> None:
    result, after = on_a_full_disk(private_mounts, tmp_path, command, state="new")
    assert result.returncode == 1, result.stderr
    problem = the_problem(result.stderr)
    assert str(tmp_path / "disk" / "grouppilot.db") in problem
    assert "disk space" in problem
    left = sorted(p.name for p in after.iterdir())
    assert left == (["grouppilot.db.lock"] if command == "run" else [])


@pytest.mark.parametrize("command", COMMANDS)
def test_an_existing_database_on_a_full_disk_says_so_and_loses_nothing(
    private_mounts: list[str], tmp_path: Path, command: str
) -> None:
    result, after = on_a_full_disk(private_mounts, tmp_path, command, state="existing")
    assert result.returncode == 1, result.stderr
    problem = the_problem(result.stderr)
    assert str(tmp_path / "disk" / "grouppilot.db") in problem
    assert "disk space" in problem
    with Store(after / "grouppilot.db") as store:  # the first exec's audit entry is intact
        assert [entry.command for entry in store.recent_audit(10)] == ["/groups"]


def test_a_run_after_a_crash_on_a_full_disk_says_so_and_loses_nothing(
    private_mounts: list[str], tmp_path: Path
) -> None:
    """The database opens (the crash left room in its files); the scheduler's first write fails."""
    result, after = on_a_full_disk(private_mounts, tmp_path, "run", state="crashed")
    assert result.returncode == 1, result.stderr
    problem = the_problem(result.stderr)
    assert str(tmp_path / "disk" / "grouppilot.db") in problem
    assert "disk space" in problem
    with Store(after / "grouppilot.db") as store:  # what the crashed process wrote is intact
        assert [entry.command for entry in store.recent_audit(10)] == ["/crashed", "/groups"]
