"""APScheduler as a timer: it fires our runs at the moments we arm, and does nothing else.

The scheduler (:mod:`jobs.scheduler`) decides every run time itself (cron,
``every`` and ``at`` with the DST rules of :mod:`jobs.schedule`, jitter,
catch-up, overlap, pause) and arms one APScheduler job per grouppilot job:
a one-shot ``DateTrigger`` at the next fire time, re-armed when it fires.
APScheduler's own policies are switched off on purpose, so that it never
drops a run we armed behind our back:

- ``misfire_grace_time=None``: a fire that comes late (event loop busy,
  machine suspended) still runs; the scheduler judges lateness against the
  job's ``catch_up_window`` and records it;
- ``coalesce=True``: one fire per armed moment, never a burst;
- ``max_instances`` high: our callback only hands the run to the scheduler
  and returns, so instances never pile up, and overlap (``skip``/``queue``)
  is our policy, counted in the history, not APScheduler's silent skip;
- the default memory job store (nothing is pickled or persisted: job
  definitions are data in SQLite), explicit job ids ``grouppilot:<name>``
  with ``replace_existing=True``, and the scheduler's zone set to UTC.

Jobs that error, miss or hit ``max_instances`` anyway are logged loudly.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

__all__ = ["APSchedulerTimer", "Callback", "Timer"]

log = logging.getLogger(__name__)

Callback = Callable[[], Awaitable[None]]
JOB_DEFAULTS: dict[str, Any] = {"misfire_grace_time": None, "coalesce": True, "max_instances": 100}


class Timer(Protocol):
    """Calls ``callback`` at ``when``; arming a key again replaces its moment."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def arm(self, key: str, when: datetime, callback: Callback) -> None: ...

    def disarm(self, key: str) -> None: ...


class APSchedulerTimer:
    """A :class:`Timer` on an ``AsyncIOScheduler`` of the running event loop."""

    def __init__(self) -> None:
        # APScheduler logs every add/remove/run at INFO: one-shot arming makes that noise.
        for name in ("apscheduler.scheduler", "apscheduler.executors.default"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self.scheduler = AsyncIOScheduler(timezone=UTC, job_defaults=dict(JOB_DEFAULTS))
        self.scheduler.add_listener(
            self._on_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES
        )

    @staticmethod
    def job_id(key: str) -> str:
        return f"grouppilot:{key}"

    def start(self) -> None:
        """Start on the running loop (call from inside it)."""
        if not self.scheduler.running:
            self.scheduler.start()

    def stop(self) -> None:
        """No more fires; runs already handed over are not touched."""
        if self.scheduler.running:
            self.scheduler.remove_all_jobs()
            self.scheduler.shutdown(wait=False)

    def arm(self, key: str, when: datetime, callback: Callback) -> None:
        self.scheduler.add_job(
            callback,
            trigger=DateTrigger(run_date=when.astimezone(UTC)),
            id=self.job_id(key),
            name=key,
            replace_existing=True,
        )

    def disarm(self, key: str) -> None:
        # A fired one-shot job is already gone: look before removing (no exception raised
        # and swallowed on every fire of a job with no next run).
        job_id = self.job_id(key)
        if self.scheduler.get_job(job_id) is not None:
            self.scheduler.remove_job(job_id)

    def armed(self) -> dict[str, datetime]:
        """Armed moments by key (for tests and diagnostics)."""
        return {
            job.name: job.next_run_time
            for job in self.scheduler.get_jobs()
            if job.next_run_time is not None
        }

    @staticmethod
    def _on_event(event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_ERROR:
            log.error("scheduler job %s failed: %r", event.job_id, event.exception)
        elif event.code == EVENT_JOB_MISSED:
            log.error("scheduler job %s was dropped as missed by APScheduler", event.job_id)
        else:
            log.error("scheduler job %s hit max_instances: a fire was dropped", event.job_id)
