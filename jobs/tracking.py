"""What the delivery tracker keeps in SQLite: followed messages, their batches, their status.

A *batch* is what gets one follow-up: a run (``run:<id>``, its broadcast
messages, registered by :class:`jobs.ledger.Ledger` in the transaction that
records each send) or one ``/send`` (``send:<uuid>``, with the chat it came
from and the command). Each followed message has its latest provider status,
how many checks it had, when the next one is due and until when it is
followed at all (``until``: the send plus ``messages.track_delivery`` at the
time of the send, so a restart keeps the horizon it was sent with).

Checks are spaced by :func:`gap_after`: the first :data:`FIRST_CHECK` after
the send, then doubling up to :data:`MAX_GAP`. A message is ``done`` at a
final status (READ, FAILED, CANCELED) or at its horizon. A batch is
*settled* when none of its messages is still open at QUEUED or SENT; then its
follow-up is due, once (:meth:`Tracking.claim_report`).

For a run's message the status is also written to its ``deliveries`` row
(``status``, ``status_code``): the run history keeps each group's final status.

Statuses come from the tracker's checks and from the provider's webhooks
(:meth:`Tracking.apply_status`), in any order; neither ever moves a message
backwards (:func:`is_later`): a late DELIVERED after READ changes nothing,
and a poll answering SENT after a webhook said DELIVERED keeps DELIVERED.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from bot.services import from_utc_text
from jobs.definitions import stamp
from jobs.schema import ensure_schema

__all__ = [
    "COUNTED",
    "FAILED",
    "FINAL",
    "FIRST_CHECK",
    "MAX_GAP",
    "Tracked",
    "Tracking",
    "gap_after",
    "is_later",
    "register_run_send",
    "run_batch",
]

FIRST_CHECK = timedelta(seconds=10)
MAX_GAP = timedelta(minutes=2)
FINAL = frozenset({"READ", "FAILED", "CANCELED"})
FAILED = frozenset({"FAILED", "CANCELED"})
_OPEN = ("QUEUED", "SENT")  # not settled yet: the follow-up waits for these
# the words of the counts, in order; FAILED and CANCELED both count as failed
COUNTED = ("queued", "sent", "delivered", "read", "failed")
# How far along a message is; a final status is never replaced.
_PROGRESS = {"": -1, "QUEUED": 0, "SENT": 1, "DELIVERED": 2, "READ": 3, "FAILED": 3, "CANCELED": 3}


def is_later(current: str, new: str) -> bool:
    """Whether ``new`` moves a message on from ``current`` (a final status stays)."""
    if current in FINAL or new not in _PROGRESS:
        return False
    return _PROGRESS[new] > _PROGRESS.get(current, -1)


def gap_after(checks: int) -> timedelta:
    """The wait before the next check after ``checks`` checks: 10 s, 20 s, 40 s … up to 2 min."""
    doubled: timedelta = FIRST_CHECK * (2 ** min(checks, 8))
    return min(doubled, MAX_GAP)


def run_batch(run_id: int) -> str:
    return f"run:{run_id}"


@dataclass(frozen=True)
class Tracked:
    """One followed message."""

    message_id: str
    batch: str
    run_id: int | None
    group_id: str
    label: str
    sent_at: datetime
    until: datetime
    status: str
    code: str
    checks: int
    next_check: datetime


def _tracked(row: dict[str, Any]) -> Tracked:
    return Tracked(
        message_id=row["message_id"],
        batch=row["batch"],
        run_id=row["run_id"],
        group_id=row["group_id"],
        label=row["label"],
        sent_at=from_utc_text(row["sent_at"]),
        until=from_utc_text(row["until"]),
        status=row["status"],
        code=row["code"],
        checks=row["checks"],
        next_check=from_utc_text(row["next_check"]),
    )


def register_run_send(
    db: Database, run_id: int, group_id: str, message_id: str, *, now: datetime, until: datetime
) -> None:
    """Follow a run's sent message if the run is a broadcast (the ledger's hook, same transaction).

    The delivery row's status becomes QUEUED: that is all the send's answer says.
    """
    batch = run_batch(run_id)
    kind = db.execute("SELECT kind FROM job_runs WHERE id = ?", (run_id,)).fetchone()
    if kind is None or kind[0] != "broadcast":
        return
    db.execute(
        "INSERT INTO tracked_batches (batch, run_id, created) VALUES (?, ?, ?)"
        " ON CONFLICT (batch) DO NOTHING",
        (batch, run_id, stamp(now)),
    )
    db.execute(
        "INSERT INTO tracked_messages (message_id, batch, run_id, group_id, label, sent_at,"
        " until, next_check)"
        " SELECT ?, ?, run_id, group_id,"
        " CASE WHEN group_name != '' THEN group_name || ' (' || group_id || ')' ELSE group_id END,"
        " ?, ?, ? FROM deliveries WHERE run_id = ? AND group_id = ?"
        " ON CONFLICT (message_id) DO NOTHING",
        (
            message_id,
            batch,
            stamp(now),
            stamp(until),
            stamp(min(now + FIRST_CHECK, until)),
            run_id,
            group_id,
        ),
    )
    db.execute(
        "UPDATE deliveries SET status = 'QUEUED' WHERE run_id = ? AND group_id = ?",
        (run_id, group_id),
    )


class Tracking:
    """The tracker's tables; every method one short query or one transaction."""

    def __init__(self, db: Database) -> None:
        ensure_schema(db)
        self._db = db

    def register_sends(
        self,
        batch: str,
        *,
        chat: str,
        command: str,
        sends: Sequence[tuple[str, str, str]],
        now: datetime,
        until: datetime,
    ) -> None:
        """Follow a ``/send``'s messages ``(message id, group id, label)``, all in one commit."""
        first = stamp(min(now + FIRST_CHECK, until))
        with self._db.atomic():
            self._db.execute(
                "INSERT INTO tracked_batches (batch, chat, command, created) VALUES (?, ?, ?, ?)",
                (batch, chat, command, stamp(now)),
            )
            for message_id, group_id, label in sends:
                self._db.execute(
                    "INSERT INTO tracked_messages (message_id, batch, group_id, label, sent_at,"
                    " until, next_check) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (message_id) DO NOTHING",
                    (message_id, batch, group_id, label, stamp(now), stamp(until), first),
                )

    def next_due(self) -> Tracked | None:
        """The open message whose check comes first (due or not)."""
        rows = list(
            self._db.query(
                "SELECT * FROM tracked_messages WHERE done = 0 ORDER BY next_check LIMIT 1"
            )
        )
        return _tracked(rows[0]) if rows else None

    def record_check(
        self, message: Tracked, *, now: datetime, status: str | None, code: str = ""
    ) -> None:
        """One check's result (``status=None``: the check failed, retried at the next gap).

        A status older than the one stored (a webhook came first) is not kept.
        """
        checks = message.checks + 1
        with self._db.atomic():
            stored = self._db.execute(
                "SELECT status, code FROM tracked_messages WHERE message_id = ?",
                (message.message_id,),
            ).fetchone()
            current, current_code = stored if stored is not None else (message.status, message.code)
            if status is None or not is_later(current, status):
                status, latest, latest_code = None, current, current_code
            else:
                latest, latest_code = status, code
            done = latest in FINAL or now >= message.until
            next_check = min(now + gap_after(checks), message.until)
            self._db.execute(
                "UPDATE tracked_messages SET status = ?, code = ?, checks = ?, next_check = ?,"
                " done = ? WHERE message_id = ?",
                (latest, latest_code, checks, stamp(next_check), int(done), message.message_id),
            )
            if message.run_id is not None and status is not None:
                self._db.execute(
                    "UPDATE deliveries SET status = ?, status_code = ?"
                    " WHERE run_id = ? AND group_id = ?",
                    (latest, latest_code, message.run_id, message.group_id),
                )

    def apply_status(self, message_id: str, status: str, code: str = "") -> tuple[bool, str | None]:
        """A status the provider pushed (a webhook), recorded as a check's result would be.

        Updates the followed message, if any, and the ledger row that sent it
        (``deliveries.result`` is the message id), never backwards. Returns
        whether anything changed, and the followed message's batch when it did
        (its follow-up may be due now).
        """
        if not status or status not in _PROGRESS:
            return False, None
        batch: str | None = None
        args: tuple[object, ...]
        with self._db.atomic():
            row = self._db.execute(
                "SELECT batch, run_id, group_id, status FROM tracked_messages WHERE message_id = ?",
                (message_id,),
            ).fetchone()
            if row is not None:
                batch, run_id, group_id, current = row
                if not is_later(current, status):
                    return False, None
                self._db.execute(
                    "UPDATE tracked_messages SET status = ?, code = ?,"
                    " done = CASE WHEN ? THEN 1 ELSE done END WHERE message_id = ?",
                    (status, code, int(status in FINAL), message_id),
                )
                where, args = "run_id = ? AND group_id = ?", (run_id, group_id)
            else:
                # Not followed (tracking off, or past its horizon): the ledger row by its result.
                where, args = "result = ? AND state = 'sent'", (message_id,)
            changed = row is not None
            for rowid, current_status in list(
                self._db.execute(f"SELECT rowid, status FROM deliveries WHERE {where}", args)  # noqa: S608
            ):
                if is_later(current_status, status):
                    self._db.execute(
                        "UPDATE deliveries SET status = ?, status_code = ? WHERE rowid = ?",
                        (status, code, rowid),
                    )
                    changed = True
        return changed, batch

    def settled(self, batch: str) -> bool:
        """No message of the batch is still open at QUEUED or SENT."""
        row = self._db.execute(
            "SELECT 1 FROM tracked_messages WHERE batch = ? AND status IN (?, ?) AND done = 0"
            " LIMIT 1",
            (batch, *_OPEN),
        ).fetchone()
        return row is None

    def unreported(self) -> list[str]:
        """Batches whose follow-up has not gone yet (checked again at the tracker's start)."""
        rows = self._db.query("SELECT batch FROM tracked_batches WHERE reported IS NULL")
        return [row["batch"] for row in rows]

    def claim_report(self, batch: str, now: datetime) -> dict[str, Any] | None:
        """Mark the batch reported and return its row; ``None`` if it already was.

        Committed before the follow-up goes out: a crash in between loses that
        follow-up, but none is ever sent twice.
        """
        cursor = self._db.execute(
            "UPDATE tracked_batches SET reported = ? WHERE batch = ? AND reported IS NULL",
            (stamp(now), batch),
        )
        if cursor.rowcount != 1:
            return None
        rows = list(self._db.query("SELECT * FROM tracked_batches WHERE batch = ?", (batch,)))
        return rows[0] if rows else None

    def messages(self, batch: str) -> list[Tracked]:
        rows = self._db.query(
            "SELECT * FROM tracked_messages WHERE batch = ? ORDER BY rowid", (batch,)
        )
        return [_tracked(row) for row in rows]

    def run_counts(self, run_id: int) -> dict[str, int]:
        """A run's deliveries by provider status (words of :data:`COUNTED`); empty: no data."""
        counts: dict[str, int] = {}
        for row in self._db.query(
            "SELECT status, COUNT(*) AS n FROM deliveries WHERE run_id = ? AND status != ''"
            " GROUP BY status",
            (run_id,),
        ):
            word = "failed" if row["status"] in FAILED else row["status"].lower()
            counts[word] = counts.get(word, 0) + row["n"]
        return counts
