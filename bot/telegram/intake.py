"""From getUpdates to the handlers: journaled, side by side, stoppable in bounded time.

Two pieces plug into python-telegram-bot's `Application` (see `frontend.py`):

- `JournalingQueue` is its update queue. PTB's updater puts every fetched
  update there *before* it confirms it to Telegram (the next ``getUpdates``
  offset), and `put` first writes it to the `UpdateJournal`; an update
  Telegram sends again (fetched, then a crash before the confirmation) is
  recognised and not queued twice.
- `UpdateIntake` is its update processor: PTB runs every update as its own
  task (at most `max_concurrent` at once), so a command stuck on a slow API
  holds up only the commands that must come after it (that order is the
  command layer's business: handlers `hold` the command's `Ticket` here).
  When an update's handlers are over, its journal row is ``done`` (and it is
  counted in ``grouppilot_telegram_updates``); when its command starts, the
  ticket's ``on_start`` marks it ``taken`` first.

`UpdateIntake.stop` is the bounded stop: no new update starts; commands
still waiting in line are cancelled at once and stay ``queued`` in the
journal (the next start replays them); the rest get `grace` seconds to
finish, then are cancelled (their handler tells the chat they were
interrupted). Button presses are never kept: a confirmation does not
survive a restart, so a press cut off by the stop is answered at once.
PTB's own ``Application.stop()`` would instead run every queued update to
the end, however long a hung API makes that.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot import metrics
from bot.commands.ordering import Ticket
from bot.telegram.journal import UpdateJournal

__all__ = ["JournalingQueue", "UpdateIntake"]

log = logging.getLogger(__name__)

MAX_CONCURRENT_UPDATES = 64


class JournalingQueue(asyncio.Queue[object]):
    """The Application's update queue: journals each update before PTB confirms it."""

    journal: UpdateJournal | None = None  # set once the bot's id is known

    async def put(self, item: object) -> None:
        journal = self.journal
        if (
            isinstance(item, Update)
            and journal is not None
            and not journal.record(item.update_id, item.to_json())
        ):
            log.info("Telegram sent update %s again: already journaled", item.update_id)
            return
        await super().put(item)

    async def put_journaled(self, update: Update) -> None:
        """Queue an update that is already in the journal (a replay at start)."""
        await super().put(update)

    def discard_all(self) -> int:
        """Empty the queue (its updates stay ``queued`` in the journal); how many there were."""
        count = 0
        while not self.empty():
            self.get_nowait()
            self.task_done()
            count += 1
        return count


@dataclass(eq=False)
class _Run:
    update_id: int
    task: asyncio.Task[Any]
    press: bool  # a button press: never kept across a restart
    ticket: Ticket | None = None

    @property
    def kept_if_cancelled(self) -> bool:
        """Cancelled now, would it run again at the next start?"""
        return not self.press and not (self.ticket is not None and self.ticket.started)


class UpdateIntake(BaseUpdateProcessor):
    """Runs updates side by side; journals their fate; stops in bounded time."""

    def __init__(self, max_concurrent: int = MAX_CONCURRENT_UPDATES) -> None:
        super().__init__(max_concurrent)
        self.journal: UpdateJournal | None = None  # set once the bot's id is known
        self._runs: dict[int, _Run] = {}
        self._closed = False

    def hold(self, update: Update, ticket: Ticket) -> Ticket:
        """Tie a command's `ticket` to its update (called by the handler, returns `ticket`)."""
        run = self._runs.get(update.update_id)
        if run is not None:
            run.ticket = ticket
        journal = self.journal
        if journal is not None:
            update_id = update.update_id
            ticket.on_start = lambda: journal.take(update_id)
        return ticket

    @property
    def running(self) -> int:
        """Updates being handled now (waiting in line included)."""
        return len(self._runs)

    # -- BaseUpdateProcessor -----------------------------------------------------

    async def initialize(self) -> None:
        self._closed = False

    async def shutdown(self) -> None:
        """Nothing to free: `stop` already ended every run."""

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        task = asyncio.current_task()
        if not isinstance(update, Update) or task is None:
            await coroutine  # not from Telegram (PTB allows any object): no journal
            return
        if self._closed:  # fetched before the stop: it stays queued for the next start
            if isinstance(coroutine, Coroutine):
                coroutine.close()
            return
        run = _Run(update.update_id, task, press=update.callback_query is not None)
        self._runs[run.update_id] = run
        try:
            await coroutine
        except asyncio.CancelledError:
            if run.kept_if_cancelled:
                log.info(
                    "update %s not run before the stop: kept for the next start", run.update_id
                )
            else:  # cut off and told, or a press (answered; its question dies with the process)
                self._finish(run)
            raise
        else:
            self._finish(run)
        finally:
            self._runs.pop(run.update_id, None)

    # -- stopping -------------------------------------------------------------------

    async def stop(self, grace: float, *, notice_time: float = 5.0) -> tuple[int, int]:
        """Start nothing more; cancel what waits in line; give the rest `grace` seconds.

        Runs cut off after `grace` get `notice_time` more to tell their chat.
        Returns (commands kept for the next start, commands cut off).
        """
        self._closed = True
        runs = list(self._runs.values())
        waiting = [run for run in runs if run.ticket is not None and run.ticket.waiting]
        for run in waiting:
            run.task.cancel()
        tasks = {run.task for run in runs}
        if not tasks:
            return 0, 0
        _, late = await asyncio.wait(tasks, timeout=grace)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=notice_time)
        kept = sum(1 for run in runs if run.kept_if_cancelled and run.task.cancelled())
        return kept, len(late)

    def _finish(self, run: _Run) -> None:
        metrics.TELEGRAM_UPDATES.labels("button" if run.press else "message").inc()
        if self.journal is not None:
            self.journal.finish(run.update_id)
