"""Jobs as data: config jobs and ``/schedule`` jobs in SQLite, and each job's state.

A :class:`JobDefinition` is a validated :class:`bot.jobconfig.JobConfig` plus
where it came from (``config`` or ``chat``), who made it and when. The
:class:`DefinitionBook` keeps them in the ``job_definitions`` table as JSON
(never pickles): :meth:`DefinitionBook.rebuild_config` replaces the config
jobs at every start, chat jobs stay until ``/unschedule``. A chat job whose
name a config job has since taken is kept in the table but shadowed (not
loaded) while the config job exists.

The same book keeps ``job_state``: whether a job is paused (kept across
restarts, config jobs too) and its *floor*, the moment after which a run
that did not happen counts as missed. The floor is set when a job is first
seen (so a new cron job does not "miss" its past), when it is resumed (no
burst of runs from the paused time) and while it is disabled.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError
from sqlite_utils import Database

from bot.durations import format_duration
from bot.jobconfig import JobConfig
from bot.services import Refusal, from_utc_text, utc_text
from jobs.schema import ensure_schema

__all__ = [
    "DefinitionBook",
    "DefinitionError",
    "JobDefinition",
    "JobState",
    "job_from_data",
    "job_to_data",
    "stamp",
]

log = logging.getLogger(__name__)

Source = Literal["config", "chat"]
Clock = Callable[[], datetime]


class DefinitionError(Refusal, ValueError):
    """A job that cannot be stored: its name is taken, or it is not a chat job."""


def stamp(moment: datetime) -> str:
    """A moment as stored: ISO 8601 UTC with microseconds (text order = time order)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: the scheduler only stores aware times")
    return utc_text(moment)


def job_to_data(job: JobConfig) -> dict[str, Any]:
    """A JSON-ready dict that :func:`job_from_data` reads back into an equal job.

    Durations are written the way the config writes them (``"15m"``), an
    ``at`` time and dates (``until``, ``skip_dates``) as ISO 8601; keys at
    their default are left out.
    """
    data: dict[str, Any] = {}
    for key, value in job.model_dump(exclude_defaults=True).items():
        if isinstance(value, timedelta):
            value = format_duration(value)
        elif isinstance(value, date):  # `at` (a datetime), `until`
            value = value.isoformat()
        elif key == "skip_dates":
            value = [day.isoformat() for day in value]
        data[key] = value
    data.update(name=job.name, kind=job.kind, targets=list(job.targets))
    data.setdefault("timezone", job.timezone)
    return data


def job_from_data(data: dict[str, Any]) -> JobConfig:
    """Validate stored job data (raises pydantic's ValidationError when it no longer fits)."""
    return JobConfig.model_validate(data)


@dataclass(frozen=True)
class JobDefinition:
    """One job the scheduler knows: its config, and where it comes from."""

    config: JobConfig
    source: Source
    created_by: str = ""
    created_at: datetime | None = None

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def kind(self) -> str:
        return self.config.kind


@dataclass(frozen=True)
class JobState:
    """A job's pause and floor (see the module docstring)."""

    name: str
    paused: bool = False
    paused_at: datetime | None = None
    paused_by: str = ""
    note: str = ""
    floor: datetime | None = None


