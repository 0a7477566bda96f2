"""Bringing runs back: after a restart, and when the database accepts writes again.

:func:`recover_run` handles a run found unfinished, on start (left ``running``
by a crash, ``interrupted`` by a shutdown) or after a storage outage (stopped
because the database refused a write): rows still ``sending`` may have gone
out, so they become ``unknown`` (code ``INTERRUPTED``), are logged and
reported, never resent. Within its ``catch_up_window`` (whatever
``catch_up`` says) the run resumes its ``pending`` rows with the definition
it started with; past it, or when its job is gone, disabled or paused, the
pending rows fail (``EXPIRED``, ``JOB_REMOVED``, ``JOB_DISABLED``,
``JOB_PAUSED``) and the run is reported. Each time adds a note to the run's
account (how it stopped, how many were left mid-send, in all).

While the database refuses writes, the scheduler keeps what it could not
record in its :class:`jobs.outage.StorageOutage` (:func:`refused_start`,
:func:`refused_record`) and calls :func:`retry_writes` on a short timer
(15 s, growing to 5 minutes) and before each fire. Once writes work, in
order: the answers that came back are written, then the ``skipped`` and
``missed`` rows, then the stopped runs are recovered as above, then the
runs that could not start follow the catch-up rules
(:func:`jobs.catchup.plan_missed`). The notify chats hear once that
writes work again. On stop, what can be written is (the stopped runs marked
``interrupted``); the rest is the next start's (rows left ``sending``
become ``unknown``, runs without a row are caught up).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Literal, Protocol

from pydantic import ValidationError

from bot.durations import format_duration
from bot.jobconfig import JobConfig
from jobs.catchup import plan_missed
from jobs.context import EXPIRED, INTERRUPTED, RunContext
from jobs.definitions import DefinitionBook, job_from_data
from jobs.ledger import Ledger
from jobs.outage import LateOutcome, NotRun, StorageOutage, fault_text, is_storage_fault
from jobs.records import Run, Trigger
from jobs.report import local_time, run_title
from jobs.runs import RunExecutor
from jobs.slots import Slot, Submission

__all__ = ["LEFT_SENDING", "recover_run", "refused_record", "refused_start", "retry_writes"]

log = logging.getLogger(__name__)

LEFT_SENDING = "left mid-send by a crash: it may have gone out, so it is not resent"


class Scheduler(Protocol):
    """The parts of :class:`jobs.scheduler.JobScheduler` that recovery uses.

    A protocol, so that this module need not import the scheduler that calls it.
    """

    ledger: Ledger
    book: DefinitionBook
    slots: dict[str, Slot]
    outage: StorageOutage
    context: RunContext
    executor: RunExecutor
    clock: Callable[[], datetime]

    def submit(
        self, slot: Slot, scheduled: datetime, trigger: Trigger, by: str = ""
    ) -> Submission: ...

    def start_run(
        self,
        slot: Slot,
        scheduled: datetime,
        trigger: Trigger,
        by: str = "",
        *,
        existing: Run | None = None,
        config: JobConfig | None = None,
    ) -> Submission: ...

    def record_not_run(
        self,
        slot: Slot,
        scheduled: datetime,
        trigger: Trigger,
        outcome: Literal["skipped", "missed"],
        reason: str,
        by: str = "",
    ) -> Run | None: ...

    def report_not_run(self, run: Run) -> None: ...

    def spawn(self, coroutine: Awaitable[None]) -> None: ...

    async def notify_chats(self, text: str) -> None: ...


def _snapshot(run: Run, slot: Slot | None) -> JobConfig | None:
    """The definition the run started with (the current one if that cannot be read)."""
    if run.definition:
        try:
            return job_from_data(run.definition)
        except ValidationError:
            log.warning("run %s: its stored definition no longer validates", run.id)
    return slot.config if slot is not None else None


def recover_run(
    scheduler: Scheduler,
    run: Run,
    now: datetime,
    *,
    stopped: str = "",
    resumed: str = "resumed on start",
) -> bool:
    """Resume an unfinished run, or fail its pending rows; True when it resumed.

    ``stopped`` says how it stopped (by default from its outcome: a crash
    leaves ``running``, a shutdown ``interrupted``).
    """
    ledger = scheduler.ledger
    if not stopped:
        how = "a crash" if run.outcome == "running" else "a shutdown"
        stopped = f"interrupted by {how}"
    left = ledger.deliveries(run.id, "sending")
    unknown = ledger.sending_to_unknown(run.id, code=INTERRUPTED, detail=LEFT_SENDING)
    note = stopped
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
        ledger.mark_running(run.id, f"{note}, {resumed}")
        log.info("%s: resuming run %s (%s)", run.job, run.id, note)
        scheduler.start_run(slot, run.scheduled, run.trigger, existing=run, config=config)
        return True
    assert problem is not None
    code, why = problem
    expired = ledger.fail_pending(run.id, code=code, detail=f"not sent: {why}")
    final = ledger.finish(run.id, detail=f"{note}; {expired} not sent: {why}" if expired else note)
    log.warning("%s run %s not resumed: %s", run.job, run.id, why)
    scheduler.spawn(scheduler.executor.report(final, config))
    return False


# -- while the database refuses writes ----------------------------------------------------


def _tell_once(scheduler: Scheduler, job: str, text: str) -> None:
    """The log hears of each refusal, the chats of the first per job and outage."""
    if scheduler.outage.retrying:
        log.debug(text)
    elif scheduler.outage.first_word(job):
        log.error(text)
        scheduler.spawn(scheduler.notify_chats(text))
    else:
        log.warning(text)


def refused_start(
    scheduler: Scheduler,
    slot: Slot,
    scheduled: datetime,
    trigger: Trigger,
    by: str,
    error: Exception,
) -> Submission:
    """A run whose history row the database refused: kept, to run or be missed later."""
    config = slot.config
    cause = fault_text(error)
    when = local_time(scheduled, config.timezone)
    if trigger == "manual":
        reason = f"the database refused to record the run ({cause}); nothing was sent"
        row = NotRun(
            config.name, config.kind, config.timezone, scheduled, trigger, "skipped", reason, by
        )
        scheduler.outage.keep_not_run(row, error)
        log.error("%s (manual run by %s): not started: %s", config.name, by, reason)
        return Submission("skipped", reason=reason)
    scheduler.outage.keep_fire(config.name, scheduled, error)
    text = (
        f"{config.name} ({when}): not started, the database refused to record the run "
        f"({cause}); when it accepts writes again the run follows the catch-up rules "
        "(it runs late within catch_up_window, or is recorded as missed)."
    )
    _tell_once(scheduler, config.name, text)
    return Submission("skipped", reason=f"the database refused to record the run ({cause})")


def refused_record(
    scheduler: Scheduler,
    slot: Slot,
    scheduled: datetime,
    trigger: Trigger,
    outcome: Literal["skipped", "missed"],
    reason: str,
    by: str,
    error: Exception,
) -> None:
    """A ``skipped``/``missed`` row the database refused: kept (bounded), written later."""
    config = slot.config
    row = NotRun(config.name, config.kind, config.timezone, scheduled, trigger, outcome, reason, by)
    kept = scheduler.outage.keep_not_run(row, error)
    later = "it is written when the database accepts writes again"
    if not kept:
        later = "too many are waiting, so it is only logged here"
    text = (
        f"{config.name} ({local_time(scheduled, config.timezone)}): {outcome} ({reason}), but "
        f"the database refused to record it ({fault_text(error)}); {later}."
    )
    _tell_once(scheduler, config.name, text)


def _write_outcome(scheduler: Scheduler, outcome: LateOutcome) -> None:
    try:
        outcome.write(scheduler.context.store, scheduler.ledger)
    except RuntimeError:  # no longer `sending`: someone else settled it
        log.warning("run %s, %s: a late answer was not needed", outcome.run_id, outcome.group_id)


def _resume_stalled(scheduler: Scheduler, now: datetime, done: list[str]) -> None:
    outage = scheduler.outage
    stopped = f"stopped by a storage failure ({outage.cause})"
    for run_id in list(outage.stalled):
        run = scheduler.ledger.get_run(run_id)
        if run is None or not run.unfinished:
            del outage.stalled[run_id]
            continue
        slot = scheduler.slots.get(run.job)
        if slot is not None and slot.active is not None:
            continue  # another run of the job is going: this one waits for the next retry
        resumed = recover_run(
            scheduler, run, now, stopped=stopped, resumed="resumed once writes worked again"
        )
        del outage.stalled[run_id]
        done.append(f"{'resumed' if resumed else 'ended'} {run_title(run)}")


def _catch_up_fires(scheduler: Scheduler, now: datetime) -> None:
    outage = scheduler.outage
    cause = f"the database refused writes ({outage.cause})"
    for job, fires in list(outage.fires.items()):
        del outage.fires[job]
        slot = scheduler.slots.get(job)
        if slot is None or not slot.config.enabled or scheduler.book.state(job).paused:
            log.info(
                "%s: %d refused run(s) dropped: the job is gone, off or paused", job, fires.count
            )
            continue
        config = slot.config
        due, done = slot.next_run, scheduler.ledger.last_scheduled(job)
        superseded = (due is not None and fires.latest < due <= now) or (
            done is not None and done > fires.latest
        )  # never an older message after a newer one
        plan = plan_missed(
            fires.missed(),
            slot.schedule,
            now=now,
            catch_up=config.catch_up,
            window=config.catch_up_window,
            cause=cause,
            superseded=superseded,
        )
        if plan.run_at is not None:
            scheduler.submit(slot, plan.run_at, "catch-up")
            if job in outage.fires:  # refused again: keep them all for the next retry
                outage.fires[job] = fires
                continue
        if plan.missed_at is not None:
            scheduler.record_not_run(slot, plan.missed_at, "schedule", "missed", plan.reason)


def retry_writes(scheduler: Scheduler, *, resume: bool = True) -> bool:
    """Write what the outage kept (see the module docstring); True when nothing waits any more.

    With ``resume=False`` (on stop) the stopped runs are only marked
    ``interrupted`` and refused runs are left to the next start's catch-up.
    """
    outage = scheduler.outage
    if not outage.active:
        return True
    ledger = scheduler.ledger
    rows = len(outage.not_run) + len(outage.outcomes)
    fires = sum(refused.count for refused in outage.fires.values())
    done: list[str] = []
    outage.retrying = True
    try:
        while outage.outcomes:
            _write_outcome(scheduler, outage.outcomes[0])
            outage.outcomes.pop(0)
        while outage.not_run:
            row = outage.not_run[0]
            run = ledger.record_not_run(
                job=row.job,
                kind=row.kind,
                zone=row.zone,
                scheduled=row.scheduled,
                trigger=row.trigger,
                outcome=row.outcome,
                reason=row.reason,
                requested_by=row.by,
            )
            outage.not_run.pop(0)
            scheduler.report_not_run(run)
        if not resume:
            for run_id in list(outage.stalled):
                ledger.interrupt(run_id, f"stopped by a storage failure ({outage.cause})")
                del outage.stalled[run_id]
            outage.fires.clear()  # no row: the next start catches them up
        else:
            _resume_stalled(scheduler, scheduler.clock(), done)
            _catch_up_fires(scheduler, scheduler.clock())
    except Exception as exc:
        if is_storage_fault(exc):
            log.debug("the database still refuses writes: %s", fault_text(exc))
        else:
            log.exception("could not write what the storage outage kept")
        return False
    finally:
        outage.retrying = False
    if outage.active:
        return False
    if resume:
        parts = [f"{_count(rows, 'record')} it had refused written"] if rows else []
        if fires:
            parts.append(f"{_count(fires, 'run')} it could not start caught up per catch_up")
        parts += done
        if outage.dropped:
            parts.append(f"{outage.dropped} skipped/missed rows were only logged")
        text = "The database accepts writes again" + (": " + "; ".join(parts) if parts else "")
        log.info(text)
        scheduler.spawn(scheduler.notify_chats(text + "."))
    outage.over()
    return True


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
