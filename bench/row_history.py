"""`/job <name>`, `/jobs`, `/status` and `/log` with a long history vs an empty database.

Both databases are real files built by the real Store and scheduler schema
(whatever migrations the checkout has). The full one then gets 100,000
``job_runs`` rows of one job and 100,000 ``audit_log`` rows, inserted with
sqlite3 directly (one transaction: seconds, not minutes). Each command runs
through the real command layer (in-process sandbox, zero API latency) with
the scheduler started; a repetition times the median of several calls on
each database, alternating. Target: within 2x of the empty database.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.harness import Options, Row, paired, write_config

JOBS = "".join(
    "[[jobs]]\n"
    f'name = "job-{i}"\nkind = "broadcast"\nevery = "1d"\ntargets = ["all"]\n'
    'text = "Hello"\nnotify = "never"\n'
    for i in range(5)
)
COMMANDS = ("/job job-0", "/jobs", "/status", "/log")


def build_empty(folder: Path) -> Path:
    """A database made by the real code: the store's and the scheduler's tables, no history."""
    from bot.config import load_config
    from bot.runtime import build_parts, client_from_settings
    from bot.store import Store

    settings = load_config(write_config(folder, "sandbox", extra=JOBS))

    async def prepare() -> None:
        async with client_from_settings(settings.pilot) as client:
            with Store(settings.storage.path) as store:
                parts = build_parts(settings, client=client, store=store)
                await parts.scheduler.start()
                await parts.scheduler.stop()

    asyncio.run(prepare())
    return settings.storage.path


def fill(path: Path, runs: int, audits: int) -> None:
    """Bulk history: `runs` finished runs of job-0, `audits` audit rows (oldest first)."""
    start = datetime(2020, 1, 1, tzinfo=UTC)

    def stamp(i: int) -> str:
        return (start + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO job_runs (job, kind, zone, scheduled, trigger_type, started, finished,"
            " outcome, total, sent) VALUES ('job-0', 'broadcast', 'UTC', ?, 'schedule', ?, ?,"
            " 'ok', 1, 1)",
            ((stamp(i), stamp(i), stamp(i)) for i in range(runs)),
        )
        db.executemany(
            "INSERT INTO audit_log (at, chat, who, command, outcome) VALUES (?, ?, ?, ?, ?)",
            (
                (stamp(i), "telegram:-1001", "user:1", f"/group sales {i}", "ok")
                for i in range(audits)
            ),
        )
    db.close()


async def time_commands(path: Path, folder: Path, calls: int) -> dict[str, float]:
    """Median milliseconds per command over `calls` calls, on the database at `path`."""
    from bot.commands.types import Principal, Rights
    from bot.config import load_config
    from bot.runtime import build_parts, client_from_settings
    from bot.store import Store

    config = write_config(folder, "sandbox", extra=JOBS)
    config.write_text(config.read_text().replace(str(folder / "bench.db"), str(path)))
    settings = load_config(config)
    admin = Principal(chat="bench", who="user:1", rights=Rights.ADMIN)
    result: dict[str, float] = {}
    async with client_from_settings(settings.pilot) as client:
        with Store(settings.storage.path) as store:
            parts = build_parts(settings, client=client, store=store)
            await parts.scheduler.start()
            try:
                for command in COMMANDS:
                    await parts.commands.execute(command, admin)  # warm caches and imports
                    times = []
                    for _ in range(calls):
                        began = time.perf_counter()
                        await parts.commands.execute(command, admin)
                        times.append((time.perf_counter() - began) * 1000)
                    result[command] = statistics.median(times)
            finally:
                await parts.scheduler.stop()
    return result


def rows(options: Options) -> list[Row]:
    size = options.size(100_000, 2_000)
    calls = options.size(15, 3)
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        (folder / "empty").mkdir()
        (folder / "full").mkdir()
        empty = build_empty(folder / "empty")
        full = folder / "full" / "bench.db"
        shutil.copy(empty, full)
        began = time.perf_counter()
        fill(full, size, size)
        filled = time.perf_counter() - began
        ours: dict[str, list[float]] = {c: [] for c in COMMANDS}
        floor: dict[str, list[float]] = {c: [] for c in COMMANDS}
        for _ in range(options.reps):
            # Paired: the same commands on both files in one repetition.
            for command, ms in asyncio.run(time_commands(full, folder / "full", calls)).items():
                ours[command].append(ms)
            for command, ms in asyncio.run(time_commands(empty, folder / "empty", calls)).items():
                floor[command].append(ms)
    note = f"{size:,} runs + {size:,} audit rows inserted in {filled:.1f} s"
    return [
        paired(
            f"{command} with {size:,} runs/audit rows",
            "ms",
            ours[command],
            floor[command],
            target=2.0,
            floor_name="empty db",
            note=note if command == COMMANDS[0] else "",
        )
        for command in COMMANDS
    ]
