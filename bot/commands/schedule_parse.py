"""Reading ``/schedule <name> <when> send <target> <text…>`` and ``… reset-invite <target>``.

``<when>`` is a quoted cron expression (``"0 9 * * mon-fri"``), ``every
<duration>`` or ``at <ISO time>`` (no offset: the default zone,
``scheduler.timezone``). The job gets the same defaults as a config job and
is validated by the same :class:`bot.jobconfig.JobConfig`, so a bad cron, a
bad duration or an unknown placeholder is refused with the same words as in
the config, and nothing is stored. The target must resolve now; it is kept
as typed when it is ``all``, a target name or an alias (resolved again at
each run), and as the group's id when it names one group by id or name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from bot.commands.context import Context
from bot.commands.parsing import ParseError, split_args
from bot.jobconfig import JobConfig
from bot.problems import problems_from_errors
from bot.services import ALL, ResolveError, explain
from bot.usertext import EXCERPT_LENGTH, excerpt, one_line, shorten
from bot.whatsapp.errors import PilotError
from bot.zones import load_zone
from jobs.kinds import SCHEDULE_ACTIONS
from jobs.schedule import AtSchedule

__all__ = ["USAGE", "ScheduleRequest", "parse_schedule"]

USAGE = (
    '/schedule <name> "<cron>"|every <duration>|at <ISO time> send <target> <text…>'
    " (or reset-invite <target>)"
)


@dataclass(frozen=True)
class ScheduleRequest:
    """A validated job ready to store, and how to name its target in the reply."""

    job: JobConfig
    described_target: str


def _when(words: list[str]) -> tuple[dict[str, Any], int] | str:
    """The schedule key of the job and how many words it took, or a problem."""
    first = words[0].lower()
    if first in ("every", "at"):
        if len(words) < 2:
            return f"'{first}' needs a value, e.g. every 15m or at 2026-12-01T09:00"
        return {first: words[1]}, 2
    if len(words[0].split()) < 2:
        return (
            f"cannot read the schedule {excerpt(words[0])}: quote a cron expression "
            '("0 9 * * mon-fri"), or write every <duration> or at <ISO time>'
        )
    return {"cron": words[0]}, 1


def _problems(exc: ValidationError) -> str:
    """The job model's complaints; one that quotes a long value quotes an excerpt instead."""
    errors = exc.errors()
    found: list[str] = []
    for error, (loc, reason) in zip(errors, problems_from_errors(errors), strict=True):
        value = error.get("input")
        if isinstance(value, str) and len(value) > EXCERPT_LENGTH:
            reason = reason.replace(repr(value), excerpt(value))
            reason = reason.replace(value, shorten(one_line(value)))
        found.append(f"{'.'.join(str(p) for p in loc) or 'job'}: {reason}")
    return "; ".join(found)


async def _target(ctx: Context, word: str) -> tuple[str, str] | str:
    """(what to store, how to describe it), or a problem."""
    try:
        refs = await ctx.directory.resolve_target(word)
    except ResolveError as exc:
        return str(exc)
    except PilotError as exc:
        return f"cannot check the target {excerpt(word)}: {explain(exc)}"
    if not refs:
        return f"{excerpt(word)} has no groups"
    key = word.strip().lower()
    if key == ALL or key in ctx.directory.aliases() or key in ctx.directory.targets:
        count = f"{len(refs)} group{'s' if len(refs) != 1 else ''} now"
        return key, f"{key} ({count})"
    return refs[0].id, refs[0].label


async def parse_schedule(ctx: Context, name: str, rest: str) -> ScheduleRequest | str:
    """The job ``/schedule`` describes, or a sentence saying what is wrong."""
    try:
        head = split_args(rest, free_text_after=1)
        if not head:
            return f"say when and what. Usage: {USAGE}"
        count = 4 if head[0].lower() in ("every", "at") else 3
        words = split_args(rest, free_text_after=count)
    except ParseError as exc:
        return str(exc)
    when = _when(words)
    if isinstance(when, str):
        return when
    schedule, used = when
    rest_words = words[used:]
    kind = SCHEDULE_ACTIONS.get(rest_words[0].lower()) if len(rest_words) >= 2 else None
    if kind is None:
        return (
            "after the schedule, write send <target> <text…> or reset-invite <target>. "
            f"Usage: {USAGE}"
        )
    target_word = rest_words[1]
    text = rest_words[2] if len(rest_words) > 2 else None
    problem = kind.tail_problem(text)
    if problem is not None:
        return problem
    zone = ctx.options.timezone
    data: dict[str, Any] = {
        "name": name,
        "kind": kind.name,
        **schedule,
        "timezone": zone,
        "targets": [target_word],
    }
    if text is not None:
        data["text"] = text
    try:
        job = JobConfig.model_validate(data)
    except ValidationError as exc:
        return _problems(exc)
    if job.at is not None:
        when_at = AtSchedule(job.at, load_zone(zone)).when
        if when_at <= ctx.clock():
            return f"at {when_at.isoformat()} has already passed"
    target = await _target(ctx, target_word)
    if isinstance(target, str):
        return target
    stored, described = target
    job = job.model_copy(update={"targets": [stored]})
    return ScheduleRequest(job, described)
