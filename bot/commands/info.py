"""/help, /status, /log: what the bot can do, how it is, and what it did."""

from __future__ import annotations

from urllib.parse import urlsplit

from bot import __version__
from bot.commands.context import Context
from bot.commands.types import Reply
from bot.durations import rounded_duration
from bot.services import explain
from bot.usertext import ascii_int, one_line, shorten
from bot.whatsapp.errors import PilotError
from jobs.report import local_time
from jobs.views import job_views, upcoming

LOG_DEFAULT, LOG_MAX = 10, 100
LOG_COMMAND_CHARS = 80  # each command shown, at most (the audit log keeps 1,000)


async def help_command(ctx: Context, args: list[str]) -> Reply:
    return ctx.registry.help_reply(args, ctx.principal.rights)


async def status(ctx: Context, args: list[str]) -> Reply:
    options = ctx.options
    where = (
        "sandbox (built-in emulator)"
        if options.sandbox
        else f"live ({urlsplit(options.api_base_url).netloc})"
    )
    try:
        groups = await ctx.directory.groups(fresh=True)
        api = f"reachable, number connected, {len(groups)} groups"
        ok = True
    except PilotError as exc:
        api = explain(exc)
        ok = False
    uptime = ctx.clock() - ctx.started_at
    lines = [
        f"grouppilot {__version__}, up {rounded_duration(uptime)}",
        f"WhatsApp API: {where}: {api}",
        *_scheduler_lines(ctx),
    ]
    return Reply("\n".join(lines), ok=ok)


def _scheduler_lines(ctx: Context) -> list[str]:
    """Scheduler state, job counts and the next runs (docs/commands.md, /status)."""
    scheduler = ctx.scheduler
    if scheduler is None:
        jobs = ctx.options.config_jobs
        return [f"Scheduler: not in this process; {len(jobs)} jobs in the config"]
    views = job_views(scheduler)
    paused = sum(1 for view in views if view.state.paused)
    disabled = sum(1 for view in views if not view.enabled)
    active = sum(1 for view in views if view.active_run is not None)
    counts = f"{len(views)} jobs ({paused} paused, {disabled} disabled)"
    if scheduler.running:
        state = f"Scheduler: running, {counts}, {active} running now"
    else:
        state = f"Scheduler: not running in this process (it runs in grouppilot run); {counts}"
    soonest = upcoming(scheduler, 3)
    zones = {view.name: view.definition.config.timezone for view in views}
    shown = [f"{name} {local_time(moment, zones[name])}" for name, moment in soonest]
    return [state, "Next runs: " + ("; ".join(shown) if shown else "none")]


async def show_log(ctx: Context, args: list[str]) -> Reply:
    limit = ascii_int(args[0]) if args else LOG_DEFAULT
    if limit is None or not 1 <= limit <= LOG_MAX:
        return Reply.failed(f"Give a number of entries from 1 to {LOG_MAX}, e.g. /log 20")
    entries = ctx.store.recent_audit(limit)
    if not entries:
        return Reply("The audit log is empty.")
    lines = [
        f"{e.at:%Y-%m-%d %H:%M:%S} {e.chat} {e.who}: {_logged(e.command)} -> {e.outcome}"
        for e in entries
    ]
    return Reply("\n".join(lines))


def _logged(command: str) -> str:
    """A command from the audit log on one line, cut to LOG_COMMAND_CHARS."""
    return shorten(one_line(command), LOG_COMMAND_CHARS)
