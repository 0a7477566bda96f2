"""Start lateness of 500 jobs due at one instant, against APScheduler alone.

    uv run python bench/scheduler_lateness.py [--jobs 500] [--lead 3] [--reps 3]

grouppilot: ``--jobs`` broadcast config jobs (``at`` the same whole second,
``--lead`` seconds ahead, one target group each) run by the real
``JobScheduler`` on the real clock and the real APScheduler timer, over a
real SQLite file in a temporary directory, sending through the real client
to an in-process sandbox with no latency. A run's lateness is when its
history row says it started minus its scheduled time.

floor: APScheduler's ``AsyncIOScheduler`` alone, ``--jobs`` trivial coroutine
jobs at one instant; a job's lateness is when its coroutine ran minus its
run date. Each repetition measures both, one after the other; the table
gives p50 / p99 / max per repetition and the medians. Nothing leaves the
process; every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from bot.config import load_config
from bot.runtime import build_parts
from bot.sandbox import Sandbox, SandboxTransport
from bot.services import from_utc_text
from bot.store import Store
from bot.whatsapp import RetryPolicy, WhatsAppClient

Figures = tuple[float, float, float]  # p50, p99, max in milliseconds


def figures(lateness: list[float]) -> Figures:
    ordered = sorted(lateness)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000, ordered[-1] * 1000


def due_moment(lead: float) -> datetime:
    """A whole second at least ``lead`` seconds from now (UTC)."""
    moment = datetime.now(UTC) + timedelta(seconds=lead)
    return moment.replace(microsecond=0) + timedelta(seconds=1)


def write_config(path: Path, groups: list[str], due: datetime) -> Path:
    lines = [
        "[pilot]",
        'base_url = "http://sandbox"',
        'api_key = "ps_bench_key"',
        "max_rps = 1000",
        "concurrency = 16",
        "timeout = 5",
        "[storage]",
        f'path = "{path.parent / "grouppilot.db"}"',
        "[scheduler]",
        'timezone = "UTC"',
    ]
    for index, group in enumerate(groups):
        lines += [
            "[[jobs]]",
            f'name = "job-{index:03d}"',
            'kind = "broadcast"',
            f'at = "{due.isoformat()}"',
            f'targets = ["{group}"]',
            'text = "Hello {group}"',
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def grouppilot_lateness(
    jobs: int, lead: float, directory: Path, synchronous: str = ""
) -> list[float]:
    sandbox = Sandbox(groups=max(jobs, 4), latency_ms=0)
    groups = [gid for gid, _ in sandbox.list_groups()][:jobs]
    due = due_moment(lead)
    settings = load_config(write_config(directory / "grouppilot.toml", groups, due))
    store = Store(settings.storage.path)
    if synchronous:  # a preview of the storage settings, when the store does not set them yet
        store.db.execute(f"PRAGMA synchronous = {synchronous}")
    try:
        async with WhatsAppClient(
            base_url="http://sandbox",
            api_key="ps_bench_key",
            max_rps=1000,
            concurrency=16,
            retry=RetryPolicy.fast(),
            transport=SandboxTransport(sandbox),
        ) as client:
            parts = build_parts(settings, client=client, store=store)
            scheduler = parts.scheduler
            await scheduler.start()
            try:
                remaining = (due - datetime.now(UTC)).total_seconds()
                if remaining <= 0.5:
                    raise SystemExit(f"start-up took too long: raise --lead (now {lead} s)")
                await asyncio.sleep(remaining + 0.2)
                async with asyncio.timeout(60):
                    await scheduler.wait_idle()
            finally:
                await scheduler.stop()
        rows = list(store.db.query("SELECT scheduled, started FROM job_runs"))
    finally:
        store.close()
    if len(rows) != jobs or any(row["started"] is None for row in rows):
        raise SystemExit(f"expected {jobs} started runs, found {len(rows)}")
    return [
        (from_utc_text(row["started"]) - from_utc_text(row["scheduled"])).total_seconds()
        for row in rows
    ]


async def apscheduler_lateness(jobs: int, lead: float) -> list[float]:
    scheduler = AsyncIOScheduler(timezone=UTC)
    due = due_moment(lead)
    lateness: list[float] = []
    done = asyncio.Event()

    async def trivial() -> None:
        lateness.append((datetime.now(UTC) - due).total_seconds())
        if len(lateness) == jobs:
            done.set()

    scheduler.start()
    try:
        for index in range(jobs):
            scheduler.add_job(trivial, DateTrigger(run_date=due), id=f"floor-{index}")
        async with asyncio.timeout(lead + 30):
            await done.wait()
    finally:
        scheduler.shutdown(wait=False)
    return lateness


def show(label: str, figs: Figures) -> None:
    p50, p99, most = figs
    print(f"  {label:<22} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   max {most:7.1f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--lead", type=float, default=3.0, help="seconds from start to due")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument(
        "--synchronous",
        choices=["", "NORMAL", "FULL"],
        default="",
        help="set PRAGMA synchronous on the bot's connection (default: as the store leaves it)",
    )
    args = parser.parse_args()
    jobs, reps = min(max(args.jobs, 1), 5000), min(max(args.reps, 1), 10)
    ours: list[Figures] = []
    floor: list[Figures] = []
    shown = args.synchronous or "as the store sets it"
    print(f"{jobs} jobs due at one instant, {reps} repetitions, synchronous: {shown}")
    for rep in range(1, reps + 1):
        with tempfile.TemporaryDirectory(prefix="gp-lateness-") as tmp:
            ours.append(
                figures(await grouppilot_lateness(jobs, args.lead, Path(tmp), args.synchronous))
            )
        floor.append(figures(await apscheduler_lateness(jobs, args.lead)))
        print(f"repetition {rep}")
        show("grouppilot", ours[-1])
        show("APScheduler alone", floor[-1])
    print("median of repetitions")
    for label, series in (("grouppilot", ours), ("APScheduler alone", floor)):
        show(
            label,
            (
                statistics.median(f[0] for f in series),
                statistics.median(f[1] for f in series),
                statistics.median(f[2] for f in series),
            ),
        )
    p99_ours = statistics.median(f[1] for f in ours)
    verdict = "met" if p99_ours <= 50 else "missed"
    print(f"target p99 <= 50 ms: {verdict} ({p99_ours:.1f} ms)")


if __name__ == "__main__":
    asyncio.run(main())
