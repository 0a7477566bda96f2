"""The delivery tracker: what became of each sent message, and one follow-up per run or /send.

The send endpoint answers 202 ``QUEUED``: the provider took the message,
nothing more. The tracker follows every message a broadcast run sent (the
ledger registers them, :func:`jobs.tracking.register_run_send`) and every
``/send`` (:meth:`DeliveryTracker.follow_sends`, the command layer's
`SendFollower`) by reading its status, one message at a time, through the
bot's one client at background priority (a waiting command goes first):
first about 10 s after the send, then with doubling gaps up to every 2
minutes, until a final status (READ, FAILED, CANCELED) or the horizon
(``messages.track_delivery``; ``0s`` follows nothing). It only ever reads
statuses: nothing is sent, or resent, from here.

When a batch is settled (no message left at QUEUED or SENT, or the horizon
passed), its follow-up goes out once: a run with failed messages reports
them to the notify chats (per the job's ``notify``; none when all went well),
a ``/send`` tells its own chat the counts. Everything is in SQLite, so a
restart goes on where the last process stopped; the follow-up is marked
before it goes out, so it is never sent twice.

A status read that fails (API down, 429) is retried at the next gap; a
storage fault is logged once, in one sentence, and retried after a pause.
Only ``grouppilot run`` starts the tracker; elsewhere (``exec``)
`follow_sends` does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from bot.notify import LogNotifier, Notifier
from bot.store import Store
from bot.whatsapp.client import WhatsAppClient
from bot.whatsapp.errors import PilotError
from jobs.outage import fault_text, is_storage_fault
from jobs.records import run_from_row
from jobs.report import run_followup, send_followup
from jobs.tracking import FAILED, MAX_GAP, Tracked, Tracking

__all__ = ["DeliveryTracker"]

log = logging.getLogger(__name__)

STORAGE_RETRY = 30.0  # seconds before the tracker tries its database again


class DeliveryTracker:
    """Follows sent messages in one background task (`start`/`stop`)."""

    def __init__(
        self,
        *,
        store: Store,
        client: WhatsAppClient,
        horizon: timedelta,
        clock: Callable[[], datetime],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """`horizon`: how long a message is followed (0: the tracker follows nothing)."""
        self.tracking = Tracking(store.db)
        self._store = store
        self._client = client
        self.horizon = horizon
        self._clock = clock
        self._sleep = sleep
        self._notifier: Notifier = LogNotifier()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._storage_failing = False

    @property
    def enabled(self) -> bool:
        return self.horizon > timedelta(0)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    # -- bot.commands.context.SendFollower ----------------------------------------------

    def follow_sends(
        self, chat: str, command: str, sends: list[tuple[str, str, str]]
    ) -> timedelta | None:
        """Follow a `/send`'s messages ``(message id, group id, label)``: one follow-up to chat.

        Returns the horizon, or None when nothing will be followed (tracking off,
        the tracker not running as in ``exec``, or the database refusing the rows).
        """
        if not sends or not self.enabled or not self.running:
            return None
        now = self._clock()
        try:
            self.tracking.register_sends(
                f"send:{uuid.uuid4().hex}",
                chat=chat,
                command=command,
                sends=sends,
                now=now,
                until=now + self.horizon,
            )
        except Exception as exc:
            if not is_storage_fault(exc):
                raise
            log.warning("The delivery of a /send cannot be followed: %s", fault_text(exc))
            return None
        self._wake.set()
        return self.horizon

    async def apply_status(self, message_id: str, status: str, code: str = "") -> bool:
        """A status the provider pushed (``message.*`` webhook); whether it changed anything.

        Recorded as a check's result would be (never backwards); when that
        settles the message's batch, its follow-up goes out as after a check.
        Storage faults propagate (the webhook answers 503 and is sent again).
        """
        if status in FAILED and not code:
            code = status
        changed, batch = self.tracking.apply_status(message_id, status, code)
        if batch is not None and self.tracking.settled(batch):
            await self._follow_up(batch)
        return changed

    # -- the background task ------------------------------------------------------------

    async def start(self, notifier: Notifier) -> None:
        """Start following (a no-op when the horizon is 0); follow-ups go to `notifier`."""
        self._notifier = notifier
        if not self.enabled or self.running:
            return
        self._task = asyncio.create_task(self._run(), name="delivery-tracker")

    async def stop(self) -> None:
        """Stop the task (a status read in flight is abandoned: reads are safe to repeat)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        await self._guarded(self._report_settled)  # a follow-up a crash left owed
        while True:
            self._wake.clear()
            delay = await self.step()
            if delay != 0.0:
                await self._wait(delay)

    async def _wait(self, delay: float | None) -> None:
        """Until `delay` seconds passed (at most the longest gap) or a new batch arrived."""
        waker = asyncio.ensure_future(self._wake.wait())
        waiting: set[asyncio.Future[Any]] = {waker}
        if delay is not None:
            waiting.add(asyncio.ensure_future(self._sleep(min(delay, MAX_GAP.total_seconds()))))
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for future in waiting:
                future.cancel()

    async def step(self) -> float | None:
        """Check the next message if it is due: 0 (check again), seconds to wait, or None (idle)."""
        outcome: float | None = STORAGE_RETRY

        async def one() -> None:
            nonlocal outcome
            due = self.tracking.next_due()
            if due is None:
                outcome = None
                return
            wait = (due.next_check - self._clock()).total_seconds()
            if wait > 0:
                outcome = wait
                return
            await self._check(due)
            outcome = 0.0

        await self._guarded(one)
        return outcome

    async def run_due(self, limit: int = 10_000) -> int:
        """Check every message due now, one at a time (bounded); how many were checked."""
        checked = 0
        while checked < limit and await self.step() == 0.0:
            checked += 1
        return checked

    async def _guarded(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run `work`; a storage fault is logged once until storage works again, never raised."""
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not is_storage_fault(exc):
                log.exception("the delivery tracker hit an unexpected error; it goes on")
                return
            if not self._storage_failing:
                log.warning("Delivery tracking pauses: %s", fault_text(exc))
            self._storage_failing = True
            return
        if self._storage_failing:
            log.info("Delivery tracking goes on: the database takes writes again")
        self._storage_failing = False

    async def _check(self, message: Tracked) -> None:
        try:
            status = await self._client.message_status(message.message_id, background=True)
        except PilotError as exc:
            log.info("status of message %s not read (%s): retried later", message.message_id, exc)
            self.tracking.record_check(message, now=self._clock(), status=None)
        else:
            self.tracking.record_check(
                message,
                now=self._clock(),
                status=status.status,
                code=status.error_code or (status.status if status.status in FAILED else ""),
            )
        if self.tracking.settled(message.batch):
            await self._follow_up(message.batch)

    # -- follow-ups ---------------------------------------------------------------------

    async def _report_settled(self) -> None:
        for batch in self.tracking.unreported():
            if self.tracking.settled(batch):
                await self._follow_up(batch)

    async def _follow_up(self, batch: str) -> None:
        row = self.tracking.claim_report(batch, self._clock())
        if row is None:
            return  # already reported
        messages = self.tracking.messages(batch)
        failed = [
            (m.label or m.group_id, m.code or m.status) for m in messages if m.status in FAILED
        ]
        if row["run_id"] is not None:
            text = self._run_text(int(row["run_id"]), failed)
            if text is not None:
                await self._deliver(self._notifier.notify(text))
            return
        counts: dict[str, int] = {}
        for message in messages:
            word = "failed" if message.status in FAILED else message.status.lower()
            counts[word] = counts.get(word, 0) + 1
        await self._deliver(
            self._notifier.tell(row["chat"], send_followup(row["command"], counts, failed))
        )

    def _run_text(self, run_id: int, failed: list[tuple[str, str]]) -> str | None:
        """The run's follow-up, when some message failed and its job's ``notify`` wants reports."""
        rows = list(self._store.db.query("SELECT * FROM job_runs WHERE id = ?", (run_id,)))
        if not failed or not rows:
            return None
        run = run_from_row(rows[0])
        if run.definition.get("notify", "failures") == "never":
            return None
        return run_followup(run, failed)

    @staticmethod
    async def _deliver(sending: Awaitable[None]) -> None:
        try:
            await sending
        except Exception:
            log.exception("could not deliver a delivery follow-up")
