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

Delivery status (``0003_delivery_status``, see :mod:`jobs.tracking`):
``deliveries`` gains ``status``/``status_code``, the provider's latest word
on the group's message (``''`` until tracking has data); ``tracked_messages``
holds every message the tracker follows, and ``tracked_batches`` one row per
run or ``/send`` whose follow-up is due once (``reported`` set when it went).

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


@JOB_MIGRATIONS(name="0003_delivery_status")
def _jobs_v3(db: Database) -> None:
    """Delivery status: each message's provider status, followed until final or a horizon."""
    statements = (
        "ALTER TABLE deliveries ADD COLUMN status TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE deliveries ADD COLUMN status_code TEXT NOT NULL DEFAULT ''",
        "CREATE INDEX deliveries_by_status ON deliveries (run_id, status)",  # /job's counts
        """CREATE TABLE tracked_batches (
            batch TEXT PRIMARY KEY NOT NULL,
            run_id INTEGER,
            chat TEXT NOT NULL DEFAULT '',
            command TEXT NOT NULL DEFAULT '',
            created TEXT NOT NULL,
            reported TEXT
        ) STRICT""",
        "CREATE INDEX tracked_batches_unreported ON tracked_batches (reported)",
        """CREATE TABLE tracked_messages (
            message_id TEXT PRIMARY KEY NOT NULL,
            batch TEXT NOT NULL REFERENCES tracked_batches (batch) ON DELETE CASCADE,
            run_id INTEGER,
            group_id TEXT NOT NULL,
            label TEXT NOT NULL DEFAULT '',
            sent_at TEXT NOT NULL,
            until TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'QUEUED',
            code TEXT NOT NULL DEFAULT '',
            checks INTEGER NOT NULL DEFAULT 0,
            next_check TEXT NOT NULL,
            done INTEGER NOT NULL DEFAULT 0
        ) STRICT""",
        # the tracker's one repeated question: the open message due first
        "CREATE INDEX tracked_due ON tracked_messages (done, next_check)",
        "CREATE INDEX tracked_by_batch ON tracked_messages (batch, status)",
    )
    for statement in statements:
        db.execute(statement)


def ensure_schema(db: Database) -> None:
    """Apply the scheduler's pending migrations to ``db`` (cheap when up to date)."""
    if JOB_MIGRATIONS.pending(db):
        JOB_MIGRATIONS.apply(db)
