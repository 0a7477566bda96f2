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
from bot.membership.apply import Applier, owner_digits
from bot.membership.file import load_groups_file
from bot.membership.model import GroupsFileError
from bot.membership.plan import compute_plan, format_plan

_NO_OVERRIDE = (
    "A chat cannot override the removal guard: if these removals are meant, run "
    "`grouppilot apply --allow-removals {count}` on the bot's machine."
)


async def apply_groups(ctx: Context, args: list[str]) -> Reply | Confirmation:
    options = ctx.options
    if not options.groups_file:
        return Reply.failed("No groups file: set membership.file in the config.")
    try:
        declared = load_groups_file(options.groups_file, default_country=ctx.default_country)
    except GroupsFileError as exc:
        return Reply.failed("\n".join(["The groups file cannot be used:", *exc.problems]))
    owner = owner_digits(options.membership_owner, ctx.default_country)
    applier = Applier(
        ctx.store,
        ctx.client,
        clock=ctx.clock,
        owner=owner,
        max_removal_share=options.max_removal_share,
    )
    by = ctx.principal.who
    unknown = applier.resume(by=by)
    resumed = (
        [
            f"An earlier apply was interrupted: {len(unknown)} step(s) of unknown outcome; "
            "their groups were read again, nothing is repeated."
        ]
        if unknown
        else []
    )
    try:
        plan = await compute_plan(ctx.client, declared, only=args[0] if args else None, owner=owner)
    except ValueError as exc:
        return Reply.failed(str(exc))
    shown = "\n".join([*resumed, format_plan(plan)])
    if not plan.has_changes:
        return Reply(shown)
    refused = applier.refusal(plan)
    if refused:
        await applier.apply(plan, by=by)  # refused again, and recorded in the history
        count = sum(group.removals for group in plan.groups)
        return Reply.failed("\n".join([shown, "", refused, _NO_OVERRIDE.format(count=count)]))

    async def do_apply() -> Reply:
        report = await applier.apply(plan, by=by)
        return Reply("\n".join(report.lines()), ok=report.ok)

    return ctx.ask(f"{shown}\n\nApply these changes?", do_apply)
