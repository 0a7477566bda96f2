"""The client's aiohttp transport raises the httpx errors httpcore raises for the same event.

The retry policy decides on the httpx class: a connect error means the
request never left (retried, even a send), anything after that means it may
have arrived (a send is never retried). The events themselves are exercised
over real HTTP in test_client.py (refused, dropped, read timeout); here each
aiohttp error class is pinned to its meaning, the nested ones included.
"""

from __future__ import annotations

import aiohttp
import httpx
import pytest
from aiohttp.client_reqrep import ConnectionKey
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from bot.whatsapp.transport import httpx_error_for

_KEY = ConnectionKey("127.0.0.1", 1, False, True, None, None, None)
_INFO = aiohttp.RequestInfo(URL("http://127.0.0.1:1/"), "GET", CIMultiDictProxy(CIMultiDict()))


@pytest.mark.parametrize(
    ("error", "meaning"),
    [
        (
            aiohttp.ClientConnectorError(_KEY, ConnectionRefusedError(111, "refused")),
            httpx.ConnectError,
        ),
        (aiohttp.ConnectionTimeoutError(), httpx.ConnectTimeout),
        (aiohttp.SocketTimeoutError(), httpx.ReadTimeout),
        (aiohttp.ServerTimeoutError(), httpx.ReadTimeout),
        (aiohttp.ServerDisconnectedError(), httpx.RemoteProtocolError),
        (
            aiohttp.ClientResponseError(_INFO, (), status=400, message="bad"),
            httpx.RemoteProtocolError,
        ),
        (aiohttp.ClientOSError(104, "reset"), httpx.ReadError),
        (aiohttp.ClientPayloadError("cut off"), httpx.ReadError),
        (TimeoutError(), httpx.ReadTimeout),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else "",
)
def test_each_aiohttp_error_has_httpcores_meaning(error: BaseException, meaning: type) -> None:
    assert httpx_error_for(error) is meaning


@pytest.mark.parametrize(
    "error",
    [
        aiohttp.ServerDisconnectedError(),
        aiohttp.ClientOSError(104, "reset"),
        aiohttp.SocketTimeoutError(),
    ],
)
def test_nothing_after_connecting_reads_as_never_sent(error: BaseException) -> None:
    meaning = httpx_error_for(error)
    assert meaning is not None
    assert not issubclass(meaning, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def test_a_bug_is_not_a_wire_error() -> None:
    assert httpx_error_for(ValueError("ours")) is None
