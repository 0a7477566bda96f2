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
from typing import ClassVar

from bot.jobconfig import JobConfig
from bot.whatsapp.client import WhatsAppClient
from jobs.context import RunContext
from jobs.kind_rules import KindName
from jobs.records import Delivery, Run

__all__ = ["JobKind"]


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

    def run_question(self, name: str, job: JobConfig) -> str | None:
        """What ``/run`` asks before a manual run (None: it runs at once)."""
        return None

    async def preflight(self, client: WhatsAppClient, job: JobConfig) -> str | None:
        """What ``/run`` checks online before asking: a refusal sentence, or None to go on."""
        return None

    @abstractmethod
    async def deliver(self, ctx: RunContext, run: Run, job: JobConfig) -> None:
        """Work through the run's ``pending`` rows (returns early when stopping)."""

    def announcement(self, run: Run, job: JobConfig, deliveries: Sequence[Delivery]) -> str | None:
        """A message sent with the run's report whatever ``notify`` says (None: nothing)."""
        return None
