"""The job kinds, registered once: :data:`KINDS` (docs/scheduling.md).

Each kind is one module owning what that kind means (:class:`JobKind`):
:mod:`jobs.kinds.broadcast`, :mod:`jobs.kinds.invite_reset` and
:mod:`jobs.kinds.drift`. The command
layer, the runs and the reports ask this table; none of them names a kind.
The rules of each kind's config keys are in :mod:`jobs.kind_rules`, which the
config model reads (the kinds read the ledger, which reads job definitions).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from bot.jobconfig import JobConfig
from jobs.kinds.base import JobKind, RunPreview, group_label
from jobs.kinds.broadcast import Broadcast
from jobs.kinds.drift import Drift
from jobs.kinds.invite_reset import InviteReset

__all__ = [
    "KINDS",
    "SCHEDULE_ACTIONS",
    "Broadcast",
    "Drift",
    "InviteReset",
    "JobKind",
    "RunPreview",
    "group_label",
    "kind_of",
]

KINDS: Final[Mapping[str, JobKind]] = {
    kind.name: kind for kind in (Broadcast(), InviteReset(), Drift())
}
"""Every job kind by its name (the ``kind`` key of a job)."""

SCHEDULE_ACTIONS: Final[Mapping[str, JobKind]] = {kind.action: kind for kind in KINDS.values()}
"""Every job kind by its ``/schedule`` word (``send``, ``reset-invite``, ``check-drift``)."""


def kind_of(job: JobConfig) -> JobKind:
    """The kind of ``job`` (validated: the config accepts only kinds of :data:`KINDS`)."""
    return KINDS[job.kind]
