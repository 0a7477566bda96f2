"""Connection alerts: whether the WhatsApp number is connected, and telling people once per change.

:class:`ConnectionAlerts` wraps the shared :class:`bot.services.ConnectionState`
with the one way to announce a change: whoever learns something (the probe
below, a broadcast's send, the provider's ``number.*`` webhooks) calls
:meth:`ConnectionAlerts.seen`; only a change reaches the notify chats, once.
Broadcasts read :attr:`ConnectionAlerts.known_disconnected` before their first
send and fail fast with ``WHATSAPP_INSTANCE_NOT_CONNECTED``.

:class:`ConnectionProbe` is the alert that works without webhooks: every
``monitor.probe_every`` (``0s``: off; the first time one period after
start) it lists the number's groups
(``GET /v1/groups``) through the bot's one client at background priority, so
a waiting command goes first and the rate caps hold. That read is the cheapest
the API has that needs the WhatsApp session (a template read does not) and
needs no group id known in advance. ``WHATSAPP_INSTANCE_NOT_CONNECTED`` means
disconnected, an answer means connected; anything else (network down, 5xx,
429, a refused key) says nothing about the session: it changes nothing and is
logged once per kind of failure until a probe answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.services import ConnectionChange, ConnectionState
from bot.whatsapp.client import WhatsAppClient
from bot.whatsapp.errors import ApiError, NotConnected, PilotError

__all__ = ["ConnectionAlerts", "ConnectionProbe"]

log = logging.getLogger(__name__)

Notify = Callable[[str], Awaitable[None]]


class ConnectionAlerts:
    """The connection state, and its changes told to `notify` once each."""

    def __init__(self, state: ConnectionState, notify: Notify) -> None:
        """`notify`: the scheduler's `notify_chats` (never raises; logs what it cannot send)."""
        self.state = state
        self._notify = notify

    @property
    def known_disconnected(self) -> bool:
        return self.state.known_disconnected

    async def seen(self, connected: bool, *, source: str) -> ConnectionChange | None:
        """Record what `source` saw; a change is logged and told to the notify chats once."""
        change = self.state.report(connected, source=source)
        if change is None:
            return None
        text = change.notice()
        if connected:
            log.info("%s", text)
        else:
            log.warning("%s", text)
        try:
            await self._notify(text)
        except Exception:  # the notify path logs its own failures; never stop the caller
            log.exception("could not deliver a connection notice")
        return change


class ConnectionProbe:
    """Asks the API every `every` whether the number is connected (`start`/`stop`)."""

    def __init__(
        self,
        *,
        client: WhatsAppClient,
        alerts: ConnectionAlerts,
        every: timedelta,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """`every`: the gap between two probes (0: the probe is off)."""
        self._client = client
        self.alerts = alerts
        self.every = every
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None
        self._failing = ""  # the kind of failure last logged ("" while probes answer)

    @property
    def enabled(self) -> bool:
        return self.every > timedelta(0)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def probe(self) -> bool | None:
        """One probe: True (connected), False (not connected), None (no answer: nothing changes)."""
        try:
            await self._client.list_groups(background=True)
        except NotConnected:
            connected = False
        except PilotError as exc:
            self._failed(exc)
            return None
        else:
            connected = True
        if self._failing:
            log.info("The connection probe gets answers again.")
            self._failing = ""
        await self.alerts.seen(connected, source="probe")
        return connected

    def _failed(self, error: PilotError) -> None:
        """Log a failure once per kind (its code or class) until a probe answers again."""
        kind = error.code if isinstance(error, ApiError) else type(error).__name__
        if kind != self._failing:
            log.warning("The connection probe got no answer (%s): the state is unchanged.", kind)
        self._failing = kind

    async def run(self, rounds: int | None = None) -> None:
        """Probe every `every`, the first one `every` after start; `rounds` bounds it (tests).

        Not at once: a bot that starts makes the same requests as before the
        probe existed, and a broadcast or a webhook may well report first.
        """
        done = 0
        while rounds is None or done < rounds:
            await self._sleep(self.every.total_seconds())
            try:
                await self.probe()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not end the alerts for the life of the process
                log.exception("the connection probe hit an unexpected error; it goes on")
            done += 1

    async def start(self) -> None:
        """Start probing in the background (a no-op when off or already running)."""
        if not self.enabled or self.running:
            return
        self._task = asyncio.create_task(self.run(), name="connection-probe")

    async def stop(self) -> None:
        """Stop probing (a probe in flight is abandoned: it only reads)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
