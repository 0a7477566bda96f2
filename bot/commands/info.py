"""/help, /status: what the bot can do and how it is (/log: bot.commands.log)."""

from __future__ import annotations

from urllib.parse import urlsplit

from bot import __version__
from bot.commands.context import Context
from bot.commands.log import show_log
from bot.commands.types import Reply
from bot.durations import rounded_duration
from bot.services import explain
from bot.whatsapp.errors import PilotError
from jobs.report import local_time
from jobs.views import job_views, upcoming

__all__ = ["help_command", "show_log", "status"]  # show_log: the catalog finds /log here


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
