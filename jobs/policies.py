"""A job's policies, as decisions the scheduler asks for (docs/scheduling.md, "Job policies").

Pure functions of a job's config, its run history and moments the caller
passes (the scheduler's clock): nothing here reads the database or the time.

- ``until`` (a date, the last day a run may happen, in the job's zone):
  :func:`job_schedule` ends the schedule at the end of that day, so nothing
  is armed or caught up after it and ``/jobs`` shows the job as ended
  (:func:`ended_text`).
- ``skip_dates``: a run whose scheduled time falls on one of those dates (in
  the job's zone) does not happen; the scheduler records it as ``skipped``
  with the reason :data:`SKIP_DATE` (:func:`on_skip_date`). Catch-up asks the
  same question, so a skipped date is never run late either.
- ``pause_on_failure = N``: after N runs in a row that ``failed``
  (:func:`failure_streak`), the job is paused by ``policy``
  (:func:`should_pause`) and the notify chats are told once
  (:func:`paused_text`). A ``partial`` run reached some groups: it does not
  count and ends the streak, as does an ``ok`` one. Runs that did not happen
  (``skipped``, ``missed``) neither count nor end it. Manual runs count like
  scheduled ones: they are runs of the same job. A ``/resume`` starts the
  streak afresh (runs before the job's floor, which resume moves, are not
  counted).
- ``every`` rhythm (:func:`every_anchor`): an ``every`` job counts its
  interval from its last scheduled run on record, else from when it was first
  seen, never from the process start, so a bot restarted daily still runs an
  ``every 1d`` job daily.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from bot.jobconfig import JobConfig, build_schedule
from jobs.records import Run
from jobs.schedule import Schedule, load_zone, resolve_local

__all__ = [
    "POLICY",
    "SKIP_DATE",
    "describe",
    "ended",
    "ended_text",
    "every_anchor",
    "failure_streak",
    "job_date",
    "job_schedule",
    "on_skip_date",
    "paused_note",
    "paused_text",
    "should_pause",
    "streak_window",
    "until_end",
]

SKIP_DATE = "skip date"  # the reason of a run skipped by `skip_dates`
POLICY = "policy"  # who paused a job paused by `pause_on_failure`
_NOT_RUN = frozenset({"skipped", "missed", "running", "interrupted"})


def describe(config: JobConfig) -> str:
    """The job's policies for ``/job``: ``pause after 3 failed runs · until 2027-12-31 · …``."""
    parts: list[str] = []
    if config.pause_on_failure is not None:
        parts.append(f"pause after {config.pause_on_failure} failed runs in a row")
    if config.until is not None:
        parts.append(f"until {config.until.isoformat()}")
    if config.skip_dates:
        parts.append("skip " + ", ".join(day.isoformat() for day in config.skip_dates))
    return " · ".join(parts)


def job_date(config: JobConfig, moment: datetime) -> date:
    """The calendar date of ``moment`` in the job's zone."""
    return moment.astimezone(load_zone(config.timezone)).date()


def until_end(config: JobConfig) -> datetime | None:
    """The first instant after the ``until`` day in the job's zone (None: no ``until``).

    What a job's :attr:`jobs.schedule.Schedule.ends` is set to; a job redefined
    in place (``/edit``) refreshes it from here.
    """
    if config.until is None:
        return None
    zone = load_zone(config.timezone)
    return resolve_local(datetime.combine(config.until + timedelta(days=1), time()), zone)


def job_schedule(config: JobConfig, *, anchor: datetime) -> Schedule:
    """The job's schedule, ended after its ``until`` day; ``every`` counts from ``anchor``."""
    schedule = build_schedule(config, start=anchor)
    schedule.ends = until_end(config)
    return schedule


def every_anchor(
    *, last_scheduled: datetime | None, first_seen: datetime | None, now: datetime
) -> datetime:
    """Where an ``every`` job's rhythm starts: its last scheduled run, or when first seen."""
    for moment in (last_scheduled, first_seen):
        if moment is not None and moment <= now:
            return moment
    return now


def ended(config: JobConfig, now: datetime) -> bool:
    """True once the job's ``until`` day is over (in its zone)."""
    end = until_end(config)
    return end is not None and now >= end


def ended_text(config: JobConfig) -> str:
    """How ``/jobs`` shows a job past its ``until``: ``ended 2026-12-31``."""
    return f"ended {config.until.isoformat()}" if config.until is not None else "ended"


def on_skip_date(config: JobConfig, scheduled: datetime) -> bool:
    """True when a run scheduled at ``scheduled`` falls on one of the job's ``skip_dates``."""
    return bool(config.skip_dates) and job_date(config, scheduled) in config.skip_dates


def streak_window(config: JobConfig) -> int:
    """How many recent history rows to read for the failure streak (skips in between too)."""
    return (config.pause_on_failure or 0) * 2 + 50


def failure_streak(runs_newest_first: Iterable[Run], *, since: datetime | None = None) -> int:
    """How many runs in a row failed, counting back from the newest finished one.

    Runs scheduled before ``since`` (the job's floor: its last ``/resume``) do
    not count: resuming says the cause was fixed, so the streak starts afresh.
    """
    streak = 0
    for run in runs_newest_first:
        if since is not None and run.scheduled < since:
            break
        if run.outcome in _NOT_RUN:
            continue  # it did not happen (or has not ended): neither counts nor breaks
        if run.outcome != "failed":
            break  # ok, or partial: some groups were reached
        streak += 1
    return streak


def should_pause(
    config: JobConfig,
    runs_newest_first: Iterable[Run],
    *,
    paused: bool,
    since: datetime | None = None,
) -> bool:
    """True when ``pause_on_failure`` says the (unpaused) job must be paused now."""
    limit = config.pause_on_failure
    if limit is None or paused:
        return False
    return failure_streak(runs_newest_first, since=since) >= limit


def paused_note(config: JobConfig) -> str:
    """The note stored with a pause by policy (``/job`` shows it)."""
    return f"pause_on_failure: {config.pause_on_failure} failed runs in a row"


def paused_text(config: JobConfig) -> str:
    """What the notify chats are told, once, when the policy pauses a job."""
    name, count = config.name, config.pause_on_failure
    return f"{name} paused after {count} failed runs in a row: /resume {name} when fixed"


def upcoming_runs(job: JobConfig, schedule: Schedule, now: datetime, count: int) -> list[datetime]:
    """Up to ``count`` runs after ``now`` in the job's zone, without its skip dates and
    those after its ``until`` (the last day runs may happen). A skipped day is stepped
    over whole, so this looks at most ``count + len(skip_dates) + 1`` times ahead."""
    found: list[datetime] = []
    moment = now
    for _ in range(count + len(job.skip_dates) + 1):
        upcoming = schedule.next_after(moment)
        if upcoming is None or (job.until is not None and upcoming.date() > job.until):
            break
        day = upcoming.date()
        if day in job.skip_dates:
            midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=upcoming.tzinfo)
            moment = midnight - timedelta(microseconds=1)
            continue
        found.append(upcoming)
        if len(found) == count:
            break
        moment = upcoming
    return found
