"""The ledger's cost on disk: two commits per delivery, and no fsync at each commit.

A delivery's row is committed ``sending`` before its request leaves, then
its answer is committed together with what the store keeps of it (the
message id for ``/pin <group> last``): one transaction, never half of one.
File databases run WAL with ``synchronous = NORMAL``: a commit survives the
process crashing (the crash tests show the ledger's guarantees still hold);
only the checkpoints sync to the disk.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from bot.store import Store
from jobs.schema import JOB_MIGRATIONS
from tests.scheduler_kit import RIO, SALES, START, HarnessFactory, broadcast

NINE = START.replace(hour=9) + timedelta(days=1)  # the default job's first run


@contextmanager
def transactions(store: Store) -> Iterator[list[list[str]]]:
    """Every committed transaction on ``store`` meanwhile, as its statements."""
    committed: list[list[str]] = []
    current: list[str] = []

    def seen(sql: str) -> None:
        verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        if verb == "BEGIN":
            current.clear()
        elif verb == "COMMIT":
            committed.append(list(current))
            current.clear()
        elif verb in {"INSERT", "UPDATE", "DELETE"}:
            current.append(" ".join(sql.split()[:3]))  # e.g. "UPDATE deliveries SET"

    store.db.conn.set_trace_callback(seen)
    try:
        yield committed
    finally:
        store.db.conn.set_trace_callback(None)


def test_a_file_database_runs_wal_with_synchronous_normal(tmp_path: Path) -> None:
    with Store(tmp_path / "grouppilot.db", migrations=(JOB_MIGRATIONS,)) as store:
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


@pytest.mark.parametrize("pin", [False, True])
async def test_a_broadcast_commits_sending_then_the_answer_with_the_message_id(
    make_harness: HarnessFactory, pin: bool
) -> None:
    harness = await make_harness([broadcast(pin=pin)]).start()
    with transactions(harness.store) as committed:
        await harness.advance_to(NINE)
    [run] = harness.runs("morning")
    assert (run.sent, run.failed, run.unknown) == (2, 0, 0)
    touching = [t for t in committed if any("deliveries" in s for s in t)]
    pending = [t for t in touching if t and all(s == "INSERT INTO deliveries" for s in t)]
    assert len(pending) == 1  # the run's rows, all in one commit
    answers = [t for t in touching if "INSERT INTO last_sent" in t]
    single = [t for t in touching if t == ["UPDATE deliveries SET"]]
    # per group: `sending` alone, then the answer, its message id and its entry in the
    # delivery tracker together; with pin = true, the pin's outcome (after its own
    # request) is one more
    # (the tracker's rows, and the delivery's status: QUEUED)
    tracked = {"INSERT INTO tracked_batches", "INSERT INTO tracked_messages"}
    assert [sorted(s for s in t if s not in tracked) for t in answers] == [
        ["INSERT INTO last_sent", "UPDATE deliveries SET", "UPDATE deliveries SET"]
    ] * 2
    assert all("INSERT INTO tracked_messages" in t for t in answers)
    assert len(single) == 2 + (2 if pin else 0)
    assert len(touching) == len(pending) + len(answers) + len(single)
    assert harness.store.last_sent(SALES) and harness.store.last_sent(RIO)
