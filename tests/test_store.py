"""The SQLite store: schema and migrations, WAL, audit log, aliases, invite links, last sends."""

from __future__ import annotations

import logging
import re
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlite_utils import Database

from bot.store import MIGRATIONS, AuditEntry, InviteLinkSeen, Store

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SALES = "120363123456789012@g.us"
SUPPORT = "120363000000000001@g.us"


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 1) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "file"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    if request.param == "memory":
        opened = Store.memory(clock=clock)
    else:
        opened = Store(tmp_path / "grouppilot.db", clock=clock)
    with opened:
        yield opened


def _raw(store: Store, sql: str) -> list[dict[str, object]]:
    return list(store.db.query(sql))


# -- opening, files, WAL, migrations ---------------------------------------------


@pytest.mark.parametrize(
    "relative", ["grouppilot.db", "data/grouppilot.db", "a/b/c/grouppilot.sqlite"]
)
@pytest.mark.parametrize("as_str", [True, False])
def test_file_store_creates_parent_dirs_and_uses_wal(
    tmp_path: Path, relative: str, as_str: bool
) -> None:
    path = tmp_path / relative
    with Store(str(path) if as_str else path) as store:
        assert path.is_file()
        assert store.path == path
        assert store.db.journal_mode == "wal"
    with closing(sqlite3.connect(path)) as conn:  # WAL is a property of the file: it stays on
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize("make", [Store.memory, lambda: Store(":memory:")])
def test_memory_store_writes_no_file(
    make: Callable[[], Store], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with make() as store:
        assert store.path is None
        store.audit(chat="console", who="operator", command="/status", outcome="ok")
        assert len(store.recent_audit(5)) == 1
        assert store.db.journal_mode == "memory"
    assert list(tmp_path.iterdir()) == []


def test_migrations_are_applied_once_and_reopen_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "grouppilot.db"
    registered = [migration.name for migration in MIGRATIONS.pending(Database(memory=True))]
    assert registered[0] == "0001_initial"
    with Store(path) as store:
        assert store.applied_migrations() == registered
        schema = store.db.schema
    for _ in range(3):
        with Store(path) as store:
            assert store.applied_migrations() == registered
            assert MIGRATIONS.pending(store.db) == []
            assert store.db.schema == schema
            rows = _raw(store, "SELECT count(*) AS n FROM _sqlite_migrations")
            assert rows == [{"n": len(registered)}]


@pytest.mark.parametrize("table", ["audit_log", "aliases", "invite_links", "last_sent"])
def test_schema_has_the_tables_strict(store: Store, table: str) -> None:
    assert store.db.table(table).exists()
    assert store.db.table(table).strict


def test_schema_has_no_column_for_a_secret(store: Store) -> None:
    secretish = re.compile(r"key|token|secret|password|passwd|credential", re.IGNORECASE)
    columns = {
        f"{table}.{column.name}"
        for table in store.db.table_names()
        for column in store.db.table(table).columns
    }
    assert "audit_log.command" in columns  # the scan really sees the schema
    assert not [name for name in columns if secretish.search(name.split(".", 1)[1])]


def test_reopened_file_keeps_everything(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "grouppilot.db"
    with Store(path, clock=clock) as store:
        store.audit(chat="-100123", who="42", command="/alias vip sales", outcome="ok")
        store.set_alias("vip", SALES, by="42")
        store.record_invite_link(SALES, "https://chat.whatsapp.com/AAA")
        store.record_sent(SALES, "3EB0C767D26A1D8E9B2A")
    with Store(path, clock=clock) as store:
        assert store.recent_audit(10) == [
            AuditEntry(START, "-100123", "42", "/alias vip sales", "ok", "")
        ]
        assert store.aliases() == {"vip": SALES}
        assert store.last_invite_link(SALES) == "https://chat.whatsapp.com/AAA"
        assert store.last_sent(SALES) == "3EB0C767D26A1D8E9B2A"


def test_close_is_idempotent_and_a_closed_store_refuses_work(clock: FakeClock) -> None:
    store = Store.memory(clock=clock)
    store.close()
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        store.aliases()


def test_context_manager_closes_on_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), Store(tmp_path / "x.db") as store:
        raise RuntimeError("boom")
    with pytest.raises(sqlite3.ProgrammingError):
        store.last_sent(SALES)


def test_connection_belongs_to_the_opening_thread(store: Store) -> None:
    errors: list[BaseException] = []

    def other_thread() -> None:
        try:
            store.aliases()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert len(errors) == 1
    assert isinstance(errors[0], sqlite3.ProgrammingError)


# -- the write-ahead log: checkpointed on close, and on request --------------------------


def _write_some(store: Store, count: int = 50) -> None:
    for n in range(count):
        store.audit(chat="exec", who="local operator", command=f"/groups {n}", outcome="ok")


def _commands_in_the_file_alone(path: Path, copy: Path) -> list[str]:
    """The audit log of a copy of the database file without its write-ahead log."""
    shutil.copy(path, copy)
    with Store(copy) as alone:
        return [entry.command for entry in alone.recent_audit(1000)]


@pytest.mark.parametrize("how", ["checkpoint", "close"])
def test_the_log_is_emptied_into_the_file_while_another_connection_is_open(
    tmp_path: Path, how: str
) -> None:
    path = tmp_path / "grouppilot.db"
    store = Store(path)
    with closing(sqlite3.connect(path)) as other:  # so SQLite's own close checkpoint is skipped
        other.execute("SELECT count(*) FROM audit_log").fetchone()
        _write_some(store)
        assert (tmp_path / "grouppilot.db-wal").stat().st_size > 0
        if how == "checkpoint":
            assert store.checkpoint() is True
        store.close()
        assert (tmp_path / "grouppilot.db-wal").stat().st_size == 0
        assert len(_commands_in_the_file_alone(path, tmp_path / "copy.db")) == 50


def test_a_checkpoint_blocked_by_a_reader_is_logged_and_the_close_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "grouppilot.db"
    store = Store(path)
    with closing(sqlite3.connect(path, isolation_level=None)) as reader:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM audit_log").fetchone()  # holds the older data
        _write_some(store)
        store.db.conn.execute("PRAGMA busy_timeout = 50")  # the reader outlasts the wait
        with caplog.at_level(logging.WARNING, logger="bot.store"):
            assert store.checkpoint("PASSIVE") is False
            caplog.clear()
            store.close()  # does not raise
        reader.execute("ROLLBACK")
    [record] = caplog.records
    assert str(path) in record.getMessage()
    assert "grouppilot.db-wal" in record.getMessage()
    with Store(path) as reopened:  # nothing lost: the rest was in the log
        assert len(reopened.recent_audit(1000)) == 50


def test_a_checkpoint_the_disk_refuses_is_logged_and_the_close_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "grouppilot.db"
    store = Store(path)
    _write_some(store)
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    if made.returncode != 0:  # needs root (CAP_LINUX_IMMUTABLE) and a file system that has it
        store.close()
        pytest.skip(f"chattr +i is not available here: {made.stderr!r}")
    try:
        with caplog.at_level(logging.WARNING, logger="bot.store"):
            assert store.checkpoint() is False
            caplog.clear()
            store.close()  # does not raise
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)
    [record] = caplog.records
    assert "not checkpointed" in record.getMessage()
    with Store(path) as reopened:
        assert len(reopened.recent_audit(1000)) == 50


