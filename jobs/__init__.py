"""Scheduled work: the scheduler wiring and the job kinds (docs/scheduling.md).

- :mod:`jobs.schedule`: when jobs run (cron, ``every``, ``at``, DST rules);
- :mod:`jobs.definitions`: jobs as data in SQLite, and their pause state;
- :mod:`jobs.ledger`: run history and the per-group delivery ledger;
- :mod:`jobs.scheduler`: :class:`~jobs.scheduler.JobScheduler` (arming,
  jitter, overlap, pause/resume, ``/run``, ``/schedule``), on
  :mod:`jobs.timer` (APScheduler as a timer only) and :mod:`jobs.slots`;
- :mod:`jobs.startup` and :mod:`jobs.catchup`: what a start decides (recovery,
  catch-up), as pure functions;
- :mod:`jobs.runs`: one run end to end, over the job kinds of :mod:`jobs.kinds`
  (one module each, registered in :data:`jobs.kinds.KINDS`; their config rules
  in :mod:`jobs.kind_rules`) and :mod:`jobs.context`;
- :mod:`jobs.report` and :mod:`jobs.views`: what is said and shown about runs and jobs;
- :mod:`jobs.schema`: the tables, as a migration set of their own.
"""
