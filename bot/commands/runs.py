"""/cancel <run>: stop a run in progress, an ad-hoc ``/send`` or a job's run.

The run stops before its next send (what is in flight finishes): what was
sent stays sent, and the groups not reached yet are recorded ``failed`` with
the code ``CANCELED``; the run's report follows as usual. A run is named by
its number, as in "Queued to 48 groups, run #123" (``/cancel 123`` or
``/cancel #123``). A run that is not in progress gets one sentence saying so.
"""

from __future__ import annotations

from bot.commands.context import Context
from bot.commands.types import Reply
from bot.usertext import ascii_int, excerpt
from jobs.scheduler import SchedulerNotRunning

__all__ = ["cancel_run"]


async def cancel_run(ctx: Context, args: list[str]) -> Reply:
    run_id = ascii_int(args[0].strip().removeprefix("#"))
    if run_id is None:
        return Reply.failed(
            f"{excerpt(args[0])} is not a run number: give the number of the run, "
            "e.g. /cancel 123 (the reply to a /send names it)."
        )
    scheduler = ctx.scheduler
    if scheduler is None:
        return Reply.failed("There is no scheduler in this process: no run to cancel.")
    try:
        text = scheduler.cancel(run_id, by=ctx.principal.who)
    except SchedulerNotRunning as exc:
        return Reply.failed(str(exc))
    return Reply(text, ok=text.startswith("Canceling"))