def test_an_in_memory_store_has_nothing_to_checkpoint() -> None:
    with Store.memory() as store:
        assert store.checkpoint() is True


# -- timestamps ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "stored"),
    [
        (datetime(2026, 12, 1, 12, 0, tzinfo=UTC), "2026-12-01T12:00:00.000000+00:00"),
        (
            datetime(2026, 12, 1, 9, 0, 0, 123456, tzinfo=ZoneInfo("America/Sao_Paulo")),
            "2026-12-01T12:00:00.123456+00:00",
        ),
        (
            datetime(2026, 3, 29, 23, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            "2026-03-29T18:00:00.000000+00:00",
        ),
    ],
)
def test_timestamps_are_iso_utc_text_from_the_clock(
    store: Store, clock: FakeClock, now: datetime, stored: str
) -> None:
    clock.now = now
    store.audit(chat="c", who="w", command="/status", outcome="ok")
    store.set_alias("vip", SALES, by="w")
    store.record_invite_link(SALES, "https://chat.whatsapp.com/AAA")
    store.record_sent(SALES, "MSG1")
    assert _raw(store, "SELECT at FROM audit_log") == [{"at": stored}]
    assert _raw(store, "SELECT set_at FROM aliases") == [{"set_at": stored}]
    assert _raw(store, "SELECT first_seen, last_seen FROM invite_links") == [
        {"first_seen": stored, "last_seen": stored}
    ]
    assert _raw(store, "SELECT sent_at FROM last_sent") == [{"sent_at": stored}]
    (entry,) = store.recent_audit(1)
    assert entry.at == now
    assert entry.at.tzinfo is UTC


