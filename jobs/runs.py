"""Carrying out one run whose history row is open: targets, deliveries, finish, report.

:class:`RunExecutor` is what the scheduler starts for a run (scheduled,
catch-up, manual, or resumed after a crash):

1. targets are resolved at run time (aliases, target names, group ids,
   group names, ``all``) into one ledger row per group, unless the run
   already has rows (a resumed run keeps its own list);
2. the job kind works through the ``pending`` rows
   (:meth:`jobs.kinds.JobKind.deliver`);
3. the run is finished (counts and outcome in its history row) and reported
   per ``notify``, with what the kind announces (an invite reset's new links
   when ``announce = true``).

A kind may refuse the whole run before any send (:class:`jobs.context.RunRefused`:
a template job's variables do not fit its template): its pending rows fail
with the refusal's code and the report carries its sentence.

A shutdown (the scheduler's stop flag, or cancellation) leaves the run
``interrupted`` with its ``pending`` rows, resumable on the next start. No
error escapes: a failure to resolve targets fails the run with the reason,
and a bug fails it with an incident id whose traceback is in the log.

A database that refuses a write (disk full, read-only, I/O error: see
:mod:`jobs.outage`) stops the run's sending at once and nothing more is
written for it: it stays ``running`` with its ``pending`` rows, the notify
chats and the log are told in one sentence, and the scheduler resumes it
when the database accepts writes again (or the next start does, within
``catch_up_window``). Whatever way a run ends, the WAL is checkpointed.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import replace

from bot.jobconfig import JobConfig
from bot.logs import log_context
from bot.services import GroupDirectory, ResolveError, explain
from bot.whatsapp.errors import PilotError
from jobs.context import INTERRUPTED, RunContext, RunRefused
from jobs.kinds import kind_of
from jobs.outage import fault_text, is_storage_fault
from jobs.records import Run
from jobs.report import run_report, run_title, should_report

__all__ = ["Notify", "RunExecutor", "resolve_targets"]

log = logging.getLogger(__name__)

Notify = Callable[[str], Awaitable[None]]


async def resolve_targets(directory: GroupDirectory, job: JobConfig) -> list[tuple[str, str]]:
    """(group id, name or "") of every group of the job's targets, each once, in order.

    Also what ``/run`` shows before a manual run and ``--dry-run`` lists.
    """
    seen: dict[str, str] = {}
    for target in job.targets:
        for ref in await directory.resolve_target(target):
            seen.setdefault(ref.id, ref.name if ref.name != ref.id else "")
    return list(seen.items())


class RunExecutor:
    """Runs jobs' runs over a shared :class:`RunContext`."""

    def __init__(self, ctx: RunContext, directory: GroupDirectory, notify: Notify) -> None:
        self.ctx = ctx
        self.directory = directory
        self.notify = notify

    async def execute(self, run: Run, job: JobConfig) -> Run:
        """Carry out ``run`` (row open, outcome ``running``); the row as it ends. Never raises.

        Every line logged meanwhile carries the job and the run (`bot.logs`).
        """
        with log_context(job=run.job, run=run.id):
            return await self._execute(run, job)

    async def _execute(self, run: Run, job: JobConfig) -> Run:
        try:
            return await self._carry_out(run, job)
        except asyncio.CancelledError:
            try:
                self.ctx.ledger.interrupt(run.id)
            except Exception:
                log.exception("%s: run %s could not be marked interrupted", run.job, run.id)
            raise
        except Exception as exc:
            if is_storage_fault(exc):
                return await self._stalled(run, job, exc)
            return await self._internal_error(run, job)
        finally:
            self.ctx.ledger.checkpoint()

    async def _carry_out(self, run: Run, job: JobConfig) -> Run:
        ledger = self.ctx.ledger
        if not ledger.has_deliveries(run.id):
            try:
                groups = await self.resolve_targets(job)
            except (ResolveError, PilotError) as exc:
                why = explain(exc) if isinstance(exc, PilotError) else str(exc)
                final = ledger.finish(run.id, outcome="failed", detail=f"targets: {why}")
                await self.report(final, job)
                return final
            ledger.add_deliveries(run.id, groups)
        try:
            await kind_of(job).deliver(self.ctx, run, job)
        except RunRefused as refused:
            return await self._refused(run, job, refused)
        if ledger.counts(run.id)["pending"] and self.ctx.stopping():
            ledger.interrupt(run.id)
            log.info("%s: run %s interrupted by the shutdown", run.job, run.id)
            interrupted = ledger.get_run(run.id)
            assert interrupted is not None
            return interrupted
        final = ledger.finish(run.id)
        log.info(
            "%s: run %s %s (done %d, failed %d, unknown %d)",
            run.job,
            run.id,
            final.outcome,
            final.sent,
            final.failed,
            final.unknown,
        )
        await self.report(final, job)
        return final

    async def _refused(self, run: Run, job: JobConfig, refused: RunRefused) -> Run:
        """The kind refused the run before any send: every pending row fails, with the reason."""
        self.ctx.ledger.fail_pending(run.id, code=refused.code, detail=refused.reason)
        final = self.ctx.ledger.finish(run.id, detail=refused.reason)
        log.info("%s: run %s refused: %s", run.job, run.id, refused.reason)
        await self.report(final, job)
        return final

    async def _stalled(self, run: Run, job: JobConfig, error: Exception) -> Run:
        """The database refused a write: stop here, write nothing more, say so."""
        cause = fault_text(error)
        self.ctx.outage.keep_stalled(run, error)
        text = (
            f"{run_title(run)}: stopped, the database refused a write ({cause}); nothing more "
            "is sent, and the run resumes when the database accepts writes again "
            "(or on the next start, within catch_up_window)."
        )
        log.error("%s (run %s)", text, run.id)
        await self.safe_notify(text)
        try:  # reads usually still work: the caller (/run) gets the counts so far
            counts = self.ctx.ledger.counts(run.id)
        except Exception:
            return replace(run, detail=text)
        return replace(
            run,
            total=sum(counts.values()),
            sent=counts["sent"],
            failed=counts["failed"],
            unknown=counts["unknown"],
            detail=text,
        )

    async def _internal_error(self, run: Run, job: JobConfig) -> Run:
        """A bug: the run fails with an incident id (the traceback is in the log)."""
        incident = secrets.token_hex(4)
        log.exception("internal error %s in run %s of %s", incident, run.id, run.job)
        detail = f"internal error, logged as {incident}"
        ledger = self.ctx.ledger
        try:
            ledger.sending_to_unknown(run.id, code="INTERNAL_ERROR", detail=detail)
            ledger.fail_pending(run.id, code="INTERNAL_ERROR", detail=detail)
            final = ledger.finish(run.id, detail=detail)
        except Exception as again:
            if is_storage_fault(again):
                return await self._stalled(run, job, again)
            log.exception("%s: run %s: its failure could not be recorded", run.job, run.id)
            return replace(run, detail=detail)
        await self.report(final, job)
        return final

    async def resolve_targets(self, job: JobConfig) -> list[tuple[str, str]]:
        """(group id, name) of every group of the job's targets, each once, in order.

        A kind may pick its groups itself (a drift job: the groups of the groups file).
        """
        chosen = await kind_of(job).run_groups(self.ctx, job)
        if chosen is not None:
            return chosen
        return await resolve_targets(self.directory, job)

    async def report(self, run: Run, job: JobConfig | None) -> None:
        """Send the run's report per ``notify`` and what its kind announces (new invite links).

        Deliveries a crash left unknown are reported whatever ``notify`` says
        (someone should check those groups); a job that is gone reports always.
        Never raises (a report that cannot be made is logged).
        """
        try:
            deliveries = self.ctx.ledger.deliveries(run.id)
        except Exception:
            log.exception("%s: the report of run %s could not be read", run.job, run.id)
            return
        parts: list[str] = []
        crashed = any(d.state == "unknown" and d.code == INTERRUPTED for d in deliveries)
        if should_report(run, job.notify if job is not None else "always") or crashed:
            parts.append(run_report(run, deliveries))
        if job is not None:
            announced = kind_of(job).announcement(run, job, deliveries)
            if announced is not None:
                parts.append(announced)
        if parts:
            await self.safe_notify("\n\n".join(parts))

    async def safe_notify(self, text: str) -> None:
        """Deliver ``text``; a notifier failure is logged, never raised."""
        try:
            await self.notify(text)
        except Exception:
            log.exception("could not deliver a job report")
