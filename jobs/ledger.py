"""Run history and the delivery ledger (docs/scheduling.md), in the bot's SQLite file.

A run is identified by job name + scheduled time (``UNIQUE (job, scheduled)``
in ``job_runs``). Every run leaves a row: scheduled, started and finished
times, trigger (``schedule``, ``catch-up``, ``manual``), outcome, counts and
skip reason. Outcomes: ``running`` (in progress, or cut short by a crash),
``interrupted`` (stopped by a shutdown, resumable), ``ok``, ``partial``,
``failed``, ``skipped`` (overlap, pause) and ``missed`` (the bot was down).

Each run's per-group work is a ``deliveries`` row keyed by (run, group), in
the states ``pending -> sending -> sent | failed | unknown``. A run's
``pending`` rows are one commit; then each row takes two: ``sending``, on
disk *before* its request leaves, and its answer (committed in one
transaction with what the store keeps of it, see
:meth:`jobs.context.RunContext.record_outcome`). After a crash, a row still
``sending`` may have gone out and becomes ``unknown`` (never resent), a
``pending`` row surely did not.

A run's ``detail`` is its account: each note (a restart, a resumption, why
rows were not sent) is appended, never replaced, and the whole is kept
under :data:`jobs.records.DETAIL_LIMIT` characters (the first note and the latest ones).

The WAL is checkpointed into the database file (:meth:`Ledger.checkpoint`)
when a run ends or is interrupted and every :data:`CHECKPOINT_EVERY`
delivery outcomes, so the file alone holds the ledger up to then: deleting
``grouppilot.db-wal`` after a crash loses little, never a finished run. A
checkpoint never waits for another connection (``grouppilot exec``) and a
checkpoint that cannot complete fails nothing.

The ledger is where runs end and rows get their answer, so it is also where
they are counted (``grouppilot_job_runs``, ``grouppilot_deliveries`` in
:mod:`bot.metrics`): whichever part finished them (the executor, a resumption,
a cancel, the recovery at start).

All methods are synchronous and meant for the event-loop thread that owns
the store's connection; each write is sub-millisecond with WAL. A write the
database refuses (disk full, read-only, I/O error) raises SQLite's own
error, with nothing left half-done on the connection.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlite_utils import Database

from bot import metrics
from jobs.definitions import stamp
from jobs.records import (
    Delivery,
    Run,
    RunExists,
    State,
    Trigger,
    delivery_from_row,
    joined_detail,
    maybe_moment,
    run_from_row,
)
from jobs.schema import ensure_schema
from jobs.tracking import register_run_send

__all__ = ["CHECKPOINT_EVERY", "Ledger"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
CHECKPOINT_EVERY = 50


class Ledger:
    """Runs and deliveries of the scheduler."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock,
        checkpoint_every: int = CHECKPOINT_EVERY,
        track_delivery: timedelta = timedelta(0),
    ) -> None:
        """``track_delivery``: how long a broadcast's sent messages are followed (0: not)."""
        ensure_schema(db)
        self._db = db
        self._clock = clock
        self._track_delivery = track_delivery
        self.checkpoint_every = checkpoint_every
        self._since_checkpoint = 0

    def _now(self) -> str:
        return stamp(self._clock())

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """One committed write; a refused COMMIT leaves no transaction open behind it."""
        connection = self._db.conn
        was_open = connection.in_transaction
        try:
            return self._db.execute(sql, tuple(params))
        except BaseException:
            if not was_open and connection.in_transaction:
                # a refused COMMIT keeps its transaction: every later write would join it
                with contextlib.suppress(sqlite3.Error):
                    connection.rollback()
            raise

    def checkpoint(self) -> None:
        """Copy the WAL into the database file and empty it, as far as possible without waiting.

        Another connection reading (``grouppilot exec``) keeps part of the WAL
        in use: then as much as possible is copied, the rest waits for the next
        checkpoint. Never raises: a checkpoint that fails costs nothing but
        its purpose.
        """
        self._since_checkpoint = 0
        connection = self._db.conn
        try:
            if connection.in_transaction:
                return  # never inside someone's transaction (it would not run anyway)
            (timeout,) = connection.execute("PRAGMA busy_timeout").fetchone()
            connection.execute("PRAGMA busy_timeout = 0")  # TRUNCATE would wait for readers
            try:
                busy, frames, copied = connection.execute(
                    "PRAGMA wal_checkpoint(TRUNCATE)"
                ).fetchone()
            finally:
                connection.execute(f"PRAGMA busy_timeout = {int(timeout)}")
        except (sqlite3.Error, OSError) as exc:
            log.debug("WAL checkpoint failed: %s", exc)
            return
        if busy:
            log.debug("WAL checkpoint partial (another connection reads): %s of %s", copied, frames)
        else:
            log.debug("WAL checkpointed into the database file and emptied")

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return list(self._db.query(sql, tuple(params)))

    # -- runs -----------------------------------------------------------------------

    def open_run(
        self,
        *,
        job: str,
        kind: str,
        zone: str,
        scheduled: datetime,
        trigger: Trigger,
        definition: dict[str, Any],
        requested_by: str = "",
    ) -> Run:
        """Record a run that starts now (outcome ``running``); RunExists if recorded."""
        return self._insert(
            job, kind, zone, scheduled, trigger, requested_by, "running", "", definition
        )

    def record_not_run(
        self,
        *,
        job: str,
        kind: str,
        zone: str,
        scheduled: datetime,
        trigger: Trigger,
        outcome: Literal["skipped", "missed"],
        reason: str,
        requested_by: str = "",
    ) -> Run:
        """A run that did not happen (overlap skip, missed while down): its history row."""
        try:
            run = self._insert(job, kind, zone, scheduled, trigger, requested_by, outcome, reason)
        except RunExists:
            existing = self.run_at(job, scheduled)
            assert existing is not None
            return existing
        metrics.JOB_RUNS.labels(outcome).inc()
        return run

    def _insert(
        self,
        job: str,
        kind: str,
        zone: str,
        scheduled: datetime,
        trigger: Trigger,
        requested_by: str,
        outcome: str,
        reason: str,
        definition: dict[str, Any] | None = None,
    ) -> Run:
        now = self._now()
        running = outcome == "running"
        try:
            cursor = self._execute(
                "INSERT INTO job_runs (job, kind, zone, scheduled, trigger_type, requested_by,"
                " started, finished, outcome, skip_reason, definition)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job,
                    kind,
                    zone,
                    stamp(scheduled),
                    trigger,
                    requested_by,
                    now if running else None,
                    None if running else now,
                    outcome,
                    reason,
                    json.dumps(definition or {}),
                ),
            )
        except sqlite3.IntegrityError:
            raise RunExists(f"{job} at {stamp(scheduled)} is already recorded") from None
        run = self.get_run(int(cursor.lastrowid or 0))
        assert run is not None
        return run

    def get_run(self, run_id: int) -> Run | None:
        rows = self._rows("SELECT * FROM job_runs WHERE id = ?", (run_id,))
        return run_from_row(rows[0]) if rows else None

    def run_at(self, job: str, scheduled: datetime) -> Run | None:
        rows = self._rows(
            "SELECT * FROM job_runs WHERE job = ? AND scheduled = ?", (job, stamp(scheduled))
        )
        return run_from_row(rows[0]) if rows else None

    def runs(self, job: str, limit: int = 10) -> list[Run]:
        """The job's most recent runs (by scheduled time), newest first."""
        rows = self._rows(
            "SELECT * FROM job_runs WHERE job = ? ORDER BY scheduled DESC, id DESC LIMIT ?",
            (job, limit),
        )
        return [run_from_row(row) for row in rows]

    def last_run(self, job: str) -> Run | None:
        """The most recently recorded run of the job (any trigger, any outcome)."""
        rows = self._rows("SELECT * FROM job_runs WHERE job = ? ORDER BY id DESC LIMIT 1", (job,))
        return run_from_row(rows[0]) if rows else None

    def last_scheduled(self, job: str) -> datetime | None:
        """The latest scheduled time the job has a row for, manual runs left out."""
        rows = self._rows(
            "SELECT MAX(scheduled) AS last FROM job_runs"
            " WHERE job = ? AND trigger_type != 'manual'",
            (job,),
        )
        return maybe_moment(rows[0]["last"])

    def unfinished_runs(self) -> list[Run]:
        """Runs left ``running`` (crash) or ``interrupted`` (shutdown), oldest first."""
        rows = self._rows(
            "SELECT * FROM job_runs WHERE outcome IN ('running', 'interrupted') ORDER BY id"
        )
        return [run_from_row(row) for row in rows]

    def interrupt(self, run_id: int, note: str = "") -> None:
        """The run stopped before its end (a shutdown): resumable on the next start."""
        cursor = self._execute(
            "UPDATE job_runs SET outcome = 'interrupted' WHERE id = ?"
            " AND outcome IN ('running', 'interrupted')",
            (run_id,),
        )
        if cursor.rowcount:
            metrics.JOB_RUNS.labels("interrupted").inc()
        if note:
            self.add_note(run_id, note)

    def mark_running(self, run_id: int, note: str) -> None:
        """The run goes on (resumed): ``note`` says why it had stopped."""
        self._execute("UPDATE job_runs SET outcome = 'running' WHERE id = ?", (run_id,))
        self.add_note(run_id, note)

    def add_note(self, run_id: int, note: str) -> None:
        """Append ``note`` to the run's account (bounded, see :func:`joined_detail`)."""
        run = self.get_run(run_id)
        if run is not None:
            self._execute(
                "UPDATE job_runs SET detail = ? WHERE id = ?",
                (joined_detail(run.detail, note), run_id),
            )

    def finish(self, run_id: int, *, outcome: str | None = None, detail: str = "") -> Run:
        """Count the deliveries, set the outcome (``ok``/``partial``/``failed`` unless given)."""
        counts = self.counts(run_id)
        sent, failed, unknown = counts["sent"], counts["failed"], counts["unknown"]
        total = sum(counts.values())
        if outcome is None:
            if failed + unknown == 0:
                outcome = "ok"
            elif sent:
                outcome = "partial"
            else:
                outcome = "failed"
        previous = self.get_run(run_id)
        joined = joined_detail(previous.detail if previous else "", detail)
        self._execute(
            "UPDATE job_runs SET finished = ?, outcome = ?, total = ?, sent = ?, failed = ?,"
            " unknown = ?, detail = ? WHERE id = ?",
            (self._now(), outcome, total, sent, failed, unknown, joined, run_id),
        )
        metrics.JOB_RUNS.labels(outcome).inc()
        run = self.get_run(run_id)
        assert run is not None
        return run

    # -- deliveries -------------------------------------------------------------------

    def add_deliveries(self, run_id: int, groups: Sequence[tuple[str, str]]) -> None:
        """One ``pending`` row per (group id, name), in order; existing rows are kept."""
        now = self._now()
        with self._db.atomic():  # rolled back whole if the database refuses a row
            for position, (group_id, name) in enumerate(groups):
                self._db.execute(
                    "INSERT INTO deliveries (run_id, group_id, group_name, position, state,"
                    " updated) VALUES (?, ?, ?, ?, 'pending', ?)"
                    " ON CONFLICT (run_id, group_id) DO NOTHING",
                    (run_id, group_id, name, position, now),
                )

    def deliveries(self, run_id: int, *states: State) -> list[Delivery]:
        """The run's rows in order, only those in ``states`` when given."""
        sql = "SELECT * FROM deliveries WHERE run_id = ?"
        params: list[Any] = [run_id]
        if states:
            sql += f" AND state IN ({', '.join('?' for _ in states)})"
            params.extend(states)
        return [delivery_from_row(row) for row in self._rows(sql + " ORDER BY position", params)]

    def has_deliveries(self, run_id: int) -> bool:
        return bool(self._rows("SELECT 1 FROM deliveries WHERE run_id = ? LIMIT 1", (run_id,)))

    def counts(self, run_id: int) -> dict[str, int]:
        counts = dict.fromkeys(("pending", "sending", "sent", "failed", "unknown"), 0)
        for row in self._rows(
            "SELECT state, COUNT(*) AS n FROM deliveries WHERE run_id = ? GROUP BY state",
            (run_id,),
        ):
            counts[row["state"]] = row["n"]
        return counts

    def mark_sending(self, run_id: int, group_id: str) -> None:
        """Committed before the request leaves (a crash after this makes it ``unknown``).

        If the database refuses it, it raises and the request must not leave.
        """
        self._set_state(run_id, group_id, "sending", "pending")

    def mark_done(
        self,
        run_id: int,
        group_id: str,
        state: Literal["sent", "failed", "unknown"],
        *,
        code: str = "",
        detail: str = "",
        result: str = "",
    ) -> None:
        """The answer to a ``sending`` row; inside a caller's transaction it commits with it.

        A checkpoint falls due every :data:`CHECKPOINT_EVERY` answers; inside a
        transaction it waits for :meth:`checkpoint_if_due` after the commit.
        """
        if state == "sent" and result and self._track_delivery > timedelta(0):
            now = self._clock()
            with self._db.atomic():  # the message is followed if and only if it is recorded sent
                self._set_state(
                    run_id, group_id, state, "sending", code=code, detail=detail, result=result
                )
                register_run_send(
                    self._db, run_id, group_id, result, now=now, until=now + self._track_delivery
                )
        else:
            self._set_state(
                run_id, group_id, state, "sending", code=code, detail=detail, result=result
            )
        metrics.DELIVERIES.labels(state, metrics.code_label(code)).inc()
        self._since_checkpoint += 1
        self.checkpoint_if_due()

    def checkpoint_if_due(self) -> None:
        """:meth:`checkpoint` when :data:`CHECKPOINT_EVERY` answers were recorded since the last.

        Never inside a transaction (a checkpoint copies committed changes only).
        """
        if self._since_checkpoint >= self.checkpoint_every and not self._db.conn.in_transaction:
            self.checkpoint()  # a crash mid-run leaves little in the WAL

    def _set_state(
        self,
        run_id: int,
        group_id: str,
        state: State,
        expected: State,
        *,
        code: str = "",
        detail: str = "",
        result: str = "",
    ) -> None:
        cursor = self._execute(
            "UPDATE deliveries SET state = ?, code = ?, detail = ?, result = ?, updated = ?"
            " WHERE run_id = ? AND group_id = ? AND state = ?",
            (state, code, detail, result, self._now(), run_id, group_id, expected),
        )
        if cursor.rowcount != 1:
            raise RuntimeError(
                f"delivery ({run_id}, {group_id}) is not {expected}: cannot move it to {state}"
            )

    def set_result(self, run_id: int, group_id: str, *, result: str, detail: str) -> None:
        """Note what was found out later about a row (e.g. the link read after a crash)."""
        self._execute(
            "UPDATE deliveries SET result = ?, detail = ?, updated = ?"
            " WHERE run_id = ? AND group_id = ?",
            (result, detail, self._now(), run_id, group_id),
        )

    def set_pin(self, run_id: int, group_id: str, pin: str) -> None:
        self._execute(
            "UPDATE deliveries SET pin = ?, updated = ? WHERE run_id = ? AND group_id = ?",
            (pin, self._now(), run_id, group_id),
        )

    def sending_to_unknown(self, run_id: int, *, code: str, detail: str) -> int:
        """Rows left ``sending`` (they may have gone out) become ``unknown``; how many."""
        return self._move_all(run_id, "sending", "unknown", code=code, detail=detail)

    def fail_pending(self, run_id: int, *, code: str, detail: str) -> int:
        """Rows still ``pending`` (surely not sent) become ``failed`` with ``code``; how many."""
        return self._move_all(run_id, "pending", "failed", code=code, detail=detail)

    def _move_all(self, run_id: int, old: str, new: str, *, code: str, detail: str) -> int:
        cursor = self._execute(
            "UPDATE deliveries SET state = ?, code = ?, detail = ?, updated = ?"
            " WHERE run_id = ? AND state = ?",
            (new, code, detail, self._now(), run_id, old),
        )
        if cursor.rowcount > 0:
            metrics.DELIVERIES.labels(new, metrics.code_label(code)).inc(cursor.rowcount)
        return cursor.rowcount

    def pending_count(self) -> int:
        """Deliveries not yet answered, in every run (``pending`` or ``sending``)."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM deliveries WHERE state IN ('pending', 'sending')"
        ).fetchone()
        return int(row[0])
