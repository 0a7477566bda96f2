"""What a job kind is: everything that differs between a broadcast and an invite reset.

A kind says how ``/schedule`` names it and reads the words after the target,
how ``/job`` shows its own option, what ``/run`` checks online and whether it
asks first, how a run works through its ``pending`` ledger rows, and how its reports word the
groups done and what they announce. The rules its config keys follow are in
:mod:`jobs.kind_rules` (the config model reads them; it cannot import this).
Every kind is registered once, in :data:`jobs.kinds.KINDS`; nothing else
branches on a kind's name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from bot.jobconfig import JobConfig
from bot.whatsapp.client import WhatsAppClient
from jobs.context import RunContext
from jobs.kind_rules import KindName
from jobs.records import Delivery, Run

__all__ = ["QUESTION_GROUPS", "JobKind", "RunPreview", "group_label", "named_groups"]

QUESTION_GROUPS = 10  # groups a /run question names before "and N more"


def group_label(group: tuple[str, str]) -> str:
    """``Sales Team (1203…@g.us)``, or the id alone when the group has no name."""
    group_id, name = group
    return f"{name} ({group_id})" if name and name != group_id else group_id


def named_groups(groups: Sequence[tuple[str, str]], first: int = QUESTION_GROUPS) -> str:
    """``3 groups: A, B, C`` (the first ``first`` names, then ``and N more``)."""
    shown = [name or group_id for group_id, name in groups[:first]]
    more = len(groups) - len(shown)
    listed = ", ".join(shown) + (f" and {more} more" if more else "")
    return f"{len(groups)} group{'s' if len(groups) != 1 else ''}: {listed}"


@dataclass(frozen=True)
class RunPreview:
    """What ``/run`` resolved before a manual run (nothing sent, nothing recorded)."""

    name: str
    groups: Sequence[tuple[str, str]]  # (group id, name or ""), in the order a run would use
    when: datetime  # the run's time in the job's zone: what {date}, {time}… are filled with


class JobKind(ABC):
    """One kind of job; each is one module of :mod:`jobs.kinds`."""

    name: ClassVar[KindName]
    """The ``kind`` of the config and of the run history: ``broadcast``."""
    action: ClassVar[str]
    """The ``/schedule`` word after the schedule: ``send``."""
    verb: ClassVar[str]
    """What ``/schedule`` says a new job does to its target: ``send to``."""
    done: ClassVar[str]
    """The count of groups done in reports and history: ``queued`` (``queued 48, failed 2``)."""

    @abstractmethod
    def tail_problem(self, text: str | None) -> str | None:
        """What is wrong with the words ``/schedule`` got after the target (None: nothing)."""

    @abstractmethod
    def option(self, job: JobConfig) -> str:
        """The kind's own option, first on ``/job``'s options line: ``pin no``."""

    def run_question(self, job: JobConfig, preview: RunPreview) -> str | None:
        """What ``/run`` asks before a manual run (None: it runs at once)."""
        return None

    @abstractmethod
    def dry_run(self, job: JobConfig, group: tuple[str, str], when: datetime) -> str:
        """What a run would do to one group (``/run <job> --dry-run``), nothing done."""

    async def preflight(self, client: WhatsAppClient, job: JobConfig) -> str | None:
        """What ``/run`` checks online before asking: a refusal sentence, or None to go on."""
        return None

    async def run_groups(self, ctx: RunContext, job: JobConfig) -> list[tuple[str, str]] | None:
        """The run's (group id, name) rows when the kind picks them itself; None: the targets.

        Raise ``ResolveError`` to fail the run with its sentence.
        """
        return None

    @abstractmethod
    async def deliver(self, ctx: RunContext, run: Run, job: JobConfig) -> None:
        """Work through the run's ``pending`` rows (returns early when stopping)."""

    def announcement(self, run: Run, job: JobConfig, deliveries: Sequence[Delivery]) -> str | None:
        """A message sent with the run's report whatever ``notify`` says (None: nothing)."""
        return None
