"""The SQLite store (sqlite-utils): audit log, runtime aliases, invite links, last sends.

One :class:`Store` owns one connection and is used from the asyncio bot's
event loop thread: writes are sub-millisecond with WAL, so there is no thread
pool (the connection refuses other threads). File databases get their parent
directories created and run in WAL mode with ``synchronous = NORMAL``: a
commit is not synced to the disk on its own but at the next checkpoint, so
it survives a crash or kill of the process; a power loss can undo the
commits since the last checkpoint (:meth:`Store.checkpoint`, and the
ledger's every 50 deliveries).

The schema is built by :data:`MIGRATIONS` (``sqlite_utils.Migrations``, in
:mod:`bot.store_schema` with the row types), one migration per schema
version, applied on open together with the sets a caller adds (the
scheduler's), all in one transaction; a later version adds its
tables by appending a migration, never by editing an applied one.

Opening a file checks it before the bot relies on it: SQLite's quick check
(a damaged or truncated file), the migrations, and a write that is rolled
back (a read-only or immutable file opens fine and would only fail at the
first write). Any failure is a :class:`~bot.storage_errors.StorageError`, one
sentence naming the file and what to do; an existing database is left as it
was, and one this open created is removed again, with the directories it made.

Closing checkpoints the write-ahead log into the database file
(:meth:`Store.checkpoint`), so after a clean stop ``<file>-wal`` holds nothing
the database file lacks.

Timestamps are ISO 8601 UTC text with microseconds
(``2026-12-01T12:00:00.000000+00:00``), taken from the store's ``clock`` so
tests control them. Nothing secret is ever stored: the store is never given
the API key or the bot token, and no column is meant for one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from sqlite_utils import Database, Migrations

from bot.services import from_utc_text, utc_now, utc_text
from bot.storage_errors import StorageError, check_storage_path, damaged, storage_error
from bot.store_schema import (
    _NOT_FAILED,
    MIGRATIONS,
    AuditEntry,
    AuditFilter,
    InviteLinkSeen,
    command_name,
)

__all__ = [
    "MIGRATIONS",
    "AuditEntry",
    "AuditFilter",
    "InviteLinkSeen",
    "StorageError",
    "Store",
    "command_name",
]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
CheckpointMode = Literal["PASSIVE", "FULL", "RESTART", "TRUNCATE"]

# The files SQLite keeps beside a database: removed with a database this store created.
_COMPANIONS = ("-wal", "-shm", "-journal")


def _no_database_yet(path: Path) -> bool:
    """True when ``path`` holds no data yet: missing or empty, without a write-ahead log.

    Only such a database may be removed when its open fails; when in doubt
    (the file cannot even be examined), it is kept.
    """
    try:
        return all(
            not candidate.exists() or candidate.stat().st_size == 0
            for candidate in (path, path.with_name(path.name + "-wal"))
        )
    except OSError:
        return False


def _make_directories(directory: Path) -> list[Path]:
    """Create ``directory`` and its missing parents; the ones created, outermost first."""
    missing = [d for d in (directory, *directory.parents) if not d.exists()]
    directory.mkdir(parents=True, exist_ok=True)
    return list(reversed(missing))


def _remove_new_database(path: Path, made: list[Path]) -> None:
    """Undo a failed first open: the database, SQLite's files beside it, the directories made."""
    for file in (path, *(path.with_name(path.name + suffix) for suffix in _COMPANIONS)):
        with contextlib.suppress(OSError):
            file.unlink(missing_ok=True)
    for directory in reversed(made):
        with contextlib.suppress(OSError):  # not empty: someone else uses it now
            directory.rmdir()


def _required(value: str, what: str) -> str:
    if not value.strip():
        raise ValueError(f"{what} must not be empty")
    return value


