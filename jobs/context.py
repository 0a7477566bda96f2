"""What a job kind needs while it runs, and how failures become ledger codes.

:class:`RunContext` bundles the shared parts (ledger, the one WhatsApp
client, the store, a clock, a sleep and a random source that tests replace,
and the scheduler's "stopping" flag). :func:`error_code` turns a client
error into the stable code written to a delivery row and shown in reports.
A kind that must refuse a whole run before sending anything raises
:class:`RunRefused`. A *number-wide* error (the number is disconnected, the key refused, the API
unreachable) would fail every other group the same way, so a job kind stops
there and marks the rest failed with that code instead of trying each one.
A broadcast that starts while the number is known disconnected (``connection``,
:mod:`jobs.connection`) is refused before its first send with that code.

:meth:`RunContext.record_outcome` commits a delivery's answer; when the
database refuses it, the answer is kept in the scheduler's
:class:`jobs.outage.StorageOutage` (written once writes work again) and the
error goes on up: the run stops sending.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from bot.membership.planning import PlanSource
from bot.store import Store
from bot.whatsapp.client import WhatsAppClient
from bot.whatsapp.errors import (
    ApiError,
    AuthError,
    ConnectFailed,
    InstanceNotFound,
    InvalidInput,
    NotConnected,
    NotEligible,
    OutcomeUnknown,
    PilotError,
)
from jobs.connection import ConnectionAlerts
from jobs.ledger import Ledger
from jobs.outage import LateOutcome, StorageOutage, is_storage_fault

__all__ = [
    "EXPIRED",
    "INTERRUPTED",
    "RunContext",
    "RunRefused",
    "error_code",
    "is_number_wide",
]

INTERRUPTED = "INTERRUPTED"  # left `sending` by a crash: may have gone out
EXPIRED = "EXPIRED"  # an interrupted run past its catch_up_window: not sent
_NUMBER_WIDE = (NotConnected, AuthError, InstanceNotFound, NotEligible, ConnectFailed)


class RunRefused(Exception):
    """A kind refuses the whole run before any send: every pending row fails with ``code``.

    Raised by :meth:`jobs.kinds.JobKind.deliver` (a template job whose
    variables do not fit its template); the run executor fails the run with
    ``reason`` as its detail, so the report carries the one sentence.
    """

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def error_code(error: PilotError) -> str:
    """The stable code of a client error (the API's own code when it gave one)."""
    if isinstance(error, ApiError):
        return error.code
    if isinstance(error, OutcomeUnknown):
        return "OUTCOME_UNKNOWN"
    if isinstance(error, ConnectFailed):
        return "CONNECT_FAILED"
    if isinstance(error, InvalidInput):
        return "INVALID_INPUT"
    return type(error).__name__.upper()


def is_number_wide(error: PilotError) -> bool:
    """True when the error would be the same for every group of the number."""
    return isinstance(error, _NUMBER_WIDE)


@dataclass
class RunContext:
    """The parts a run uses; one per scheduler, shared by its runs."""

    ledger: Ledger
    client: WhatsAppClient
    store: Store
    clock: Callable[[], datetime]
    sleep: Callable[[float], Awaitable[None]]
    rng: random.Random
    stopping: Callable[[], bool]
    outage: StorageOutage
    parallel: int = 1  # senders at once when a job has no gap
    # What is known of the number's connection: a broadcast fails fast while it is known
    # disconnected, and a send that goes through reports it connected. None: not followed.
    connection: ConnectionAlerts | None = None
    # The groups file the drift job plans (membership.file); None: none configured.
    plan_source: PlanSource | None = None

    def record_outcome(self, outcome: LateOutcome) -> None:
        """Commit the answer to a request that went out (row ``sending`` -> its state).

        A new invite link or a sent message's id goes to the store with the
        row's new state, all in one transaction: one commit per answer, and
        never half of one. If the database refuses any of it, nothing of it
        is kept on disk, the whole answer is kept for later and the error is
        raised: the run must stop sending.
        """
        try:
            with self.store.db.atomic():
                outcome.write(self.store, self.ledger)
        except Exception as exc:
            if is_storage_fault(exc):
                self.outage.keep_outcome(outcome, exc)
            raise
        self.ledger.checkpoint_if_due()

    def done(
        self,
        run_id: int,
        group_id: str,
        state: Literal["sent", "failed", "unknown"],
        *,
        code: str = "",
        detail: str = "",
        result: str = "",
    ) -> None:
        """:meth:`record_outcome` of an answer with no link or message id to store."""
        self.record_outcome(LateOutcome(run_id, group_id, state, code, detail, result))

    async def pause(self, gap: timedelta) -> None:
        """A random pause up to ``gap`` (between two sends)."""
        if gap > timedelta(0):
            await self.sleep(self.rng.uniform(0.0, gap.total_seconds()))
