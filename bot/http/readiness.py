"""``GET /readyz``: whether the bot does its work, check by check.

200 with ``{"ready": true, "checks": {...}}`` when every check passes, 503
with the same body (``"failing"`` names the checks) otherwise:

- ``storage``: the database answers a ``SELECT 1``;
- ``scheduler``: the job scheduler is running;
- ``telegram`` (only with a bot token): ``getUpdates`` answered within
  ``monitor.polling_grace`` (the front end's ``last_poll_ok``);
- ``whatsapp``: the last known connection of the number (webhook or probe),
  reported but never failing: a restart does not re-pair a phone, so a
  service manager should not act on it; the notify chats are told instead.

``/healthz`` (the loop answers) is the liveness probe; ``/readyz`` is for
load balancers, dashboards and the operator.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from aiohttp import web

from bot.services import ConnectionState, utc_now
from bot.store import Store

__all__ = ["PollingSource", "Readiness", "SchedulerState"]


class PollingSource(Protocol):
    """The Telegram front end, as readiness sees it."""

    last_poll_ok: datetime | None

    def polling_alive(self, now: datetime, grace: timedelta) -> bool: ...


class SchedulerState(Protocol):
    @property
    def running(self) -> bool: ...


def _stamp(when: datetime | None) -> str | None:
    return when.isoformat(timespec="seconds") if when is not None else None


class Readiness:
    """The checks over the running parts; complete when constructed."""

    def __init__(
        self,
        *,
        store: Store,
        scheduler: SchedulerState,
        connection: ConnectionState,
        polling: PollingSource | None,
        polling_grace: timedelta,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """`polling`: the Telegram front end, None without a token (no such check)."""
        self._store = store
        self._scheduler = scheduler
        self._connection = connection
        self._polling = polling
        self._grace = polling_grace
        self._clock = clock

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/readyz", self._readyz)]

    def checks(self) -> dict[str, dict[str, Any]]:
        """Each check's result: ``ok`` and what it saw."""
        results: dict[str, dict[str, Any]] = {
            "storage": self._storage(),
            "scheduler": {"ok": self._scheduler.running},
        }
        if self._polling is not None:
            last = self._polling.last_poll_ok
            results["telegram"] = {
                "ok": self._polling.polling_alive(self._clock(), self._grace),
                "last_poll_ok": _stamp(last),
                "grace_seconds": self._grace.total_seconds(),
            }
        connection = self._connection
        results["whatsapp"] = {
            "ok": True,  # reported, never failing: see the module's docstring
            "connected": connection.connected,
            "since": _stamp(connection.since),
            "source": connection.source or None,
        }
        return results

    def _storage(self) -> dict[str, Any]:
        try:
            self._store.db.execute("SELECT 1").fetchone()
        except (sqlite3.Error, OSError):
            return {"ok": False, "detail": "the database does not answer"}
        return {"ok": True}

    async def _readyz(self, _request: web.Request) -> web.Response:
        checks = self.checks()
        failing = [name for name, result in checks.items() if not result["ok"]]
        body = {"ready": not failing, "failing": failing, "checks": checks}
        return web.json_response(body, status=503 if failing else 200)
