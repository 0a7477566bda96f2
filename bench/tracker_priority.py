"""Commands while the delivery tracker is busy: do they wait behind its status reads?

    uv run python bench/tracker_priority.py [--messages 300] [--commands 30]
                                           [--max-rps 20] [--latency-ms 20]

Sends `--messages` messages (one per group of a served sandbox on
127.0.0.1), hands them to a real `DeliveryTracker` whose clock says every
first check is due, and, while it reads their status one after another
through the shared client, times `--commands` command reads (`get_group`,
one every 100 ms). The same commands are timed on an idle client first.
Prints both latency sets and how many status reads the tracker did
meanwhile: with the tracker's reads at background priority, a command waits
for at most the one read in flight plus its place in the rate window, not
for the tracker's queue. Bounded: at most 2,000 messages and 200 commands.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.notify import LogNotifier
from bot.sandbox import Sandbox, SandboxServerThread
from bot.store import Store
from bot.whatsapp import RetryPolicy, WhatsAppClient
from jobs.schema import JOB_MIGRATIONS
from jobs.tracker import DeliveryTracker

SALES = "120363123456789012@g.us"
SENT_AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def time_commands(client: WhatsAppClient, count: int) -> list[float]:
    latencies: list[float] = []
    for _ in range(count):
        started = time.perf_counter()
        await client.get_group(SALES)
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.1)
    return latencies


def status_reads(sandbox: Sandbox) -> int:
    return sum(1 for r in sandbox.requests if r.endpoint == "message_status")


async def measure(url: str, sandbox: Sandbox, folder: Path, args: argparse.Namespace) -> None:
    now = SENT_AT

    def clock() -> datetime:
        return now

    async with (
        WhatsAppClient(base_url=url, api_key="bench", max_rps=1000, concurrency=8) as setup,
        WhatsAppClient(
            base_url=url,
            api_key="bench",
            max_rps=args.max_rps,
            concurrency=4,
            retry=RetryPolicy.fast(),
        ) as client,
    ):
        ids = [group.id for group in await setup.list_groups()][: args.messages]
        sent = await asyncio.gather(*(setup.send_text(gid, "Hello") for gid in ids))
        idle = await time_commands(client, args.commands)

        with Store(folder / "bench.db", migrations=(JOB_MIGRATIONS,)) as store:
            tracker = DeliveryTracker(
                store=store, client=client, horizon=timedelta(minutes=30), clock=clock
            )
            await tracker.start(LogNotifier())
            tracker.follow_sends(
                "console",
                "/send bench",
                [(m.id, gid, gid) for m, gid in zip(sent, ids, strict=True)],
            )
            now = SENT_AT + timedelta(seconds=15)  # every first check is due
            before = status_reads(sandbox)
            await asyncio.sleep(0.5)  # the tracker is well into its queue
            busy = await time_commands(client, args.commands)
            reads = status_reads(sandbox) - before
            await tracker.stop()

    def shown(values: list[float]) -> str:
        q = statistics.quantiles(values, n=20)
        return (
            f"p50 {q[9] * 1000:.1f} ms, p95 {q[18] * 1000:.1f} ms, max {max(values) * 1000:.1f} ms"
        )

    print(f"messages followed     {len(sent)}")
    print(
        f"caps                  {args.max_rps} req/s, 4 in flight, {args.latency_ms:g} ms latency"
    )
    print(f"commands, idle        {shown(idle)}")
    print(f"commands, tracker on  {shown(busy)}")
    print(f"status reads meanwhile {reads} (during {args.commands} commands)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--commands", type=int, default=30)
    parser.add_argument("--max-rps", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()
    args.messages = max(1, min(args.messages, 2000))
    args.commands = max(3, min(args.commands, 200))
    sandbox = Sandbox(groups=max(4, args.messages), latency_ms=args.latency_ms)
    with SandboxServerThread(sandbox) as server, tempfile.TemporaryDirectory() as folder:
        asyncio.run(measure(server.url, sandbox, Path(folder), args))


if __name__ == "__main__":
    main()
