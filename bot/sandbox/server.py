"""HTTP/1.1 server for the sandbox on asyncio streams and h11, plus its control API.

h11 instead of an ASGI server because fault injection must be able to drop a
connection without any response, which ASGI servers hide. Keep-alive,
Content-Length bodies and concurrent connections are supported.

Control API (no api key; not recorded, not subject to faults, modes or latency;
answered by `control.py`):

- `POST /_sandbox/faults`: `{"endpoint": ..., <keyword args of Sandbox.inject>}`
- `DELETE /_sandbox/faults`: clear every fault
- `POST /_sandbox/mode`: `{"mode": "normal" | "disconnected" | ...}`
- `GET /_sandbox/state`: groups, sent messages (with their status now), request
  count, max_in_flight, faults, media plan, open windows
- `DELETE /_sandbox/stats`: `Sandbox.reset_stats()`
- `POST /_sandbox/doom`: `{"target": group id or number, "code"?: str | null}`:
  messages sent there from now on end FAILED (`Sandbox.doom`; null lifts it)
- `POST /_sandbox/messages/status`: `{"id": id or correlationId, "status", "code"?}`
  pins a message's status (`Sandbox.set_status`)
- `POST /_sandbox/window`: `{"target": group id or number, "open"?: bool}` opens
  (or closes) its 24 h window in mode `meta` (`Sandbox.open_window`)
- `POST /_sandbox/media-plan`: `{"enabled": bool}` (`Sandbox.media_plan`)

Bodies are limited to 1 MiB, except `POST /v1/messages/send` (24 MiB: a 16 MiB
media file as a base64 data URI, plus the JSON around it).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Final, Self

import h11

from bot.sandbox.api import Drop, SandboxReply, error_reply, handle
from bot.sandbox.control import control
from bot.sandbox.state import Sandbox

CONTROL_PREFIX: Final = "/_sandbox/"
MAX_BODY: Final = 1024 * 1024
MAX_SEND_BODY: Final = 24 * 1024 * 1024
SEND_PATH: Final = "/v1/messages/send"
MAX_EVENTS_PER_REQUEST: Final = 100_000
MAX_REQUESTS_PER_CONNECTION: Final = 100_000
IDLE_TIMEOUT: Final = 120.0
READ_CHUNK: Final = 65_536
SHUTDOWN_TIMEOUT: Final = 3.0


@dataclass(frozen=True)
class _Incoming:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


class _BodyTooLarge(Exception):
    pass


# ------------------------------------------------------------- connections
async def serve(sandbox: Sandbox, host: str = "127.0.0.1", port: int = 8085) -> asyncio.Server:
    """Start serving `sandbox` on host:port (0 = a free port) in the running loop."""

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Python 3.11's stream protocol logs a cancelled handler task as an error:
        # end quietly instead when the server shuts down.
        with contextlib.suppress(asyncio.CancelledError):
            await _serve_connection(sandbox, reader, writer)

    return await asyncio.start_server(on_connection, host, port)


def bound_port(server: asyncio.Server) -> int:
    """The TCP port the server listens on."""
    return int(server.sockets[0].getsockname()[1])


async def _serve_connection(
    sandbox: Sandbox, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    conn = h11.Connection(h11.SERVER)
    try:
        for _ in range(MAX_REQUESTS_PER_CONNECTION):
            try:
                incoming = await _read_request(conn, reader)
            except h11.RemoteProtocolError as exc:
                await _try_send(conn, writer, error_reply(exc.error_status_hint, str(exc), None))
                return
            except _BodyTooLarge:
                reply = error_reply(413, "Request body too large", "PAYLOAD_TOO_LARGE")
                await _try_send(conn, writer, reply)
                return
            if incoming is None or not await _respond(sandbox, conn, writer, incoming):
                return
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()
    except (ConnectionError, TimeoutError, h11.LocalProtocolError):
        return
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()


async def _read_request(conn: h11.Connection, reader: asyncio.StreamReader) -> _Incoming | None:
    """The next complete request, or None when the client closed the connection."""
    request: h11.Request | None = None
    chunks: list[bytes] = []
    size = 0
    limit = MAX_BODY
    for _ in range(MAX_EVENTS_PER_REQUEST):
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await asyncio.wait_for(reader.read(READ_CHUNK), IDLE_TIMEOUT)
            conn.receive_data(data)
        elif isinstance(event, h11.Request):
            request = event
            path = request.target.split(b"?", 1)[0].decode("ascii", errors="replace")
            limit = MAX_SEND_BODY if path.rstrip("/") == SEND_PATH else MAX_BODY
        elif isinstance(event, h11.Data):
            size += len(event.data)
            if size > limit:
                raise _BodyTooLarge
            chunks.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage) and request is not None:
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in request.headers}
            target = request.target.decode("ascii", errors="replace")
            return _Incoming(request.method.decode("ascii"), target, headers, b"".join(chunks))
        elif isinstance(event, h11.ConnectionClosed):
            return None
        else:
            raise h11.RemoteProtocolError(f"unexpected event {event!r}", error_status_hint=400)
    raise h11.RemoteProtocolError("request too fragmented", error_status_hint=400)


async def _respond(
    sandbox: Sandbox, conn: h11.Connection, writer: asyncio.StreamWriter, incoming: _Incoming
) -> bool:
    """Answer one request; False when the connection must be closed now."""
    if incoming.target.startswith(CONTROL_PREFIX):
        await _send(conn, writer, control(sandbox, incoming.method, incoming.target, incoming.body))
        return True
    with sandbox.track(incoming.method, incoming.target) as record:
        outcome = await handle(
            sandbox,
            incoming.method,
            incoming.target,
            incoming.headers,
            incoming.body,
            record=record,
        )
        if isinstance(outcome, Drop):
            return False
        head_only = incoming.method.upper() == "HEAD"
        await _send(conn, writer, outcome, head_only=head_only)
    return True


async def _send(
    conn: h11.Connection,
    writer: asyncio.StreamWriter,
    reply: SandboxReply,
    *,
    head_only: bool = False,
) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers]
    headers.append((b"content-length", str(len(reply.body)).encode()))
    events: list[h11.Event] = [h11.Response(status_code=reply.status, headers=headers)]
    if not head_only:
        events.append(h11.Data(data=reply.body))
    events.append(h11.EndOfMessage())
    for event in events:
        data = conn.send(event)
        if data:
            writer.write(data)
    await writer.drain()


async def _try_send(
    conn: h11.Connection, writer: asyncio.StreamWriter, reply: SandboxReply
) -> None:
    if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
        with contextlib.suppress(h11.LocalProtocolError, ConnectionError):
            await _send(conn, writer, reply)


# ----------------------------------------------------------------- runners
def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def _shutdown_owned_loop(server: asyncio.Server) -> None:
    """Close the server and end every other task of this (privately owned) loop."""
    server.close()
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=SHUTDOWN_TIMEOUT)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(server.wait_closed(), SHUTDOWN_TIMEOUT)


async def _serve_until_signalled(sandbox: Sandbox, host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
    server = await serve(sandbox, host, port)
    print(f"sandbox listening on {_url(host, bound_port(server))}", flush=True)
    try:
        await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await _shutdown_owned_loop(server)


def serve_forever(
    *,
    host: str = "127.0.0.1",
    port: int = 8085,
    groups: int = 4,
    latency_ms: float = 0,
    mode: str = "normal",
    api_key: str | None = None,
    media_plan: bool = True,
    failure_share: float = 0.0,
    members_per_group: int = 0,
) -> None:
    """Serve a new sandbox until Ctrl-C or SIGTERM (blocking)."""
    sandbox = Sandbox(
        groups=groups,
        members_per_group=members_per_group,
        latency_ms=latency_ms,
        mode=mode,
        api_key=api_key,
        media_plan=media_plan,
        failure_share=failure_share,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_until_signalled(sandbox, host, port))


class SandboxServerThread:
    """Run `serve(sandbox)` on its own event loop in a daemon thread (for tests)."""

    def __init__(
        self,
        sandbox: Sandbox | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        timeout: float = 5.0,
    ) -> None:
        self.sandbox = sandbox if sandbox is not None else Sandbox()
        self.host = host
        self.port = port
        self.timeout = timeout
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:54321` (valid once started)."""
        return _url(self.host, self.port)

    def start(self) -> Self:
        """Start the thread and wait until the server listens."""
        if self._thread is not None:
            raise RuntimeError("sandbox server thread already started")
        self._thread = threading.Thread(target=self._run, name="sandbox-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(self.timeout):
            raise RuntimeError("sandbox server did not start in time")
        if self._error is not None:
            raise RuntimeError(f"sandbox server failed to start: {self._error}") from self._error
        return self

    def stop(self) -> None:
        """Stop serving and join the thread (bounded wait)."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(self.timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:
            self._error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await serve(self.sandbox, self.host, self.port)
        self.port = bound_port(server)
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await _shutdown_owned_loop(server)
