"""Broadcast to 1,000 groups at 5 ms latency, concurrency 16, no rate cap.

grouppilot: the real JobScheduler runs a ``broadcast`` job to ``all`` as a
manual run (real SQLite ledger file, the real client, real HTTP) against
``grouppilot sandbox`` in its own process. Floors, in the same repetition and
against the same server: (1) bare httpx, one AsyncClient and a semaphore of
16, sending the same POSTs; (2) a raw asyncio HTTP/1.1 client, 16 keep-alive
connections, hand-written requests: the practical limit of Python here.
Targets: <= 1.10x floor 1, <= 2x floor 2. The order inside a repetition
rotates so neither side always runs on a warm server.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench.harness import Options, Row, paired, sandbox_process, write_config

CONCURRENCY = 16
LATENCY_MS = 5.0
JOB = (
    "[[jobs]]\n"
    'name = "blast"\nkind = "broadcast"\nevery = "1d"\ntargets = ["all"]\n'
    'text = "Hello {group}, it is {time}"\nnotify = "never"\n'
)


def message(name: str) -> str:
    return f"Hello {name}, it is {time.strftime('%H:%M')}"


async def grouppilot_broadcast(
    url: str, *, wait_limit: float = 120, ready: Callable[[], object] | None = None
) -> tuple[float, int]:
    """Seconds for one manual broadcast run through the real scheduler; messages sent.

    `ready` is called once everything is built and the group list read, just
    before the run starts (the memory row takes its "before" figure there).
    """
    from bot.config import load_config
    from bot.runtime import build_parts, client_from_settings
    from bot.store import Store

    with tempfile.TemporaryDirectory() as folder:
        settings = load_config(write_config(Path(folder), url, extra=JOB))
        async with client_from_settings(settings.pilot) as client:
            with Store(settings.storage.path) as store:
                parts = build_parts(settings, client=client, store=store)
                await parts.scheduler.start()
                try:
                    await parts.directory.groups(fresh=True)  # as /groups would have
                    if ready is not None:
                        ready()
                    began = time.perf_counter()
                    submission = parts.scheduler.run_now("blast", by="bench")
                    assert submission.task is not None
                    run = await asyncio.wait_for(submission.task, timeout=wait_limit)
                    elapsed = time.perf_counter() - began
                finally:
                    await parts.scheduler.stop()
    return elapsed, run.sent


async def list_groups(url: str) -> list[tuple[str, str]]:
    async with httpx.AsyncClient(base_url=url, headers={"x-api-key": "bench"}) as http:
        response = await http.get("/v1/groups")
        response.raise_for_status()
        body = response.json()
    items = body["groups"] if isinstance(body, dict) else body
    return [(g["id"], g.get("subject") or g.get("name") or "") for g in items]


async def httpx_floor(url: str, groups: list[tuple[str, str]]) -> float:
    """Floor 1: bare httpx + semaphore, the same POSTs."""
    gate = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(
        base_url=url,
        headers={"x-api-key": "bench", "accept": "application/json"},
        limits=httpx.Limits(max_connections=CONCURRENCY),
        timeout=30,
    ) as http:

        async def one(group_id: str, name: str) -> None:
            async with gate:
                response = await http.post(
                    "/v1/messages/send", json={"groupId": group_id, "text": message(name)}
                )
                response.raise_for_status()

        began = time.perf_counter()
        await asyncio.gather(*(one(g, n) for g, n in groups))
        return time.perf_counter() - began


async def raw_floor(url: str, groups: list[tuple[str, str]]) -> float:
    """Floor 2: 16 keep-alive connections speaking HTTP/1.1 by hand."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    queue: list[tuple[str, str]] = list(reversed(groups))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while queue:
                group_id, name = queue.pop()
                body = json.dumps({"groupId": group_id, "text": message(name)}).encode()
                writer.write(
                    b"POST /v1/messages/send HTTP/1.1\r\n"
                    + f"host: {host}:{port}\r\n".encode()
                    + b"x-api-key: bench\r\naccept: application/json\r\n"
                    b"content-type: application/json\r\n"
                    + f"content-length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                if status >= 300:
                    raise RuntimeError(f"raw client got HTTP {status}")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    key, _, value = line.partition(b":")
                    if key.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(CONCURRENCY))), timeout=120)
    return time.perf_counter() - began


async def measure(url: str, reps: int) -> tuple[list[float], list[float], list[float], int]:
    groups = await list_groups(url)
    ours: list[float] = []
    bare: list[float] = []
    raw: list[float] = []
    sent = 0
    for rep in range(reps):
        steps = ["ours", "bare", "raw"]
        steps = steps[rep % 3 :] + steps[: rep % 3]
        for step in steps:
            if step == "ours":
                elapsed, sent = await grouppilot_broadcast(url)
                ours.append(elapsed)
            elif step == "bare":
                bare.append(await httpx_floor(url, groups))
            else:
                raw.append(await raw_floor(url, groups))
    return ours, bare, raw, sent


def rows(options: Options) -> list[Row]:
    groups = options.size(1000, 20)
    with sandbox_process(groups, LATENCY_MS) as url:
        ours, bare, raw, sent = asyncio.run(measure(url, options.reps))
    what = f"broadcast {groups} groups, {LATENCY_MS:g} ms, conc {CONCURRENCY}"
    note = f"{sent} sent per run; wire limit {groups / CONCURRENCY * LATENCY_MS / 1000:.2f} s"
    return [
        paired(what, "s", ours, bare, target=1.10, floor_name="bare httpx", note=note),
        paired(what, "s", ours, raw, target=2.0, floor_name="raw asyncio HTTP/1.1", note=note),
    ]
