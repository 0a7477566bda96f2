"""Job options typed in chat (``key=value``), a job's next runs, and the broadcast speed limit.

Shared by ``/schedule`` (:mod:`bot.commands.schedule_parse`), ``/reschedule``
and ``/edit`` (:mod:`bot.commands.job_edit`). An option word becomes a key of
:class:`bot.jobconfig.JobConfig` (``tz=`` is ``timezone``, ``skip=`` is
``skip_dates``), so its value is checked by the same model as a config job;
here only what the model cannot say well is checked: an unknown key, a key
given twice, ``pin=`` on a kind that sends nothing, a yes/no that is neither.

The speed limit (``scheduler.min_interval``) applies to broadcasts only, as
the issue asks: an invite reset sends no message to the groups' members. An
``every`` job is refused when its interval is below the minimum; a cron job
when two of its next :data:`INTERVAL_RUNS` runs are closer than that (a
bounded look ahead: a cron's shortest gap shows within its first runs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any

from bot.durations import format_duration
from bot.jobconfig import JobConfig, build_schedule
from bot.usertext import excerpt
from jobs.policies import upcoming_runs
from jobs.report import content_lines

__all__ = [
    "CHAT_OPTIONS",
    "INTERVAL_RUNS",
    "PREVIEW_RUNS",
    "chat_name",
    "describe",
    "interval_problem",
    "is_option",
    "option_values",
    "parse_options",
    "runs_line",
    "upcoming",
]

CHAT_OPTIONS: Mapping[str, str] = {
    "tz": "timezone",
    "gap": "gap",
    "jitter": "jitter",
    "pin": "pin",
    "notify": "notify",
    "until": "until",
    "skip": "skip_dates",
    "pause_on_failure": "pause_on_failure",
}
"""Option word -> JobConfig key."""

MAX_OPTIONS = len(CHAT_OPTIONS)
PREVIEW_RUNS = 3  # the runs a confirmation shows
INTERVAL_RUNS = 50  # the runs a cron's shortest gap is looked for in
_YES = {"yes": True, "true": True, "on": True, "no": False, "false": False, "off": False}
_LISTED = ", ".join(f"{key}=" for key in CHAT_OPTIONS)


def is_option(word: str) -> bool:
    """Whether a word is meant as ``key=value`` (no schedule, kind or target has an '=')."""
    return "=" in word


def chat_name(key: str) -> str:
    """The option word of a JobConfig key (``timezone`` -> ``tz``), for sentences."""
    for word, config_key in CHAT_OPTIONS.items():
        if config_key == key:
            return word
    return key


def parse_options(words: Iterable[str], kind: str) -> dict[str, Any] | str:
    """JobConfig keys from ``key=value`` words, or one sentence saying what is wrong."""
    data: dict[str, Any] = {}
    seen: set[str] = set()
    for word in words:
        key, _, value = word.partition("=")
        key = key.strip().lower()
        if key not in CHAT_OPTIONS:
            return f"unknown option {excerpt(key + '=')}: the options are {_LISTED}"
        if key in seen:
            return f"{key}= is given twice"
        seen.add(key)
        value = value.strip()
        if not value:
            return f"{key}= needs a value"
        if key == "pin":
            if kind != "broadcast":
                return "pin= is only for a broadcast (an invite reset sends nothing to pin)"
            if value.lower() not in _YES:
                return f"pin= takes yes or no, not {excerpt(value)}"
            data["pin"] = _YES[value.lower()]
        elif key == "skip":
            data["skip_dates"] = [item.strip() for item in value.split(",")]
        else:
            data[CHAT_OPTIONS[key]] = value
    return data


def option_values(job: JobConfig) -> list[str]:
    """The job's chat options away from their defaults, as ``key=value`` (its zone apart)."""
    defaults = JobConfig.model_fields
    shown: list[str] = []
    for word, key in CHAT_OPTIONS.items():
        value = getattr(job, key)
        if key == "timezone" or value == defaults[key].get_default(call_default_factory=True):
            continue
        shown.append(f"{word}={_shown(value)}")
    return shown


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, list):
        return ",".join(_shown(item) for item in value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _offset(moment: datetime) -> str:
    """``-03:00`` (``%:z`` needs Python 3.12)."""
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def runs_line(runs: list[datetime]) -> str:
    """``Next runs: Fri 2026-12-04 10:00 -03:00, …`` (the times are in the job's zone)."""
    if not runs:
        return "Next runs: none (no run left)."
    shown = [f"{moment:%a %Y-%m-%d %H:%M} {_offset(moment)}" for moment in runs]
    return f"Next run{'s' if len(runs) != 1 else ''}: {', '.join(shown)}."


def interval_problem(job: JobConfig, now: datetime, minimum: timedelta) -> str | None:
    """Why a broadcast's schedule runs too often for ``scheduler.min_interval``, or None."""
    if job.kind != "broadcast" or minimum <= timedelta(0):
        return None
    limit = (
        "more often than the minimum for a broadcast, "
        f"{format_duration(minimum)} (scheduler.min_interval)"
    )
    if job.every is not None:
        if job.every < minimum:
            return f"every {format_duration(job.every)} runs {limit}"
        return None
    if job.cron is None:
        return None  # an `at` job runs once
    times = build_schedule(job, start=now).next_times(now, INTERVAL_RUNS)
    # In UTC: aware arithmetic within one zone is wall-clock, wrong across DST.
    gaps = [b.astimezone(UTC) - a.astimezone(UTC) for a, b in pairwise(times)]
    shortest = min(gaps, default=None)
    if shortest is not None and shortest < minimum:
        return f'cron "{job.cron}" runs {format_duration(shortest)} apart, {limit}'
    return None


def upcoming(job: JobConfig, now: datetime) -> str:
    """The job's next :data:`PREVIEW_RUNS` runs from ``now``, as a confirmation shows them
    (an ``every`` job counts from ``now``, as when it is made or rescheduled)."""
    return runs_line(upcoming_runs(job, build_schedule(job, start=now), now, PREVIEW_RUNS))


def describe(job: JobConfig, now: datetime) -> list[str]:
    """What a job does, for a question: its schedule and zone, options and content."""
    lines = [f"{build_schedule(job, start=now).describe()} in {job.timezone}"]
    options = option_values(job)
    if options:
        lines.append(f"options: {' '.join(options)}")
    lines += [f"{label}: {value}" for label, value in content_lines(job)]
    return lines