class Store:
    """The bot's SQLite database; open with a path, or :meth:`memory` for tests."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Clock = utc_now,
        migrations: Sequence[Migrations] = (),
    ) -> None:
        """Open (creating it and its parent directories if needed), check and migrate ``path``.

        ``migrations`` are further migration sets (the scheduler's), applied
        after :data:`MIGRATIONS` in the same transaction. ``":memory:"`` gives
        an in-memory database, like :meth:`memory`. Raises `StorageError`
        when the file cannot be used (see the module docstring).
        """
        self._clock = clock
        self._closed = False
        self._migration_sets = (MIGRATIONS, *migrations)
        if os.fspath(path) == ":memory:":
            self.path: Path | None = None
            self._db = Database(memory=True, execute_plugins=False)
            self._prepare()
        else:
            self.path = Path(path)
            self._db = self._open_file(self.path)

    @classmethod
    def memory(cls, *, clock: Clock = utc_now) -> Self:
        """A fresh in-memory store (gone when closed)."""
        return cls(":memory:", clock=clock)

    def _open_file(self, path: Path) -> Database:
        check_storage_path(path)
        new = _no_database_yet(path)
        made: list[Path] = []
        db: Database | None = None
        try:
            made = _make_directories(path.parent)
            db = self._db = Database(path, execute_plugins=False)
            self._prepare()
        except BaseException as exc:
            if db is not None:
                db.close()
            if new:
                _remove_new_database(path, made)
            if isinstance(exc, sqlite3.Error | OSError):
                raise storage_error(exc, path=path.absolute()) from exc
            raise
        return db

    def _prepare(self) -> None:
        """Check the file, turn WAL on, migrate, and check that it can be written."""
        db = self._db
        if self.path is not None:
            problems = [row[0] for row in db.execute("PRAGMA quick_check").fetchall()]
            if problems != ["ok"]:
                raise damaged(self.path.absolute(), f"quick check: {problems[0]}")
            db.enable_wal()  # outside any transaction, before the migrations
            if db.journal_mode == "wal":
                # Under WAL, NORMAL syncs at checkpoints instead of at every commit:
                # a commit survives the process crashing or being killed; only a
                # power loss or an OS crash can undo the commits since the last
                # checkpoint. Without WAL, FULL (SQLite's default) stays.
                db.execute("PRAGMA synchronous = NORMAL")
            else:
                log.warning("%s: WAL mode is not available here", self.path)
        db.execute("PRAGMA foreign_keys = ON")
        with db.atomic():  # every set, all or nothing
            for migrations in self._migration_sets:
                migrations.apply(db)
        if self.path is not None:
            self._check_writable()

    def _check_writable(self) -> None:
        """Fail now, not at the first command, when SQLite opened the file read-only.

        The write (the schema version set to itself) is rolled back, so
        nothing reaches the disk.
        """
        conn = self._db.conn
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(f"PRAGMA user_version = {version}")
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")

    @property
    def db(self) -> Database:
        """The sqlite-utils database, for the store's own modules and for tests."""
        return self._db

    def applied_migrations(self) -> list[str]:
        """Names of the schema migrations applied to this database, oldest first."""
        return [migration.name for migration in MIGRATIONS.applied(self._db)]

    def checkpoint(self, mode: CheckpointMode = "TRUNCATE") -> bool:
        """Copy the write-ahead log into the database file (``PRAGMA wal_checkpoint``).

        With ``TRUNCATE`` (the default) the log is emptied too: afterwards the
        database file alone holds every committed change, and deleting
        ``<file>-wal`` loses nothing. It waits (up to the 5 s busy timeout) for
        a writer, and for readers of older data, to finish; ``PASSIVE`` never
        waits and copies what it can. True when the whole log was copied;
        False, with one warning logged, when it could not be (another
        connection still reads older data, or the disk failed): the rest of
        the changes then stay safe in the log. Never raises; an in-memory or
        closed store has nothing to do.
        """
        if self.path is None or self._closed:
            return True
        try:
            busy, logged, copied = self._db.conn.execute(
                f"PRAGMA wal_checkpoint({mode})"
            ).fetchone()
        except sqlite3.Error as exc:
            log.warning(
                "%s: write-ahead log not checkpointed (%s); its changes stay in %s-wal",
                self.path,
                exc,
                self.path.name,
            )
            return False
        if busy or logged != copied:
            log.warning(
                "%s: write-ahead log not fully checkpointed (another connection still reads "
                "older data); the rest stays in %s-wal",
                self.path,
                self.path.name,
            )
            return False
        return True

    def close(self) -> None:
        """Checkpoint the write-ahead log, then close the connection (safe to call twice).

        A checkpoint that fails is logged and never stops the close.
        """
        if self._closed:
            return
        self.checkpoint()
        self._closed = True
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path) if self.path else ':memory:'!r})"

    def _now(self) -> str:
        now = self._clock()
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError(f"the store's clock returned a naive datetime ({now!r})")
        return utc_text(now)

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        return list(self._db.query(sql, params))

    # -- audit log (docs/commands.md) -------------------------------------------

    def audit(self, *, chat: str, who: str, command: str, outcome: str, detail: str = "") -> None:
        """Record one command, allowed or refused; ``command`` is kept exactly as typed."""
        self._db.execute(
            "INSERT INTO audit_log (at, chat, who, command, name, outcome, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (self._now(), chat, who, command, command_name(command), outcome, detail),
        )

    def recent_audit(self, limit: int, where: AuditFilter | None = None) -> list[AuditEntry]:
        """The last ``limit`` entries matching ``where``, the most recently recorded first."""
        if limit < 0:
            raise ValueError(f"limit must not be negative, got {limit}")
        terms: list[str] = []
        params: list[Any] = []
        if where is not None:
            if where.name:
                terms.append("name = ?")
                params.append(where.name)
            if where.failed:
                terms.append(f"outcome NOT IN {_NOT_FAILED}")
            if where.who:
                terms.append("instr(lower(who), lower(?)) > 0")
                params.append(where.who)
            if where.text:
                terms.append(
                    "("
                    + " OR ".join("instr(lower(command), lower(?)) > 0" for _ in where.text)
                    + ")"
                )
                params += where.text
        # The terms are the constant texts above; every value typed is a parameter.
        condition = f" WHERE {' AND '.join(terms)}" if terms else ""
        rows = self._rows(
            "SELECT at, chat, who, command, outcome, detail FROM audit_log"  # noqa: S608
            f"{condition} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return [AuditEntry(**{**row, "at": from_utc_text(row["at"])}) for row in rows]

    # -- runtime aliases (/alias, /unalias) -------------------------------------

    def set_alias(self, name: str, group_id: str, *, by: str) -> None:
        """Create or replace the runtime alias ``name`` (``by``: who set it)."""
        _required(name, "alias name")
        _required(group_id, "group id")
        self._db.execute(
            "INSERT INTO aliases (name, group_id, set_by, set_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET group_id = excluded.group_id,"
            " set_by = excluded.set_by, set_at = excluded.set_at",
            (name, group_id, by, self._now()),
        )

    def remove_alias(self, name: str) -> bool:
        """Delete the runtime alias ``name``; False when there was none."""
        cursor = self._db.execute("DELETE FROM aliases WHERE name = ?", (name,))
        return cursor.rowcount > 0

    def aliases(self) -> dict[str, str]:
        """Every runtime alias, ``name -> group id``, sorted by name."""
        rows = self._rows("SELECT name, group_id FROM aliases ORDER BY name")
        return {row["name"]: row["group_id"] for row in rows}

    # -- invite links seen ----------------------------------------------------

    def record_invite_link(self, group_id: str, link: str) -> None:
        """Note that ``link`` is the group's invite link now.

        A link different from the group's latest starts a new history row; the
        same link seen again only moves that row's ``last_seen``.
        """
        _required(group_id, "group id")
        _required(link, "invite link")
        now = self._now()
        with self._db.atomic():
            latest = self._rows(
                "SELECT id, link FROM invite_links WHERE group_id = ? ORDER BY id DESC LIMIT 1",
                (group_id,),
            )
            if latest and latest[0]["link"] == link:
                self._db.execute(
                    "UPDATE invite_links SET last_seen = ? WHERE id = ?", (now, latest[0]["id"])
                )
            else:
                self._db.execute(
                    "INSERT INTO invite_links (group_id, link, first_seen, last_seen)"
                    " VALUES (?, ?, ?, ?)",
                    (group_id, link, now, now),
                )

    def last_invite_link(self, group_id: str) -> str | None:
        """The group's most recently seen invite link, or None."""
        history = self.invite_link_history(group_id, limit=1)
        return history[0].link if history else None

    def invite_link_history(
        self, group_id: str, *, limit: int | None = None
    ) -> list[InviteLinkSeen]:
        """The group's invite links, newest first (at most ``limit``)."""
        if limit is not None and limit < 0:
            raise ValueError(f"limit must not be negative, got {limit}")
        rows = self._rows(
            "SELECT group_id, link, first_seen, last_seen FROM invite_links"
            " WHERE group_id = ? ORDER BY id DESC LIMIT ?",
            (group_id, -1 if limit is None else limit),
        )
        return [
            InviteLinkSeen(
                group_id=row["group_id"],
                link=row["link"],
                first_seen=from_utc_text(row["first_seen"]),
                last_seen=from_utc_text(row["last_seen"]),
            )
            for row in rows
        ]

    # -- last message this bot sent per group (/pin <group> last) ------------------

    def record_sent(self, group_id: str, message_id: str) -> None:
        """Remember ``message_id`` (the id the API returned) as the group's last send."""
        _required(group_id, "group id")
        _required(message_id, "message id")
        self._db.execute(
            "INSERT INTO last_sent (group_id, message_id, sent_at) VALUES (?, ?, ?)"
            " ON CONFLICT (group_id) DO UPDATE SET message_id = excluded.message_id,"
            " sent_at = excluded.sent_at",
            (group_id, message_id, self._now()),
        )

    def last_sent(self, group_id: str) -> str | None:
        """The id of the last message this bot sent to the group, or None."""
        rows = self._rows("SELECT message_id FROM last_sent WHERE group_id = ?", (group_id,))
        return str(rows[0]["message_id"]) if rows else None
