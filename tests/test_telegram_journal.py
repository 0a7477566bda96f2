"""The update journal in a real SQLite file (issue 8, item 6): states, duplicates, pruning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.store import Store
from bot.telegram.journal import KEEP_DONE, UpdateJournal

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_an_update_moves_from_queued_to_taken_to_done_and_is_recorded_once(
    store: Store,
) -> None:
    journal = UpdateJournal(store.db, 42)
    assert journal.record(7, '{"update_id": 7}')
    assert not journal.record(7, '{"update_id": 7}')  # sent again by Telegram
    assert journal.record(8, '{"update_id": 8}')
    assert [e.update_id for e in journal.waiting()] == [7, 8]
    journal.take(7)
    assert [e.update_id for e in journal.cut_off()] == [7]
    assert [e.update_id for e in journal.waiting()] == [8]
    journal.finish(7)
    assert journal.states() == {7: "done", 8: "queued"}
    assert UpdateJournal(store.db, 43).states() == {}  # another bot's journal


def test_only_finished_updates_older_than_a_day_are_pruned(store: Store) -> None:
    clock = Clock()
    journal = UpdateJournal(store.db, 42, clock=clock)
    for update_id in (1, 2, 3):
        journal.record(update_id, "{}")
    journal.finish(1)
    journal.take(2)
    clock.now = T0 + KEEP_DONE - timedelta(seconds=1)
    journal.prune()
    assert journal.states() == {1: "done", 2: "taken", 3: "queued"}
    clock.now = T0 + KEEP_DONE + timedelta(seconds=1)
    journal.prune()
    assert journal.states() == {2: "taken", 3: "queued"}


def test_a_storage_fault_is_logged_and_never_raised(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    journal = UpdateJournal(store.db, 42)
    store.db.execute("DROP TABLE telegram_updates")
    assert journal.record(1, "{}")  # unknown: treated as new, so it still runs
    journal.take(1)
    journal.finish(1)
    journal.prune()
    assert journal.waiting() == [] and journal.cut_off() == []
    assert "cannot journal Telegram update 1" in caplog.text
    assert "cannot update the Telegram update journal" in caplog.text