def test_a_naive_clock_is_refused(tmp_path: Path) -> None:
    with Store(tmp_path / "x.db", clock=lambda: datetime(2026, 12, 1, 12, 0)) as store:
        with pytest.raises(ValueError, match="naive"):
            store.audit(chat="c", who="w", command="/status", outcome="ok")
        assert store.recent_audit(10) == []


# -- audit log ---------------------------------------------------------------------------


@pytest.mark.parametrize("written", [0, 1, 5])
@pytest.mark.parametrize("limit", [0, 1, 3, 5, 50])
def test_recent_audit_is_newest_first_and_limited(
    store: Store, clock: FakeClock, written: int, limit: int
) -> None:
    for index in range(written):
        clock.advance(60)
        store.audit(chat="-100", who=str(index), command=f"/log {index}", outcome="ok")
    entries = store.recent_audit(limit)
    expected = list(reversed(range(written)))[:limit]
    assert [entry.who for entry in entries] == [str(index) for index in expected]
    assert [entry.at for entry in entries] == [
        START + timedelta(minutes=index + 1) for index in expected
    ]


def test_recent_audit_keeps_write_order_when_the_clock_steps_back(
    store: Store, clock: FakeClock
) -> None:
    store.audit(chat="c", who="w", command="/first", outcome="ok")
    clock.advance(-3600)
    store.audit(chat="c", who="w", command="/second", outcome="ok")
    assert [entry.command for entry in store.recent_audit(2)] == ["/second", "/first"]


@pytest.mark.parametrize("limit", [-1, -100])
def test_recent_audit_refuses_a_negative_limit(store: Store, limit: int) -> None:
    with pytest.raises(ValueError, match="negative"):
        store.recent_audit(limit)


@pytest.mark.parametrize(
    ("chat", "who", "command", "outcome", "detail"),
    [
        ("console", "operator", "/status", "ok", ""),
        ("-1001234567890", "channel -1001234567890 (Ana)", "/remove sales +55 11 9", "refused", ""),
        ("555", "stranger 555", "/send@GroupPilotBot all 'hi there'", "ignored", "not allowed"),
        ("-100", "42", '/send sales "Olá, {group}! ✅"', "failed", "NOT_CONNECTED"),
        ("-100", "42", "/send sales line one\nline two\ttab", "ok", "sent 2, failed 0"),
        ("-100", "42", "  /help   ", "ok", ""),
        ("-100", "42", "'; DROP TABLE audit_log; --", "unknown", ""),
    ],
)
def test_audit_keeps_every_field_as_given(
    store: Store, chat: str, who: str, command: str, outcome: str, detail: str
) -> None:
    store.audit(chat=chat, who=who, command=command, outcome=outcome, detail=detail)
    assert store.recent_audit(1) == [AuditEntry(START, chat, who, command, outcome, detail)]


def test_audit_entries_are_frozen(store: Store) -> None:
    store.audit(chat="c", who="w", command="/status", outcome="ok")
    (entry,) = store.recent_audit(1)
    with pytest.raises(AttributeError):
        entry.outcome = "changed"  # type: ignore[misc]


# -- runtime aliases -------------------------------------------------------------------


@pytest.mark.parametrize(
    "order", [["vip", "alpha", "zeta", "beta-2"], ["zeta", "beta-2", "vip", "alpha"]]
)
def test_aliases_are_sorted_by_name(store: Store, order: list[str]) -> None:
    for name in order:
        store.set_alias(name, SALES, by="42")
    assert list(store.aliases()) == ["alpha", "beta-2", "vip", "zeta"]


def test_set_alias_upserts(store: Store, clock: FakeClock) -> None:
    store.set_alias("vip", SALES, by="42")
    later = clock.advance(90)
    store.set_alias("vip", SUPPORT, by="77")
    assert store.aliases() == {"vip": SUPPORT}
    assert _raw(store, "SELECT name, group_id, set_by, set_at FROM aliases") == [
        {
            "name": "vip",
            "group_id": SUPPORT,
            "set_by": "77",
            "set_at": later.isoformat(timespec="microseconds"),
        }
    ]


