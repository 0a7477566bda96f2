"""Start-up: the jobs from the database to armed slots, runs a stop left open resumed.

:func:`bring_up` is what :meth:`jobs.scheduler.JobScheduler.start` does once
the scheduler is marked running: rebuild the config jobs' definitions (a
chat job of the same name is shadowed, and said so), make a slot per job,
resume or fail the runs a crash or a stop left open (:mod:`jobs.recovery`;
ad-hoc ``/send`` runs through :mod:`jobs.adhoc`), apply the catch-up rules to
what was missed while down (:func:`jobs.startup.check_missed`, skipping a
job's skip dates), and arm every slot. A database that refuses a write here
holds up only what needed it: the run waits in the outage queue, the floor
is counted again at the next start.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from bot.jobconfig import JobConfig
from jobs import policies
from jobs.adhoc import AdHocRuns
from jobs.definitions import JobDefinition
from jobs.outage import fault_text, is_storage_fault
from jobs.records import Run
from jobs.recovery import Scheduler, recover_run
from jobs.slots import Slot
from jobs.startup import check_missed, shadowed_text

__all__ = ["StartingScheduler", "bring_up"]

log = logging.getLogger("jobs.scheduler")  # the scheduler's log, where these lines always were


class StartingScheduler(Scheduler, Protocol):
    """The parts of the scheduler that start-up uses, beyond what recovery does."""

    adhoc: AdHocRuns

    @property
    def config_jobs(self) -> Sequence[JobConfig]: ...

    def add_slot(self, definition: JobDefinition, *, start: datetime) -> Slot: ...

    def arm(self, slot: Slot, *, after: datetime) -> None: ...


def bring_up(scheduler: StartingScheduler, now: datetime) -> None:
    """Bring the jobs (already marked running) from the database to armed slots."""
    was_disabled = {d.name for d in scheduler.book.all() if not d.config.enabled}
    shadowed = scheduler.book.rebuild_config(scheduler.config_jobs)
    scheduler.slots.clear()
    for definition in scheduler.book.all():
        scheduler.add_slot(definition, start=now)
        if definition.name in was_disabled and definition.config.enabled:
            scheduler.book.set_floor(definition.name, now)  # enabled again: nothing was missed
    for name in shadowed:
        text = shadowed_text(name)
        log.warning(text)
        scheduler.spawn(scheduler.executor.safe_notify(text))
    for run in scheduler.ledger.unfinished_runs():
        if run.adhoc:
            scheduler.adhoc.recover(run, now)
        else:
            _recover(scheduler, run, now)
    for slot in list(scheduler.slots.values()):
        try:
            _catch_up(scheduler, slot, now)
        except Exception as exc:  # only its floor can be refused: the next start counts again
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


def _recover(scheduler: StartingScheduler, run: Run, now: datetime) -> None:
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


def _catch_up(scheduler: StartingScheduler, slot: Slot, now: datetime) -> None:
    name, config = slot.definition.name, slot.config
    state = scheduler.book.state(name)
    counts = config.enabled and not state.paused  # else nothing is read: nothing is missed
    check = check_missed(
        slot.schedule,
        config,
        paused=state.paused,
        last_scheduled=scheduler.ledger.last_scheduled(name) if counts else None,
        floor=state.floor,
        now=now,
    )
    if check.set_floor:
        scheduler.book.set_floor(name, now)
    plan = check.plan
    if plan is None:
        return
    if plan.missed_at is not None:
        scheduler.record_not_run(slot, plan.missed_at, "schedule", "missed", plan.reason)
    if plan.run_at is not None and policies.on_skip_date(config, plan.run_at):
        scheduler.record_not_run(slot, plan.run_at, "schedule", "skipped", policies.SKIP_DATE)
    elif plan.run_at is not None:
        log.info("%s: catching up the run of %s", name, plan.run_at.isoformat())
        scheduler.submit(slot, plan.run_at, "catch-up")
