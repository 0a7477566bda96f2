"""/groups, /group, /invite, /pin, /unpin: looking at groups and their links and pins.

`/invite <group> send <number…>` sends the link by WhatsApp message
(`bot.commands.invites`).
"""

from __future__ import annotations

import shlex

from bot.commands.context import Confirmation, Context
from bot.commands.invites import invite_send
from bot.commands.types import Reply
from bot.services import GroupRef, explain_unconfirmed_reset
from bot.usertext import excerpt
from bot.whatsapp.errors import OutcomeUnknown, PilotError
from bot.whatsapp.identifiers import numbers_from_words

_ROLE_ORDER = {"superadmin": 0, "admin": 1, "member": 2}
_INVITE_USAGE = "Usage: /invite <group> [reset] or /invite <group> send <number…>"


async def list_groups(ctx: Context, args: list[str]) -> Reply:
    groups = await ctx.directory.groups(fresh=True)
    needle = " ".join(args).casefold()
    shown = [g for g in groups if needle in g.name.casefold() or needle in g.id]
    if not shown:
        if needle:
            shown_needle = excerpt(" ".join(args))
            return Reply(f"No group matches {shown_needle} ({len(groups)} groups in all).")
        return Reply("This number is in no groups yet. Create one with /create.")
    lines = [
        f"{g.name or '(no name)'} — {g.id}" for g in sorted(shown, key=lambda g: g.name.casefold())
    ]
    head = f"{len(shown)} of {len(groups)} groups:" if needle else f"{len(groups)} groups:"
    return Reply("\n".join([head, *lines]))


async def show_group(ctx: Context, args: list[str]) -> Reply:
    ref = await ctx.directory.resolve_group(args[0], named=False)  # the read names it
    group = await ctx.client.get_group(ref.id)
    people = sorted(group.participants, key=lambda p: (_ROLE_ORDER.get(p.role, 3), p.number))
    lines = [
        f"{group.subject or ref.name} ({group.id})",
        f"{len(people)} participant{'' if len(people) == 1 else 's'}:",
    ]
    lines += [f"+{p.number} {p.role}" for p in people]
    return Reply("\n".join(lines))


async def invite(ctx: Context, args: list[str]) -> Reply | Confirmation:
    mode = args[1].lower() if len(args) > 1 else ""
    if mode == "send":
        if len(args) == 2:
            return Reply.failed(f"Give the numbers to send the invite link to. {_INVITE_USAGE}")
        numbers = numbers_from_words(args[2:], ctx.default_country)  # all good, or nothing
        ref = await ctx.directory.resolve_group(args[0])
        return await invite_send(ctx, ref.id, ref.name, ref.label, numbers)
    if len(args) > 2 or (len(args) == 2 and mode != "reset"):
        return Reply.failed(_INVITE_USAGE)
    ref = await ctx.directory.resolve_group(args[0])
    current = await ctx.client.invite_link(ref.id)
    ctx.store.record_invite_link(ref.id, current.link)
    if len(args) == 1:
        return Reply(f"Invite link of {ref.label}:\n{current.link}")

    async def do_reset() -> Reply:
        try:
            fresh = await ctx.client.invite_link(ref.id, reset=True)
        except OutcomeUnknown:
            return await _read_after_unanswered_reset(ctx, ref, current.link, args[0])
        ctx.store.record_invite_link(ref.id, fresh.link)
        return Reply(f"New invite link of {ref.label} (the old one no longer works):\n{fresh.link}")

    return ctx.ask(
        f"Reset the invite link of {ref.label}? The current link\n{current.link}\n"
        "will stop working.",
        do_reset,
    )


async def _read_after_unanswered_reset(
    ctx: Context, ref: GroupRef, before: str, typed: str
) -> Reply:
    """The reset may have happened: read the link rather than reset again."""
    try:
        now = await ctx.client.invite_link(ref.id)
    except PilotError as read_error:
        check = f"/invite {shlex.quote(typed)}"
        return Reply.failed(explain_unconfirmed_reset(read_error, check=check))
    ctx.store.record_invite_link(ref.id, now.link)
    changed = "was reset" if now.link != before else "was NOT reset"
    return Reply(
        f"No answer to the reset; the link {changed}. Current link of {ref.label}:\n{now.link}",
        ok=now.link != before,
    )


async def pin(ctx: Context, args: list[str]) -> Reply:
    return await _pin(ctx, args, pin=True)


async def unpin(ctx: Context, args: list[str]) -> Reply:
    return await _pin(ctx, args, pin=False)


async def _pin(ctx: Context, args: list[str], *, pin: bool) -> Reply:
    ref = await ctx.directory.resolve_group(args[0])
    message_id = args[1]
    if message_id.lower() == "last":
        last = ctx.store.last_sent(ref.id)
        if last is None:
            return Reply.failed(
                f"This bot has not sent anything to {ref.label} yet, so there is no 'last' "
                "message. Give a message id."
            )
        message_id = last
    if pin:
        await ctx.client.pin(ref.id, message_id)
        return Reply(f"Pinned message {message_id} in {ref.label}.")
    await ctx.client.unpin(ref.id, message_id)
    return Reply(f"Unpinned message {message_id} in {ref.label}.")
