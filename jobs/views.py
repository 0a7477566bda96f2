"""Read-only views of the jobs, for ``/jobs``, ``/job`` and ``/status``.

They work whether or not this process runs the scheduler: a running one
shows what it has armed (next run, the jitter-delayed start, the run in
progress and its progress); otherwise (``grouppilot exec``) the jobs come
from the config and the database, and the next run is computed as if the
bot started now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from jobs.definitions import JobDefinition, JobState
from jobs.policies import job_schedule
from jobs.records import Run
from jobs.schedule import Schedule
from jobs.scheduler import JobScheduler
from jobs.tracking import FINAL, Tracking, run_batch

__all__ = ["JobView", "RunDelivery", "delivery_counts", "job_view", "job_views", "upcoming"]


@dataclass(frozen=True)
class JobView:
    """Everything shown about one job."""

    definition: JobDefinition
    state: JobState
    schedule: Schedule
    next_run: datetime | None
    fire_at: datetime | None
    last_run: Run | None
    active_run: Run | None = None
    progress: dict[str, int] | None = None
    queued: bool = False

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def enabled(self) -> bool:
        return self.definition.config.enabled


def _definitions(scheduler: JobScheduler) -> list[JobDefinition]:
    if scheduler.running:
        return [slot.definition for slot in scheduler.slots.values()]
    return scheduler.book.all(config_jobs=scheduler.config_jobs)


def _view(scheduler: JobScheduler, definition: JobDefinition, now: datetime) -> JobView:
    name = definition.name
    state = scheduler.book.state(name)
    last = scheduler.ledger.last_run(name)
    slot = scheduler.slots.get(name) if scheduler.running else None
    if slot is not None:
        active = slot.active_run
        return JobView(
            definition=definition,
            state=state,
            schedule=slot.schedule,
            next_run=slot.next_run,
            fire_at=slot.fire_at,
            last_run=last,
            active_run=active,
            progress=scheduler.ledger.counts(active.id) if active is not None else None,
            queued=slot.queued is not None,
        )
    schedule = job_schedule(definition.config, anchor=now)  # `until` ends it
    upcoming = None
    if definition.config.enabled and not state.paused:
        upcoming = schedule.next_after(now)
    return JobView(definition, state, schedule, upcoming, upcoming, last)


def job_views(scheduler: JobScheduler) -> list[JobView]:
    """Every job: config jobs in file order, then chat jobs, oldest first."""
    now = scheduler.clock()
    return [_view(scheduler, definition, now) for definition in _definitions(scheduler)]


def job_view(scheduler: JobScheduler, name: str) -> JobView | None:
    now = scheduler.clock()
    for definition in _definitions(scheduler):
        if definition.name == name:
            return _view(scheduler, definition, now)
    return None


def upcoming(scheduler: JobScheduler, limit: int = 3) -> list[tuple[str, datetime]]:
    """The next ``limit`` runs across all jobs, soonest first (job name, time in its zone)."""
    times = [
        (view.name, view.next_run) for view in job_views(scheduler) if view.next_run is not None
    ]
    ordered = sorted(
        ((name, moment) for name, moment in times if moment is not None), key=lambda item: item[1]
    )
    return ordered[:limit]


@dataclass(frozen=True)
class RunDelivery:
    """What became of a run's messages, and whether the tracker still follows some."""

    counts: dict[str, int]  # by provider status word (queued … failed)
    open_until: datetime | None = None  # latest horizon of a message not final yet
    following: bool = False  # that horizon is still ahead: the counts may still change


def delivery_counts(scheduler: JobScheduler, runs: list[Run]) -> dict[int, RunDelivery]:
    """Each run's messages by provider status (queued … failed); runs without data left out."""
    tracking = Tracking(scheduler.context.store.db)
    now = scheduler.clock()
    found: dict[int, RunDelivery] = {}
    for run in runs:
        counts = tracking.run_counts(run.id)
        if not counts:
            continue
        horizons = [m.until for m in tracking.messages(run_batch(run.id)) if m.status not in FINAL]
        until = max(horizons, default=None)
        found[run.id] = RunDelivery(counts, until, until is not None and until > now)
    return found
