"""The report of ``grouppilot check``: a config summary, then every job and its next runs.

``format_check`` only reads the validated settings (no API call, no store):
one summary line (where the API is, whether Telegram is on, where the store
is; never a secret's value), a ``warning:`` line per environment variable
meant for grouppilot that sets nothing (by name only), a line on the groups
file when ``membership.file`` is set, then one block per job
with its kind, schedule, zone, targets, content (a broadcast's text, template
and variables, or media and caption, as ``/job`` shows it), state and next
three run times in ISO 8601 with the offset, in the job's zone. ``every`` jobs count from the
start of the bot, so their times are shown for a start at ``now``; an ``at``
time before ``now`` is reported as passed (it would count as missed).
"""

from __future__ import annotations

from datetime import datetime

from bot.config import JobConfig, Settings
from bot.jobconfig import build_schedule
from bot.membership.model import GroupsFile
from jobs.policies import upcoming_runs
from jobs.report import content_lines
from jobs.schedule import AtSchedule, EverySchedule, Schedule

__all__ = ["format_check", "format_declared", "format_summary"]

RUNS_SHOWN = 3
_INDENT = "  "
_LABEL_WIDTH = 10


def _plural(count: int, word: str, words: str) -> str:
    return f"{count} {word if count == 1 else words}"


def format_summary(settings: Settings) -> str:
    """One line: API (sandbox or live URL), Telegram on/off, storage, counts."""
    if settings.pilot.is_sandbox:
        pilot = "pilot: sandbox (built-in emulator)"
    else:
        pilot = f"pilot: {settings.pilot.base_url} (api_key set)"
    if settings.telegram.enabled:
        telegram = "telegram: token set"
    else:
        telegram = "telegram: no token (console is the admin channel)"
    counts = ", ".join(
        [
            _plural(len(settings.groups), "alias", "aliases"),
            _plural(len(settings.targets), "target", "targets"),
            _plural(len(settings.jobs), "job", "jobs"),
        ]
    )
    return (
        f"{pilot}; {telegram}; storage: {settings.storage.path}; "
        f"default zone: {settings.scheduler.timezone}; {counts}"
    )


def _line(label: str, value: str) -> str:
    return f"{_INDENT}{(label + ':').ljust(_LABEL_WIDTH - 1)} {value}"


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _next_runs(job: JobConfig, schedule: Schedule, now: datetime) -> list[str]:
    """The 'next' lines of one job."""
    label = "next" if job.enabled else "next (if enabled)"
    times = upcoming_runs(job, schedule, now, RUNS_SHOWN)  # without skip dates, up to `until`
    if not times and isinstance(schedule, AtSchedule):
        passed = f"{_stamp(schedule.when)} has passed (would count as missed)"
        return [_line(label, f"none: {passed}")]
    if not times:
        return [_line(label, "none")]
    lines = [_line(label, _stamp(times[0]))]
    pad = " " * len(_line(label, ""))
    lines.extend(pad + _stamp(moment) for moment in times[1:])
    if isinstance(schedule, EverySchedule):
        note = "counted from its last scheduled run, across restarts; shown for a first start now"
        lines.append(_line("note", note))
    return lines


def _job_block(job: JobConfig, now: datetime) -> list[str]:
    lines = [job.name, _line("kind", job.kind)]
    try:
        schedule = build_schedule(job, start=now.replace(microsecond=0))
    except ValueError as exc:  # validated settings never get here
        return [*lines, _line("schedule", f"invalid: {exc}")]
    return [
        *lines,
        _line("schedule", schedule.describe()),
        _line("zone", job.timezone),
        _line("targets", ", ".join(job.targets)),
        *(_line(label, value) for label, value in content_lines(job)),
        _line("state", "enabled" if job.enabled else "disabled"),
        *_next_runs(job, schedule, now),
    ]


def format_declared(declared: GroupsFile) -> str:
    """One line on the groups file: where it is, how many groups and lists it declares."""
    with_id = sum(1 for group in declared.groups if group.id is not None)
    groups = _plural(len(declared.groups), "group", "groups")
    lists = _plural(len(declared.lists), "list", "lists")
    return f"groups file: {declared.path}: {groups} ({with_id} with an id), {lists}"


def format_check(settings: Settings, *, now: datetime, declared: GroupsFile | None = None) -> str:
    """The whole ``check`` report for ``settings`` as of ``now`` (timezone-aware).

    ``declared`` is the groups file (``membership.file``), already checked.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    lines = [format_summary(settings)]
    lines.extend(f"warning: {warning}" for warning in settings.env_warnings)
    if declared is not None:
        lines.append(format_declared(declared))
    if not settings.jobs:
        lines.extend(["", "no jobs configured"])
    for job in settings.jobs:
        lines.append("")
        lines.extend(_job_block(job, now))
    return "\n".join(lines)
