"""What the ledger keeps, as values: a run's history row and a group's delivery row.

:class:`Run` and :class:`Delivery` are frozen snapshots read from
``job_runs`` and ``deliveries`` (:mod:`jobs.ledger` writes and reads them);
:func:`joined_detail` is how a run's account grows note by note, bounded at
:data:`DETAIL_LIMIT` characters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from bot.services import from_utc_text

__all__ = [
    "ADHOC_JOB",
    "CANCELED",
    "DETAIL_LIMIT",
    "UNFINISHED",
    "Delivery",
    "Run",
    "RunExists",
    "State",
    "Trigger",
    "delivery_from_row",
    "joined_detail",
    "maybe_moment",
    "run_from_row",
]

Trigger = Literal["schedule", "catch-up", "manual"]
State = Literal["pending", "sending", "sent", "failed", "unknown"]
UNFINISHED = ("running", "interrupted")
# The `job` of an ad-hoc run (a `/send` to several groups): never a job name (no "/" in
# those), so `/job` and `/jobs` never list it; each such run is known by its id ("run #123").
ADHOC_JOB = "/send"
CANCELED = "CANCELED"  # the code of the rows `/cancel` left unsent (state `failed`)
DETAIL_LIMIT = 1000
_SEPARATOR = "; "


class RunExists(Exception):
    """A run of this job at this scheduled time is already recorded."""


@dataclass(frozen=True)
class Run:
    """One history row of ``job_runs``."""

    id: int
    job: str
    kind: str
    zone: str
    scheduled: datetime
    trigger: Trigger
    requested_by: str
    started: datetime | None
    finished: datetime | None
    outcome: str
    total: int
    sent: int
    failed: int
    unknown: int
    skip_reason: str
    detail: str
    definition: dict[str, Any]

    @property
    def adhoc(self) -> bool:
        """An ad-hoc run (a `/send`), not a run of a job."""
        return self.job == ADHOC_JOB

    @property
    def unfinished(self) -> bool:
        return self.outcome in UNFINISHED

    @property
    def duration(self) -> timedelta | None:
        if self.started is None or self.finished is None:
            return None
        return self.finished - self.started


@dataclass(frozen=True)
class Delivery:
    """One (run, group) row of the ledger."""

    run_id: int
    group_id: str
    group_name: str
    position: int
    state: State
    code: str
    detail: str
    result: str  # the message id, or the new invite link
    pin: str  # "", "pinned", or the code of a failed pin

    @property
    def label(self) -> str:
        return f"{self.group_name} ({self.group_id})" if self.group_name else self.group_id


def maybe_moment(text: str | None) -> datetime | None:
    return from_utc_text(text) if text else None


def run_from_row(row: dict[str, Any]) -> Run:
    return Run(
        id=row["id"],
        job=row["job"],
        kind=row["kind"],
        zone=row["zone"],
        scheduled=from_utc_text(row["scheduled"]),
        trigger=row["trigger_type"],
        requested_by=row["requested_by"],
        started=maybe_moment(row["started"]),
        finished=maybe_moment(row["finished"]),
        outcome=row["outcome"],
        total=row["total"],
        sent=row["sent"],
        failed=row["failed"],
        unknown=row["unknown"],
        skip_reason=row["skip_reason"],
        detail=row["detail"],
        definition=json.loads(row["definition"]),
    )


def delivery_from_row(row: dict[str, Any]) -> Delivery:
    return Delivery(**{key: row[key] for key in Delivery.__dataclass_fields__})


def joined_detail(detail: str, note: str, limit: int = DETAIL_LIMIT) -> str:
    """``note`` appended to ``detail``; past ``limit``, the first note, "…" and the latest."""
    text = _SEPARATOR.join(part for part in (detail, note) if part)
    if len(text) <= limit:
        return text
    head = text.split(_SEPARATOR, 1)[0][: limit // 3]
    tail = text[-(limit - len(head) - 2 * len(_SEPARATOR) - 1) :]
    cut = tail.find(_SEPARATOR)
    if 0 <= cut < len(tail) - len(_SEPARATOR):
        tail = tail[cut + len(_SEPARATOR) :]  # start at a note
    return f"{head}{_SEPARATOR}…{_SEPARATOR}{tail}"
