"""Ad-hoc runs: a ``/send`` to several groups as a one-off run of the scheduler.

A ``/send`` to more than one group (or to a target name) is not sent inside
the command: the command hands a one-off broadcast :class:`bot.jobconfig.JobConfig`
and the confirmed groups to :meth:`AdHocRuns.open`, which records the run
(``job_runs.job`` is :data:`jobs.records.ADHOC_JOB`, trigger ``manual``, the
definition snapshot plus the chat to report to) and its ``pending`` rows in
one go, starts it as a task the scheduler owns, and returns at once. From
there it is a run like any other: the same ledger (``sending`` on disk
before each request), the same broadcast kind and client caps, the job
defaults for ``gap`` and ``jitter`` (none), the number-wide abort, and the
report, failures first.

What the chat sees: one progress message per run (the notifier's
``progress``, with a key per run), updated every ``progress_every`` seconds
while the run goes on and replaced by the final report.

Crash safety: an ad-hoc run found unfinished on start is recovered as a
scheduled one is (:mod:`jobs.recovery`): rows left ``sending`` become
``unknown`` (never resent), the ``pending`` ones are sent within the
``catch_up_window`` (6 h), or fail ``EXPIRED`` past it.

``/cancel <run>`` (:meth:`AdHocRuns.cancel`) works for ad-hoc and scheduled
runs: the run's stop check turns true, its senders stop before their next
send (requests in flight finish), and the rows left ``pending`` are
recorded ``failed`` with the code :data:`jobs.records.CANCELED`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import ValidationError

from bot.jobconfig import JobConfig
from bot.notify import Notifier
from bot.services import GroupDirectory
from jobs.context import EXPIRED, INTERRUPTED, RunContext
from jobs.definitions import job_from_data, job_to_data
from jobs.ledger import Ledger
from jobs.records import ADHOC_JOB, CANCELED, Run
from jobs.report import progress_text
from jobs.runs import RunExecutor

__all__ = ["CHAT_KEY", "AdHocRuns"]

log = logging.getLogger(__name__)

CHAT_KEY = "reply_to"  # the chat an ad-hoc run reports to, kept beside its definition
LEFT_SENDING = "left mid-send by a crash: it may have gone out, so it is not resent"


class Host(Protocol):
    """The parts of :class:`jobs.scheduler.JobScheduler` ad-hoc runs use."""

    ledger: Ledger
    context: RunContext
    notifier: Notifier
    clock: Callable[[], datetime]

    @property
    def running(self) -> bool: ...

    def own(self, task: asyncio.Task[Run]) -> None: ...

    def spawn(self, coroutine: Awaitable[None]) -> None: ...

    def stopping(self) -> bool: ...


def progress_key(run_id: int) -> str:
    return f"run-{run_id}"


class AdHocRuns:
    """Ad-hoc runs of one scheduler, and ``/cancel`` of any run in progress."""

    def __init__(
        self, host: Host, directory: GroupDirectory, *, progress_every: float = 2.0
    ) -> None:
        self.host = host
        self.directory = directory
        self.progress_every = progress_every
        self.canceled: dict[int, str] = {}  # run id -> who canceled it
        self.tasks: dict[int, asyncio.Task[Run]] = {}  # ad-hoc runs in progress

    # -- starting ---------------------------------------------------------------------

    def open(self, job: JobConfig, groups: Sequence[tuple[str, str]], *, by: str, chat: str) -> Run:
        """Record the run and its pending rows, start it; the run as recorded."""
        ledger = self.host.ledger
        moment = self.host.clock()
        while ledger.run_at(ADHOC_JOB, moment) is not None:  # a run is job + time: keep it unique
            moment += timedelta(microseconds=1)
        definition: dict[str, Any] = {**job_to_data(job), CHAT_KEY: chat}
        run = ledger.open_run(
            job=ADHOC_JOB,
            kind=job.kind,
            zone=job.timezone,
            scheduled=moment,
            trigger="manual",
            definition=definition,
            requested_by=by,
        )
        try:
            ledger.add_deliveries(run.id, groups)
        except Exception:
            with contextlib.suppress(Exception):  # else the next start resolves its targets
                ledger.finish(run.id, outcome="failed", detail="its groups could not be recorded")
            raise
        self.launch(run, job, chat)
        return run

    def launch(self, run: Run, job: JobConfig, chat: str) -> None:
        task = asyncio.create_task(self._drive(run, job, chat), name=f"ad-hoc run {run.id}")
        self.tasks[run.id] = task
        task.add_done_callback(lambda _: self.tasks.pop(run.id, None))
        self.host.own(task)

    def executor_for(self, run_id: int, notify: Callable[[str], Awaitable[None]]) -> RunExecutor:
        """An executor whose stop check also turns true when ``/cancel`` names this run."""
        ctx = replace(
            self.host.context,
            stopping=lambda: self.host.stopping() or run_id in self.canceled,
        )
        return RunExecutor(ctx, self.directory, notify)

    async def _drive(self, run: Run, job: JobConfig, chat: str) -> Run:
        key = progress_key(run.id)
        finished = asyncio.Event()

        async def final(text: str) -> None:
            finished.set()  # no progress update may overtake the report
            await self._progress(chat, key, text, final=True)

        watcher = asyncio.create_task(self._watch(run, chat, key, finished))
        executor = self.executor_for(run.id, final)
        try:
            ended = await executor.execute(run, job)
            if run.id in self.canceled and ended.outcome == "interrupted":
                ended = await self.finish_canceled(ended, job, executor)
            return ended
        except Exception:  # execute handles its errors: this is the last resort, never silent
            log.exception("ad-hoc run %s ended on an unexpected error", run.id)
            return run
        finally:
            finished.set()
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            self.canceled.pop(run.id, None)

    async def _watch(self, run: Run, chat: str, key: str, finished: asyncio.Event) -> None:
        """Every ``progress_every`` seconds, the run's counts so far (until it ends)."""
        while not finished.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(finished.wait(), self.progress_every)
            if finished.is_set():
                return
            try:
                counts = self.host.ledger.counts(run.id)
            except Exception as exc:  # a read that fails costs one update, never the run
                log.debug("ad-hoc run %s: progress not read: %s", run.id, exc)
                continue
            await self._progress(chat, key, progress_text(run, counts), final=False)

    async def _progress(self, chat: str, key: str, text: str, *, final: bool) -> None:
        """Through the notifier's ``progress`` (or ``tell`` for the final one); never raises."""
        notifier = self.host.notifier
        try:
            progress = getattr(notifier, "progress", None)
            if progress is not None:
                await progress(chat, key, text, final)
            elif final:
                await notifier.tell(chat, text)
        except Exception:
            log.exception("could not deliver an ad-hoc run's progress")

    # -- canceling --------------------------------------------------------------------

    def cancel(self, run_id: int, *, by: str, in_progress: set[int]) -> str:
        """Ask the run to stop before its next send; the sentence for ``/cancel``."""
        run = self.host.ledger.get_run(run_id)
        if run is None:
            return f"There is no run #{run_id}."
        if run.id not in in_progress or not run.unfinished:
            return f"Run #{run_id} is not in progress ({run.outcome}): nothing to cancel."
        if run_id in self.canceled:
            return f"Run #{run_id} is already being canceled."
        self.canceled[run_id] = by
        log.info("run %s (%s): canceled by %s", run_id, run.job, by)
        return (
            f"Canceling run #{run_id}: it stops before its next send; what was sent stays "
            "sent, the rest is recorded as canceled. Its report follows."
        )

    async def finish_canceled(self, run: Run, job: JobConfig | None, executor: RunExecutor) -> Run:
        """Record the rows still pending as canceled, finish the run and report it."""
        ledger = self.host.ledger
        by = self.canceled.get(run.id, "")
        who = f" by {by}" if by else ""
        left = ledger.fail_pending(run.id, code=CANCELED, detail=f"not sent: canceled{who}")
        final = ledger.finish(run.id, detail=f"canceled{who}: {left} not sent")
        log.info("run %s (%s): canceled%s, %d not sent", run.id, run.job, who, left)
        await executor.report(final, job)
        return final

    # -- after a restart ----------------------------------------------------------------

    def recover(self, run: Run, now: datetime) -> None:
        """Resume an ad-hoc run found unfinished on start (or end it; see the module docstring)."""
        ledger = self.host.ledger
        how = "a crash" if run.outcome == "running" else "a shutdown"
        note = f"interrupted by {how}"
        unknown = ledger.sending_to_unknown(run.id, code=INTERRUPTED, detail=LEFT_SENDING)
        if unknown:
            note += f": {unknown} left mid-send became unknown (not resent)"
        data = dict(run.definition)
        chat = str(data.pop(CHAT_KEY, "console"))
        try:
            job: JobConfig | None = job_from_data(data)
        except ValidationError:
            job = None
        if job is not None and now - run.scheduled <= job.catch_up_window:
            ledger.mark_running(run.id, f"{note}, resumed on start")
            log.info("ad-hoc run %s: resumed (%s)", run.id, note)
            self.launch(run, job, chat)
            return
        why = "its definition no longer validates" if job is None else "past its catch_up_window"
        code = "JOB_REMOVED" if job is None else EXPIRED
        left = ledger.fail_pending(run.id, code=code, detail=f"not sent: {why}")
        final = ledger.finish(run.id, detail=f"{note}; {left} not sent: {why}")
        log.warning("ad-hoc run %s not resumed: %s", run.id, why)

        async def report(text: str) -> None:
            await self._progress(chat, progress_key(run.id), text, final=True)

        self.host.spawn(self.executor_for(run.id, report).report(final, job))
