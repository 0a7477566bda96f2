"""Helpers for the scheduler tests: a fake clock, a fake timer, gated sleeps, a harness.

The harness runs the real `JobScheduler` (real SQLite file, so a "restart"
reopens it; real client to the sandbox, in process unless the test gives one
over HTTP) with a clock and a timer the test moves: `advance_to`
fires every armed moment up to a time, in order, and waits for the runs.
Nothing waits for real minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from bot.commands.layer import CommandLayer
from bot.config import Settings, load_config
from bot.notify import Notifier
from bot.runtime import build_parts
from bot.sandbox import Sandbox
from bot.store import Store
from bot.whatsapp import WhatsAppClient
from jobs.records import Run
from jobs.scheduler import JobScheduler

SALES = "120363123456789012@g.us"
RIO = "120363000000000001@g.us"
SUPPORT = "120363000000000002@g.us"
VIP = "120363000000000003@g.us"
START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # a Friday


class FakeClock:
    """A clock the test sets; always aware UTC."""

    def __init__(self, now: datetime) -> None:
        self.now = now.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


Callback = Callable[[], Awaitable[None]]


class FakeTimer:
    """A `jobs.timer.Timer` that only records; the harness fires it."""

    def __init__(self) -> None:
        self.armed: dict[str, tuple[datetime, Callback]] = {}
        self.started = False
        self.history: list[tuple[str, datetime]] = []

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.started = False
        self.armed.clear()

    def arm(self, key: str, when: datetime, callback: Callback) -> None:
        self.armed[key] = (when, callback)
        self.history.append((key, when))

    def disarm(self, key: str) -> None:
        self.armed.pop(key, None)

    def next_due(self) -> tuple[str, datetime] | None:
        if not self.armed:
            return None
        key = min(self.armed, key=lambda k: self.armed[k][0])
        return key, self.armed[key][0]

    def when(self, key: str) -> datetime | None:
        entry = self.armed.get(key)
        return entry[0] if entry else None


class GatedSleep:
    """A `sleep` that records the pauses; while `gate` is cleared it blocks (a run in progress).

    With `hold_after = n` the first n pauses pass and the gate is cleared at
    the next one (it blocks there until the test sets it again).
    """

    def __init__(self) -> None:
        self.calls: list[float] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.hold_after: int | None = None

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self.hold_after is not None and len(self.calls) > self.hold_after:
            self.hold_after = None
            self.gate.clear()
        await self.gate.wait()
        await asyncio.sleep(0)


class StorageFault:
    """Storage failures SQLite raises itself, on a harness's real database file.

    ``fill`` makes the file unable to grow, like a full disk: a filler table
    takes every free page, then ``PRAGMA max_page_count`` (a cap of this
    connection) holds the file at its size, so a write that needs a new page
    gets SQLite's own "database or disk is full" (SQLITE_FULL) while writes
    that fit in place still succeed, as on a real full disk. ``read_only``
    (``PRAGMA query_only``) refuses every write, like a file system remounted
    read-only. ``restore`` lifts both, like freeing disk space.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def fill(self) -> None:
        self.db.execute("CREATE TABLE IF NOT EXISTS disk_filler (junk BLOB)")
        pages = self.db.execute("PRAGMA page_count").fetchone()[0]
        self.db.execute(f"PRAGMA max_page_count = {pages}")
        for size in (2048, 256, 16):
            for _ in range(10_000):
                try:
                    self.db.execute("INSERT INTO disk_filler VALUES (zeroblob(?))", (size,))
                except sqlite3.OperationalError as exc:
                    assert "full" in str(exc)
                    break

    def read_only(self) -> None:
        self.db.execute("PRAGMA query_only = ON")

    def restore(self) -> None:
        self.db.execute("PRAGMA query_only = OFF")
        self.db.execute("PRAGMA max_page_count = 1073741823")


