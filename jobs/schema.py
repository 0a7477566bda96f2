"""The scheduler's tables: job definitions, job state, run history and the delivery ledger.

They live in the bot's SQLite file next to :mod:`bot.store`'s tables, under a
migration set of their own (``grouppilot-jobs``), applied by
:func:`ensure_schema` whenever a scheduler part opens the database. A later
version changes them by appending a migration here, never by editing one
that has been applied.

- ``job_definitions``: every job as data (the validated ``JobConfig`` as
  JSON): config jobs are rebuilt at every start, ``/schedule`` jobs are kept.
  Nothing is pickled.
- ``job_state``: per job name, whether it is paused (with who, when and a
  note) and the ``floor``: missed runs only count after it (set when a job is
  first seen, resumed, or enabled again).
- ``job_runs``: one row per run, keyed by (job, scheduled time): trigger,
  started/finished, outcome, counts, skip reason, and a snapshot of the
  definition the run started with (an interrupted run resumes with it).
- ``deliveries``: one row per (run, group), the ledger of sends (or invite
  resets) with the states ``pending -> sending -> sent | failed | unknown``.

Every query the commands and the scheduler repeat has an index, so they cost
the same with a long history as with an empty one (``0002_history_indexes``).

Times are ISO 8601 UTC text with microseconds, so text order is time order.
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

__all__ = ["JOB_MIGRATIONS", "ensure_schema"]

JOB_MIGRATIONS = Migrations("grouppilot-jobs")


@JOB_MIGRATIONS(name="0001_jobs")
def _jobs_v1(db: Database) -> None:
    """Definitions, state, runs and deliveries."""
    statements = (
        """CREATE TABLE job_definitions (
            name TEXT NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('config', 'chat')),
            position INTEGER NOT NULL,
            definition TEXT NOT NULL,
            created_by TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            PRIMARY KEY (source, name)
        ) STRICT""",
        """CREATE TABLE job_state (
            name TEXT PRIMARY KEY NOT NULL,
            paused INTEGER NOT NULL DEFAULT 0,
            paused_at TEXT,
            paused_by TEXT NOT NULL DEFAULT '',
            note TEXT NOT NULL DEFAULT '',
            floor TEXT
        ) STRICT""",
        """CREATE TABLE job_runs (
            id INTEGER PRIMARY KEY,
            job TEXT NOT NULL,
            kind TEXT NOT NULL,
            zone TEXT NOT NULL,
            scheduled TEXT NOT NULL,
            trigger_type TEXT NOT NULL
                CHECK (trigger_type IN ('schedule', 'catch-up', 'manual')),
            requested_by TEXT NOT NULL DEFAULT '',
            started TEXT,
            finished TEXT,
            outcome TEXT NOT NULL,
            total INTEGER NOT NULL DEFAULT 0,
            sent INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0,
            unknown INTEGER NOT NULL DEFAULT 0,
            skip_reason TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL DEFAULT '',
            definition TEXT NOT NULL DEFAULT '{}',
            UNIQUE (job, scheduled)
        ) STRICT""",
        "CREATE INDEX job_runs_by_outcome ON job_runs (outcome)",
        """CREATE TABLE deliveries (
            run_id INTEGER NOT NULL REFERENCES job_runs (id) ON DELETE CASCADE,
            group_id TEXT NOT NULL,
            group_name TEXT NOT NULL DEFAULT '',
            position INTEGER NOT NULL,
            state TEXT NOT NULL
                CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'unknown')),
            code TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL DEFAULT '',
            result TEXT NOT NULL DEFAULT '',
            pin TEXT NOT NULL DEFAULT '',
            updated TEXT NOT NULL,
            PRIMARY KEY (run_id, group_id)
        ) STRICT""",
        "CREATE INDEX deliveries_by_state ON deliveries (run_id, state, position)",
    )
    for statement in statements:
        db.execute(statement)


@JOB_MIGRATIONS(name="0002_history_indexes")
def _jobs_v2(db: Database) -> None:
    """An index for a job's runs in recording order: its latest run without a sort.

    ``/job``, ``/jobs`` and ``/status`` read each job's last run (``WHERE job = ?
    ORDER BY id DESC LIMIT 1``); with only the ``(job, scheduled)`` index
    SQLite sorted every run of the job on each call, so the commands slowed
    down as the history grew. Every other hot query already has its index
    (tests/test_storage_indexes.py checks each plan).
    """
    db.execute("CREATE INDEX job_runs_by_job ON job_runs (job, id)")


def ensure_schema(db: Database) -> None:
    """Apply the scheduler's pending migrations to ``db`` (cheap when up to date)."""
    if JOB_MIGRATIONS.pending(db):
        JOB_MIGRATIONS.apply(db)
