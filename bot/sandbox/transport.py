"""In-process httpx transport that answers from a `Sandbox` (no sockets).

Used when `pilot.base_url = "sandbox"`:

    client = httpx.AsyncClient(transport=SandboxTransport(sandbox), base_url="http://sandbox")

It runs the same dispatch as the HTTP server, so faults behave alike: a drop
raises `httpx.RemoteProtocolError` as a real dropped connection does, delays
really await, and the client's read timeout is honoured (`httpx.ReadTimeout`,
the operation having been applied already, as with a slow real server).
"""

from __future__ import annotations

import asyncio

import httpx

from bot.sandbox.api import Drop, handle
from bot.sandbox.state import Sandbox


class SandboxTransport(httpx.AsyncBaseTransport):
    """Route httpx requests to a `Sandbox` in the current event loop."""

    def __init__(self, sandbox: Sandbox | None = None) -> None:
        self.sandbox = sandbox if sandbox is not None else Sandbox()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        raw_path = request.url.raw_path.decode("ascii", errors="replace")
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self.sandbox.track(request.method, raw_path) as record:
            try:
                async with asyncio.timeout(_read_timeout(request)):
                    outcome = await handle(
                        self.sandbox, request.method, raw_path, headers, body, record=record
                    )
            except TimeoutError as exc:
                raise httpx.ReadTimeout("Timed out reading the response", request=request) from exc
        if isinstance(outcome, Drop):
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        return httpx.Response(
            status_code=outcome.status,
            headers=list(outcome.headers),
            content=outcome.body,
            request=request,
        )


def _read_timeout(request: httpx.Request) -> float | None:
    """The read timeout httpx attached to the request, if any."""
    timeouts = request.extensions.get("timeout")
    if isinstance(timeouts, dict):
        value = timeouts.get("read")
        if isinstance(value, int | float):
            return float(value)
    return None
