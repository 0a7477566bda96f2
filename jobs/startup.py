"""What the scheduler decides on start, as pure functions (like :mod:`jobs.catchup`).

:meth:`jobs.scheduler.JobScheduler.start` runs the start in four steps and
asks this module what to do; nothing here touches the database or the clock.

1. **Rebuild.** The config's ``[[jobs]]`` replace the stored config jobs;
   chat jobs are loaded from the database (one a config job now shadows is
   kept but not loaded, and reported: :func:`shadowed_text`). ``every`` jobs
   count from this start. A job disabled last time and enabled now counts
   nothing as missed.
2. **Recover** (:func:`jobs.recovery.recover_run`) every run left
   ``running`` (a crash) or ``interrupted`` (a shutdown): deliveries still
   ``sending`` become ``unknown``, never resent; within its
   ``catch_up_window`` the run resumes its ``pending`` deliveries, else they
   fail and the run is reported. A run the database will not let us recover
   (disk full) is kept for the storage retry, like one stopped mid-run.
3. **Catch up** (:func:`check_missed`, then :func:`jobs.catchup.plan_catch_up`):
   per enabled, unpaused job, runs missed while the bot was down, counted
   from the job's checkpoint (its latest scheduled run on record, or its floor).
4. **Arm** every enabled, unpaused job from now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.jobconfig import JobConfig
from jobs.catchup import CatchUpPlan, plan_catch_up
from jobs.schedule import AtSchedule, EverySchedule, Schedule

__all__ = ["StartCheck", "check_missed", "shadowed_text"]


@dataclass(frozen=True)
class StartCheck:
    """What a start does for one job: move its floor to now, and/or act on a catch-up plan."""

    set_floor: bool = False  # nothing before now counts as missed (from now on)
    plan: CatchUpPlan | None = None  # what was missed, and what runs now


def shadowed_text(name: str) -> str:
    """What the log and the notify chats hear about a chat job a config job now shadows."""
    return (
        f"The /schedule job '{name}' is not loaded: a config job now has the same name. "
        "Rename one of them (the chat job is kept in the database)."
    )


def check_missed(
    schedule: Schedule,
    config: JobConfig,
    *,
    paused: bool,
    last_scheduled: datetime | None,
    floor: datetime | None,
    now: datetime,
) -> StartCheck:
    """What the start does about runs of one job missed while the bot was down."""
    if not config.enabled:
        return StartCheck(set_floor=True)  # a disabled stretch is not "missed" later
    if paused:
        return StartCheck()
    candidates = [t for t in (last_scheduled, floor) if t is not None]
    checkpoint = max(candidates) if candidates else None
    if checkpoint is None and not isinstance(schedule, AtSchedule):
        return StartCheck(set_floor=True)  # first sight: nothing before now was missed
    missed = schedule if checkpoint is None else _missed_schedule(schedule, checkpoint)
    plan = plan_catch_up(
        missed,
        checkpoint=checkpoint,
        now=now,
        catch_up=config.catch_up,
        window=config.catch_up_window,
    )
    return StartCheck(plan=plan)


def _missed_schedule(schedule: Schedule, checkpoint: datetime) -> Schedule:
    """``every`` jobs counted from their checkpoint; the others as they are."""
    if isinstance(schedule, EverySchedule):
        return EverySchedule(schedule.interval, start=checkpoint, zone=schedule.zone)
    return schedule
