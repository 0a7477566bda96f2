"""A request through the API client imports nothing once the client is warm.

An import of a module that is not installed is not cached: Python rescans
`sys.path` every time. httpcore imports `sniffio` inside every request, so
without it installed each request paid a failed import (16% of a broadcast's
CPU). A finder first in `sys.meta_path` sees every import that is not
already in `sys.modules`, installed or not; after one warm-up request there
must be none, in process and over real HTTP to 127.0.0.1.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

import pytest

from bot.sandbox import Sandbox, SandboxServerThread, SandboxTransport
from bot.whatsapp import RetryPolicy, WhatsAppClient
from bot.whatsapp.identifiers import PhoneNumber

REQUESTS = 20


class ImportRecorder:
    """A meta path finder that finds nothing and writes down what was asked for."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        self.names.append(fullname)
        return None  # let the real finders do the work


@pytest.fixture
def recorder() -> Iterator[ImportRecorder]:
    found = ImportRecorder()
    sys.meta_path.insert(0, found)
    try:
        yield found
    finally:
        sys.meta_path.remove(found)


async def _requests(client: WhatsAppClient, group_id: str, count: int) -> None:
    """The requests a broadcast and a command make: a send, a read, a list, a change."""
    member = PhoneNumber.parse("+15550100001", "US")
    for index in range(count):
        await client.send_text(group_id, f"hello {index}")
        await client.get_group(group_id)
        await client.list_groups()
        await client.promote(group_id, [member])


@pytest.mark.parametrize("wire", ["in-process", "http"])
async def test_warm_requests_import_nothing(wire: str, recorder: ImportRecorder) -> None:
    sandbox = Sandbox()
    group_id = sandbox.list_groups()[0][0]
    with SandboxServerThread(sandbox) as server:
        over_http = wire == "http"
        async with WhatsAppClient(
            base_url=server.url if over_http else "http://sandbox",
            api_key="ps_test_key",
            timeout=2.0,
            max_rps=1000,
            concurrency=8,
            retry=RetryPolicy.fast(),
            transport=None if over_http else SandboxTransport(sandbox),
        ) as client:
            await _requests(client, group_id, 1)  # warm-up: first-use imports are fine
            recorder.names.clear()
            await _requests(client, group_id, REQUESTS)
    assert recorder.names == [], f"imports attempted during requests: {sorted(set(recorder.names))}"
