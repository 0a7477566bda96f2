"""Which runs were missed while the bot was down, and what to do about them (docs/scheduling.md).

Pure functions of a :class:`jobs.schedule.Schedule`, the job's checkpoint
(the latest scheduled time it has a history row for, or its floor) and now;
no clock, no database. On start the scheduler asks :func:`plan_catch_up` for
every enabled, unpaused job:

- run times in ``(checkpoint, now]`` were missed (an ``at`` job that never
  ran has no checkpoint: its time counts as missed once it has passed, also
  before the first start; cron and ``every`` jobs without a checkpoint
  missed nothing);
- with ``catch_up = "once"`` and the latest missed time within
  ``catch_up_window`` of now, that one runs once, now (trigger ``catch-up``);
  any earlier ones are recorded together as one ``missed`` history row;
- otherwise the latest is recorded as ``missed``, naming how many there were.

Counting stops at :data:`COUNT_LIMIT` (a every-30s job down for a month);
the latest missed time is then found by searching back from now.

The same rules (:func:`plan_missed`) apply to runs that could not start
because the database refused to record them (:mod:`jobs.outage`), once it
accepts writes again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.durations import format_duration
from jobs.schedule import AtSchedule, Schedule

__all__ = [
    "COUNT_LIMIT",
    "DOWN",
    "CatchUpPlan",
    "Missed",
    "missed_runs",
    "plan_catch_up",
    "plan_missed",
]

COUNT_LIMIT = 1000
DOWN = "the bot was down"
_LOOK_BACK = (
    timedelta(minutes=1),
    timedelta(hours=1),
    timedelta(days=1),
    timedelta(days=8),
    timedelta(days=32),
    timedelta(days=366),
    timedelta(days=5 * 366),
)


@dataclass(frozen=True)
class Missed:
    """Run times in ``(checkpoint, now]``: how many, the first, the one before last, the last."""

    count: int
    capped: bool  # count is a lower bound
    first: datetime
    previous: datetime | None  # the one before `latest` (None if unknown or count == 1)
    latest: datetime


@dataclass(frozen=True)
class CatchUpPlan:
    """Start-up decision for one job: run one missed time now, and/or record a missed row."""

    run_at: datetime | None = None
    missed_at: datetime | None = None
    reason: str = ""

    @property
    def empty(self) -> bool:
        return self.run_at is None and self.missed_at is None


def _latest_until(schedule: Schedule, now: datetime, floor: datetime) -> datetime | None:
    """The last run time in ``(floor, now]``, searching back from now in growing steps."""
    for back in _LOOK_BACK:
        start = max(now - back, floor)
        found = schedule.next_after(start)
        if found is not None and found <= now:
            while (upcoming := schedule.next_after(found)) is not None and upcoming <= now:
                found = upcoming
            return found
        if start == floor:
            return None
    return None


def missed_runs(schedule: Schedule, *, checkpoint: datetime | None, now: datetime) -> Missed | None:
    """The run times of ``schedule`` in ``(checkpoint, now]``; None when there are none."""
    if checkpoint is None:
        if not isinstance(schedule, AtSchedule):
            return None
        checkpoint = schedule.when - timedelta(microseconds=1)
    first = schedule.next_after(checkpoint)
    if first is None or first > now:
        return None
    count, previous, latest = 1, None, first
    while count < COUNT_LIMIT:
        upcoming = schedule.next_after(latest)
        if upcoming is None or upcoming > now:
            return Missed(count, False, first, previous, latest)
        count, previous, latest = count + 1, latest, upcoming
    upcoming = schedule.next_after(latest)
    if upcoming is None or upcoming > now:
        return Missed(count, False, first, previous, latest)
    final = _latest_until(schedule, now, latest) or latest
    return Missed(count + 1, True, first, None, final)


def _when(moment: datetime, schedule: Schedule) -> str:
    return moment.astimezone(schedule.zone).strftime("%Y-%m-%d %H:%M %Z")


def _runs(count: int, capped: bool) -> str:
    return f"more than {count - 1} runs" if capped else f"{count} run{'s' if count != 1 else ''}"


def plan_catch_up(
    schedule: Schedule,
    *,
    checkpoint: datetime | None,
    now: datetime,
    catch_up: str,
    window: timedelta,
) -> CatchUpPlan:
    """What to do on start about runs missed while the bot was down."""
    missed = missed_runs(schedule, checkpoint=checkpoint, now=now)
    if missed is None:
        return CatchUpPlan()
    return plan_missed(missed, schedule, now=now, catch_up=catch_up, window=window)


def plan_missed(
    missed: Missed,
    schedule: Schedule,
    *,
    now: datetime,
    catch_up: str,
    window: timedelta,
    cause: str = DOWN,
    superseded: bool = False,
) -> CatchUpPlan:
    """The catch-up rules for runs ``missed`` because of ``cause`` (the bot down, by default).

    ``superseded``: a later run is due or done, so none of them runs late.
    """
    late = now - missed.latest
    if catch_up == "once" and late <= window and not superseded:
        if missed.count == 1:
            return CatchUpPlan(run_at=missed.latest)
        earlier = _runs(missed.count - 1, missed.capped)
        span = _when(missed.first, schedule)
        if missed.previous is not None and missed.previous != missed.first:
            span += f" to {_when(missed.previous, schedule)}"
        reason = (
            f"{cause}: {earlier} missed ({span}); "
            f"only the latest ({_when(missed.latest, schedule)}) ran, as a catch-up"
        )
        return CatchUpPlan(run_at=missed.latest, missed_at=missed.first, reason=reason)
    if superseded:
        why = "a later run is due"
    elif catch_up != "once":
        why = 'catch_up = "skip"'
    else:
        rounded = timedelta(seconds=int(late.total_seconds()))
        why = f"{format_duration(rounded)} late, past catch_up_window {format_duration(window)}"
    span = ""
    if missed.count > 1:
        span = f", {_runs(missed.count, missed.capped)} from {_when(missed.first, schedule)}"
    reason = f"{cause}{span}; not run: {why}"
    return CatchUpPlan(missed_at=missed.latest, reason=reason)
