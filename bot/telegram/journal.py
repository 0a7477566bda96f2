"""The journal of Telegram updates: what was fetched, what ran, what is still to run.

python-telegram-bot confirms updates to Telegram as soon as it has fetched
them (the next ``getUpdates`` carries a higher offset), so Telegram never
sends them again. An update fetched but not yet run when the bot stops (or
crashes) would be lost; the journal keeps it in the bot's SQLite file.

One row per update, keyed by (bot id, update id), holding the update as
Telegram sent it (JSON; user text, never the token) and its state:

- ``queued``: fetched, not started. Replayed in update order at the next start.
- ``taken``: its command started (set *before* it touches anything). Never
  run again: a row still ``taken`` at start was cut off by a crash, and its
  chat is told it may have been partly done.
- ``done``: finished, refused, interrupted and told, or not run on purpose.
  Kept a day, the time Telegram itself keeps an update, so an update it
  sends again is recognised; then pruned (at start and every few hundred
  updates).

The table lives under a migration set of its own (``grouppilot-telegram``),
applied by `ensure_schema` when the front end starts. Every write is wrapped:
a storage fault is logged and the bot goes on (the update still runs, only
its restart safety is lost), never a traceback to a chat.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database, Migrations

from bot.services import utc_now, utc_text

__all__ = ["JournalEntry", "UpdateJournal", "ensure_schema"]

log = logging.getLogger(__name__)

TELEGRAM_MIGRATIONS = Migrations("grouppilot-telegram")
KEEP_DONE = timedelta(hours=24)  # Telegram keeps an unconfirmed update at most this long
PRUNE_EVERY = 500  # updates recorded between two prunes (besides the one at start)

_FAULTS = (sqlite3.Error, OSError)


@TELEGRAM_MIGRATIONS(name="0001_update_journal")
def _journal_v1(db: Database) -> None:
    db.execute(
        """CREATE TABLE telegram_updates (
            bot_id INTEGER NOT NULL,
            update_id INTEGER NOT NULL,
            payload TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('queued', 'taken', 'done')),
            received TEXT NOT NULL,
            finished TEXT,
            PRIMARY KEY (bot_id, update_id)
        ) STRICT"""
    )
    db.execute("CREATE INDEX telegram_updates_by_state ON telegram_updates (bot_id, state)")


def ensure_schema(db: Database) -> None:
    """Apply the journal's pending migrations to `db` (cheap when up to date)."""
    if TELEGRAM_MIGRATIONS.pending(db):
        TELEGRAM_MIGRATIONS.apply(db)


@dataclass(frozen=True)
class JournalEntry:
    update_id: int
    payload: str  # the update as JSON


class UpdateJournal:
    """The journal rows of one bot (by its Telegram id) in the bot's database."""

    def __init__(
        self, db: Database, bot_id: int, *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        ensure_schema(db)
        self._db = db
        self.bot_id = bot_id
        self._clock = clock
        self._recorded = 0

    def record(self, update_id: int, payload: str) -> bool:
        """Keep a fetched update; False if it is already known (Telegram sent it again)."""
        try:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO telegram_updates"
                " (bot_id, update_id, payload, state, received) VALUES (?, ?, ?, 'queued', ?)",
                (self.bot_id, update_id, payload, self._now()),
            )
        except _FAULTS as exc:
            log.warning("cannot journal Telegram update %s (%s): it runs anyway", update_id, exc)
            return True
        self._recorded += 1
        if self._recorded % PRUNE_EVERY == 0:
            self.prune()
        return cursor.rowcount == 1

    def take(self, update_id: int) -> None:
        """Its command starts now: it must never run again."""
        self._set(update_id, "taken", finished=False)

    def finish(self, update_id: int) -> None:
        self._set(update_id, "done", finished=True)

    def waiting(self) -> list[JournalEntry]:
        """Updates fetched but never started, oldest first."""
        return self._entries("queued")

    def cut_off(self) -> list[JournalEntry]:
        """Updates whose command started and never finished (a crash), oldest first."""
        return self._entries("taken")

    def prune(self) -> None:
        """Forget finished updates older than Telegram could send again."""
        cutoff = utc_text(self._clock() - KEEP_DONE)
        self._write(
            "DELETE FROM telegram_updates WHERE bot_id = ? AND state = 'done' AND finished < ?",
            (self.bot_id, cutoff),
        )

    def states(self) -> dict[int, str]:
        """Every row's state by update id (for tests and troubleshooting)."""
        rows = self._db.query(
            "SELECT update_id, state FROM telegram_updates WHERE bot_id = ? ORDER BY update_id",
            (self.bot_id,),
        )
        return {row["update_id"]: row["state"] for row in rows}

    # -- internals ----------------------------------------------------------------

    def _now(self) -> str:
        return utc_text(self._clock())

    def _set(self, update_id: int, state: str, *, finished: bool) -> None:
        self._write(
            "UPDATE telegram_updates SET state = ?, finished = ?"
            " WHERE bot_id = ? AND update_id = ?",
            (state, self._now() if finished else None, self.bot_id, update_id),
        )

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        try:
            self._db.execute(sql, params)
        except _FAULTS as exc:
            log.warning("cannot update the Telegram update journal (%s)", exc)

    def _entries(self, state: str) -> list[JournalEntry]:
        try:
            rows = list(
                self._db.query(
                    "SELECT update_id, payload FROM telegram_updates"
                    " WHERE bot_id = ? AND state = ? ORDER BY update_id",
                    (self.bot_id, state),
                )
            )
        except _FAULTS as exc:
            log.warning("cannot read the Telegram update journal (%s): nothing to replay", exc)
            return []
        return [JournalEntry(row["update_id"], row["payload"]) for row in rows]
