"""A broadcast's HTTP cost beside its floors: how close grouppilot gets to the wire.

    uv run python bench/http_floor.py [--groups 1000] [--latency-ms 5] [--concurrency 16]
                                      [--reps 3] [--server sandbox|stand-in]

The server runs as its own process on 127.0.0.1: the sandbox
(`grouppilot sandbox --latency-ms 5 --groups 1000`) or `--server stand-in`, a
few lines of asyncio that answer every request with a canned 202 after the
latency (so the server's own CPU is not what is measured). Each repetition
sends one message to every group, `--concurrency` at a time, once per row:

  raw asyncio     hand-written HTTP/1.1 over keep-alive sockets: Python's practical limit
  aiohttp         aiohttp.ClientSession + semaphore
  bare httpx      httpx.AsyncClient + semaphore (httpcore): the floor the client is held to
  client          WhatsAppClient.send_text (retries, caps, errors), no rate cap, over its
                  own transport (aiohttp, bot/whatsapp/transport.py)
  client/httpcore the same client over httpx's own transport, as before that transport
  grouppilot      a real `broadcast` job run by the scheduler (ledger in a SQLite file)

Rows run in a rotated order each repetition; printed: median seconds, spread
(max - min), and the median of the per-repetition ratios to bare httpx and to
raw asyncio. The wire's limit is groups / concurrency x latency. Bounded: at
most 2,000 groups and 9 repetitions, loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import httpx

from bot.config import load_config
from bot.runtime import build_parts
from bot.store import Store
from bot.whatsapp import RetryPolicy, WhatsAppClient

KEY = "bench"
TEXT = "Hello from the bench"
Row = Callable[[str, list[str], int], Awaitable[None]]


# -- the stand-in server (run as its own process by --serve) -----------------------


class _StandIn(asyncio.Protocol):
    """Answers each HTTP/1.1 request with a canned 202 after `latency` seconds."""

    latency = 0.0
    body = json.dumps({"id": "m1", "status": "QUEUED"}).encode()
    reply = (
        b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        loop = asyncio.get_running_loop()
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].lower()
            at = head.find(b"content-length:")
            length = int(head[at + 15 :].split(b"\r\n", 1)[0]) if at >= 0 else 0
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            loop.call_later(self.latency, self._answer)

    def _answer(self) -> None:
        if not self.transport.is_closing():
            self.transport.write(self.reply)  # type: ignore[attr-defined]


async def _serve_stand_in(port: int, latency_ms: float) -> None:
    _StandIn.latency = latency_ms / 1000
    server = await asyncio.get_running_loop().create_server(_StandIn, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def start_server(kind: str, groups: int, latency_ms: float) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    if kind == "sandbox":
        grouppilot = str(Path(sys.executable).with_name("grouppilot"))
        command = [grouppilot, "sandbox", "--port", str(port), "--groups", str(groups)]
        command += ["--latency-ms", str(latency_ms)]
    else:
        command = [sys.executable, __file__, "--serve", str(port), str(latency_ms)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):  # up to 10 s for the process to listen
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.05).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit(f"the {kind} server did not start on port {port}")


def group_ids(url: str, kind: str, groups: int) -> list[str]:
    if kind == "stand-in":
        return [f"1203639{i:011d}@g.us" for i in range(groups)]
    answer = httpx.get(f"{url}/v1/groups", headers={"x-api-key": KEY}).json()
    items = answer if isinstance(answer, list) else answer.get("groups", answer.get("data", []))
    return [g["id"] for g in items]


# -- the rows -----------------------------------------------------------------------


async def raw_asyncio(url: str, groups: list[str], concurrency: int) -> None:
    host, port = url.removeprefix("http://").split(":")
    queue = list(reversed(groups))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        while queue:
            body = json.dumps({"groupId": queue.pop(), "text": TEXT}).encode()
            writer.write(
                b"POST /v1/messages/send HTTP/1.1\r\nhost: " + host.encode() + b"\r\n"
                b"x-api-key: " + KEY.encode() + b"\r\ncontent-type: application/json\r\n"
                b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            head = (await reader.readuntil(b"\r\n\r\n")).lower()
            at = head.index(b"content-length:")
            length = int(head[at + 15 :].split(b"\r\n", 1)[0])
            answer = await reader.readexactly(length)
            if not head.startswith(b"http/1.1 2"):
                raise RuntimeError(f"send failed: {head[:40]!r} {answer[:80]!r}")
        writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def aiohttp_session(url: str, groups: list[str], concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(url, connector=connector, headers={"x-api-key": KEY}) as s:

        async def send(group_id: str) -> None:
            async with (
                gate,
                s.post("/v1/messages/send", json={"groupId": group_id, "text": TEXT}) as r,
            ):
                r.raise_for_status()
                await r.read()

        await asyncio.gather(*(send(g) for g in groups))


async def bare_httpx(url: str, groups: list[str], concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers={"x-api-key": KEY}, limits=limits) as http:

        async def send(group_id: str) -> None:
            async with gate:
                answer = await http.post(
                    "/v1/messages/send", json={"groupId": group_id, "text": TEXT}
                )
                answer.raise_for_status()

        await asyncio.gather(*(send(g) for g in groups))


def _client(
    url: str, concurrency: int, transport: httpx.AsyncBaseTransport | None
) -> WhatsAppClient:
    return WhatsAppClient(
        base_url=url, api_key=KEY, max_rps=1_000_000, concurrency=concurrency,
        retry=RetryPolicy.fast(), transport=transport,
    )  # fmt: skip


async def client_default(url: str, groups: list[str], concurrency: int) -> None:
    async with _client(url, concurrency, None) as client:
        await asyncio.gather(*(client.send_text(g, TEXT) for g in groups))


async def client_httpcore(url: str, groups: list[str], concurrency: int) -> None:
    transport = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=concurrency))
    async with _client(url, concurrency, transport) as client:
        await asyncio.gather(*(client.send_text(g, TEXT) for g in groups))


async def grouppilot(url: str, groups: list[str], concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "bench.toml"
        config.write_text(
            f'[pilot]\nbase_url = "{url}"\napi_key = "{KEY}"\nmax_rps = 1000\n'
            f'concurrency = {concurrency}\n[storage]\npath = "{Path(folder) / "b.db"}"\n'
            '[[jobs]]\nname = "blast"\nkind = "broadcast"\nevery = "1d"\n'
            f'targets = ["all"]\ntext = "{TEXT}"\nnotify = "never"\n',
            encoding="utf-8",
        )
        settings = load_config(config)  # its max_rps is unused: the uncapped client is ours
        async with _client(url, concurrency, None) as client:
            with Store(settings.storage.path) as store:
                parts = build_parts(settings, client=client, store=store)
                await parts.scheduler.start()
                await parts.directory.groups(fresh=True)  # the list, as /groups would leave it
                submission = parts.scheduler.run_now("blast", by="bench")
                assert submission.task is not None
                run = await submission.task
                await parts.scheduler.stop()
                if run.sent < len(groups):  # (the warm-up passes fewer groups)
                    raise RuntimeError(f"broadcast sent {run.sent} of {len(groups)}")


def rows(kind: str) -> dict[str, Row]:
    table: dict[str, Row] = {
        "raw asyncio": raw_asyncio,
        "aiohttp": aiohttp_session,
        "bare httpx": bare_httpx,
        "client": client_default,
        "client/httpcore": client_httpcore,
    }
    if kind == "sandbox":  # the scheduler lists the groups and reads answers the stand-in lacks
        table["grouppilot"] = grouppilot
    return table


def timed(row: Row, url: str, groups: list[str], concurrency: int) -> float:
    began = time.perf_counter()
    asyncio.run(row(url, groups, concurrency))
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--server", choices=["sandbox", "stand-in"], default="sandbox")
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "LATENCY_MS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve_stand_in(int(args.serve[0]), float(args.serve[1])))
        return
    args.groups = max(4, min(args.groups, 2000))
    args.reps = max(1, min(args.reps, 9))
    process, url = start_server(args.server, args.groups, args.latency_ms)
    try:
        groups = group_ids(url, args.server, args.groups)
        table = rows(args.server)
        names = list(table)
        for name in names:  # warm-up: first-use imports, connection setup paths
            timed(table[name], url, groups[:32], args.concurrency)
        times: dict[str, list[float]] = {name: [] for name in names}
        for rep in range(args.reps):
            for name in names[rep % len(names) :] + names[: rep % len(names)]:
                times[name].append(timed(table[name], url, groups, args.concurrency))
    finally:
        process.terminate()
        process.wait(timeout=10)
    wire = len(groups) / args.concurrency * args.latency_ms / 1000
    print(
        f"{len(groups)} groups, {args.latency_ms:g} ms latency, concurrency {args.concurrency}, "
        f"{args.server} server process, {args.reps} reps; wire limit {wire:.2f} s"
    )
    print(f"{'row':<15} {'median s':>9} {'spread':>7} {'msg/s':>7} {'/httpx':>7} {'/raw':>6}")
    for name in names:
        secs = times[name]
        to_httpx = statistics.median(a / b for a, b in zip(secs, times["bare httpx"], strict=True))
        to_raw = statistics.median(a / b for a, b in zip(secs, times["raw asyncio"], strict=True))
        median = statistics.median(secs)
        print(
            f"{name:<15} {median:>9.3f} {max(secs) - min(secs):>7.3f} {len(groups) / median:>7.0f}"
            f" {to_httpx:>7.2f} {to_raw:>6.2f}"
        )


if __name__ == "__main__":
    main()
