"""/reschedule and /edit: change a ``/schedule`` job without losing its history (docs/commands.md).

Both build the changed job from the stored one, validate it with the same
rules as ``/schedule`` (:mod:`bot.commands.schedule_parse`), and ask to
confirm, showing the old and the new values and the next runs. On Confirm
the definition is updated in place (same name, same run history) and the
job re-armed (:meth:`jobs.scheduler.JobScheduler.replace_chat`); a run in
progress finishes as it began, the change applies from the next run.
Config jobs are refused: they are changed in the config file.

``/edit <name> text <text…>`` replaces a text broadcast's text;
``/edit <name> key=value …`` sets the same options as ``/schedule``. The
broadcast speed limit (``scheduler.min_interval``) is checked when the
schedule changes (``/reschedule``), as for ``/schedule``.
"""

from __future__ import annotations

from typing import Any

from bot.commands.context import Confirmation, Context
from bot.commands.job_options import describe, option_values, parse_options, upcoming
from bot.commands.parsing import ParseError, split_args
from bot.commands.schedule_parse import read_when, timing_problem, validate
from bot.commands.types import Reply
from bot.jobconfig import JobConfig, build_schedule
from bot.usertext import excerpt
from jobs.definitions import job_to_data
from jobs.scheduler import JobNotFound, JobScheduler, SchedulerNotRunning
from jobs.slots import Slot

__all__ = ["EDIT_USAGE", "RESCHEDULE_USAGE", "edit_job", "reschedule_job"]

RESCHEDULE_USAGE = '<name> "<cron>"|every <duration>|at <ISO time>'
EDIT_USAGE = "<name> text <text…> | key=value …"
_SCHEDULE_KEYS = ("cron", "every", "at")


def _chat_slot(ctx: Context, name: str, verb: str) -> tuple[JobScheduler, Slot] | Reply:
    """The running scheduler and the chat job's slot, or the refusal."""
    if ctx.scheduler is None:
        raise SchedulerNotRunning("There is no scheduler in this process.")
    scheduler = ctx.scheduler
    scheduler.require_running()
    slot = scheduler.slots.get(name)
    if slot is None:
        raise JobNotFound(name, list(scheduler.slots))
    if slot.definition.source != "chat":
        return Reply.failed(
            f"'{name}' is a config job: {verb} it in the config file (and restart the bot)."
        )
    return scheduler, slot


def _ask(
    ctx: Context, scheduler: JobScheduler, slot: Slot, new: JobConfig, lines: list[str]
) -> Confirmation:
    name = new.name
    running = slot.active is not None

    async def do_change() -> Reply:
        scheduler.replace_chat(new)
        after = " The run in progress finishes as it began." if running else ""
        return Reply(f"Changed {name}; its history is kept. {upcoming(new, ctx.clock())}{after}")

    question = [*lines, upcoming(new, ctx.clock())]
    if running:
        question.append("A run is in progress: the change applies from the next run.")
    question.append("Change it?")
    return ctx.ask("\n".join(question), do_change)


async def reschedule_job(ctx: Context, args: list[str]) -> Reply | Confirmation:
    """``/reschedule <name> <when>``: a new schedule, same job and history."""
    found = _chat_slot(ctx, args[0], "reschedule")
    if isinstance(found, Reply):
        return found
    scheduler, slot = found
    rest = args[1] if len(args) > 1 else ""
    words = rest.split()
    if len(words) > 1 and words[0].lower() not in ("every", "at") and rest[0] not in "\"'":
        # Only a schedule follows the name: a cron whose quotes the command line took off
        # (a whole quoted remainder is unquoted), or typed without them.
        schedule: dict[str, Any] = {"cron": rest}
        extra: list[str] = []
    else:
        try:
            read = read_when(rest)
        except ParseError as exc:
            return Reply.failed(f"Not rescheduled: {exc}")
        if isinstance(read, str):
            return Reply.failed(f"Not rescheduled: {read}")
        schedule, extra = read
    if extra:
        return Reply.failed(
            f"Not rescheduled: only a schedule goes after the name, not {excerpt(' '.join(extra))}"
        )
    old = slot.config
    data = {k: v for k, v in job_to_data(old).items() if k not in _SCHEDULE_KEYS} | schedule
    new = validate(data)
    if isinstance(new, str):
        return Reply.failed(f"Not rescheduled: {new}")
    problem = timing_problem(ctx, new)
    if problem is not None:
        return Reply.failed(f"Not rescheduled: {problem}")
    now = ctx.clock()
    was = f"{build_schedule(old, start=now).describe()} in {old.timezone}"
    lines = [f"Reschedule {old.name} ({old.kind}):", f"old: {was}", f"new: {describe(new, now)[0]}"]
    return _ask(ctx, scheduler, slot, new, lines)


async def edit_job(ctx: Context, args: list[str]) -> Reply | Confirmation:
    """``/edit <name> text <text…>`` or ``/edit <name> key=value …``."""
    found = _chat_slot(ctx, args[0], "edit")
    if isinstance(found, Reply):
        return found
    scheduler, slot = found
    old = slot.config
    try:
        words = split_args(args[1] if len(args) > 1 else "", free_text_after=1)
    except ParseError as exc:
        return Reply.failed(f"Not changed: {exc}")
    if not words:
        return Reply.failed(f"Not changed: say what to change. Usage: /edit {EDIT_USAGE}")
    data = job_to_data(old)
    if words[0].lower() == "text":
        if old.kind != "broadcast" or old.text is None:
            what = "an invite reset has no text" if old.kind != "broadcast" else "it sends no text"
            return Reply.failed(f"Not changed: {old.name} {what} (only a text broadcast's is).")
        if len(words) < 2:
            return Reply.failed(f"Not changed: give the new text. Usage: /edit {EDIT_USAGE}")
        data["text"] = words[1]
        lines = [f"Edit the text of {old.name}:", f"old: {old.text}", f"new: {words[1]}"]
    else:
        try:
            option_words = split_args(args[1])
        except ParseError as exc:
            return Reply.failed(f"Not changed: {exc}")
        if not all("=" in word for word in option_words):
            return Reply.failed(
                f"Not changed: write text <text…> or key=value options. Usage: /edit {EDIT_USAGE}"
            )
        options = parse_options(option_words, old.kind)
        if isinstance(options, str):
            return Reply.failed(f"Not changed: {options}")
        data |= options
        lines = [f"Edit {old.name} ({old.kind}):"]
    new = validate(data)
    if isinstance(new, str):
        return Reply.failed(f"Not changed: {new}")
    if new.until is not None and new.until != old.until:
        problem = timing_problem(ctx, new)
        if problem is not None and problem.startswith("until="):
            return Reply.failed(f"Not changed: {problem}")
    if words[0].lower() != "text":
        before = " ".join(option_values(old)) or "none"
        after = " ".join(option_values(new)) or "none"
        zone = f" (zone {old.timezone} -> {new.timezone})" if old.timezone != new.timezone else ""
        lines += [f"old options: {before}", f"new options: {after}{zone}"]
    return _ask(ctx, scheduler, slot, new, lines)
