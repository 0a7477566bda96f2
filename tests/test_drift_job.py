"""The ``drift`` job kind: the real scheduler plans the groups file on its schedule.

It reports drift to the notify chats and changes nothing. One ledger row per
declared group checked: ``sent`` (in sync) or ``failed`` with code DRIFT.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import ADMIN
from scheduler_kit import SALES, START, FakeClock, Harness, write_config

from bot.commands.types import Pending, Reply
from bot.config import load_config
from bot.sandbox import Sandbox
from bot.store import Store
from bot.whatsapp import WhatsAppClient

IN_SYNC = f"""
[groups.sales]
id = "{SALES}"
subject = "Sales Team"
admins = ["+55 11 98765-4321", "+55 11 91111-2222"]
members = ["+55 11 93333-4444"]

[groups.rio]
id = "120363000000000001@g.us"
subject = "Sales Rio"
admins = ["+55 11 98765-4321"]
members = ["+55 21 95555-6666"]
"""
# Sales Team gains a member and loses one; Sales Rio stays in sync.
DRIFTED = IN_SYNC.replace('members = ["+55 11 93333-4444"]', 'members = ["+55 11 95555-0001"]')
DRIFT_LINES = ["  + add +5511955550001", "  - remove +5511933334444"]


def drift_job(**keys: Any) -> dict[str, Any]:
    return {"name": "drift", "kind": "drift", "cron": "0 3 * * *", "targets": ["all"], **keys}


MakeHarness = Callable[..., Harness]


@pytest.fixture
async def make_drift_harness(
    tmp_path: Path, sandbox: Sandbox, client: WhatsAppClient
) -> AsyncIterator[MakeHarness]:
    """A scheduler harness whose config names ``groups.toml`` (written from ``groups``)."""
    made: list[Harness] = []

    def factory(jobs: list[dict[str, Any]], groups: str | None) -> Harness:
        groups_file = tmp_path / "groups.toml"
        if groups is not None:
            groups_file.write_text(groups, encoding="utf-8")
        config = write_config(
            tmp_path / "grouppilot.toml", base_url="sandbox", db=tmp_path / "g.db", jobs=jobs
        )
        with config.open("a", encoding="utf-8") as extra:
            extra.write(f'[membership]\nfile = "{groups_file}"\nowner = "+55 11 98765-4321"\n')
        settings = load_config(config)
        harness = Harness(
            settings=settings,
            store=Store(settings.storage.path),
            client=client,
            sandbox=sandbox,
            clock=FakeClock(START),
        )
        made.append(harness)
        return harness

    yield factory
    for harness in made:
        harness.sleep.gate.set()
        await harness.scheduler.stop()
        harness.store.close()


async def run_once(harness: Harness) -> None:
    await harness.start()
    await harness.advance(days=1)


def writes(sandbox: Sandbox) -> list[str]:
    return [f"{r.method} {r.path}" for r in sandbox.requests if r.method != "GET"]


async def test_groups_in_sync_run_ok_and_report_per_notify(
    make_drift_harness: MakeHarness, sandbox: Sandbox
) -> None:
    harness = make_drift_harness([drift_job(notify="always")], IN_SYNC)
    await run_once(harness)
    [run] = harness.runs("drift")
    assert (run.outcome, run.total, run.sent, run.failed) == ("ok", 2, 2, 0)
    assert harness.notes.about("drift") == ["drift (03:00 UTC): in sync 2, failed 0, unknown 0"]
    rows = harness.scheduler.ledger.deliveries(run.id)
    assert [(d.group_name, d.state, d.detail) for d in rows] == [
        ("sales", "sent", "in sync"),
        ("rio", "sent", "in sync"),
    ]


async def test_no_drift_and_notify_failures_says_nothing(
    make_drift_harness: MakeHarness,
) -> None:
    harness = make_drift_harness([drift_job(notify="failures")], IN_SYNC)
    await run_once(harness)
    assert harness.runs("drift")[0].outcome == "ok"
    assert harness.notes.texts == []


async def test_drift_is_reported_with_the_plan_and_nothing_is_changed(
    make_drift_harness: MakeHarness, sandbox: Sandbox
) -> None:
    before = {gid: g.participants for gid, g in sandbox.groups.items()}
    sandbox.reset_stats()
    harness = make_drift_harness([drift_job(notify="failures")], DRIFTED)
    await run_once(harness)
    [run] = harness.runs("drift")
    assert (run.outcome, run.sent, run.failed) == ("partial", 1, 1)
    [report] = harness.notes.texts
    assert report.splitlines() == [
        "drift (03:00 UTC): in sync 1, failed 1, unknown 0",
        f"- sales ({SALES}): failed DRIFT",
        "",
        "drift: drift in 1 of 2 groups (nothing was changed; /plan shows it, "
        "grouppilot apply makes the groups match)",
        f"sales ({SALES}): 1 to add, 1 to remove",
        *DRIFT_LINES,
    ]
    assert writes(sandbox) == []
    assert {gid: g.participants for gid, g in sandbox.groups.items()} == before


async def test_announce_false_reports_the_counts_only(make_drift_harness: MakeHarness) -> None:
    harness = make_drift_harness([drift_job(announce=False)], DRIFTED)
    await run_once(harness)
    assert harness.notes.about("drift") == [
        f"drift (03:00 UTC): in sync 1, failed 1, unknown 0\n- sales ({SALES}): failed DRIFT"
    ]


async def test_targets_name_keys_of_the_groups_file(make_drift_harness: MakeHarness) -> None:
    harness = make_drift_harness([drift_job(targets=["rio"])], DRIFTED)
    await run_once(harness)
    [run] = harness.runs("drift")
    assert (run.outcome, run.total) == ("ok", 1)
    [row] = harness.scheduler.ledger.deliveries(run.id)
    assert row.group_name == "rio"


@pytest.mark.parametrize(
    ("groups", "targets", "why"),
    [
        (None, ["all"], "does not exist (membership.file)"),
        (IN_SYNC, ["nope"], "is not a group of the groups file"),
        ('[groups.x]\nsubject = "X"\nmembers = ["@nobody"]\n', ["all"], "has 1 problem"),
    ],
)
async def test_a_run_that_cannot_check_fails_in_one_sentence(
    make_drift_harness: MakeHarness, groups: str | None, targets: list[str], why: str
) -> None:
    harness = make_drift_harness([drift_job(targets=targets, notify="failures")], groups)
    await run_once(harness)
    [run] = harness.runs("drift")
    assert run.outcome == "failed"
    assert why in run.detail
    [report] = harness.notes.texts
    assert report.startswith("drift (03:00 UTC): failed: targets: ")


async def test_an_api_failure_fails_every_group_with_its_code(
    make_drift_harness: MakeHarness, sandbox: Sandbox
) -> None:
    harness = make_drift_harness([drift_job()], IN_SYNC)
    sandbox.inject("list_groups", status=401, code="UNAUTHORIZED", times=None)
    await run_once(harness)
    [run] = harness.runs("drift")
    assert (run.outcome, run.failed) == ("failed", 2)
    codes = {d.code for d in harness.scheduler.ledger.deliveries(run.id)}
    assert codes == {"UNAUTHORIZED"}


async def test_a_chat_defined_drift_job_runs_by_hand(
    make_drift_harness: MakeHarness, sandbox: Sandbox
) -> None:
    harness = make_drift_harness([], DRIFTED)
    await harness.start()
    outcome = await harness.layer.execute("/schedule drift every 1d check-drift all", ADMIN)
    assert isinstance(outcome, Pending), outcome
    reply = await harness.layer.confirm(outcome.token, ADMIN)
    assert reply.ok, reply.text
    outcome = await harness.layer.execute("/run drift", ADMIN)
    if isinstance(outcome, Pending):
        outcome = await harness.layer.confirm(outcome.token, ADMIN)
    assert isinstance(outcome, Reply)
    assert outcome.text.startswith("drift (2026-11-27 12:00 UTC, manual run by user:1): in sync 1")
    await harness.idle()
    [run] = harness.runs("drift")
    assert (run.outcome, run.sent, run.failed) == ("partial", 1, 1)
    assert writes(sandbox) == []