def test_remove_alias_says_whether_there_was_one(store: Store) -> None:
    assert store.remove_alias("vip") is False
    store.set_alias("vip", SALES, by="42")
    store.set_alias("other", SUPPORT, by="42")
    assert store.remove_alias("vip") is True
    assert store.remove_alias("vip") is False
    assert store.aliases() == {"other": SUPPORT}


@pytest.mark.parametrize(("name", "group_id"), [("", SALES), ("  ", SALES), ("vip", "")])
def test_set_alias_refuses_empty_values(store: Store, name: str, group_id: str) -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        store.set_alias(name, group_id, by="42")
    assert store.aliases() == {}


# -- invite links ----------------------------------------------------------------------


def test_invite_link_history_is_kept_with_times(store: Store, clock: FakeClock) -> None:
    assert store.last_invite_link(SALES) is None
    assert store.invite_link_history(SALES) == []
    t0 = clock.now
    store.record_invite_link(SALES, "https://chat.whatsapp.com/AAA")
    t1 = clock.advance(60)
    store.record_invite_link(SALES, "https://chat.whatsapp.com/AAA")  # seen again
    t2 = clock.advance(60)
    store.record_invite_link(SALES, "https://chat.whatsapp.com/BBB")  # reset
    store.record_invite_link(SUPPORT, "https://chat.whatsapp.com/CCC")
    assert store.last_invite_link(SALES) == "https://chat.whatsapp.com/BBB"
    assert store.last_invite_link(SUPPORT) == "https://chat.whatsapp.com/CCC"
    assert store.invite_link_history(SALES) == [
        InviteLinkSeen(SALES, "https://chat.whatsapp.com/BBB", t2, t2),
        InviteLinkSeen(SALES, "https://chat.whatsapp.com/AAA", t0, t1),
    ]
    assert store.invite_link_history(SALES, limit=1) == store.invite_link_history(SALES)[:1]
    assert store.invite_link_history(SALES, limit=0) == []


def test_an_old_link_seen_again_after_a_reset_is_a_new_history_row(
    store: Store, clock: FakeClock
) -> None:
    for link in ("A", "B", "A"):
        clock.advance(1)
        store.record_invite_link(SALES, f"https://chat.whatsapp.com/{link}")
    history = store.invite_link_history(SALES)
    assert [seen.link[-1] for seen in history] == ["A", "B", "A"]
    assert store.last_invite_link(SALES) == "https://chat.whatsapp.com/A"


@pytest.mark.parametrize(("group_id", "link"), [("", "https://x"), (SALES, ""), (SALES, " ")])
def test_record_invite_link_refuses_empty_values(store: Store, group_id: str, link: str) -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        store.record_invite_link(group_id, link)


def test_invite_link_history_refuses_a_negative_limit(store: Store) -> None:
    with pytest.raises(ValueError, match="negative"):
        store.invite_link_history(SALES, limit=-1)


# -- last message sent per group -----------------------------------------------------------


def test_last_sent_is_per_group_and_overwritten(store: Store, clock: FakeClock) -> None:
    assert store.last_sent(SALES) is None
    store.record_sent(SALES, "MSG1")
    store.record_sent(SUPPORT, "MSG2")
    later = clock.advance(30)
    store.record_sent(SALES, "MSG3")
    assert store.last_sent(SALES) == "MSG3"
    assert store.last_sent(SUPPORT) == "MSG2"
    assert store.last_sent("120363999999999999@g.us") is None
    rows = _raw(store, "SELECT group_id, sent_at FROM last_sent ORDER BY group_id")
    assert rows == [
        {"group_id": SUPPORT, "sent_at": START.isoformat(timespec="microseconds")},
        {"group_id": SALES, "sent_at": later.isoformat(timespec="microseconds")},
    ]


@pytest.mark.parametrize(("group_id", "message_id"), [("", "MSG1"), (SALES, ""), (SALES, "\t")])
def test_record_sent_refuses_empty_values(store: Store, group_id: str, message_id: str) -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        store.record_sent(group_id, message_id)
    assert store.last_sent(SALES) is None
