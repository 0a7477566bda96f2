"""/plan [group]: what apply would change to make the live groups match the groups file.

Reads only (the file, then the live groups through the one client); the reply
is the plan as ``grouppilot plan`` prints it, cut to a chat-sized length.
"""

from __future__ import annotations

from bot.commands.context import Context
from bot.commands.types import Reply
from bot.membership.plan import format_plan
from bot.membership.planning import NoPlan, capped, plan_from_file


async def plan(ctx: Context, args: list[str]) -> Reply:
    options = ctx.options
    try:
        planned = await plan_from_file(
            ctx.client,
            options.groups_file,
            default_country=options.default_country,
            owner=options.membership_owner,
            only=args[0] if args else None,
        )
    except (NoPlan, ValueError) as exc:  # ValueError: the group is not in the file
        return Reply.failed(str(exc))
    return Reply(capped(format_plan(planned)))
