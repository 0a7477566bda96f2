"""/send <target> …: send now, to one group or many: a text, a template or media.

What is sent is read by `bot.commands.send_content` (text, ``template <id>
name=value…``, ``media [type] <url> [caption…]``, or a file posted with the
command in Telegram). A template is read once, before anything is sent or
asked, and its variables checked (`checked_template`); values may use
``{group}``, ``{date}``, ``{time}`` and ``{weekday}``, filled per group in the
scheduler's zone and checked again once filled. Nothing is sent when any of
that fails.

Sends go one by one through the shared client, so its rate and concurrency
caps hold. The API's answer (202, ``QUEUED``) only says the provider took the
message, so replies say "queued"; a send that may or may not have left (no
answer) is "unknown" and never retried. The id the API returns is kept per
group so that `/pin <group> last` can find it, and the queued messages are
handed to the delivery follower (`Context.follower`) when there is one.

A send to several groups, or to a target name (a list, even of one group),
is not made here when the bot's scheduler runs: after Confirm it becomes an
ad-hoc run (`jobs.adhoc`: the same ledger, rate cap, number-wide abort,
crash recovery and report as a scheduled broadcast), the command answers
"Queued to 48 groups, run #123" at once and the run goes on in the
background, its progress and report posted in the chat it came from. A
file posted with the command (a data URI, which a job cannot hold) and a
process without a running scheduler (`grouppilot exec`) still send here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pydantic import ValidationError

from bot.commands.context import Confirmation, Context
from bot.commands.send_content import TemplateRequest, describe, read_content
from bot.commands.types import Reply
from bot.durations import format_duration
from bot.jobconfig import JobConfig
from bot.placeholders import render_text
from bot.services import GroupRef, TemplateRefused, checked_template, explain, variables_problem
from bot.usertext import one_line, shorten
from bot.whatsapp.content import Content, Media, TemplateMessage, Text
from bot.whatsapp.errors import OutcomeUnknown, PilotError
from bot.whatsapp.models import Template
from bot.zones import load_zone


async def send(ctx: Context, args: list[str]) -> Reply | Confirmation:
    target, words = args[0], (args[1] if len(args) > 1 else "")
    requested = read_content(words, ctx.attachment)
    groups = await ctx.directory.resolve_target(target)
    if not groups:
        return Reply.failed(f"'{target}' has no groups; nothing to send.")
    template: Template | None = None
    if isinstance(requested, TemplateRequest):
        template = await checked_template(ctx.client, requested.template_id, requested.variables)
        _contents(ctx, groups, requested, template)  # placeholders that cannot be filled: refused

    job = _as_job(ctx, requested, groups) if _is_list(ctx, target, groups) else None

    async def do_send() -> Reply:
        if job is not None:
            return _queue(ctx, job, groups)
        return await _send_all(ctx, groups, _contents(ctx, groups, requested, template))

    if len(groups) == 1:
        return await do_send()
    names = ", ".join(g.label for g in groups[:10])
    more = f" and {len(groups) - 10} more" if len(groups) > 10 else ""
    shown = describe(requested, ctx.attachment)
    return ctx.ask(f"Send to {len(groups)} groups ({names}{more}):\n{shown}", do_send)


def _is_list(ctx: Context, target: str, groups: list[GroupRef]) -> bool:
    """Several groups, or a target name or ``all`` (a list, even when it holds one group)."""
    word = target.strip().lower()
    named = word in ctx.directory.targets and word not in ctx.directory.aliases()
    return len(groups) > 1 or word == "all" or named


def _as_job(
    ctx: Context, requested: Content | TemplateRequest, groups: list[GroupRef]
) -> JobConfig | None:
    """The one-off broadcast job of an ad-hoc run; None: send here (see the module docstring)."""
    scheduler = ctx.scheduler
    if scheduler is None or not scheduler.running:
        return None
    content: dict[str, object]
    if isinstance(requested, TemplateRequest):
        content = {"template": requested.template_id, "variables": requested.variables}
    elif isinstance(requested, Text):
        content = {"text": _literal(requested.text)}  # sent as typed: no placeholders
    elif isinstance(requested, Media) and not requested.media.startswith("data:"):
        content = {"media": requested.media, "media_type": requested.media_type}
        if requested.caption:
            content["caption"] = _literal(requested.caption)
    else:
        return None
    try:
        return _validated_job(ctx, content, groups)
    except ValidationError:  # e.g. a text near the length limit, its braces doubled
        return None  # sent here, as before


def _validated_job(ctx: Context, content: dict[str, object], groups: list[GroupRef]) -> JobConfig:
    return JobConfig.model_validate(
        {
            "name": "send",
            "kind": "broadcast",
            "every": "1d",  # a job needs a schedule; an ad-hoc run never reads it
            "timezone": ctx.options.timezone,
            # the groups confirmed (also recorded as the run's rows): never more than asked
            "targets": [group.id for group in groups],
            **content,
        }
    )


def _literal(text: str) -> str:
    """``text`` as a job's text that renders back to itself (braces doubled)."""
    return text.replace("{", "{{").replace("}", "}}")


