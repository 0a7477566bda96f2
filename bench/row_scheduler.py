"""500 jobs due at one instant: start lateness, grouppilot's scheduler vs APScheduler alone.

grouppilot: 500 config jobs with the same ``at`` moment (a broadcast to the
demo groups of the in-process sandbox, zero latency), the real JobScheduler
on the real timer and a real SQLite file; lateness is each run's recorded
``started`` minus its ``scheduled`` time (from ``job_runs``). Floor:
APScheduler's AsyncIOScheduler alone, 500 date jobs at one moment whose
body records the time. Target: p99 <= 50 ms (p50 shown beside it).
(Written here because bench/scheduler_lateness.py was not on main yet.)
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.harness import Options, Row, absolute, percentile, write_config

BOUND = 60.0  # seconds: every wait below gives up after this


def jobs_at(count: int, moment: datetime) -> str:
    at = moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return "".join(
        f'[[jobs]]\nname = "due-{i}"\nkind = "broadcast"\nat = "{at}"\ntargets = ["all"]\n'
        'text = "Hello"\nnotify = "never"\n'
        for i in range(count)
    )


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


async def grouppilot_lateness(folder: Path, count: int, lead: float) -> list[float]:
    """Milliseconds late per start, for `count` jobs due `lead` seconds from now."""
    from bot.config import load_config
    from bot.runtime import build_parts, client_from_settings
    from bot.store import Store

    moment = datetime.now(UTC) + timedelta(seconds=lead)
    settings = load_config(write_config(folder, "sandbox", extra=jobs_at(count, moment)))
    async with client_from_settings(settings.pilot) as client:
        with Store(settings.storage.path) as store:
            parts = build_parts(settings, client=client, store=store)
            await parts.scheduler.start()
            try:
                if datetime.now(UTC) >= moment:
                    raise RuntimeError(f"start took longer than the {lead:g} s lead")
                deadline = time.monotonic() + BOUND
                while time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                    started = store.db.execute(
                        "SELECT count(*) FROM job_runs WHERE started IS NOT NULL"
                        " AND outcome NOT IN ('running')"
                    ).fetchone()[0]
                    if started >= count:
                        break
            finally:
                await parts.scheduler.stop()
    with sqlite3.connect(settings.storage.path) as db:
        rows = db.execute("SELECT scheduled, started FROM job_runs WHERE started IS NOT NULL")
        late = [(parse(s) - parse(sc)).total_seconds() * 1000 for sc, s in rows]
    if len(late) < count:
        raise RuntimeError(f"only {len(late)} of {count} runs started within {BOUND:g} s")
    return late


async def apscheduler_lateness(count: int, lead: float) -> list[float]:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    moment = datetime.now(UTC) + timedelta(seconds=lead)
    late: list[float] = []
    done = asyncio.Event()

    async def job() -> None:
        late.append((datetime.now(UTC) - moment).total_seconds() * 1000)
        if len(late) >= count:
            done.set()

    scheduler = AsyncIOScheduler(timezone=UTC, job_defaults={"misfire_grace_time": None})
    for i in range(count):
        scheduler.add_job(job, "date", run_date=moment, id=f"j{i}")
    scheduler.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=BOUND)
    finally:
        scheduler.shutdown(wait=False)
    return late


def rows(options: Options) -> list[Row]:
    count = options.size(500, 20)
    lead = options.size(6, 2)
    p99s: list[float] = []
    p50s: list[float] = []
    floor99: list[float] = []
    for _ in range(options.reps):
        with tempfile.TemporaryDirectory() as temp:
            late = asyncio.run(grouppilot_lateness(Path(temp), count, lead))
        p99s.append(percentile(late, 99))
        p50s.append(percentile(late, 50))
        floor99.append(percentile(asyncio.run(apscheduler_lateness(count, 1)), 99))
    floor = sorted(floor99)[len(floor99) // 2]
    return [
        absolute(
            f"{count} jobs due at once: start lateness p99",
            "ms",
            p99s,
            target=50.0,
            floor=floor,
            floor_name="APScheduler alone p99",
            note=f"p50 {sorted(p50s)[len(p50s) // 2]:.0f} ms",
        )
    ]
