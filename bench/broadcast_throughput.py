"""Broadcast throughput of the scheduler to N sandbox groups, under the client's caps.

    uv run python bench/broadcast_throughput.py [--groups 200] [--latency-ms 40]
                                               [--max-rps 20 50 200] [--concurrency 4]

For each ``max_rps``: a sandbox with ``--groups`` groups is served on
127.0.0.1 with the given latency; a real JobScheduler (real SQLite file in a
temporary directory, APScheduler timer, the one WhatsAppClient with the caps)
runs a ``broadcast`` job to ``all`` as a manual run, while a "command" reads a
group every 250 ms through the same client. Printed per row: messages,
elapsed time, messages per second, the most sends the server saw in any one
second, the most requests in flight, the ledger's write cost per delivery
(4 committed statements), and how long the concurrent command waited (p50 /
max): the cap is shared, so commands slow down but still get through.
Bounded: at most 1000 groups, loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bot.config import load_config
from bot.runtime import build_parts
from bot.sandbox import Sandbox, SandboxServerThread
from bot.sandbox.stats import most_in_window
from bot.store import Store
from bot.whatsapp import RetryPolicy, WhatsAppClient

SALES = "120363123456789012@g.us"


def write_config(folder: Path, url: str, max_rps: int, concurrency: int) -> Path:
    config = folder / "bench.toml"
    config.write_text(
        "[pilot]\n"
        f'base_url = "{url}"\napi_key = "bench"\nmax_rps = {max_rps}\n'
        f"concurrency = {concurrency}\n"
        f'[storage]\npath = "{folder / "bench.db"}"\n'
        "[[jobs]]\n"
        'name = "blast"\nkind = "broadcast"\nevery = "1d"\ntargets = ["all"]\n'
        'text = "Hello {group}, it is {time}"\nnotify = "never"\n',
        encoding="utf-8",
    )
    return config


async def one_row(url: str, sandbox: Sandbox, max_rps: int, args: argparse.Namespace) -> str:
    with tempfile.TemporaryDirectory() as folder:
        settings = load_config(write_config(Path(folder), url, max_rps, args.concurrency))
        async with WhatsAppClient(
            base_url=url,
            api_key="bench",
            max_rps=max_rps,
            concurrency=args.concurrency,
            retry=RetryPolicy.fast(),
        ) as client:
            with Store(settings.storage.path) as store:
                parts = build_parts(settings, client=client, store=store)
                scheduler = parts.scheduler
                await scheduler.start()
                await parts.directory.groups(fresh=True)  # warm the group list, as /groups would
                sandbox.reset_stats()
                waits: list[float] = []
                began = time.perf_counter()
                submission = scheduler.run_now("blast", by="bench")
                assert submission.task is not None
                while not submission.task.done():
                    asked = time.perf_counter()
                    await client.get_group(SALES)
                    waits.append(time.perf_counter() - asked)
                    await asyncio.wait({submission.task}, timeout=0.25)
                run = await submission.task
                elapsed = time.perf_counter() - began
                await scheduler.stop()
    sends = [r.started for r in sandbox.requests if r.endpoint == "send"]
    waits_ms = sorted(w * 1000 for w in waits) or [0.0]
    return (
        f"{max_rps:>7} {run.sent:>6} {elapsed:>8.2f} {run.sent / elapsed:>8.1f}"
        f" {most_in_window(sends):>9} {sandbox.max_in_flight:>9}"
        f" {statistics.median(waits_ms):>9.0f} {max(waits_ms):>8.0f}"
    )


def ledger_cost(rows: int = 500) -> float:
    """Milliseconds per delivery of the ledger's committed writes (pending, sending, sent)."""
    from datetime import UTC, datetime

    from jobs.ledger import Ledger

    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "l.db") as store:
        ledger = Ledger(store.db, clock=lambda: datetime.now(UTC))
        run = ledger.open_run(
            job="x", kind="broadcast", zone="UTC", scheduled=datetime.now(UTC),
            trigger="manual", definition={},
        )  # fmt: skip
        groups = [(f"1203639{i:011d}@g.us", f"Group {i}") for i in range(rows)]
        began = time.perf_counter()
        ledger.add_deliveries(run.id, groups)
        for group_id, _ in groups:
            ledger.mark_sending(run.id, group_id)
            ledger.mark_done(run.id, group_id, "sent", result="m")
        return (time.perf_counter() - began) * 1000 / rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=40.0)
    parser.add_argument("--max-rps", type=int, nargs="+", default=[20, 50, 200])
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    args.groups = max(4, min(args.groups, 1000))
    print(
        f"{args.groups} groups, latency {args.latency_ms:g} ms, concurrency {args.concurrency}; "
        f"ledger writes {ledger_cost():.2f} ms per delivery (WAL, committed before each send)"
    )
    print("max_rps   sent  elapsed   msg/s  max in 1s  in flight  cmd p50ms  cmd max")
    for max_rps in args.max_rps:
        sandbox = Sandbox(groups=args.groups, latency_ms=args.latency_ms)
        with SandboxServerThread(sandbox) as server:
            print(asyncio.run(one_row(server.url, sandbox, max_rps, args)), flush=True)


if __name__ == "__main__":
    main()
