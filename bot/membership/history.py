"""The plan-run history: one row per ``apply``, one row per step, in the bot's SQLite file.

Like the job runs and their delivery ledger (``jobs/ledger.py``), under a
migration set of its own (``grouppilot-membership``), applied by
:func:`ensure_schema` when an :class:`~bot.membership.apply.Applier` is built.

- ``plan_runs``: id, started, finished (NULL while running, or after a
  crash), by (who applied), pid (the process applying it: an open run of a
  live process is running, not crashed), outcome (``running``, ``ok``, ``partial``,
  ``failed``, ``refused``, ``interrupted``) and a one-line summary.
- ``plan_steps``: one row per change (a create, or one number added,
  promoted, demoted or removed), in the order of the plan, with the states
  ``pending -> doing -> done | failed | unknown``. ``doing`` is committed
  *before* the request leaves and the outcome after it; a row still
  ``doing`` after a crash may have been carried out, so it becomes
  ``unknown`` and is never repeated: the next apply reads the group again
  and plans from what it finds.

Times are ISO 8601 UTC text (``bot.services.utc_text``). Every function
commits on its own (sqlite-utils' connection is in autocommit outside
``atomic()``), so what is on disk is always what happened so far.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlite_utils import Database, Migrations

__all__ = [
    "MEMBERSHIP_MIGRATIONS",
    "RunOutcome",
    "StepRow",
    "StepState",
    "ensure_schema",
]

MEMBERSHIP_MIGRATIONS = Migrations("grouppilot-membership")

StepState = Literal["pending", "doing", "done", "failed", "unknown"]
RunOutcome = Literal["running", "ok", "partial", "failed", "refused", "interrupted"]


@MEMBERSHIP_MIGRATIONS(name="0001_plan_runs")
def _membership_v1(db: Database) -> None:
    """Plan runs and their steps."""
    statements = (
        """CREATE TABLE plan_runs (
            id INTEGER PRIMARY KEY,
            started TEXT NOT NULL,
            finished TEXT,
            by TEXT NOT NULL DEFAULT '',
            pid INTEGER NOT NULL DEFAULT 0,
            outcome TEXT NOT NULL CHECK (outcome IN
                ('running', 'ok', 'partial', 'failed', 'refused', 'interrupted')),
            summary TEXT NOT NULL DEFAULT ''
        ) STRICT""",
        "CREATE INDEX plan_runs_unfinished ON plan_runs (finished)",
        """CREATE TABLE plan_steps (
            run_id INTEGER NOT NULL REFERENCES plan_runs (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            group_key TEXT NOT NULL,
            group_id TEXT NOT NULL DEFAULT '',
            kind TEXT NOT NULL
                CHECK (kind IN ('create', 'add', 'promote', 'demote', 'remove')),
            number TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL
                CHECK (state IN ('pending', 'doing', 'done', 'failed', 'unknown')),
            detail TEXT NOT NULL DEFAULT '',
            updated TEXT NOT NULL,
            PRIMARY KEY (run_id, position)
        ) STRICT""",
        "CREATE INDEX plan_steps_by_state ON plan_steps (run_id, state)",
    )
    for statement in statements:
        db.execute(statement)


def ensure_schema(db: Database) -> None:
    """Apply the pending membership migrations to ``db`` (cheap when up to date)."""
    if MEMBERSHIP_MIGRATIONS.pending(db):
        with db.atomic():
            MEMBERSHIP_MIGRATIONS.apply(db)


@dataclass(frozen=True)
class StepRow:
    """One step as recorded."""

    run_id: int
    position: int
    group_key: str
    group_id: str
    kind: str
    number: str
    state: str
    detail: str


def start_run(
    db: Database,
    *,
    by: str,
    now: str,
    steps: Iterable[tuple[str, str, str, str]],
    pid: int = 0,
) -> int:
    """A new run with its steps ``pending``, in one commit; its id.

    ``steps``: (group key, group id or "", kind, number) in the order they run.
    """
    with db.atomic():
        cursor = db.execute(
            "INSERT INTO plan_runs (started, by, pid, outcome) VALUES (?, ?, ?, 'running')",
            (now, by, pid),
        )
        run_id = int(cursor.lastrowid or 0)
        db.conn.executemany(
            "INSERT INTO plan_steps (run_id, position, group_key, group_id, kind, number,"
            " state, updated) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
            [
                (run_id, position, key, gid, kind, number, now)
                for position, (key, gid, kind, number) in enumerate(steps)
            ],
        )
    return run_id


def mark_doing(
    db: Database, run_id: int, positions: Sequence[int], group_id: str, now: str
) -> None:
    """Committed before the request leaves: a crash after this makes the steps ``unknown``."""
    with db.atomic():
        db.conn.executemany(
            "UPDATE plan_steps SET state = 'doing', group_id = ?, updated = ?"
            " WHERE run_id = ? AND position = ? AND state = 'pending'",
            [(group_id, now, run_id, position) for position in positions],
        )


def mark_outcome(
    db: Database,
    run_id: int,
    position: int,
    state: Literal["done", "failed", "unknown"],
    detail: str,
    now: str,
    *,
    group_id: str | None = None,
) -> None:
    """The outcome of one ``doing`` step (a create's new id in ``group_id``)."""
    if group_id is None:
        db.execute(
            "UPDATE plan_steps SET state = ?, detail = ?, updated = ?"
            " WHERE run_id = ? AND position = ?",
            (state, detail, now, run_id, position),
        )
    else:
        db.execute(
            "UPDATE plan_steps SET state = ?, detail = ?, group_id = ?, updated = ?"
            " WHERE run_id = ? AND position = ?",
            (state, detail, group_id, now, run_id, position),
        )


def finish_run(db: Database, run_id: int, outcome: RunOutcome, summary: str, now: str) -> None:
    db.execute(
        "UPDATE plan_runs SET finished = ?, outcome = ?, summary = ? WHERE id = ?",
        (now, outcome, summary, run_id),
    )


def record_refusal(db: Database, *, by: str, now: str, summary: str) -> int:
    """A run refused before any step (the removal guard): kept in the history too."""
    cursor = db.execute(
        "INSERT INTO plan_runs (started, finished, by, outcome, summary)"
        " VALUES (?, ?, ?, 'refused', ?)",
        (now, now, by, summary),
    )
    return int(cursor.lastrowid or 0)


def unfinished_runs(db: Database) -> list[tuple[int, int]]:
    """(id, pid) of the runs without an end (running, or cut short by a crash), oldest first."""
    rows = db.execute("SELECT id, pid FROM plan_runs WHERE finished IS NULL ORDER BY id").fetchall()
    return [(int(row[0]), int(row[1])) for row in rows]


def interrupt(db: Database, run_id: int, now: str, note: str) -> list[StepRow]:
    """End a run a crash left open: its ``doing`` steps become ``unknown`` (the ones returned)."""
    with db.atomic():
        doing = steps_of(db, run_id, state="doing")
        db.execute(
            "UPDATE plan_steps SET state = 'unknown', detail = ?, updated = ?"
            " WHERE run_id = ? AND state = 'doing'",
            (note, now, run_id),
        )
        db.execute(
            "UPDATE plan_runs SET finished = ?, outcome = 'interrupted', summary = ? WHERE id = ?",
            (now, f"interrupted: {len(doing)} step(s) of unknown outcome, re-read", run_id),
        )
    return doing


def steps_of(db: Database, run_id: int, *, state: str | None = None) -> list[StepRow]:
    """A run's steps in order (only those in ``state`` when given)."""
    sql = (
        "SELECT run_id, position, group_key, group_id, kind, number, state, detail"
        " FROM plan_steps WHERE run_id = ?"
    )
    params: list[object] = [run_id]
    if state is not None:
        sql += " AND state = ?"
        params.append(state)
    rows = db.execute(sql + " ORDER BY position", params).fetchall()
    return [StepRow(*row) for row in rows]
