"""Storage cost: history commands with a long history, and the ledger per delivery.

    uv run python bench/storage.py [--runs 100000] [--audit 100000] [--deliveries 1000]

Part 1: ``/job <name>``, ``/jobs``, ``/status`` and ``/log`` through the real
command layer (the example config, the real WhatsAppClient over an in-memory
sandbox transport, a real SQLite file in a temporary directory), first on an
empty database, then with ``--runs`` rows of run history (spread evenly over
the config's jobs) and ``--audit`` audit-log rows. Printed per command: the
median and the spread (min-max) of 30 calls, and the ratio full / empty
(the target is <= 2x).

Part 2: the delivery ledger of a broadcast, written as the scheduler writes
it (``pending`` rows for the run, then per group ``sending`` and the answer
with the message id through ``RunContext.record_outcome``), on a real file:
commits per delivery (counted with SQLite's statement trace) and
microseconds per delivery (median and spread of 5 fresh files). No network;
every loop is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.commands.types import Principal, Rights
from bot.config import load_config
from bot.runtime import build_parts
from bot.sandbox import Sandbox
from bot.sandbox.transport import SandboxTransport
from bot.store import Store
from bot.whatsapp import RetryPolicy, WhatsAppClient
from jobs.context import RunContext
from jobs.definitions import stamp
from jobs.outage import LateOutcome, StorageOutage
from jobs.schema import JOB_MIGRATIONS

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"
ADMIN = Principal(chat="telegram:-1001", who="user:1", rights=Rights.ADMIN)
CALLS = 30
LEDGER_REPEATS = 5
START = datetime(2020, 1, 1, tzinfo=UTC)


def fill_history(store: Store, jobs: list[tuple[str, str]], runs: int, audit: int) -> None:
    """``runs`` finished runs spread over ``jobs`` (name, kind) and ``audit`` audit rows."""
    run_rows = (
        (
            name,
            kind,
            "UTC",
            stamp(START + timedelta(minutes=index)),
            "schedule",
            stamp(START + timedelta(minutes=index)),
            stamp(START + timedelta(minutes=index, seconds=3)),
            "ok",
            json.dumps({"name": name}),
        )
        for index in range(runs)
        for name, kind in (jobs[index % len(jobs)],)
    )
    audit_rows = (
        (stamp(START + timedelta(seconds=index)), "telegram:-1001", "user:1", "/groups", "ok")
        for index in range(audit)
    )
    with store.db.atomic():
        store.db.conn.executemany(
            "INSERT INTO job_runs (job, kind, zone, scheduled, trigger_type, started, finished,"
            " outcome, definition) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            run_rows,
        )
        store.db.conn.executemany(
            "INSERT INTO audit_log (at, chat, who, command, outcome) VALUES (?, ?, ?, ?, ?)",
            audit_rows,
        )


async def time_calls(call: Callable[[], Awaitable[object]]) -> list[float]:
    """Milliseconds of ``CALLS`` calls (after one warm-up call)."""
    await call()
    times = []
    for _ in range(CALLS):
        began = time.perf_counter()
        await call()
        times.append((time.perf_counter() - began) * 1000)
    return times


async def command_times(folder: Path, runs: int, audit: int) -> dict[str, list[float]]:
    settings = load_config(EXAMPLE).model_copy(deep=True)
    sandbox = Sandbox()
    async with WhatsAppClient(
        base_url="http://sandbox",
        api_key="ps_bench",
        max_rps=1000,
        concurrency=8,
        retry=RetryPolicy.fast(),
        transport=SandboxTransport(sandbox),
    ) as client:
        with Store(folder / f"history-{runs}.db", migrations=(JOB_MIGRATIONS,)) as store:
            parts = build_parts(settings, client=client, store=store)
            jobs = [(job.name, job.kind) for job in settings.jobs]
            fill_history(store, jobs, runs, audit)
            first = jobs[0][0]
            results = {}
            for text in (f"/job {first}", "/jobs", "/status", "/log 20"):
                # /status asks the (in-memory) API for the group list: part of its cost.
                async def call(text: str = text) -> object:
                    return await parts.commands.execute(text, ADMIN)

                reply = await call()
                assert getattr(reply, "ok", False), f"{text}: {reply}"
                results[text] = await time_calls(call)
            return results


def commits_counter(store: Store) -> Callable[[], int]:
    """A function giving how many transactions were committed on ``store`` so far."""
    count = 0
    connection = store.db.conn

    def seen(statement: str) -> None:
        nonlocal count
        words = statement.lstrip().split(None, 1)
        if not words:
            return
        verb = words[0].upper()
        if verb == "COMMIT" or (
            verb in {"INSERT", "UPDATE", "DELETE", "REPLACE"} and not connection.in_transaction
        ):
            count += 1  # an explicit COMMIT, or a write committed on its own (autocommit)

    connection.set_trace_callback(seen)
    return lambda: count


def ledger_cost(folder: Path, deliveries: int) -> tuple[float, float]:
    """(commits per delivery, µs per delivery) of a broadcast's ledger writes."""
    from jobs.ledger import Ledger

    folder.mkdir(parents=True, exist_ok=True)
    with Store(folder / "ledger.db", migrations=(JOB_MIGRATIONS,)) as store:
        ledger = Ledger(store.db, clock=lambda: datetime.now(UTC))

        async def no_sleep(_: float) -> None:
            return None

        ctx = RunContext(
            ledger=ledger,
            client=None,  # type: ignore[arg-type]  # no request is made
            store=store,
            clock=lambda: datetime.now(UTC),
            sleep=no_sleep,
            rng=random.Random(0),
            stopping=lambda: False,
            outage=StorageOutage(),
        )
        run = ledger.open_run(
            job="bench", kind="broadcast", zone="UTC", scheduled=datetime.now(UTC),
            trigger="manual", definition={},
        )  # fmt: skip
        groups = [(f"1203639{i:011d}@g.us", f"Group {i}") for i in range(deliveries)]
        commits = commits_counter(store)
        began = time.perf_counter()
        ledger.add_deliveries(run.id, groups)
        for index, (group_id, _) in enumerate(groups):
            ledger.mark_sending(run.id, group_id)
            message = f"3EB0{index:016X}"
            ctx.record_outcome(
                LateOutcome(run.id, group_id, "sent", result=message, message=message)
            )
        elapsed = time.perf_counter() - began
        return commits() / deliveries, elapsed * 1e6 / deliveries


