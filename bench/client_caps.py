"""How close the client gets to its caps, measured at the sandbox server.

    uv run python bench/client_caps.py [--requests 60] [--max-rps 20] [--concurrency 4]
                                       [--latency-ms 50]

Fires `--requests` reads at once through one WhatsAppClient against a
sandbox served on 127.0.0.1 with the given latency, and prints: the achieved
rate, the most arrivals the server saw in any one-second window (must not
exceed max_rps), the most requests in flight at once (must not exceed
concurrency), latency percentiles, and the client's overhead per request.
Bounded: at most a few hundred requests, on loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from bot.sandbox import Sandbox, SandboxServerThread
from bot.sandbox.stats import most_in_window
from bot.whatsapp import RetryPolicy, WhatsAppClient

SALES = "120363123456789012@g.us"


async def measure(url: str, sandbox: Sandbox, args: argparse.Namespace) -> None:
    latencies: list[float] = []
    async with WhatsAppClient(
        base_url=url,
        api_key="bench",
        max_rps=args.max_rps,
        concurrency=args.concurrency,
        retry=RetryPolicy.fast(),
    ) as client:

        async def one() -> None:
            started = time.perf_counter()
            await client.get_group(SALES)
            latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(args.requests)))
        elapsed = time.perf_counter() - began
    starts = [r.started for r in sandbox.requests]
    server_times = [r.finished - r.started for r in sandbox.requests if r.finished]
    quantiles = statistics.quantiles(latencies, n=20)
    print(f"requests            {args.requests}")
    print(f"elapsed             {elapsed:.2f} s")
    print(f"requests / elapsed  {args.requests / elapsed:.1f} req/s (a burst at t=0 counts too)")
    print(f"max in any 1 s      {most_in_window(starts)} (cap {args.max_rps})")
    print(f"max in flight       {sandbox.max_in_flight} (cap {args.concurrency})")
    print(f"latency p50 / p95   {quantiles[9] * 1000:.1f} / {quantiles[18] * 1000:.1f} ms")
    print(f"server time mean    {statistics.mean(server_times) * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--max-rps", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args()
    args.requests = min(args.requests, 500)
    sandbox = Sandbox(latency_ms=args.latency_ms)
    with SandboxServerThread(sandbox) as server:
        asyncio.run(measure(server.url, sandbox, args))


if __name__ == "__main__":
    main()