def _queue(ctx: Context, job: JobConfig, groups: list[GroupRef]) -> Reply:
    """Start the ad-hoc run and answer at once; the run reports in this chat."""
    assert ctx.scheduler is not None  # _as_job checked it
    run = ctx.scheduler.send_now(
        job,
        [(g.id, g.name if g.name != g.id else "") for g in groups],
        by=ctx.principal.who,
        chat=ctx.principal.chat,
    )
    noun = "group" if len(groups) == 1 else "groups"
    return Reply(
        f"Queued to {len(groups)} {noun}, run #{run.id}: progress and the report follow here "
        f"(/cancel {run.id} stops it)."
    )


def _contents(
    ctx: Context,
    groups: list[GroupRef],
    requested: Content | TemplateRequest,
    template: Template | None,
) -> dict[str, Content]:
    """What each group gets: the same content, or the template with its values filled in."""
    if not isinstance(requested, TemplateRequest):
        return {group.id: requested for group in groups}
    assert template is not None  # read before: a template send always has one
    now = ctx.clock().astimezone(load_zone(ctx.options.timezone))
    contents: dict[str, Content] = {}
    for group in groups:
        variables = _filled(requested.variables, group.name or group.id, now)
        problem = variables_problem(template, variables)
        if problem is not None:
            raise TemplateRefused(f"For {group.label}: {problem}")
        contents[group.id] = TemplateMessage(requested.template_id, variables)
    return contents


def _filled(variables: Mapping[str, str], group: str, now: datetime) -> dict[str, str]:
    filled: dict[str, str] = {}
    for name, value in variables.items():
        try:
            filled[name] = render_text(value, group=group, when=now)
        except ValueError as exc:
            raise TemplateRefused(
                f"Variable {shorten(one_line(name))}: {exc} (write {{{{ and }}}} for a literal "
                "brace). Nothing was sent."
            ) from None
    return filled


async def _send_all(ctx: Context, groups: list[GroupRef], contents: dict[str, Content]) -> Reply:
    queued: list[tuple[str, str, str]] = []  # (message id, group id, label)
    failed: list[str] = []
    for group in groups:
        try:
            message = await ctx.client.send(contents[group.id], group_id=group.id)
        except PilotError as exc:
            failed.append(failure_line(group.label, exc))
            continue
        ctx.store.record_sent(group.id, message.id)
        queued.append((message.id, group.id, group.label))
    follow_up = _hand_to_follower(ctx, queued)
    if len(groups) == 1 and not failed:
        [(message_id, _, label)] = queued
        return Reply("\n".join([f"Queued to {label} (message {message_id}).", *follow_up]))
    if len(groups) == 1:  # one group that failed: the reason is the whole answer
        return Reply.failed(failed[0])
    head = f"Queued {len(queued)} of {len(groups)}."
    lines = [f"{label}: queued (message {message_id})" for message_id, _, label in queued]
    return Reply("\n".join([head, *failed, *lines, *follow_up]), ok=not failed)


def failure_line(who: str, error: PilotError) -> str:
    """A send that did not go out: ``failed``, or ``unknown`` when it may have (never retried)."""
    outcome = "unknown" if isinstance(error, OutcomeUnknown) else "failed"
    return f"{who}: {outcome} — {explain(error)}"


def _hand_to_follower(ctx: Context, queued: list[tuple[str, str, str]]) -> list[str]:
    """Give the queued messages to the delivery follower; the line saying so, if any."""
    if ctx.follower is None or not queued:
        return []
    horizon = ctx.follower.follow_sends(ctx.principal.chat, ctx.command_text, queued)
    if horizon is None:
        return []
    return [f"Delivery follow-up in this chat within {format_duration(horizon)}."]
