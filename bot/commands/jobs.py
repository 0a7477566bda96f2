"""/jobs, /job, /run, /pause, /resume, /schedule, /unschedule (docs/commands.md).

Thin handlers over :class:`jobs.scheduler.JobScheduler`. Reads work in any
process (``exec`` included: from the config and the database); changes need
the scheduler of a running bot. ``/job`` shows a broadcast's content (its
text, its template and variables, or its media and caption) and, under each
recent run, what became of its messages (``delivery: queued 1 · read 3``,
with ``following until 09:30`` while the tracker still follows some).
``/run`` checks a template job's template online, asks first when the job's
kind has a question (:meth:`jobs.kinds.JobKind.run_question`: a broadcast
shows its content), goes through the job's overlap policy, and waits up to :data:`MANUAL_WAIT`
seconds to answer with the run's outcome (a longer run answers "started" and
reports to the notify chats when it ends). When the job's ``notify`` sent the
report to the notify chats, the answer is only its first line; otherwise it
is the whole report. ``/schedule`` parsing and
validation live in :mod:`bot.commands.schedule_parse`; it asks to confirm,
showing the job and its next runs (:mod:`bot.commands.job_options`).
``/reschedule`` and ``/edit`` are in :mod:`bot.commands.job_edit`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bot.commands.context import Confirmation, Context
from bot.commands.job_options import describe, upcoming
from bot.commands.schedule_parse import ScheduleRequest, parse_schedule
from bot.commands.types import Reply
from bot.durations import format_duration
from bot.jobconfig import JobConfig
from bot.services import ResolveError, explain
from bot.usertext import excerpt
from bot.whatsapp.errors import PilotError
from bot.zones import load_zone
from jobs import policies
from jobs.kinds import RunPreview, group_label, kind_of
from jobs.report import content_lines, history_line, local_time, run_report, should_report
from jobs.report import delivery_counts as counts_line
from jobs.runs import resolve_targets
from jobs.scheduler import JobNotFound, JobScheduler, SchedulerNotRunning
from jobs.views import JobView, RunDelivery, delivery_counts, job_view, job_views

__all__ = [
    "MANUAL_WAIT",
    "list_jobs",
    "pause_job",
    "resume_job",
    "run_job",
    "schedule_job",
    "show_job",
    "unschedule_job",
]

MANUAL_WAIT = 10.0  # seconds /run waits for the run's report
DRY_RUN_WORDS = frozenset(
    {"--dry-run", "\u2014dry-run", "\u2013dry-run"}
)  # phones turn -- into a dash
DRY_RUN_GROUPS = 20  # groups a dry run shows before "and N more"
# The console's chat: the console front end is also where the notify reports are printed
# (bot.notify.ConsoleNotifier), so a report shown there is not repeated as the reply.
REPORTS_CHAT = "console"
RECENT_RUNS = 10

Handler = Callable[[Context, list[str]], Awaitable[Reply | Confirmation]]


def _scheduler(ctx: Context) -> JobScheduler:
    if ctx.scheduler is None:
        raise SchedulerNotRunning("There is no scheduler in this process.")
    return ctx.scheduler


def _view(ctx: Context, name: str) -> JobView:
    scheduler = _scheduler(ctx)
    view = job_view(scheduler, name)
    if view is None:
        raise JobNotFound(name, [view.name for view in job_views(scheduler)])
    return view


def _when(view: JobView) -> str:
    zone = view.definition.config.timezone
    if not view.enabled:
        return "disabled (enabled = false)"
    if view.state.paused:
        return "paused"
    if view.next_run is None:
        if view.schedule.cut_by_end():  # past its `until`
            return f"none ({policies.ended_text(view.definition.config)})"
        return "none (no run left)"
    text = local_time(view.next_run, zone)
    if view.fire_at is not None and view.fire_at != view.next_run:
        text += f" (starts {local_time(view.fire_at, zone, date=False)} with jitter)"
    return text


def _flags(view: JobView) -> str:
    flags: list[str] = [view.definition.source]
    if view.state.paused:
        flags.append("PAUSED")
    if view.active_run is not None:
        flags.append("running now")
    return ", ".join(flags)


def _last(view: JobView) -> str:
    return history_line(view.last_run) if view.last_run is not None else "never run"


async def list_jobs(ctx: Context, args: list[str]) -> Reply:
    views = job_views(_scheduler(ctx))
    if not views:
        return Reply("No jobs. Add [[jobs]] to the config, or use /schedule.")
    lines = [f"{len(views)} job{'s' if len(views) != 1 else ''}:"]
    for view in views:
        config = view.definition.config
        lines.append(
            f"{view.name}: {config.kind}, {view.schedule.describe()} ({config.timezone}), "
            f"{_flags(view)}"
        )
        lines.append(f"  next: {_when(view)}; last: {_last(view)}")
    return Reply("\n".join(lines))


async def show_job(ctx: Context, args: list[str]) -> Reply:
    scheduler = _scheduler(ctx)
    view = _view(ctx, args[0])
    config, state = view.definition.config, view.state
    where = "config job" if view.definition.source == "config" else "/schedule job"
    if view.definition.source == "chat" and view.definition.created_by:
        where += f" by {view.definition.created_by}"
    lines = [
        f"{view.name} ({config.kind}, {where})",
        f"schedule: {view.schedule.describe()} in {config.timezone}",
        f"targets: {', '.join(config.targets)}",
    ]
    lines += [f"{label}: {value}" for label, value in content_lines(config)]
    options = [
        kind_of(config).option(config),
        f"gap {format_duration(config.gap)}",
        f"jitter {format_duration(config.jitter)}",
        f"catch_up {config.catch_up} within {format_duration(config.catch_up_window)}",
        f"overlap {config.overlap}",
        f"notify {config.notify}",
    ]
    lines.append(" · ".join(options))
    if policy := policies.describe(config):
        lines.append(f"policies: {policy}")
    if state.paused:
        since = local_time(state.paused_at, config.timezone) if state.paused_at else "?"
        note = f": {state.note}" if state.note else ""
        lines.append(f"state: paused since {since} by {state.paused_by or '?'}{note}")
    else:
        lines.append(f"state: {'active' if config.enabled else 'disabled (enabled = false)'}")
    lines.append(f"next run: {_when(view)}")
    if view.active_run is not None and view.progress is not None:
        done = sum(view.progress[s] for s in ("sent", "failed", "unknown"))
        total = sum(view.progress.values())
        lines.append(
            f"running now: {done} of {total} done" + (" (one run waiting)" if view.queued else "")
        )
    runs = scheduler.ledger.runs(view.name, RECENT_RUNS)
    lines.append("recent runs:" if runs else "recent runs: none")
    delivery = delivery_counts(scheduler, runs)
    for run in runs:
        lines.append(f"  {history_line(run)}")
        if run.id in delivery:
            lines.append(f"    delivery: {_delivery(delivery[run.id], config.timezone)}")
    return Reply("\n".join(lines))


def _delivery(delivery: RunDelivery, zone: str) -> str:
    """The counts, and whether they may still change (the tracker follows until a horizon)."""
    text = counts_line(delivery.counts)
    if delivery.open_until is None:
        return text  # every message reached a final status
    until = local_time(delivery.open_until, zone, date=False)
    if delivery.following:
        return f"{text} (following until {until})"
    return f"{text} (last known: followed until {until})"


async def run_job(ctx: Context, args: list[str]) -> Reply | Confirmation:
    scheduler = _scheduler(ctx)
    dry = len(args) > 1
    if dry and args[1].strip().lower() not in DRY_RUN_WORDS:
        return Reply.failed(
            f"/run takes a job name and optionally --dry-run, not {excerpt(args[1])}."
        )
    if not dry:  # a dry run only reads: it works in `exec` too
        scheduler.require_running()
    view = _view(ctx, args[0])
    config = view.definition.config
    if not config.enabled:
        return Reply.failed(f"'{view.name}' is disabled in the config (enabled = false).")

    async def do_run() -> Reply:
        return await _run_now(ctx, scheduler, view.name)

    kind = kind_of(config)
    refusal = await kind.preflight(ctx.client, config)  # a template job: its template, online
    if refusal is not None:
        return Reply.failed(f"{'Dry run: a run would be refused' if dry else 'Not run'}: {refusal}")
    try:  # resolved now to show them; the run resolves them again when it starts
        groups = await resolve_targets(ctx.directory, config)
    except (ResolveError, PilotError) as exc:
        why = explain(exc) if isinstance(exc, PilotError) else str(exc)
        return Reply.failed(f"{'Dry run' if dry else 'Not run'}: targets: {why}")
    when = ctx.clock().astimezone(load_zone(config.timezone))  # a manual run's time: now
    preview = RunPreview(view.name, groups, when)
    if dry:
        return Reply(_dry_run(config, preview))
    question = kind.run_question(config, preview)
    if question is None:
        return await do_run()
    return ctx.ask(question, do_run)


def _dry_run(config: JobConfig, preview: RunPreview) -> str:
    """Per group (the first :data:`DRY_RUN_GROUPS`), what a run would do; nothing done."""
    kind = kind_of(config)
    count = len(preview.groups)
    lines = [
        f"Dry run of {preview.name}: nothing is sent and no run is recorded. "
        f"It would {kind.verb} {count} group{'s' if count != 1 else ''}" + (":" if count else ".")
    ]
    for group in preview.groups[:DRY_RUN_GROUPS]:
        lines.append(f"{group_label(group)}:")
        lines.extend(f"  {line}" for line in kind.dry_run(config, group, preview.when).splitlines())
    if count > DRY_RUN_GROUPS:
        lines.append(f"… and {count - DRY_RUN_GROUPS} more groups.")
    return "\n".join(lines)


async def _run_now(ctx: Context, scheduler: JobScheduler, name: str) -> Reply:
    submission = scheduler.run_now(name, by=ctx.principal.who)
    if submission.status == "queued":
        return Reply(f"{name} is running; this manual run waits for it ({submission.reason}).")
    if submission.status == "skipped" or submission.task is None or submission.run is None:
        return Reply.failed(f"{name} was not run: {submission.reason}. Recorded in its history.")
    done, _ = await asyncio.wait({submission.task}, timeout=MANUAL_WAIT)
    if not done:
        counts = scheduler.ledger.counts(submission.run.id)
        finished = sum(counts[s] for s in ("sent", "failed", "unknown"))
        return Reply(
            f"Started {name} (manual run): {finished} of {sum(counts.values())} done so far. "
            f"The report goes to the notify chats when it ends; /job {name} shows progress, "
            f"/cancel {submission.run.id} stops it."
        )
    final = submission.task.result()
    report = run_report(final, scheduler.ledger.deliveries(final.id))
    if should_report(final, scheduler.slot(name).config.notify):
        if ctx.principal.chat == REPORTS_CHAT:
            # this chat is where the notify reports go: it has just shown the report
            return Reply("", ok=final.outcome == "ok", silent=True)
        # the full report (and any new links) just went to the notify chats: no second copy
        headline = report.splitlines()[0]
        return Reply(f"{headline}\n(report sent to the notify chats)", ok=final.outcome == "ok")
    return Reply(report, ok=final.outcome == "ok")


async def pause_job(ctx: Context, args: list[str]) -> Reply:
    scheduler = _scheduler(ctx)
    scheduler.require_running()
    view = _view(ctx, args[0])
    if view.state.paused:
        return Reply.failed(f"{view.name} is already paused. /resume {view.name} to go on.")
    note = args[1].strip() if len(args) > 1 else ""
    scheduler.pause(view.name, by=ctx.principal.who, note=note)
    running = " The run in progress finishes." if view.active_run is not None else ""
    return Reply(
        f"Paused {view.name}: no runs until /resume {view.name} (kept across restarts).{running}"
    )


async def resume_job(ctx: Context, args: list[str]) -> Reply:
    scheduler = _scheduler(ctx)
    scheduler.require_running()
    view = _view(ctx, args[0])
    if not view.state.paused:
        return Reply.failed(f"{view.name} is not paused.")
    scheduler.resume(view.name)
    return Reply(f"Resumed {view.name} from now. Next run: {_when(_view(ctx, view.name))}.")


async def schedule_job(ctx: Context, args: list[str]) -> Reply | Confirmation:
    scheduler = _scheduler(ctx)
    scheduler.require_running()
    request = await parse_schedule(ctx, args[0], args[1] if len(args) > 1 else "")
    if isinstance(request, str):
        return Reply.failed(f"Not scheduled: {request}")
    job, now = request.job, ctx.clock()
    taken = scheduler.book.name_taken(job.name)  # asked again on Confirm (the store decides)
    if taken is not None:
        return Reply.failed(f"Not scheduled: {taken}")
    what, *details = describe(job, now)
    question = [
        f"Schedule {job.name} ({job.kind}): {kind_of(job).verb} {request.described_target}, "
        f"{what}.",
        *details,
        upcoming(job, now),
        "Schedule it?",
    ]

    async def do_add() -> Reply:
        return _add(ctx, scheduler, request)

    return ctx.ask("\n".join(question), do_add)


def _add(ctx: Context, scheduler: JobScheduler, request: ScheduleRequest) -> Reply:
    scheduler.add(request.job, by=ctx.principal.who)
    view = _view(ctx, request.job.name)
    return Reply(
        f"Scheduled {view.name}: {view.schedule.describe()} ({request.job.timezone}), "
        f"{kind_of(request.job).verb} {request.described_target}. Next run: {_when(view)}. "
        f"Remove it with /unschedule {view.name}."
    )


async def unschedule_job(ctx: Context, args: list[str]) -> Reply | Confirmation:
    scheduler = _scheduler(ctx)
    scheduler.require_running()
    view = _view(ctx, args[0])
    if view.definition.source != "chat":
        return Reply.failed(
            f"'{view.name}' is a config job: it can only be paused (/pause {view.name}), "
            "or removed from the config file."
        )

    async def do_remove() -> Reply:
        scheduler.remove(view.name)  # refusals become replies in the command layer
        return Reply(f"Deleted the job {view.name}. Its run history is kept.")

    config = view.definition.config
    return ctx.ask(
        f"Delete the /schedule job {view.name} ({config.kind}, {view.schedule.describe()}, "
        f"targets {', '.join(config.targets)})? Its history is kept.",
        do_remove,
    )
