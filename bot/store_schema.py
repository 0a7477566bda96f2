"""The store's schema and the rows it hands out: migrations, audit entries, invite links.

:data:`MIGRATIONS` builds the tables of :mod:`bot.store`, one migration per
schema version, never edited once applied. The row types are what the
store's queries return; :func:`command_name` is how the audit log files a
command under its name (``/log command=add``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database, Migrations

__all__ = [
    "MIGRATIONS",
    "AuditEntry",
    "AuditFilter",
    "InviteLinkSeen",
    "command_name",
]

MIGRATIONS = Migrations("grouppilot")


@MIGRATIONS(name="0001_initial")
def _schema_v1(db: Database) -> None:
    """Audit log, runtime aliases, invite links seen, last message sent per group."""
    statements = (
        """CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            chat TEXT NOT NULL,
            who TEXT NOT NULL,
            command TEXT NOT NULL,
            outcome TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT ''
        ) STRICT""",
        """CREATE TABLE aliases (
            name TEXT PRIMARY KEY NOT NULL,
            group_id TEXT NOT NULL,
            set_by TEXT NOT NULL,
            set_at TEXT NOT NULL
        ) STRICT""",
        """CREATE TABLE invite_links (
            id INTEGER PRIMARY KEY,
            group_id TEXT NOT NULL,
            link TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL
        ) STRICT""",
        "CREATE INDEX invite_links_by_group ON invite_links (group_id, id)",
        """CREATE TABLE last_sent (
            group_id TEXT PRIMARY KEY NOT NULL,
            message_id TEXT NOT NULL,
            sent_at TEXT NOT NULL
        ) STRICT""",
    )
    for statement in statements:
        db.execute(statement)


# Outcomes that are not a failure: done, done after a yes, waiting for one, or
# declined by the admin. Everything else (refused, denied, failed, unknown,
# usage, unparseable, expired, interrupted, not run…) is one for `/log failed`.
# Literal SQL (our constants, not input), so that the partial index applies.
_NOT_FAILED = "('ok', 'confirmed: ok', 'awaiting confirmation', 'cancelled')"
_COMMAND_NAME = re.compile(r"^\s*/([A-Za-z][A-Za-z0-9_-]*)")


def command_name(command: str) -> str:
    """The command's name as the audit log files it: `/Add@Bot sales …` -> `add`; else ''."""
    match = _COMMAND_NAME.match(command)
    return match[1].lower() if match else ""


@MIGRATIONS(name="0002_audit_filters")
def _schema_v2(db: Database) -> None:
    """`/log` filters: each entry's command name, indexed; the failures, indexed apart.

    Both indexes end in the rowid, so the newest matches are read first and
    `LIMIT n` stops the walk: as cheap with a year of history as with a day.
    """
    db.execute("ALTER TABLE audit_log ADD COLUMN name TEXT NOT NULL DEFAULT ''")
    rows = db.execute("SELECT id, command FROM audit_log").fetchall()
    db.conn.executemany(
        "UPDATE audit_log SET name = ? WHERE id = ?",
        [(command_name(command), row_id) for row_id, command in rows],
    )
    db.execute("CREATE INDEX audit_log_by_name ON audit_log (name, id)")
    db.execute(
        f"CREATE INDEX audit_log_failed ON audit_log (id) WHERE outcome NOT IN {_NOT_FAILED}"
    )


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What `/log` asks for; empty fields match everything.

    `who` and `text` are substrings (of who, of the command as typed, any
    of `text`), matched case-insensitively; `name` a command name (`add`).
    """

    who: str = ""
    name: str = ""
    text: tuple[str, ...] = ()
    failed: bool = False


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited command: when (UTC), where (chat), who, the command as typed, the outcome."""

    at: datetime
    chat: str
    who: str
    command: str
    outcome: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class InviteLinkSeen:
    """An invite link of a group, and when it was first and last seen (UTC)."""

    group_id: str
    link: str
    first_seen: datetime
    last_seen: datetime
