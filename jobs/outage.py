"""What a storage outage (disk full, read-only file, I/O error) left unrecorded, kept in memory.

The ledger's rule is "committed first, then done": a delivery is ``sending``
on disk before its request leaves, a run has its history row before it
starts. When SQLite refuses a write (:func:`is_storage_fault`) that rule
stops the work at once, and :class:`StorageOutage` keeps, bounded, what
could not be written so that it is written, not lost, once the database
accepts writes again (:mod:`jobs.recovery` retries on a short timer and on
the next fire):

- **stalled runs**: a run whose write failed stops sending and stays
  ``running`` on disk with its ``pending`` rows; it is resumed (or expired,
  per ``catch_up_window``) like a run interrupted by a crash;
- **late outcomes**: the answer to a request that did go out (sent with its
  message id, failed with its code, a new invite link) when writing it
  failed; until written, the row stays ``sending`` on disk, so a restart
  meanwhile makes it ``unknown`` (never resent), as after a crash;
- **refused fires**: scheduled runs that could not even open their history
  row, per job (the first, the one before last, the last, how many): once
  writes work they follow the catch-up rules (the latest runs, as a
  catch-up, if within ``catch_up_window`` with ``catch_up = "once"``; the
  others get one ``missed`` row). A restart meanwhile loses nothing: those
  runs have no row, so the start's own catch-up counts them as missed;
- **not-run rows**: ``skipped``/``missed`` history rows that could not be
  written (at most :data:`MAX_KEPT`; the rest are counted and logged).

Nothing here touches the database; the notify chats and the log, which need
no database, are told when an outage begins and when it ends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from bot.storage_errors import fault_text, is_storage_fault
from bot.store import Store
from jobs.catchup import Missed
from jobs.ledger import Ledger
from jobs.records import Run, Trigger

__all__ = [
    "MAX_KEPT",
    "RETRY_DELAYS",
    "FireLog",
    "LateOutcome",
    "NotRun",
    "StorageOutage",
    "fault_text",
    "is_storage_fault",
]

MAX_KEPT = 500
RETRY_DELAYS = tuple(timedelta(seconds=s) for s in (15, 30, 60, 120, 300))


@dataclass(frozen=True)
class LateOutcome:
    """The answer to a request that went out, whose commit the database refused."""

    run_id: int
    group_id: str
    state: Literal["sent", "failed", "unknown"]
    code: str = ""
    detail: str = ""
    result: str = ""
    link: str | None = None  # a new invite link to store
    message: str | None = None  # a sent message id to keep as the group's last send

    def write(self, store: Store, ledger: Ledger) -> None:
        """Commit it: the link or message id to the store first, then the ledger row.

        Raises whatever the database raises, and `RuntimeError` from the
        ledger when the row is no longer ``sending``.
        """
        if self.link is not None:
            store.record_invite_link(self.group_id, self.link)
        if self.message is not None:
            store.record_sent(self.group_id, self.message)
        ledger.mark_done(
            self.run_id,
            self.group_id,
            self.state,
            code=self.code,
            detail=self.detail,
            result=self.result,
        )


@dataclass(frozen=True)
class NotRun:
    """A ``skipped``/``missed`` history row the database refused."""

    job: str
    kind: str
    zone: str
    scheduled: datetime
    trigger: Trigger
    outcome: Literal["skipped", "missed"]
    reason: str
    by: str = ""


@dataclass
class FireLog:
    """A job's scheduled runs whose history row could not be opened, in firing order."""

    first: datetime
    latest: datetime
    previous: datetime | None = None
    count: int = 1

    def add(self, scheduled: datetime) -> None:
        if scheduled in (self.first, self.previous, self.latest):
            return
        self.previous, self.latest = self.latest, scheduled
        self.count += 1

    def missed(self) -> Missed:
        previous = self.previous if self.count > 1 else None
        return Missed(self.count, False, self.first, previous, self.latest)


@dataclass
class StorageOutage:
    """What the database refused, until it accepts writes again (see the module docstring)."""

    cause: str = ""  # SQLite's words for the first fault of this outage
    stalled: dict[int, Run] = field(default_factory=dict)
    outcomes: list[LateOutcome] = field(default_factory=list)
    fires: dict[str, FireLog] = field(default_factory=dict)
    not_run: list[NotRun] = field(default_factory=list)
    dropped: int = 0  # not-run rows beyond MAX_KEPT: only logged
    retries: int = 0
    retrying: bool = False  # a retry is writing: refusals meanwhile are not news
    told: set[str] = field(default_factory=set)
    on_change: Callable[[], None] = lambda: None  # the scheduler arms its retry

    @property
    def active(self) -> bool:
        return bool(self.stalled or self.outcomes or self.fires or self.not_run)

    def _noted(self, error: BaseException) -> None:
        if not self.cause:
            self.cause = fault_text(error)
        self.on_change()

    def keep_stalled(self, run: Run, error: BaseException) -> None:
        self.stalled[run.id] = run
        self._noted(error)

    def keep_outcome(self, outcome: LateOutcome, error: BaseException) -> None:
        self.outcomes.append(outcome)  # bounded by the requests in flight when sending stopped
        self._noted(error)

    def keep_fire(self, job: str, scheduled: datetime, error: BaseException) -> None:
        log = self.fires.get(job)
        if log is None:
            self.fires[job] = FireLog(scheduled, scheduled)
        else:
            log.add(scheduled)
        self._noted(error)

    def keep_not_run(self, row: NotRun, error: BaseException) -> bool:
        """Keep the row for later; False when :data:`MAX_KEPT` are already waiting."""
        kept = len(self.not_run) < MAX_KEPT
        if kept:
            self.not_run.append(row)
        else:
            self.dropped += 1
        self._noted(error)
        return kept

    def first_word(self, job: str) -> bool:
        """True the first time in this outage that ``job``'s trouble is told to the chats."""
        if job in self.told or self.retrying:
            return False
        self.told.add(job)
        return True

    def next_delay(self) -> timedelta:
        """15 s, then longer, up to 5 minutes between two retries."""
        delay = RETRY_DELAYS[min(self.retries, len(RETRY_DELAYS) - 1)]
        self.retries += 1
        return delay

    def over(self) -> None:
        """Everything was written: the next fault starts a new outage."""
        self.cause, self.dropped, self.retries = "", 0, 0
        self.told.clear()
