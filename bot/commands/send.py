"""/send <target> <text…>: send now, to one group or many.

Sends go one by one through the shared client, so its rate and concurrency
caps hold. A send that may or may not have left (no answer) is reported as
"unknown" and never retried. The id the API returns is kept per group so
that `/pin <group> last` can find it.
"""

from __future__ import annotations

from bot.commands.context import Confirmation, Context
from bot.commands.types import Reply
from bot.services import GroupRef, explain
from bot.usertext import message_text_problem
from bot.whatsapp.errors import OutcomeUnknown, PilotError


async def send(ctx: Context, args: list[str]) -> Reply | Confirmation:
    target, text = args[0], args[1]
    problem = message_text_problem(text)
    if problem is not None:
        return Reply.failed(f"The text to send {problem}. Usage: /send <target> <text…>")
    groups = await ctx.directory.resolve_target(target)
    if not groups:
        return Reply.failed(f"'{target}' has no groups; nothing to send.")

    async def do_send() -> Reply:
        return await _send_all(ctx, groups, text)

    if len(groups) == 1:
        return await do_send()
    names = ", ".join(g.label for g in groups[:10])
    more = f" and {len(groups) - 10} more" if len(groups) > 10 else ""
    preview = text if len(text) <= 200 else text[:200] + "…"
    return ctx.ask(f"Send to {len(groups)} groups ({names}{more}):\n{preview}", do_send)


async def _send_all(ctx: Context, groups: list[GroupRef], text: str) -> Reply:
    sent: list[str] = []
    failed: list[str] = []
    for group in groups:
        try:
            message = await ctx.client.send_text(group.id, text)
        except OutcomeUnknown as exc:
            failed.append(f"{group.label}: unknown — {explain(exc)}")
            continue
        except PilotError as exc:
            failed.append(f"{group.label}: failed — {explain(exc)}")
            continue
        ctx.store.record_sent(group.id, message.id)
        sent.append(f"{group.label}: sent (message {message.id})")
    if len(groups) == 1 and not failed:
        return Reply(f"Sent to {sent[0]}.")
    head = f"Sent {len(sent)} of {len(groups)}."
    return Reply("\n".join([head, *failed, *sent]), ok=not failed)