def summary(times: list[float]) -> str:
    return f"{statistics.median(times):8.3f} ({min(times):.3f}-{max(times):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--audit", type=int, default=100_000)
    parser.add_argument("--deliveries", type=int, default=1000)
    args = parser.parse_args()
    runs = max(0, min(args.runs, 1_000_000))
    audit = max(0, min(args.audit, 1_000_000))
    deliveries = max(1, min(args.deliveries, 100_000))
    for name in [n for n in os.environ if n.upper().startswith("GROUPPILOT_")]:
        del os.environ[name]  # the example config alone, as in the tests
    with tempfile.TemporaryDirectory() as folder:
        empty = asyncio.run(command_times(Path(folder), 0, 0))
        full = asyncio.run(command_times(Path(folder), runs, audit))
        print(f"commands, ms per call, median (min-max) of {CALLS}: empty vs {runs:,} runs"
              f" and {audit:,} audit rows")  # fmt: skip
        print(f"{'command':<22} {'empty':>22} {'with history':>22}  ratio (target <= 2)")
        for text in empty:
            ratio = statistics.median(full[text]) / statistics.median(empty[text])
            print(f"{text:<22} {summary(empty[text]):>22} {summary(full[text]):>22}  {ratio:5.2f}")
        costs = [ledger_cost(Path(folder) / str(n), deliveries) for n in range(LEDGER_REPEATS)]
        micros = [cost[1] for cost in costs]
        print(
            f"ledger, {deliveries} deliveries on a file: {costs[0][0]:.3f} commits per delivery,"
            f" {statistics.median(micros):.0f} µs per delivery, median"
            f" ({min(micros):.0f}-{max(micros):.0f}) of {LEDGER_REPEATS}"
        )


if __name__ == "__main__":
    main()
