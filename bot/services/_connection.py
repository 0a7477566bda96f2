"""What the bot knows of the WhatsApp number's connection, and when it changed.

Two sources report it: the provider's ``number.connected`` /
``number.disconnected`` webhooks and the periodic probe. Both call
:meth:`ConnectionState.report`; it answers whether that was a change, so
whoever reported it tells the notify chats at most once per change, however
many webhooks or probes repeat the same news. Broadcasts read
:attr:`ConnectionState.known_disconnected` to fail fast with the code
instead of trying every group of a number that cannot send.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.services._time import utc_now

__all__ = ["ConnectionChange", "ConnectionState"]

NOT_CONNECTED = "WHATSAPP_INSTANCE_NOT_CONNECTED"


@dataclass(frozen=True)
class ConnectionChange:
    """A change of the connection: to ``connected`` or not, when, and who saw it."""

    connected: bool
    at: datetime
    source: str  # "webhook" or "probe"

    def notice(self) -> str:
        """The one sentence the notify chats get."""
        when = self.at.strftime("%Y-%m-%d %H:%M UTC")
        if self.connected:
            return f"The WhatsApp number is connected again ({self.source}, {when})."
        return (
            f"The WhatsApp number is not connected ({NOT_CONNECTED}; {self.source}, {when}): "
            "re-pair it. Broadcasts fail fast until it is back."
        )


class ConnectionState:
    """The latest known connection state (unknown until someone reports one)."""

    def __init__(self, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._clock = clock
        self.connected: bool | None = None
        self.since: datetime | None = None
        self.source = ""

    @property
    def known_disconnected(self) -> bool:
        return self.connected is False

    def report(self, connected: bool, *, source: str) -> ConnectionChange | None:
        """Record what ``source`` saw; the change to announce, or None when nothing changed.

        The first report after start announces only a disconnection: a number
        that is connected, as expected, is no news.
        """
        previous = self.connected
        if previous == connected:
            return None
        now = self._clock()
        self.connected, self.since, self.source = connected, now, source
        if previous is None and connected:
            return None
        return ConnectionChange(connected, now, source)
