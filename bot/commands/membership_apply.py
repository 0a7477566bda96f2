"""/apply [group]: make the live groups match the groups file, after Confirm.

The plan is computed from the live groups and shown in the question; Confirm
applies it (`bot.membership.apply`: the safe order, one request per kind and
group, each step in the plan-run history and the audit log). A plan the
removal guard refuses is refused here too, and a chat cannot override it:
the admin runs ``grouppilot apply --allow-removals N`` on the bot's machine,
where the count is typed deliberately. People left out of a group (privacy
settings) get a ``/invite <group> send …`` line to send them the link.
"""

from __future__ import annotations

from bot.commands.context import Confirmation, Context
from bot.commands.types import Reply
from bot.membership.apply import Applier
from bot.membership.plan import format_plan, owner_digits
from bot.membership.planning import NoPlan, capped, plan_from_file

_NO_OVERRIDE = (
    "A chat cannot override the removal guard: if these removals are meant, run "
    "`grouppilot apply --allow-removals {count}` on the bot's machine."
)


async def apply_groups(ctx: Context, args: list[str]) -> Reply | Confirmation:
    options = ctx.options
    by = ctx.principal.who
    try:
        plan = await plan_from_file(
            ctx.client,
            options.groups_file,
            default_country=options.default_country,
            owner=options.membership_owner,
            only=args[0] if args else None,
        )
    except (NoPlan, ValueError) as exc:  # ValueError: the group is not in the file
        return Reply.failed(str(exc))
    applier = Applier(
        ctx.store,
        ctx.client,
        clock=ctx.clock,
        owner=owner_digits(options.membership_owner, options.default_country),  # read above
        max_removal_share=options.max_removal_share,
    )
    # An apply a crash cut short: its unknown steps are not repeated; the plan
    # above was read from the live groups, so it already shows what they did.
    unknown = applier.resume(by=by)
    resumed = (
        [
            f"An earlier apply was interrupted: {len(unknown)} step(s) of unknown outcome; "
            "their groups were read again, nothing is repeated."
        ]
        if unknown
        else []
    )
    shown = "\n".join([*resumed, capped(format_plan(plan))])
    if not plan.has_changes:
        return Reply(shown)
    refused = applier.refusal(plan)
    if refused:
        await applier.apply(plan, by=by)  # refused again, and so recorded in the history
        count = sum(group.removals for group in plan.groups)
        return Reply.failed("\n".join([shown, "", refused, _NO_OVERRIDE.format(count=count)]))

    async def do_apply() -> Reply:
        report = await applier.apply(plan, by=by)
        return Reply(capped("\n".join(report.lines())), ok=report.ok)

    return ctx.ask(f"{shown}\n\nApply these changes?", do_apply)
