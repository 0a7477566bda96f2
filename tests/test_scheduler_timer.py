"""The real wiring: APScheduler as the timer, `grouppilot run` with its console, `exec`.

These use the real clock, so they wait a fraction of a second for a fire.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import clean_env
from scheduler_kit import SALES, broadcast, write_config

from bot.config import load_config
from bot.runtime import build_parts
from bot.sandbox import SandboxServerThread
from bot.store import Store
from bot.whatsapp import WhatsAppClient
from jobs.timer import JOB_DEFAULTS, APSchedulerTimer

ROOT = Path(__file__).resolve().parent.parent


def soon(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


async def test_timer_fires_once_at_the_armed_moment() -> None:
    timer = APSchedulerTimer()
    timer.start()
    fired: list[tuple[str, float]] = []
    started = time.monotonic()

    def callback(key: str):  # type: ignore[no-untyped-def]
        async def fire() -> None:
            fired.append((key, time.monotonic() - started))

        return fire

    try:
        timer.arm("a", soon(0.05), callback("first"))
        timer.arm("a", soon(0.15), callback("second"))  # replaces the first
        timer.arm("b", soon(0.05), callback("b"))
        timer.disarm("b")
        timer.disarm("never-armed")
        timer.arm("late", soon(-30), callback("late"))  # in the past: fires at once
        assert set(timer.armed()) == {"a", "late"}
        await asyncio.sleep(0.4)
        assert timer.scheduler.get_jobs() == []  # fired one-shot jobs are gone
    finally:
        timer.stop()
    assert [key for key, _ in fired] == ["late", "second"]
    assert fired[1][1] >= 0.14


async def test_apscheduler_policies_are_off_on_purpose() -> None:
    timer = APSchedulerTimer()
    timer.start()

    async def noop() -> None:
        return None

    try:
        timer.arm("j", soon(60), noop)
        [job] = timer.scheduler.get_jobs()
    finally:
        timer.stop()
    assert job.id == "grouppilot:j"
    assert (job.misfire_grace_time, job.coalesce) == (None, True)
    assert job.max_instances == JOB_DEFAULTS["max_instances"] > 1
    assert str(timer.scheduler.timezone) == "UTC"


async def test_scheduler_on_apscheduler_runs_an_at_job(
    tmp_path: Path, sandbox_server: SandboxServerThread, client: WhatsAppClient
) -> None:
    job = broadcast(at=soon(0.2).isoformat(), targets=["sales"], text="real time")
    config = write_config(
        tmp_path / "c.toml", base_url=sandbox_server.url, db=tmp_path / "db", jobs=[job]
    )
    settings = load_config(config)
    with Store(settings.storage.path) as store:
        scheduler = build_parts(settings, client=client, store=store).scheduler
        await scheduler.start()
        try:
            for _ in range(100):
                if scheduler.ledger.last_run("morning") is not None:
                    break
                await asyncio.sleep(0.01)
            async with asyncio.timeout(5):
                await scheduler.wait_idle()
        finally:
            await scheduler.stop()
        run = scheduler.ledger.last_run("morning")
    assert run is not None
    assert (run.outcome, run.trigger) == ("ok", "schedule")
    assert [m.text for m in sandbox_server.sandbox.sent_messages] == ["real time"]


def _config(tmp_path: Path, url: str, at: datetime) -> Path:
    job = broadcast(at=at.isoformat(), targets=["sales"], text="from the console bot")
    return write_config(tmp_path / "bot.toml", base_url=url, db=tmp_path / "bot.db", jobs=[job])


def test_run_with_console_prints_job_reports(tmp_path: Path) -> None:
    with SandboxServerThread() as server:
        config = _config(tmp_path, server.url, soon(1.0))
        bot = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=clean_env(),
        )
        try:
            assert bot.stdout is not None and bot.stdin is not None
            line = ""
            deadline = time.monotonic() + 30
            while "morning (" not in line:
                assert time.monotonic() < deadline
                line = bot.stdout.readline()
                assert line, bot.stderr.read() if bot.stderr else ""
            assert "queued 1, failed 0, unknown 0" in line
            out, err = bot.communicate("/jobs\n", timeout=30)
        finally:
            if bot.poll() is None:
                bot.kill()
    assert bot.returncode == 0, err
    assert "morning: broadcast, at " in out
    # A start slower than the lead (a loaded machine) finds the moment passed: the same run
    # is then caught up at start, and the report and /jobs must both say so.
    trigger = "catch-up" if ", catch-up run)" in line else "schedule"
    assert f"{trigger}: ok, queued 1, failed 0, unknown 0" in out
    assert [m.group_id for m in server.sandbox.sent_messages] == [SALES]


@pytest.mark.parametrize(
    ("command", "code", "needle"),
    [
        ("/jobs", 0, "morning: broadcast"),
        ("/pause morning", 1, "not running in this process"),
    ],
)  # every read and write command without the running scheduler: test_job_commands
def test_exec_reads_jobs_but_does_not_change_them(
    tmp_path: Path, command: str, code: int, needle: str
) -> None:
    with SandboxServerThread() as server:
        config = _config(tmp_path, server.url, soon(3600))
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli", "exec", "--config", str(config), command],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            env=clean_env(),
        )
    assert result.returncode == code, result.stderr
    assert needle in result.stdout