class DefinitionBook:
    """Job definitions and job state in the bot's database (event-loop thread only)."""

    def __init__(self, db: Database, *, clock: Clock) -> None:
        ensure_schema(db)
        self._db = db
        self._clock = clock

    # -- definitions ----------------------------------------------------------------

    def rebuild_config(self, jobs: Sequence[JobConfig]) -> list[str]:
        """Replace the stored config jobs by ``jobs``; the chat jobs they shadow, by name."""
        now = stamp(self._clock())
        with self._db.atomic():
            self._db.execute("DELETE FROM job_definitions WHERE source = 'config'")
            shadowed = [
                row["name"]
                for row in self._db.query("SELECT name FROM job_definitions WHERE source = 'chat'")
                if row["name"] in {job.name for job in jobs}
            ]
            for position, job in enumerate(jobs):
                self._db.execute(
                    "INSERT INTO job_definitions"
                    " (name, source, position, definition, created_by, created_at)"
                    " VALUES (?, 'config', ?, ?, 'config', ?)",
                    (job.name, position, json.dumps(job_to_data(job)), now),
                )
        return shadowed

    def all(self, config_jobs: Sequence[JobConfig] | None = None) -> list[JobDefinition]:
        """Config jobs (in file order), then chat jobs (oldest first).

        With ``config_jobs``, those are taken as the config jobs instead of the
        stored ones (a process that does not run the scheduler, e.g. ``exec``).
        """
        rows = list(
            self._db.query(
                "SELECT name, source, definition, created_by, created_at FROM job_definitions"
                " ORDER BY source = 'chat', position, created_at, name"
            )
        )
        loaded = [(row, self._load(row)) for row in rows]
        if config_jobs is None:
            config = [d for row, d in loaded if d is not None and row["source"] == "config"]
        else:
            config = [JobDefinition(job, "config", "config") for job in config_jobs]
        names = {definition.name for definition in config}
        chat = [
            d
            for row, d in loaded
            if d is not None and row["source"] == "chat" and row["name"] not in names
        ]
        return config + chat

    def get(self, name: str) -> JobDefinition | None:
        rows = list(
            self._db.query(
                "SELECT name, source, definition, created_by, created_at FROM job_definitions"
                " WHERE name = ? ORDER BY source = 'chat' LIMIT 1",
                (name,),
            )
        )
        return self._load(rows[0]) if rows else None

    def add_chat(self, job: JobConfig, *, by: str) -> JobDefinition:
        """Store a ``/schedule`` job; DefinitionError when the name is taken."""
        existing = self.get(job.name)
        if existing is not None:
            where = "a config job" if existing.source == "config" else "a /schedule job"
            raise DefinitionError(f"There is already {where} called '{job.name}'.")
        now = self._clock()
        position = next(
            iter(self._db.query("SELECT COUNT(*) AS n FROM job_definitions WHERE source = 'chat'"))
        )["n"]
        with self._db.atomic():
            self._db.execute(
                "INSERT INTO job_definitions"
                " (name, source, position, definition, created_by, created_at)"
                " VALUES (?, 'chat', ?, ?, ?, ?)",
                (job.name, position, json.dumps(job_to_data(job)), by, stamp(now)),
            )
            self._db.execute("DELETE FROM job_state WHERE name = ?", (job.name,))
            self.set_floor(job.name, now)
        return JobDefinition(job, "chat", by, now)

    def remove_chat(self, name: str) -> None:
        """Delete a ``/schedule`` job and its state (its run history stays)."""
        existing = self.get(name)
        if existing is None:
            raise DefinitionError(f"No job called '{name}'.")
        if existing.source != "chat":
            raise DefinitionError(
                f"'{name}' is a config job: it can only be paused (/pause {name}), "
                "or removed from the config file."
            )
        with self._db.atomic():
            self._db.execute(
                "DELETE FROM job_definitions WHERE name = ? AND source = 'chat'", (name,)
            )
            self._db.execute("DELETE FROM job_state WHERE name = ?", (name,))

    @classmethod
    def _load(cls, row: dict[str, Any]) -> JobDefinition | None:
        """The stored job, or None (logged) when it no longer validates."""
        try:
            return cls._definition(row)
        except (ValidationError, ValueError) as exc:
            log.error(
                "stored %s job %r is not valid any more, skipped: %s",
                row["source"],
                row["name"],
                exc,
            )
            return None

    @staticmethod
    def _definition(row: dict[str, Any]) -> JobDefinition:
        return JobDefinition(
            config=job_from_data(json.loads(row["definition"])),
            source=row["source"],
            created_by=row["created_by"],
            created_at=from_utc_text(row["created_at"]),
        )

    # -- state ----------------------------------------------------------------------

    def state(self, name: str) -> JobState:
        rows = list(self._db.query("SELECT * FROM job_state WHERE name = ?", (name,)))
        if not rows:
            return JobState(name)
        row = rows[0]
        return JobState(
            name=name,
            paused=bool(row["paused"]),
            paused_at=from_utc_text(row["paused_at"]) if row["paused_at"] else None,
            paused_by=row["paused_by"],
            note=row["note"],
            floor=from_utc_text(row["floor"]) if row["floor"] else None,
        )

    def pause(self, name: str, *, by: str, note: str = "") -> JobState:
        self._db.execute(
            "INSERT INTO job_state (name, paused, paused_at, paused_by, note)"
            " VALUES (?, 1, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET paused = 1,"
            " paused_at = excluded.paused_at, paused_by = excluded.paused_by,"
            " note = excluded.note",
            (name, stamp(self._clock()), by, note),
        )
        return self.state(name)

    def resume(self, name: str) -> JobState:
        """Unpause; runs count again from now (the floor moves to now)."""
        self._db.execute(
            "INSERT INTO job_state (name, paused, floor) VALUES (?, 0, ?)"
            " ON CONFLICT (name) DO UPDATE SET paused = 0, paused_at = NULL,"
            " paused_by = '', note = '', floor = excluded.floor",
            (name, stamp(self._clock())),
        )
        return self.state(name)

    def set_floor(self, name: str, moment: datetime) -> None:
        self._db.execute(
            "INSERT INTO job_state (name, floor) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET floor = excluded.floor",
            (name, stamp(moment)),
        )
