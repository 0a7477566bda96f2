"""What the scheduler does on start: rebuild, recover interrupted runs, catch up, arm.

1. **Rebuild.** The config's ``[[jobs]]`` replace the stored config jobs;
   chat jobs are loaded from the database (one a config job now shadows is
   kept but not loaded, and reported). ``every`` jobs count from this start.
   A job disabled last time and enabled now counts nothing as missed.
2. **Recover.** Every run left ``running`` (a crash) or ``interrupted`` (a
   shutdown): deliveries still ``sending`` may have gone out, so they become
   ``unknown`` (code ``INTERRUPTED``), are logged and reported, never resent.
   If the run's scheduled time is within its ``catch_up_window`` (whatever
   ``catch_up`` says), it resumes: its ``pending`` deliveries are sent, with
   the definition the run started with. Past the window, or when its job is
   gone, disabled or paused, the pending deliveries fail (``EXPIRED``,
   ``JOB_REMOVED``, ``JOB_DISABLED``, ``JOB_PAUSED``) and the run is reported.
3. **Catch up** (:func:`jobs.catchup.plan_catch_up`): per enabled, unpaused
   job, runs missed while the bot was down, counted from the job's
   checkpoint (its latest scheduled run on record, or its floor).
4. **Arm** every enabled, unpaused job from now.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import ValidationError

from bot.durations import format_duration
from jobs.catchup import plan_catch_up
from jobs.context import EXPIRED, INTERRUPTED
from jobs.definitions import job_from_data
from jobs.ledger import Run
from jobs.schedule import AtSchedule, EverySchedule, Schedule

if TYPE_CHECKING:
    from bot.jobconfig import JobConfig
    from jobs.scheduler import JobScheduler
    from jobs.slots import Slot

__all__ = ["start_up"]

log = logging.getLogger(__name__)

LEFT_SENDING = "left mid-send by a crash: it may have gone out, so it is not resent"


async def start_up(scheduler: JobScheduler, now: datetime) -> None:
    """Bring ``scheduler`` (already marked running) from the database to armed jobs."""
    was_disabled = {d.name for d in scheduler.book.all() if not d.config.enabled}
    shadowed = scheduler.book.rebuild_config(scheduler.settings.jobs)
    scheduler.slots.clear()
    for definition in scheduler.book.all():
        scheduler.add_slot(definition, start=now)
        if definition.name in was_disabled and definition.config.enabled:
            scheduler.book.set_floor(definition.name, now)  # enabled again: nothing was missed
    for name in shadowed:
        text = (
            f"The /schedule job '{name}' is not loaded: a config job now has the same name. "
            "Rename one of them (the chat job is kept in the database)."
        )
        log.warning(text)
        scheduler.spawn(scheduler.executor.safe_notify(text))
    for run in scheduler.ledger.unfinished_runs():
        _recover(scheduler, run, now)
    for slot in list(scheduler.slots.values()):
        _catch_up(scheduler, slot, now)
    for slot in scheduler.slots.values():
        scheduler.arm(slot, after=now)
    log.info(
        "scheduler started: %d jobs (%d armed)",
        len(scheduler.slots),
        sum(1 for slot in scheduler.slots.values() if slot.next_run is not None),
    )


def _snapshot(run: Run, slot: Slot | None) -> JobConfig | None:
    """The definition the run started with (the current one if that cannot be read)."""
    if run.definition:
        try:
            return job_from_data(run.definition)
        except ValidationError:
            log.warning("run %s: its stored definition no longer validates", run.id)
    return slot.config if slot is not None else None


def _recover(scheduler: JobScheduler, run: Run, now: datetime) -> None:
    ledger = scheduler.ledger
    how = "a crash" if run.outcome == "running" else "a shutdown"
    left = ledger.deliveries(run.id, "sending")
    unknown = ledger.sending_to_unknown(run.id, code=INTERRUPTED, detail=LEFT_SENDING)
    note = f"interrupted by {how}"
    if unknown:
        log.warning(
            "%s run %s: %d left mid-send, now unknown (not resent): %s",
            run.job,
            run.id,
            unknown,
            ", ".join(d.label for d in left),
        )
        in_all = sum(1 for d in ledger.deliveries(run.id, "unknown") if d.code == INTERRUPTED)
        if in_all > unknown:  # earlier restarts left some too: the note counts them all
            note += f": {unknown} more left mid-send became unknown, {in_all} in all"
        else:
            note += f": {unknown} left mid-send became unknown"
        note += " (not resent)"
    slot = scheduler.slots.get(run.job)
    config = _snapshot(run, slot)
    problem: tuple[str, str] | None = None
    if slot is None or config is None:
        problem = ("JOB_REMOVED", "its job no longer exists")
    elif not slot.config.enabled:
        problem = ("JOB_DISABLED", "its job is disabled in the config")
    elif scheduler.book.state(run.job).paused:
        problem = ("JOB_PAUSED", "its job is paused")
    elif now - run.scheduled > config.catch_up_window:
        window = format_duration(config.catch_up_window)
        problem = (EXPIRED, f"it is past its catch_up_window ({window})")
    if problem is None and slot is not None and config is not None:
        ledger.mark_running(run.id, f"{note}, resumed on start")
        log.info("%s: resuming run %s (%s)", run.job, run.id, note)
        scheduler.start_run(slot, run.scheduled, run.trigger, existing=run, config=config)
        return
    assert problem is not None
    code, why = problem
    expired = ledger.fail_pending(run.id, code=code, detail=f"not sent: {why}")
    final = ledger.finish(run.id, detail=f"{note}; {expired} not sent: {why}" if expired else note)
    log.warning("%s run %s not resumed: %s", run.job, run.id, why)
    scheduler.spawn(scheduler.executor.report(final, config))


def _missed_schedule(slot: Slot, checkpoint: datetime) -> Schedule:
    """``every`` jobs counted from their checkpoint; the others as they are."""
    if isinstance(slot.schedule, EverySchedule):
        return EverySchedule(slot.schedule.interval, start=checkpoint, zone=slot.schedule.zone)
    return slot.schedule


def _catch_up(scheduler: JobScheduler, slot: Slot, now: datetime) -> None:
    name, config = slot.definition.name, slot.config
    state = scheduler.book.state(name)
    if not config.enabled:
        scheduler.book.set_floor(name, now)  # a disabled stretch is not "missed" later
        return
    if state.paused:
        return
    candidates = [t for t in (scheduler.ledger.last_scheduled(name), state.floor) if t is not None]
    checkpoint = max(candidates) if candidates else None
    if checkpoint is None and not isinstance(slot.schedule, AtSchedule):
        scheduler.book.set_floor(name, now)  # first sight: nothing before now was missed
        return
    schedule = slot.schedule if checkpoint is None else _missed_schedule(slot, checkpoint)
    plan = plan_catch_up(
        schedule,
        checkpoint=checkpoint,
        now=now,
        catch_up=config.catch_up,
        window=config.catch_up_window,
    )
    if plan.missed_at is not None:
        scheduler.record_not_run(slot, plan.missed_at, "schedule", "missed", plan.reason)
    if plan.run_at is not None:
        log.info("%s: catching up the run of %s", name, plan.run_at.isoformat())
        scheduler.submit(slot, plan.run_at, "catch-up")
