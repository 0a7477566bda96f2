"""One HTTP endpoint inside the bot's event loop, on aiohttp's server.

aiohttp rather than Starlette + uvicorn: it is already the bot's HTTP
transport (one library fewer to keep), its ``AppRunner``/``TCPSite`` run in
the loop the bot already owns with an explicit start and stop (no second
server loop or signal handling to tame), and it enforces a body size limit
itself (``client_max_size``). Routes are added by the parts that own them
(the webhook receiver, readiness); this module owns only the server, the
liveness answer and the metrics exposition.

``GET /healthz`` answers while the event loop does; ``GET /metrics`` is the
Prometheus text format of :mod:`bot.metrics`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiohttp import web

from bot.metrics import exposition

__all__ = ["HttpEndpoint"]

log = logging.getLogger(__name__)


async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _metrics(_request: web.Request) -> web.Response:
    body, content_type = exposition()
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type
    return response


class HttpEndpoint:
    """The server: complete when constructed, listening between `start` and `stop`."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        routes: Iterable[web.RouteDef] = (),
        max_body: int = 64 * 1024,
    ) -> None:
        self.host = host
        self.port = port
        self.app = web.Application(client_max_size=max_body)
        self.app.add_routes([web.get("/healthz", _healthz), web.get("/metrics", _metrics)])
        self.app.add_routes(list(routes))
        self._runner: web.AppRunner | None = None

    @property
    def bound_port(self) -> int:
        """The port listened on (the real one when `port` was 0)."""
        if self._runner is None:
            return self.port
        for site in self._runner.sites:
            server = getattr(site, "_server", None)
            sockets = getattr(server, "sockets", None) or []
            for sock in sockets:
                return int(sock.getsockname()[1])
        return self.port

    async def start(self) -> None:
        """Listen; an address that cannot be used raises OSError (one sentence upstream)."""
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        log.info("HTTP endpoint listening on %s:%d", self.host, self.bound_port)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
