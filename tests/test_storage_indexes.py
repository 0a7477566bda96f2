"""The history queries stay flat: each uses an index, and costs the same with 100x the rows.

The queries are the real ones: each call below runs the store's or the
ledger's own method, its SQL is captured with SQLite's statement trace and
explained (``EXPLAIN QUERY PLAN``), and its work is counted in SQLite virtual
machine steps (a progress handler called at every step): the count does not
depend on the machine's speed, so "flat" is checked without timing anything.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.store import Store
from jobs.definitions import DefinitionBook, stamp
from jobs.ledger import Ledger
from jobs.schema import JOB_MIGRATIONS
from jobs.tracking import Tracking

START = datetime(2026, 1, 1, tzinfo=UTC)
JOBS = ("morning", "evening")
SMALL, LARGE = 40, 4000  # runs and audit rows; LARGE is 100x SMALL
GROUPS_PER_RUN = 3
MANUAL_EVERY = 7  # every 7th run is a manual one (last_scheduled skips them)


@dataclass
class History:
    store: Store
    ledger: Ledger
    book: DefinitionBook
    last_run_id: int
    tracking: Tracking


def _track(conn: sqlite3.Connection, run_id: int, moment: str, *, still_open: bool) -> None:
    """The run's messages as the delivery tracker keeps them (the latest runs' still open)."""
    conn.execute(
        "INSERT INTO tracked_batches (batch, run_id, created, reported) VALUES (?, ?, ?, ?)",
        (f"run:{run_id}", run_id, moment, None if still_open else moment),
    )
    conn.executemany(
        "INSERT INTO tracked_messages (message_id, batch, run_id, group_id, sent_at, until,"
        " status, next_check, done) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (f"m{run_id}-{n}", f"run:{run_id}", run_id, f"g{n}@g.us", moment, moment)
            + (("SENT", moment, 0) if still_open else ("READ", moment, 1))
            for n in range(GROUPS_PER_RUN)
        ],
    )


def _fill(store: Store, runs: int) -> int:
    """``runs`` finished runs over JOBS (3 deliveries each), ``runs`` audit rows; last run id."""
    conn = store.db.conn
    tracked = "tracked_batches" in store.db.table_names()  # not in a previous schema
    with store.db.atomic():
        for index in range(runs):
            moment = stamp(START + timedelta(minutes=index))
            trigger = "manual" if index % MANUAL_EVERY == 0 else "schedule"
            cursor = conn.execute(
                "INSERT INTO job_runs (job, kind, zone, scheduled, trigger_type, started,"
                " finished, outcome, definition)"
                " VALUES (?, 'broadcast', 'UTC', ?, ?, ?, ?, 'ok', ?)",
                (JOBS[index % 2], moment, trigger, moment, moment, json.dumps({"n": index})),
            )
            conn.executemany(
                "INSERT INTO deliveries (run_id, group_id, position, state, updated)"
                " VALUES (?, ?, ?, 'sent', ?)",
                [(cursor.lastrowid, f"g{n}@g.us", n, moment) for n in range(GROUPS_PER_RUN)],
            )
            if tracked:  # the run's messages, followed by the delivery tracker
                _track(conn, int(cursor.lastrowid or 0), moment, still_open=index >= runs - 2)
            conn.execute(
                "INSERT INTO audit_log (at, chat, who, command, outcome)"
                " VALUES (?, 'telegram:-1001', 'user:1', '/groups', 'ok')",
                (moment,),
            )
        # one run left unfinished by a crash, as the scheduler would find at start
        conn.execute(
            "INSERT INTO job_runs (job, kind, zone, scheduled, trigger_type, started, outcome)"
            " VALUES ('morning', 'broadcast', 'UTC', ?, 'schedule', ?, 'running')",
            (stamp(START - timedelta(days=1)), stamp(START - timedelta(days=1))),
        )
    return int(conn.execute("SELECT MAX(id) FROM job_runs WHERE outcome = 'ok'").fetchone()[0])


def _history(store: Store, last_run_id: int) -> History:
    clock = lambda: START  # noqa: E731
    return History(
        store,
        Ledger(store.db, clock=clock),
        DefinitionBook(store.db, clock=clock),
        last_run_id,
        Tracking(store.db),
    )


@pytest.fixture(params=[SMALL, LARGE], ids=["small", "large"])
def history(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[History]:
    with Store(tmp_path / "grouppilot.db", migrations=(JOB_MIGRATIONS,)) as store:
        yield _history(store, _fill(store, request.param))


def _book(h: History) -> Any:
    return h.book.state("morning")


# Every query /job, /jobs, /status, /log and the scheduler's start repeat.
HOT: dict[str, Callable[[History], Any]] = {
    "last_run": lambda h: h.ledger.last_run("morning"),
    "runs": lambda h: h.ledger.runs("morning", 10),
    "last_scheduled": lambda h: h.ledger.last_scheduled("morning"),
    "run_at": lambda h: h.ledger.run_at("evening", START + timedelta(minutes=1)),
    "get_run": lambda h: h.ledger.get_run(h.last_run_id),
    "unfinished_runs": lambda h: h.ledger.unfinished_runs(),
    "deliveries": lambda h: h.ledger.deliveries(h.last_run_id),
    "deliveries_pending": lambda h: h.ledger.deliveries(h.last_run_id, "pending", "sending"),
    "counts": lambda h: h.ledger.counts(h.last_run_id),
    "has_deliveries": lambda h: h.ledger.has_deliveries(h.last_run_id),
    "job_state": _book,
    "recent_audit": lambda h: h.store.recent_audit(20),
    # the delivery tracker's loop and /job's delivery counts
    "tracker_next_due": lambda h: h.tracking.next_due(),
    "tracker_settled": lambda h: h.tracking.settled(f"run:{h.last_run_id}"),
    "tracker_unreported": lambda h: h.tracking.unreported(),
    "tracker_batch": lambda h: h.tracking.messages(f"run:{h.last_run_id}"),
    "delivery_counts": lambda h: h.tracking.run_counts(h.last_run_id),
}


# These sort what the index found, a bounded set: the unfinished runs, one run's rows.
SORTS_A_FEW = {"unfinished_runs", "deliveries", "deliveries_pending", "tracker_batch"}


def _statements(h: History, call: Callable[[History], Any]) -> list[str]:
    """The SQL (parameters filled in) that ``call`` runs."""
    seen: list[str] = []
    h.store.db.conn.set_trace_callback(seen.append)
    try:
        call(h)
    finally:
        h.store.db.conn.set_trace_callback(None)
    return [sql for sql in seen if sql.lstrip().upper().startswith("SELECT")]


def _steps(h: History, call: Callable[[History], Any]) -> int:
    """SQLite virtual machine steps ``call`` takes."""
    steps = 0

    def step() -> int:
        nonlocal steps
        steps += 1
        return 0  # go on

    h.store.db.conn.set_progress_handler(step, 1)
    try:
        call(h)
    finally:
        h.store.db.conn.set_progress_handler(None, 1)
    return steps


@pytest.mark.parametrize("name", HOT)
def test_each_hot_query_uses_an_index(history: History, name: str) -> None:
    statements = _statements(history, HOT[name])
    assert statements, f"{name} ran no query"
    for sql in statements:
        plan = [row[3] for row in history.store.db.conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
        if name == "recent_audit":
            # The newest rows by rowid: a backwards walk of the table stopped by
            # LIMIT (no sort); that it is flat is checked by the step count below.
            assert plan == ["SCAN audit_log"], (sql, plan)
            continue
        scans = [line for line in plan if line.startswith("SCAN")]
        assert not scans, (sql, plan)
        if name not in SORTS_A_FEW:
            assert not [line for line in plan if "TEMP B-TREE" in line], (sql, plan)


@pytest.mark.parametrize("name", HOT)
def test_each_hot_query_costs_the_same_with_100x_the_history(tmp_path: Path, name: str) -> None:
    costs = {}
    for runs in (SMALL, LARGE):
        with Store(tmp_path / f"{runs}.db", migrations=(JOB_MIGRATIONS,)) as store:
            h = _history(store, _fill(store, runs))
            HOT[name](h)  # warm: the schema is read once per connection
            costs[runs] = _steps(h, HOT[name])
    assert costs[LARGE] <= costs[SMALL] * 1.2 + 20, costs


def test_the_migration_adds_the_index_to_a_database_of_the_previous_schema(
    tmp_path: Path,
) -> None:
    path = tmp_path / "grouppilot.db"
    with Store(path) as old:  # the store's tables, the jobs' tables as the last release had them
        JOB_MIGRATIONS.apply(old.db, stop_before="0002_history_indexes")
        indexes = {index.name for index in old.db.table("job_runs").indexes}
        assert "job_runs_by_job" not in indexes
        last = _fill(old, SMALL)
    with Store(path, migrations=(JOB_MIGRATIONS,)) as store:
        applied = [migration.name for migration in JOB_MIGRATIONS.applied(store.db)]
        assert applied == ["0001_jobs", "0002_history_indexes", "0003_delivery_status"]
        indexes = {index.name for index in store.db.table("job_runs").indexes}
        assert "job_runs_by_job" in indexes
        h = _history(store, last)
        run = h.ledger.last_run("morning")
        assert run is not None and run.id == last + 1  # the unfinished run, recorded last
        (sql,) = _statements(h, HOT["last_run"])
        plan = [row[3] for row in store.db.conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
        assert plan == ["SEARCH job_runs USING INDEX job_runs_by_job (job=?)"]
    with Store(path, migrations=(JOB_MIGRATIONS,)) as again:  # applied once only
        assert JOB_MIGRATIONS.pending(again.db) == []
