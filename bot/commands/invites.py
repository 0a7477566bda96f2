"""Invite links by direct WhatsApp message: `/invite <group> send <number…>`, and the
offer `/add` and `/create` make when people were left out.

Both ask first, showing the message as it will read (``messages.invite`` with
the group's current link), and on Confirm read the link again (never reset:
a link read at the question may have been reset since), then send it to each
number, one by one, through the shared client, so its caps hold. Each number
gets its own line: "queued" with the message id (the provider only took it),
"failed" with the reason, or "unknown" when no answer came. A send is never
retried: no idempotency key exists, so a second try could deliver it twice.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.commands.context import Confirmation, Context
from bot.commands.send import failure_line
from bot.commands.types import Reply
from bot.services import explain
from bot.whatsapp.content import Text
from bot.whatsapp.errors import PilotError
from bot.whatsapp.identifiers import PhoneNumber

NOTHING_SENT = "Nothing was sent."


def render_invite(text: str, *, group: str, link: str) -> str:
    """``messages.invite`` with ``{group}`` and ``{link}`` filled in.

    The same rendering as `bot.config.render_invite`, which the config uses to
    check the text when it is loaded; commands do not import the config.
    """
    return text.format_map({"group": group, "link": link})


def listed(numbers: Sequence[PhoneNumber]) -> str:
    return ", ".join(str(n) for n in numbers)


async def invite_message(ctx: Context, group_id: str, group_name: str) -> str:
    """The invite message for the group, with its current link (read, never reset)."""
    current = await ctx.client.invite_link(group_id)
    ctx.store.record_invite_link(group_id, current.link)
    return render_invite(ctx.options.invite_text, group=group_name or group_id, link=current.link)


async def send_invites(
    ctx: Context, group_id: str, group_name: str, numbers: Sequence[PhoneNumber]
) -> tuple[list[str], int]:
    """Send the invite message to each number: one line per number, and how many queued.

    The link is read first; if that fails the error propagates and nothing is sent.
    """
    message = await invite_message(ctx, group_id, group_name)
    lines: list[str] = []
    queued = 0
    followed: list[tuple[str, str, str]] = []
    for number in numbers:
        try:
            sent = await ctx.client.send(Text(message), number=number)
        except PilotError as exc:
            lines.append(failure_line(str(number), exc))
            continue
        queued += 1
        lines.append(f"{number}: queued (message {sent.id})")
        followed.append((sent.id, str(number), str(number)))
    if followed and ctx.follower is not None:  # the follow-up says who got it, and who did not
        ctx.follower.follow_sends(ctx.principal.chat, ctx.command_text, followed)
    return lines, queued


def _sent_head(label: str, queued: int, numbers: Sequence[PhoneNumber]) -> str:
    return (
        f"Invite link of {label} by WhatsApp message: {queued} of {len(numbers)} queued "
        "(queued: the provider took it; delivery is not confirmed)."
    )


async def invite_send(
    ctx: Context, group_id: str, group_name: str, label: str, numbers: Sequence[PhoneNumber]
) -> Confirmation:
    """`/invite <group> send <number…>`: ask, showing the message, then send it to each."""
    message = await invite_message(ctx, group_id, group_name)

    async def do_send() -> Reply:
        lines, queued = await send_invites(ctx, group_id, group_name, numbers)
        head = _sent_head(label, queued, numbers)
        return Reply("\n".join([head, *lines]), ok=queued == len(numbers))

    question = (
        f"Send the invite link of {label} by WhatsApp message to {listed(numbers)}?\n"
        f"Text: {message}"
    )
    return ctx.ask(question, do_send, declined=NOTHING_SENT)


async def offer_invites(
    ctx: Context,
    group_id: str,
    group_name: str,
    label: str,
    report: list[str],
    numbers: Sequence[PhoneNumber],
) -> Confirmation | Reply:
    """After `/add` or `/create` left `numbers` out: the whole `report`, then the offer.

    The question is all the admin sees of the command, so it carries the
    report; the answer to Confirm repeats it with a line per invite sent.
    The report is never a success (people were left out). When the link
    cannot be read, the report is the reply, with why no offer is made.
    """
    try:
        message = await invite_message(ctx, group_id, group_name)
    except PilotError as exc:
        reason = f"(The invite link could not be read, so it cannot be sent: {explain(exc)})"
        return Reply.failed("\n".join([*report, reason]))

    async def do_send() -> Reply:
        lines, queued = await send_invites(ctx, group_id, group_name, numbers)
        return Reply.failed("\n".join([*report, _sent_head(label, queued, numbers), *lines]))

    offer = (
        f"Send them ({listed(numbers)}) the group's invite link by WhatsApp message? "
        f"(text: {message})"
    )
    declined = "No invite link was sent; what the report above says stands."
    return ctx.ask("\n".join([*report, offer]), do_send, declined=declined)
