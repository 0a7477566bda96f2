"""The job scheduler: config and ``/schedule`` jobs on one APScheduler, runs in our ledger.

:class:`JobScheduler` owns the jobs of one bot. Definitions are data
(:mod:`jobs.definitions`); APScheduler only fires the moments this class
arms (:mod:`jobs.timer`); history and deliveries are ours (:mod:`jobs.ledger`).

- **Arming.** Each enabled, unpaused job has its next scheduled time (from
  :mod:`jobs.schedule`, with the DST rules of docs/scheduling.md) armed at that time
  plus a random ``jitter``, capped so it stays at least a second before the
  following run ("never past the next run"). A fire hands its run to the
  overlap policy and re-arms the next run right after (the loop's next turn).
- **Overlap.** A run due while the job's previous run is still going is
  ``skip``-ped (a history row with the reason) or, with ``queue``, waits
  (one at most; a further one is skipped). ``/run`` goes through the same.
- **Policies** (:mod:`jobs.policies`): no run after ``until``; a run on one
  of the ``skip_dates`` is recorded as skipped; ``pause_on_failure`` pauses
  the job after that many failed runs in a row; ``every`` jobs keep their
  rhythm from the last scheduled run on record.
- **Pause** is stored (kept across restarts, config jobs too) and disarms
  the job; **resume** arms the next run after *now*: nothing that fell in
  the pause runs late.
- **Start** (:mod:`jobs.startup`): config jobs rebuilt into the database,
  interrupted runs recovered, missed runs caught up, every job armed.
- **Stop**: no new fires; a running run stops before its next send and is
  left ``interrupted``, with its pending deliveries, for the next start.
- **Storage outage** (:mod:`jobs.outage`, :mod:`jobs.recovery`): when the
  database refuses a write, nothing is sent that was not recorded first;
  what could not be recorded is kept in memory, the chats are told, and it
  is written (stopped runs resumed, refused runs caught up) once writes
  work again, retried on a short timer and before each fire.

Everything runs on the event loop; time comes from ``clock``, pauses between
sends from ``sleep``, randomness from ``rng``, so tests drive it all with a
fake clock and a fake timer. In a process that does not start it (``exec``)
the reads work from the database and the changes are refused.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from bot.jobconfig import JobConfig
from bot.membership.planning import PlanSource
from bot.notify import LogNotifier, Notifier
from bot.services import GroupDirectory, utc_now
from bot.store import Store
from bot.whatsapp.client import WhatsAppClient
from jobs import policies
from jobs.adhoc import AdHocRuns
from jobs.bring_up import bring_up
from jobs.connection import ConnectionAlerts
from jobs.context import RunContext
from jobs.definitions import DefinitionBook, DefinitionError, JobDefinition, job_to_data
from jobs.ledger import Ledger
from jobs.outage import StorageOutage, fault_text, is_storage_fault
from jobs.records import Run, RunExists, Trigger
from jobs.recovery import refused_record, refused_start, retry_writes
from jobs.report import local_time, run_report, should_report
from jobs.runs import RunExecutor
from jobs.slots import (
    JobNotFound,
    Queued,
    SchedulerNotRunning,
    Slot,
    Submission,
    jitter_delay,
)

if TYPE_CHECKING:
    from jobs.timer import Timer

__all__ = [
    "RETRY_KEY",
    "JobNotFound",
    "JobScheduler",
    "SchedulerNotRunning",
    "StorageRefused",
    "Submission",
    "jitter_delay",
]

log = logging.getLogger(__name__)

RETRY_KEY = "storage:retry"  # the timer key of the outage retry (no job name has a colon)


class StorageRefused(SchedulerNotRunning):
    """``/run`` refused: the database would not record the run (the command layer says why)."""


class JobScheduler:
    """Config and chat-defined jobs of one bot (see the module docstring)."""

    def __init__(
        self,
        *,
        config_jobs: Sequence[JobConfig],
        parallel: int,
        store: Store,
        client: WhatsAppClient,
        directory: GroupDirectory,
        timer: Timer | None = None,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        stop_timeout: float = 20.0,
        track_delivery: timedelta = timedelta(0),
        connection: ConnectionAlerts | None = None,
        plan_source: PlanSource | None = None,
    ) -> None:
        """`config_jobs`: the jobs of the config file; `parallel`: sends of one run in flight.

        `track_delivery`: how long a broadcast's sent messages are followed
        (`messages.track_delivery`; the ledger registers them for `jobs.tracker`).
        `connection`: the number's connection state its broadcasts read (fail fast).
        `plan_source`: the groups file a drift job plans (`membership.file`).
        """
        self.config_jobs = tuple(config_jobs)
        self.clock = clock
        self.book = DefinitionBook(store.db, clock=clock)
        self.ledger = Ledger(store.db, clock=clock, track_delivery=track_delivery)
        self.rng = rng if rng is not None else random.Random()  # noqa: S311 - jitter, not secrets
        self._timer = timer  # the APScheduler one is built when first needed (never by `exec`)
        self.stop_timeout = stop_timeout
        self.outage = StorageOutage(on_change=self._arm_retry)
        self._retry_armed = False
        self.context = RunContext(
            ledger=self.ledger,
            client=client,
            store=store,
            clock=clock,
            sleep=sleep,
            rng=self.rng,
            stopping=lambda: self._stopping,
            outage=self.outage,
            parallel=parallel,
            connection=connection,
            plan_source=plan_source,
        )
        self.executor = RunExecutor(self.context, directory, self.notify_chats)
        self.notifier: Notifier = LogNotifier()
        self.slots: dict[str, Slot] = {}
        self.started_at: datetime | None = None
        self._running = False
        self._stopping = False
        self._side_tasks: set[asyncio.Task[None]] = set()
        self._run_tasks: set[asyncio.Task[Run]] = set()  # also those of jobs deleted meanwhile
        self.adhoc = AdHocRuns(self, directory)  # `/send` to several groups, and `/cancel`

    @property
    def timer(self) -> Timer:
        """The timer given, or an APScheduler one built on first use (importing APScheduler)."""
        if self._timer is None:
            from jobs.timer import (
                APSchedulerTimer,
            )  # here: `exec` never loads APScheduler's scheduler

            self._timer = APSchedulerTimer()
        return self._timer

    # -- life cycle -----------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._running and not self._stopping

    async def start(self, notifier: Notifier | None = None) -> None:
        """Rebuild, recover, catch up, arm (see :mod:`jobs.startup`); reports go to ``notifier``."""
        if self._running:
            raise RuntimeError("the scheduler is already running")
        if notifier is not None:
            self.notifier = notifier
        self._stopping = False
        now = self.clock()
        self.started_at = now
        self.timer.start()
        self._running = True
        bring_up(self, now)

    async def stop(self) -> None:
        """Stop firing; let running runs reach their next send, then leave them resumable."""
        if not self._running:
            return
        self._stopping = True
        self.timer.stop()
        self._retry_armed = False
        for slot in self.slots.values():
            slot.queued = None
        pending: set[asyncio.Task[Run]] = set()
        if self._run_tasks:
            _, pending = await asyncio.wait(set(self._run_tasks), timeout=self.stop_timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if not retry_writes(self, resume=False):
            log.warning(
                "stopping while the database refuses writes (%s): runs it stopped resume on "
                "the next start, answers it did not record are reported unknown then",
                self.outage.cause,
            )
        if self._side_tasks:
            await asyncio.wait(set(self._side_tasks), timeout=2.0)
        self._running = False
        log.info("scheduler stopped")

    async def wait_idle(self) -> None:
        """Wait until no run is in progress or waiting and every report went out.

        Unbounded: wrap it in ``asyncio.timeout`` where that matters.
        """
        while True:
            busy: set[asyncio.Task[Any]] = {*self._run_tasks, *self._side_tasks}
            if busy:
                await asyncio.wait(busy)
                continue
            await asyncio.sleep(0)  # a run that just ended may start its queued one
            if not self._run_tasks and not self._side_tasks:
                return

    def require_running(self) -> None:
        if not self.running:
            raise SchedulerNotRunning(
                "The scheduler is not running in this process: job changes and runs are made "
                "in the bot itself (its console or Telegram), not with `grouppilot exec`."
            )

    # -- arming and firing ----------------------------------------------------------

    def add_slot(self, definition: JobDefinition, *, start: datetime) -> Slot:
        state = self.book.state(definition.name)
        anchor = start
        if definition.config.every is not None:  # keeps its rhythm across restarts
            anchor = policies.every_anchor(
                last_scheduled=self.ledger.last_scheduled(definition.name),
                first_seen=state.floor,
                now=start,
            )
        slot = Slot(definition, policies.job_schedule(definition.config, anchor=anchor))
        slot.paused = state.paused
        _ = slot.config_data  # built now, not on the fire path
        self.slots[definition.name] = slot
        return slot

    def arm(self, slot: Slot, *, after: datetime) -> None:
        """Arm the slot's next run strictly after ``after`` (or disarm it)."""
        name = slot.definition.name
        upcoming = None
        if self.running and slot.config.enabled and not slot.paused:
            upcoming = slot.schedule.next_after(after)
        slot.next_run = upcoming
        if upcoming is None:
            slot.fire_at = None
            self.timer.disarm(name)
            return
        slot.fire_at = upcoming + self.jitter(slot, upcoming)
        scheduled = upcoming

        async def fire() -> None:
            self.on_fire(name, scheduled)

        self.timer.arm(name, slot.fire_at, fire)

    def jitter(self, slot: Slot, scheduled: datetime) -> timedelta:
        return jitter_delay(slot.schedule, slot.config.jitter, scheduled, self.rng)

    def on_fire(self, name: str, scheduled: datetime) -> None:
        """The timer fired for ``scheduled``: re-arm, then run (or record why not)."""
        slot = self.slots.get(name)
        if slot is None or not self.running or slot.next_run != scheduled:
            return  # removed, paused or re-armed since: a stale fire
        retry_writes(self)  # what an outage kept comes first (nothing when there is none)
        now = self.clock()
        fire_at = slot.fire_at or scheduled
        self._rearm_soon(slot, after=max(scheduled, now))
        config = slot.config
        late = now - fire_at
        if late > config.catch_up_window:
            reason = (
                f"fired {local_time(now, config.timezone)}, past catch_up_window "
                "(was the machine asleep?)"
            )
            self.record_not_run(slot, scheduled, "schedule", "missed", reason)
            return
        if policies.on_skip_date(config, scheduled):
            self.record_not_run(slot, scheduled, "schedule", "skipped", policies.SKIP_DATE)
            return
        self.submit(slot, scheduled, "schedule")

    def _rearm_soon(self, slot: Slot, *, after: datetime) -> None:
        """Arm the slot's next run at the loop's next turn, unless something re-armed it first.

        Many jobs due at one instant fire in one turn of the loop: their runs
        start first, the re-arming (APScheduler bookkeeping) follows right
        after, so no run's start waits for the others' re-arming.
        """
        armed_for = slot.next_run

        def rearm() -> None:
            if self.slots.get(slot.definition.name) is slot and slot.next_run == armed_for:
                self.arm(slot, after=after)

        asyncio.get_running_loop().call_soon(rearm)

    # -- overlap ----------------------------------------------------------------------

    def submit(self, slot: Slot, scheduled: datetime, trigger: Trigger, by: str = "") -> Submission:
        """Start a run now, or queue or skip it per the job's ``overlap``."""
        if slot.active is None:
            return self.start_run(slot, scheduled, trigger, by)
        config = slot.config
        previous = slot.active_run
        since = f" ({local_time(previous.scheduled, config.timezone)})" if previous else ""
        if config.overlap == "queue" and slot.queued is None:
            slot.queued = Queued(scheduled, trigger, by)
            return Submission("queued", reason=f"waiting for the previous run{since} to end")
        if config.overlap == "queue":
            reason = "a run was already waiting for the previous one to end (overlap = queue)"
        else:
            reason = f"the previous run{since} was still running (overlap = skip)"
        run = self.record_not_run(slot, scheduled, trigger, "skipped", reason, by)
        return Submission("skipped", run, reason=reason)

    def start_run(
        self,
        slot: Slot,
        scheduled: datetime,
        trigger: Trigger,
        by: str = "",
        *,
        existing: Run | None = None,
        config: JobConfig | None = None,
    ) -> Submission:
        """Open the run's history row (unless resuming ``existing``) and start it."""
        config = config or slot.config
        run = existing
        if run is None:
            try:
                run = self.ledger.open_run(
                    job=config.name,
                    kind=config.kind,
                    zone=config.timezone,
                    scheduled=scheduled,
                    trigger=trigger,
                    definition=slot.config_data if config is slot.config else job_to_data(config),
                    requested_by=by,
                )
            except RunExists:
                log.warning(
                    "%s at %s already has a history row: not run again", config.name, scheduled
                )
                return Submission(
                    "skipped", self.ledger.run_at(config.name, scheduled), reason="already recorded"
                )
            except Exception as exc:
                if not is_storage_fault(exc):
                    raise
                return refused_start(self, slot, scheduled, trigger, by, exc)
        task = asyncio.create_task(
            self._drive(slot, run, config), name=f"run {config.name} {run.id}"
        )
        slot.active, slot.active_run = task, run
        self._run_tasks.add(task)
        task.add_done_callback(self._run_tasks.discard)
        return Submission("started", run, task)

    async def _drive(self, slot: Slot, run: Run, config: JobConfig) -> Run:
        try:
            executor = self.adhoc.executor_for(run.id, self.notify_chats)  # `/cancel` can stop it
            ended = await executor.execute(run, config)
            if run.id in self.adhoc.canceled and ended.outcome == "interrupted":
                ended = await self.adhoc.finish_canceled(ended, config, executor)
            self._pause_on_failure(slot, ended, config)
            return ended
        except Exception:  # execute handles its errors: this is the last resort, never silent
            log.exception("%s: run %s ended on an unexpected error", config.name, run.id)
            return run
        finally:
            self.adhoc.canceled.pop(run.id, None)
            if slot.active is asyncio.current_task():
                slot.active, slot.active_run = None, None
            queued, slot.queued = slot.queued, None
            name = slot.definition.name
            if queued is not None and self.running and self.slots.get(name) is slot:
                self.start_run(slot, queued.scheduled, queued.trigger, queued.by)

    def _pause_on_failure(self, slot: Slot, final: Run, config: JobConfig) -> None:
        """``pause_on_failure``: pause (by "policy") after that many failed runs in a row."""
        if config.pause_on_failure is None or final.outcome != "failed" or slot.paused:
            return
        name = slot.definition.name
        try:
            recent = self.ledger.runs(name, policies.streak_window(config))
            since = self.book.state(name).floor  # moved by /resume: a fresh streak
            if not policies.should_pause(config, recent, paused=slot.paused, since=since):
                return
            state = self.book.pause(name, by=policies.POLICY, note=policies.paused_note(config))
        except Exception as exc:  # the next failed run asks again
            if not is_storage_fault(exc):
                raise
            log.error("%s: pause_on_failure not applied: %s", name, fault_text(exc))
            return
        slot.paused = state.paused
        if self.slots.get(name) is slot:
            self.arm(slot, after=self.clock())
        if slot.queued is not None:
            queued, slot.queued = slot.queued, None
            self.record_not_run(
                slot, queued.scheduled, queued.trigger, "skipped", "the job was paused", queued.by
            )
        text = policies.paused_text(config)
        log.warning(text)
        self.spawn(self.notify_chats(text))

    def record_not_run(
        self,
        slot: Slot,
        scheduled: datetime,
        trigger: Trigger,
        outcome: Literal["skipped", "missed"],
        reason: str,
        by: str = "",
    ) -> Run | None:
        """A history row for a run that did not happen, reported per ``notify``.

        None when the database refused it (kept, written once writes work).
        """
        config = slot.config
        try:
            run = self.ledger.record_not_run(
                job=config.name,
                kind=config.kind,
                zone=config.timezone,
                scheduled=scheduled,
                trigger=trigger,
                outcome=outcome,
                reason=reason,
                requested_by=by,
            )
        except Exception as exc:
            if not is_storage_fault(exc):
                raise
            refused_record(self, slot, scheduled, trigger, outcome, reason, by, exc)
            return None
        log.info("%s (%s): %s: %s", config.name, scheduled.isoformat(), outcome, reason)
        self.report_not_run(run)
        return run

    def report_not_run(self, run: Run) -> None:
        """Report a skipped or missed run per its job's ``notify`` (always if the job is gone)."""
        slot = self.slots.get(run.job)
        if should_report(run, slot.config.notify if slot is not None else "always"):
            self.spawn(self.notify_chats(run_report(run, [])))

    def spawn(self, coroutine: Awaitable[None]) -> None:
        """Run a side task (a report) that ``stop`` waits for briefly; its errors are logged."""

        async def wrapped() -> None:
            try:
                await coroutine
            except Exception:
                log.exception("a scheduler side task failed")

        task = asyncio.ensure_future(wrapped())
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def notify_chats(self, text: str) -> None:
        """Tell the notify chats (or the console, or the log); a failure is only logged."""
        try:
            await self.notifier.notify(text)
        except Exception:
            log.exception("could not deliver a job report")

    def _arm_retry(self) -> None:
        """Arm the outage retry (once at a time, only while running)."""
        if self._retry_armed or not self.running:
            return
        self._retry_armed = True

        async def retry() -> None:
            self._retry_armed = False
            if self.running and not retry_writes(self) and self.outage.active:
                self._arm_retry()

        self.timer.arm(RETRY_KEY, self.clock() + self.outage.next_delay(), retry)

    # -- commands -----------------------------------------------------------------------

    def slot(self, name: str) -> Slot:
        slot = self.slots.get(name)
        if slot is None:
            raise JobNotFound(name, list(self.slots))
        return slot

    def run_now(self, name: str, *, by: str) -> Submission:
        """``/run``: a manual run now, through the overlap policy."""
        self.require_running()
        slot = self.slot(name)
        if not slot.config.enabled:
            raise DefinitionError(f"'{name}' is disabled in the config (enabled = false).")
        moment = self.clock()
        while self.ledger.run_at(name, moment) is not None:  # a run is name + time: keep it unique
            moment += timedelta(microseconds=1)
        submission = self.submit(slot, moment, "manual", by)
        if submission.status == "skipped" and submission.run is None:
            raise StorageRefused(f"{name} was not run: {submission.reason}. Try again later.")
        return submission

    def pause(self, name: str, *, by: str, note: str = "") -> None:
        self.require_running()
        slot = self.slot(name)
        slot.paused = self.book.pause(name, by=by, note=note).paused
        self.arm(slot, after=self.clock())
        if slot.queued is not None:
            queued, slot.queued = slot.queued, None
            self.record_not_run(
                slot, queued.scheduled, queued.trigger, "skipped", "the job was paused", queued.by
            )

    def resume(self, name: str) -> None:
        self.require_running()
        slot = self.slot(name)
        slot.paused = self.book.resume(name).paused
        self.arm(slot, after=self.clock())

    def add(self, job: JobConfig, *, by: str) -> Slot:
        """Store a ``/schedule`` job and arm it (an ``every`` job counts from now)."""
        self.require_running()
        definition = self.book.add_chat(job, by=by)
        slot = self.add_slot(definition, start=self.clock())
        self.arm(slot, after=self.clock())
        return slot

    def replace_chat(self, job: JobConfig) -> Slot:
        """``/reschedule``, ``/edit``: change a chat job in place (same name and history) and
        re-arm it; a run in progress finishes as it began."""
        self.require_running()
        slot = self.slot(job.name)
        slot.redefine(self.book.update_chat(job), start=self.clock())
        self.arm(slot, after=self.clock())
        return slot

    def send_now(
        self, job: JobConfig, groups: Sequence[tuple[str, str]], *, by: str, chat: str
    ) -> Run:
        """An ad-hoc run (a ``/send`` to several groups), started in the background.

        ``groups`` are (id, name) as confirmed; the run is recorded before this
        returns and goes on as a task of the scheduler (see :mod:`jobs.adhoc`).
        """
        self.require_running()
        return self.adhoc.open(job, groups, by=by, chat=chat)

    def cancel(self, run_id: int, *, by: str) -> str:
        """``/cancel``: stop a run in progress before its next send; the sentence to answer."""
        self.require_running()
        in_progress = {
            slot.active_run.id for slot in self.slots.values() if slot.active_run is not None
        }
        return self.adhoc.cancel(run_id, by=by, in_progress=in_progress | set(self.adhoc.tasks))

    def own(self, task: asyncio.Task[Run]) -> None:
        """A run task the scheduler waits for (``wait_idle``) and stops (``stop``)."""
        self._run_tasks.add(task)
        task.add_done_callback(self._run_tasks.discard)

    def stopping(self) -> bool:
        return self._stopping

    def remove(self, name: str) -> None:
        """``/unschedule``: delete a chat job; a run in progress finishes."""
        self.require_running()
        self.book.remove_chat(name)
        self.timer.disarm(name)
        slot = self.slots.pop(name, None)
        if slot is not None:
            slot.queued = None
