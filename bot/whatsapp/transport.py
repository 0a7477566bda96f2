"""The client's HTTP transport: aiohttp under httpx's API, with httpcore's error meanings.

httpx's own transport (httpcore over anyio) costs about 2.5 ms of CPU per
request; on a broadcast that, not the network, was the limit. aiohttp does
the same request in a fraction of that. Under httpx's API the client keeps
everything else (timeouts, in-process transports for the sandbox, responses);
`bench/http_floor.py` has the figures.

Why not the `httpx-aiohttp` package: it turns every aiohttp
`ClientConnectionError` into `httpx.ConnectTimeout`, including a connection
the server dropped after the request was sent. The client reads a connect
error as "the request never left" and resends it, which for a send means a
message twice. It also hands aiohttp the URL as text, which re-encodes the
path (`%40` in a group id becomes `@`). Here the path goes out as httpx built
it and each aiohttp error becomes the httpx error httpcore raises for the
same event:

- could not connect (refused, unresolvable)  -> `httpx.ConnectError`
- connecting (or waiting for a pooled one) timed out -> `httpx.ConnectTimeout`
- no answer within the read timeout           -> `httpx.ReadTimeout`
- the server closed without an answer         -> `httpx.RemoteProtocolError`
- an answer that is not valid HTTP            -> `httpx.RemoteProtocolError`
- anything else once connected (reset, cut-off body) -> `httpx.ReadError`

aiohttp is imported on the first request, not with this module: importing it
takes longer than importing httpx, and a process that never reaches the wire
(a command that needs no API call, the in-process sandbox) should not pay.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    import aiohttp


@functools.cache
def _meanings() -> tuple[tuple[type[BaseException], type[httpx.TransportError]], ...]:
    import aiohttp

    # First match wins: the aiohttp classes nest (a connect timeout is a
    # ServerTimeoutError is a ClientConnectionError; a connector error an OSError).
    return (
        (aiohttp.ClientConnectorError, httpx.ConnectError),
        (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
        (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
        (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
        (aiohttp.ClientResponseError, httpx.RemoteProtocolError),
        (aiohttp.ClientError, httpx.ReadError),
        (TimeoutError, httpx.ReadTimeout),
    )


def httpx_error_for(error: BaseException) -> type[httpx.TransportError] | None:
    """The httpx error that means what `error` (from aiohttp) means; None: not a wire error."""
    return next((ours for theirs, ours in _meanings() if isinstance(error, theirs)), None)


@contextlib.contextmanager
def _httpx_errors(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        meaning = httpx_error_for(exc)
        if meaning is None:  # not from the wire: a bug, let it show
            raise
        raise meaning(str(exc) or type(exc).__name__, request=request) from exc


class WireTransport(httpx.AsyncBaseTransport):
    """aiohttp with at most `max_connections` open, errors as httpcore would raise them.

    The session is made on first use, inside the event loop that uses it.
    Answers are read whole (the API's are small JSON objects).
    """

    def __init__(self, *, max_connections: int) -> None:
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _open_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            import aiohttp

            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                ssl=httpx.create_ssl_context(),  # the CA trust httpx would use
                keepalive_timeout=5.0,  # httpx's default keep-alive expiry
            )
            # trust_env: proxies from the environment, as httpx honours them.
            self._session = aiohttp.ClientSession(connector=connector, trust_env=True)
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        import aiohttp  # in sys.modules after the first request: a dictionary lookup
        from yarl import URL

        timeouts = request.extensions.get("timeout", {})
        body = await request.aread()
        session = self._open_session()
        with _httpx_errors(request):
            async with session.request(
                request.method,
                URL(str(request.url), encoded=True),  # the path exactly as httpx encoded it
                headers=request.headers.multi_items(),
                data=body or None,
                allow_redirects=False,
                auto_decompress=False,  # httpx decodes, as with its own transport
                timeout=aiohttp.ClientTimeout(
                    sock_connect=timeouts.get("connect"),
                    sock_read=timeouts.get("read"),
                    connect=timeouts.get("pool"),  # aiohttp: pool wait plus connecting
                ),
            ) as response:
                content = await response.read()
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=httpx.ByteStream(content),
            request=request,
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode(),
            },
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
