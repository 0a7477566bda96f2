"""The running scheduler's view of one job, and what happens to a run handed to it.

A :class:`Slot` holds a job's definition and schedule, the next run armed
(and its jitter-delayed fire time), the run in progress and at most one run
waiting behind it. :func:`jitter_delay` draws a start delay "never past the
next run". :class:`Submission` says whether a run started, waits or was
skipped by the overlap policy.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, Literal

from bot.jobconfig import JobConfig
from bot.services import Refusal, did_you_mean
from bot.usertext import excerpt
from jobs import policies
from jobs.definitions import JobDefinition, job_to_data, same_schedule
from jobs.records import Run, Trigger
from jobs.schedule import Schedule

__all__ = [
    "JobNotFound",
    "Queued",
    "SchedulerNotRunning",
    "Slot",
    "Submission",
    "jitter_delay",
]

_ONE_SECOND = timedelta(seconds=1)


class SchedulerNotRunning(Refusal, RuntimeError):
    """A change asked of a scheduler that this process does not run."""


class JobNotFound(Refusal, LookupError):
    """No job called ``name``; the sentence suggests one of ``known`` or lists them."""

    def __init__(self, name: str, known: Sequence[str] = ()) -> None:
        self.name = name
        close = did_you_mean(name, known, n=3, cutoff=0.6)
        if close:
            text = f"No job called {excerpt(name)}. Did you mean {' or '.join(close)}?"
        else:
            listed = ", ".join(known) if known else "none yet"
            text = f"No job called {excerpt(name)}. Jobs: {listed}."
        super().__init__(text)


def jitter_delay(
    schedule: Schedule, jitter: timedelta, scheduled: datetime, rng: random.Random
) -> timedelta:
    """A random start delay up to ``jitter``, ending at least a second before the next run."""
    limit = jitter
    following = schedule.next_after(scheduled)
    if following is not None:
        # In UTC: aware arithmetic within one zone is wall-clock, wrong across DST.
        gap = following.astimezone(UTC) - scheduled.astimezone(UTC)
        limit = min(limit, gap - _ONE_SECOND)
    if limit <= timedelta(0):
        return timedelta(0)
    return timedelta(seconds=rng.uniform(0.0, limit.total_seconds()))


@dataclass
class Queued:
    """A run waiting for the job's previous run to end (``overlap = \"queue\"``)."""

    scheduled: datetime
    trigger: Trigger
    by: str


@dataclass
class Slot:
    """One job as the running scheduler holds it."""

    definition: JobDefinition
    schedule: Schedule
    paused: bool = False  # as stored (job_state), kept here so arming reads no database
    next_run: datetime | None = None  # the next scheduled time armed
    fire_at: datetime | None = None  # next_run plus its jitter
    active: asyncio.Task[Run] | None = None
    active_run: Run | None = None
    queued: Queued | None = None

    @property
    def config(self) -> JobConfig:
        return self.definition.config

    @cached_property
    def config_data(self) -> dict[str, Any]:
        """The job as stored in each run's history row, built once per definition."""
        return job_to_data(self.definition.config)

    def redefine(self, definition: JobDefinition, *, start: datetime) -> None:
        """A chat job changed (``/reschedule``, ``/edit``): the next runs use the new
        definition; a run in progress keeps the one it started with. A new schedule or
        zone counts from ``start`` (an ``every`` job); an unchanged one keeps its rhythm."""
        if not same_schedule(self.config, definition.config):
            self.schedule = policies.job_schedule(definition.config, anchor=start)
        self.schedule.ends = policies.until_end(definition.config)  # `until` may have changed
        self.definition = definition
        self.__dict__.pop("config_data", None)  # drop the cached form of the old definition


@dataclass(frozen=True)
class Submission:
    """What became of a run handed to the overlap policy."""

    status: Literal["started", "queued", "skipped"]
    run: Run | None = None  # the open row (started) or the skipped row
    task: asyncio.Task[Run] | None = None
    reason: str = ""
