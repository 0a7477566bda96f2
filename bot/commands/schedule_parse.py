"""Reading ``/schedule <name> [key=value …] <when> send <target> <text…>`` (or ``reset-invite``).

Options (``tz=``, ``gap=``, ``pin=`` …, :mod:`bot.commands.job_options`) come
between the name and ``<when>``. ``<when>`` is a quoted cron expression
(``"0 9 * * mon-fri"``), ``every <duration>`` or ``at <ISO time>`` (no
offset: the job's zone, ``tz=`` or else ``scheduler.timezone``). The job
gets the same defaults as a config job and is validated by the same
:class:`bot.jobconfig.JobConfig`, so a bad cron, a bad duration or an unknown
placeholder is refused with the same words as in the config, and nothing is
stored; a broadcast faster than ``scheduler.min_interval`` is refused too.
The target must resolve now; it is kept as typed when it is ``all``, a
target name or an alias (resolved again at each run), and as the group's id
when it names one group by id or name. :func:`read_when`, :func:`validate`
and :func:`timing_problem` serve ``/reschedule`` and ``/edit`` as well.
"""

from __future__ import annotations

import io
import shlex
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from bot.commands.context import Context
from bot.commands.job_options import (
    MAX_OPTIONS,
    chat_name,
    interval_problem,
    is_option,
    parse_options,
)
from bot.commands.parsing import ParseError, split_args
from bot.jobconfig import JobConfig
from bot.problems import problems_from_errors
from bot.services import ALL, ResolveError, explain
from bot.usertext import EXCERPT_LENGTH, excerpt, one_line, shorten
from bot.whatsapp.errors import PilotError
from bot.zones import load_zone
from jobs.kinds import SCHEDULE_ACTIONS
from jobs.schedule import AtSchedule

__all__ = [
    "USAGE",
    "ScheduleRequest",
    "parse_schedule",
    "read_when",
    "timing_problem",
    "validate",
]

USAGE = (
    '/schedule <name> [key=value …] "<cron>"|every <duration>|at <ISO time> '
    "send <target> <text…> (or reset-invite <target>)"
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
        where = ".".join(chat_name(p) if isinstance(p, str) else str(p) for p in loc)
        found.append(f"{where or 'job'}: {reason}")
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


def _peel_options(rest: str) -> tuple[list[str], str]:
    """The ``key=value`` words at the start of ``rest``, and the raw text after them."""
    options: list[str] = []
    while len(options) <= MAX_OPTIONS:  # bounded: one more than a full set is refused anyway
        stream = io.StringIO(rest)
        lexer = shlex.shlex(stream, posix=True)
        lexer.whitespace_split = True
        lexer.commenters = ""
        try:
            word = lexer.get_token()
        except ValueError as exc:
            raise ParseError(f"Cannot read that command: {exc} (check the quotes)") from None
        if word is None or word == lexer.eof or not is_option(word):
            break
        options.append(word)
        rest = stream.read()
    return options, rest


def read_when(rest: str) -> tuple[dict[str, Any], list[str]] | str:
    """``<when> …``: the schedule key and the words after it (the last one the free text)."""
    head = split_args(rest, free_text_after=1)
    if not head:
        return f"say when and what. Usage: {USAGE}"
    count = 4 if head[0].lower() in ("every", "at") else 3
    words = split_args(rest, free_text_after=count)
    when = _when(words)
    if isinstance(when, str):
        return when
    schedule, used = when
    return schedule, words[used:]


def validate(data: dict[str, Any]) -> JobConfig | str:
    """The job, or the model's complaints in one sentence (option keys named as typed)."""
    try:
        return JobConfig.model_validate(data)
    except ValidationError as exc:
        return _problems(exc)


def timing_problem(ctx: Context, job: JobConfig) -> str | None:
    """An ``at`` time already past, or a broadcast faster than ``scheduler.min_interval``."""
    now = ctx.clock()
    if job.at is not None:
        when_at = AtSchedule(job.at, load_zone(job.timezone)).when
        if when_at <= now:
            return f"at {when_at.isoformat()} has already passed"
    if job.until is not None and job.until < now.astimezone(load_zone(job.timezone)).date():
        return f"until={job.until.isoformat()} has already passed"
    return interval_problem(job, now, ctx.options.min_interval)


async def parse_schedule(ctx: Context, name: str, rest: str) -> ScheduleRequest | str:
    """The job ``/schedule`` describes, or a sentence saying what is wrong."""
    try:
        option_words, rest = _peel_options(rest)
        if len(option_words) > MAX_OPTIONS:
            return f"at most {MAX_OPTIONS} options"
        read = read_when(rest)
    except ParseError as exc:
        return str(exc)
    if isinstance(read, str):
        return read
    schedule, rest_words = read
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
    options = parse_options(option_words, kind.name)
    if isinstance(options, str):
        return options
    data: dict[str, Any] = {
        "name": name,
        "kind": kind.name,
        **schedule,
        "timezone": ctx.options.timezone,
        "targets": [target_word],
        **options,
    }
    if text is not None:
        data["text"] = text
    job = validate(data)
    if isinstance(job, str):
        return job
    problem = timing_problem(ctx, job)
    if problem is not None:
        return problem
    target = await _target(ctx, target_word)
    if isinstance(target, str):
        return target
    stored, described = target
    job = job.model_copy(update={"targets": [stored]})
    return ScheduleRequest(job, described)
