"""Where job reports and alerts go: the one interface the scheduler calls.

The Telegram front end sends to `telegram.notify_chats` (default: the admin
chats); without a token the console prints them; with neither (`run
--no-console` and no token) they go to the log. A notifier never raises:
a report that cannot be delivered is logged, and the job goes on.
"""

from __future__ import annotations

import logging
from typing import Protocol

log = logging.getLogger(__name__)


class Notifier(Protocol):
    async def notify(self, text: str) -> None:
        """Deliver `text` to the people who follow the bot's reports."""


class LogNotifier:
    """Reports into the log, for a bot with no chat to talk to."""

    async def notify(self, text: str) -> None:
        log.info("report: %s", text)


class ConsoleNotifier:
    """Reports printed on the console, keeping its prompt intact."""

    def __init__(self, console: _Printer) -> None:
        self._console = console

    async def notify(self, text: str) -> None:
        self._console.notify(text)


class _Printer(Protocol):
    def notify(self, text: str) -> None: ...
