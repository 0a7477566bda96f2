"""Where job reports and alerts go: the one interface the scheduler calls.

The Telegram front end sends to `telegram.notify_chats` (default: the admin
chats); without a token the console prints them; with neither (`run
--no-console` and no token) they go to the log. A notifier never raises:
a report that cannot be delivered is logged, and the job goes on.

`tell` answers one chat (a `Principal.chat` string such as
``telegram:-100123`` or ``console``): the delivery tracker's follow-up to the
chat a `/send` came from.

`progress` keeps one message per key (an ad-hoc run: ``run-123``) up to
date in one chat: the Telegram front end sends it once and edits it in
place (at most every few seconds; the final text always goes), the console
and the log print a line per update.
"""

from __future__ import annotations

import logging
from typing import Protocol

log = logging.getLogger(__name__)


class Notifier(Protocol):
    async def notify(self, text: str) -> None:
        """Deliver `text` to the people who follow the bot's reports."""

    async def tell(self, chat: str, text: str) -> None:
        """Deliver `text` to one chat (``telegram:<id>``, ``console``), or log it."""

    async def progress(self, chat: str, key: str, text: str, final: bool) -> None:
        """Show `text` as the state of `key` in `chat`; `final`: the last word on it."""


class LogNotifier:
    """Reports into the log, for a bot with no chat to talk to."""

    async def notify(self, text: str) -> None:
        log.info("report: %s", text)

    async def tell(self, chat: str, text: str) -> None:
        log.info("to %s: %s", chat, text)

    async def progress(self, chat: str, key: str, text: str, final: bool) -> None:
        log.info("%s to %s: %s", "report" if final else "progress", chat, text)


class ConsoleNotifier:
    """Reports printed on the console, keeping its prompt intact."""

    def __init__(self, console: _Printer) -> None:
        self._console = console

    async def notify(self, text: str) -> None:
        self._console.notify(text)

    async def tell(self, chat: str, text: str) -> None:
        """The console is one chat: whatever `chat` says, it is printed there."""
        self._console.notify(text)

    async def progress(self, chat: str, key: str, text: str, final: bool) -> None:
        """A line per update (the console cannot edit what it printed)."""
        self._console.notify(text)


class _Printer(Protocol):
    def notify(self, text: str) -> None: ...
