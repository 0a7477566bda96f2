"""/templates: the number's saved message templates, whether each can be sent, its variables.

The list (`GET /v1/templates`) says whether a template is sendable and its
Meta status, but not always its variables: those come from reading each
template (`GET /v1/templates/{id}`). Those reads are bounded (`MAX_READS`),
one at a time through the shared client; a template whose read fails is still
listed, with the reason its variables are missing.
"""

from __future__ import annotations

from bot.commands.context import Context
from bot.commands.types import Reply
from bot.services import explain
from bot.whatsapp.errors import PilotError
from bot.whatsapp.models import TemplateSummary

MAX_READS = 50  # templates read for their variables per /templates


async def list_templates(ctx: Context, args: list[str]) -> Reply:
    summaries = await ctx.client.list_templates()
    if not summaries:
        return Reply("No saved templates. Create them with the provider (Meta approves them).")
    lines = [f"{len(summaries)} templates:"]
    reads = 0
    unread = 0
    for summary in summaries:
        variables: str | None
        if summary.variables is not None:
            variables = _variables(summary.variables)
        elif reads < MAX_READS:
            reads += 1
            variables = await _read_variables(ctx, summary)
        else:
            unread += 1
            variables = None
        lines.append(_line(summary, variables))
    if unread:
        lines.append(
            f"({unread} more templates' variables were not read: at most {MAX_READS} "
            "are read per /templates.)"
        )
    lines.append("Send one with /send <target> template <id> name=value …")
    return Reply("\n".join(lines))


async def _read_variables(ctx: Context, summary: TemplateSummary) -> str:
    try:
        template = await ctx.client.get_template(summary.id)
    except PilotError as exc:
        return f"variables not read: {explain(exc)}"
    return _variables(template.variable_names)


def _variables(names: tuple[str, ...]) -> str:
    return "variables: " + (", ".join(names) if names else "none")


def _line(summary: TemplateSummary, variables: str | None) -> str:
    name = summary.id if summary.name in ("", summary.id) else f"{summary.name} (id {summary.id})"
    state = "sendable" if summary.sendable else summary.why_not_sendable
    parts = [name, state] + ([variables] if variables is not None else [])
    return "- " + " — ".join(parts)