class Notes:
    """A notifier that keeps what it was told."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def notify(self, text: str) -> None:
        self.texts.append(text)

    def about(self, job: str) -> list[str]:
        return [t for t in self.texts if t.startswith(job)]


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):  # an inline table (a template job's variables)
        pairs = ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items())
        return "{" + pairs + "}"
    return json.dumps(value)


def write_config(
    path: Path,
    *,
    base_url: str,
    db: Path,
    jobs: list[dict[str, Any]],
    timezone: str = "UTC",
    max_rps: int = 1000,
    concurrency: int = 4,
) -> Path:
    lines = [
        "[pilot]",
        f"base_url = {toml_value(base_url)}",
        'api_key = "ps_test_key"',
        f"max_rps = {max_rps}",
        f"concurrency = {concurrency}",
        "timeout = 5",
        "[storage]",
        f"path = {toml_value(str(db))}",
        "[scheduler]",
        f"timezone = {toml_value(timezone)}",
        "[groups]",
        f'sales = "{SALES}"',
        f'rio = "{RIO}"',
        f'support = "{SUPPORT}"',
        f'vip = "{VIP}"',
        "[targets]",
        f'all-sales = ["sales", "{RIO}"]',
    ]
    for job in jobs:
        lines.append("[[jobs]]")
        lines.extend(f"{key} = {toml_value(value)}" for key, value in job.items())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def broadcast(name: str = "morning", **keys: Any) -> dict[str, Any]:
    job: dict[str, Any] = {
        "name": name,
        "kind": "broadcast",
        "cron": "0 9 * * *",
        "targets": ["all-sales"],
        "text": "Hello {group}, {date} {time} {weekday}",
    }
    job.update(keys)
    for key in ("cron", "every", "at"):
        if key != "cron" and key in keys:
            job.pop("cron", None)
    return job


def invite_reset(name: str = "links", **keys: Any) -> dict[str, Any]:
    job: dict[str, Any] = {
        "name": name,
        "kind": "invite_reset",
        "cron": "0 3 * * *",
        "targets": ["vip"],
    }
    job.update(keys)
    if "every" in keys or "at" in keys:
        job.pop("cron", None)
    return job


@dataclass
class Harness:
    """One bot's scheduler over a real store and the sandbox, driven by a fake clock."""

    settings: Settings
    store: Store
    client: WhatsAppClient
    sandbox: Sandbox
    clock: FakeClock
    timer: FakeTimer = field(default_factory=FakeTimer)
    sleep: GatedSleep = field(default_factory=GatedSleep)
    notes: Notes = field(default_factory=Notes)
    seed: int = 7
    scheduler: JobScheduler = field(init=False)
    layer: CommandLayer = field(init=False)

    def __post_init__(self) -> None:
        parts = build_parts(
            self.settings,
            client=self.client,
            store=self.store,
            timer=self.timer,
            clock=self.clock,
            sleep=self.sleep,
            rng=random.Random(self.seed),
        )
        self.scheduler = parts.scheduler
        self.layer = parts.commands

    async def start(self, notifier: Notifier | None = None) -> Harness:
        await self.scheduler.start(notifier or self.notes)
        await self.idle()
        return self

    async def idle(self) -> None:
        async with asyncio.timeout(10):
            await self.scheduler.wait_idle()

    async def stop(self) -> None:
        await self.scheduler.stop()

    async def advance_to(self, moment: datetime) -> None:
        """Fire every armed moment up to ``moment`` in order, waiting for each run."""
        while (due := self.timer.next_due()) is not None and due[1] <= moment:
            key, when = due
            self.clock.now = max(self.clock.now, when.astimezone(UTC))
            _, callback = self.timer.armed.pop(key)
            await callback()
            await self.idle()
        self.clock.now = max(self.clock.now, moment.astimezone(UTC))

    async def advance(self, **delta: float) -> None:
        await self.advance_to(self.clock.now + timedelta(**delta))

    async def fire_next(self) -> tuple[str, datetime]:
        """Fire the earliest armed moment without waiting for its run."""
        due = self.timer.next_due()
        assert due is not None, "nothing armed"
        key, when = due
        self.clock.now = max(self.clock.now, when.astimezone(UTC))
        _, callback = self.timer.armed.pop(key)
        await callback()
        await asyncio.sleep(0)
        return key, when

    async def until(self, condition: Callable[[], bool], timeout: float = 3.0) -> None:
        """Wait (briefly, polling) for something real, e.g. a request to the sandbox."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():
            assert loop.time() < deadline, "condition not met in time"
            await asyncio.sleep(0.002)

    def runs(self, job: str) -> list[Run]:
        """The job's history, oldest first."""
        return list(reversed(self.scheduler.ledger.runs(job, 1000)))

    def texts_to(self, group_id: str) -> list[str]:
        return [m.text for m in self.sandbox.sent_messages if m.group_id == group_id]


def all_messages(sandbox: Sandbox) -> Iterator[tuple[str, str]]:
    for message in sandbox.sent_messages:
        yield message.group_id, message.text


HarnessFactory = Callable[..., Harness]


@contextlib.asynccontextmanager
async def harness_factory(
    tmp_path: Path, sandbox: Sandbox, client: WhatsAppClient
) -> AsyncIterator[HarnessFactory]:
    """Build harnesses over `sandbox` (reached by `client`); again with ``after=`` to "restart".

    Each test module wraps this in its own ``make_harness`` fixture.
    """
    opened: list[Store] = []
    made: list[Harness] = []

    def factory(
        jobs: list[dict[str, Any]],
        *,
        now: datetime = START,
        timezone: str = "UTC",
        after: Harness | None = None,
        seed: int = 7,
        db_name: str = "grouppilot.db",
    ) -> Harness:
        """With ``after``: a restart of that bot (a new connection to its database, same clock).

        ``db_name`` names another database file in the test's directory.
        """
        config = write_config(
            tmp_path / "grouppilot.toml",
            base_url="sandbox",
            db=tmp_path / db_name,
            jobs=jobs,
            timezone=timezone,
        )
        settings = load_config(config)
        store = Store(settings.storage.path)
        opened.append(store)
        harness = Harness(
            settings=settings,
            store=store,
            client=client,
            sandbox=sandbox,
            clock=after.clock if after is not None else FakeClock(now),
            seed=seed,
        )
        made.append(harness)
        return harness

    try:
        yield factory
    finally:
        for harness in made:
            harness.sleep.gate.set()
            await harness.scheduler.stop()
        for store in opened:
            store.close()
