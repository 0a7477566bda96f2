"""What the scheduler does on start: rebuild, recover interrupted runs, catch up, arm.

1. **Rebuild.** The config's ``[[jobs]]`` replace the stored config jobs;
   chat jobs are loaded from the database (one a config job now shadows is
   kept but not loaded, and reported). ``every`` jobs count from this start.
   A job disabled last time and enabled now counts nothing as missed.
2. **Recover** (:func:`jobs.recovery.recover_run`) every run left
   ``running`` (a crash) or ``interrupted`` (a shutdown): deliveries still
   ``sending`` become ``unknown``, never resent; within its
   ``catch_up_window`` the run resumes its ``pending`` deliveries, else they
   fail and the run is reported. A run the database will not let us recover
   (disk full) is kept for the storage retry, like one stopped mid-run.
3. **Catch up** (:func:`jobs.catchup.plan_catch_up`): per enabled, unpaused
   job, runs missed while the bot was down, counted from the job's
   checkpoint (its latest scheduled run on record, or its floor).
4. **Arm** every enabled, unpaused job from now.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from jobs.catchup import plan_catch_up
from jobs.ledger import Run
from jobs.outage import fault_text, is_storage_fault
from jobs.recovery import recover_run
from jobs.schedule import AtSchedule, EverySchedule, Schedule

if TYPE_CHECKING:
    from jobs.scheduler import JobScheduler
    from jobs.slots import Slot

__all__ = ["start_up"]

log = logging.getLogger(__name__)


async def start_up(scheduler: JobScheduler, now: datetime) -> None:
    """Bring ``scheduler`` (already marked running) from the database to armed jobs."""
    was_disabled = {d.name for d in scheduler.book.all() if not d.config.enabled}
    shadowed = scheduler.book.rebuild_config(scheduler.config_jobs)
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
        try:
            _catch_up(scheduler, slot, now)
        except Exception as exc:  # only its floor can be refused here: the next start counts again
            if not is_storage_fault(exc):
                raise
            log.error("%s: catch-up not checked: %s", slot.definition.name, fault_text(exc))
    for slot in scheduler.slots.values():
        scheduler.arm(slot, after=now)
    log.info(
        "scheduler started: %d jobs (%d armed)",
        len(scheduler.slots),
        sum(1 for slot in scheduler.slots.values() if slot.next_run is not None),
    )


def _recover(scheduler: JobScheduler, run: Run, now: datetime) -> None:
    try:
        recover_run(scheduler, run, now)
    except Exception as exc:
        if not is_storage_fault(exc):
            raise
        log.error(
            "%s run %s could not be recovered, the database refused a write (%s): "
            "retried when it accepts writes again",
            run.job,
            run.id,
            fault_text(exc),
        )
        scheduler.outage.keep_stalled(run, exc)


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
