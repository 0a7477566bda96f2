"""Ad-hoc broadcasts: a `/send` to several groups is a background run of the scheduler.

Real command layer and scheduler (`tests/scheduler_kit.py`), real SQLite file,
real client to the sandbox; a fake clock, and a gated sleep that holds a run
between two sends where a test needs it in progress.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

import pytest
from conftest import ADMIN, VIEWER, run_confirmed
from scheduler_kit import RIO, SALES, SUPPORT, VIP, Harness, HarnessFactory

from bot.commands.types import Pending
from bot.jobconfig import JobConfig
from bot.notify import ConsoleNotifier, LogNotifier
from jobs.records import ADHOC_JOB, CANCELED, Run

ALL = [SALES, RIO, SUPPORT, VIP]
NAMES = {SALES: "Sales Team", RIO: "Sales Rio", SUPPORT: "Support", VIP: "VIP Customers"}


class Progress:
    """A notifier keeping every progress update and report, per chat."""

    def __init__(self) -> None:
        self.updates: list[tuple[str, str, str, bool]] = []
        self.reports: list[str] = []

    async def notify(self, text: str) -> None:
        self.reports.append(text)

    async def tell(self, chat: str, text: str) -> None:
        self.reports.append(text)

    async def progress(self, chat: str, key: str, text: str, final: bool) -> None:
        self.updates.append((chat, key, text, final))

    def finals(self) -> list[str]:
        return [text for _, _, text, final in self.updates if final]


async def started(make_harness: HarnessFactory) -> tuple[Harness, Progress]:
    progress = Progress()
    harness = await make_harness([]).start(progress)
    return harness, progress


def adhoc_runs(harness: Harness) -> list[Run]:
    return list(reversed(harness.scheduler.ledger.runs(ADHOC_JOB, 100)))


def text_job(text: str = "Hello", **keys: Any) -> JobConfig:
    return JobConfig.model_validate(
        {"name": "send", "kind": "broadcast", "every": "1d", "targets": ["all"], "text": text}
        | keys
    )


@pytest.mark.parametrize(("target", "groups"), [("all-sales", [SALES, RIO]), ("all", ALL)])
async def test_send_to_several_groups_is_acknowledged_at_once_and_runs_in_the_background(
    make_harness: HarnessFactory, target: str, groups: list[str]
) -> None:
    harness, progress = await started(make_harness)
    pending = await harness.layer.execute(f"/send {target} Price {{x}} today", ADMIN)
    assert isinstance(pending, Pending)  # several groups: it asks first
    reply = await harness.layer.confirm(pending.token, ADMIN)
    [run] = adhoc_runs(harness)
    assert reply.ok
    assert reply.text.startswith(f"Queued to {len(groups)} groups, run #{run.id}")
    assert (run.trigger, run.requested_by, run.total) == ("manual", ADMIN.who, 0)
    assert run.outcome == "running"  # the answer came before the run ended
    await harness.idle()
    [run] = adhoc_runs(harness)
    assert (run.outcome, run.sent, run.failed, run.unknown) == ("ok", len(groups), 0, 0)
    assert sorted(m.group_id for m in harness.sandbox.sent_messages) == sorted(groups)
    assert {m.text for m in harness.sandbox.sent_messages} == {"Price {x} today"}  # as typed
    [report] = progress.finals()
    assert report.startswith(f"run #{run.id} (/send by {ADMIN.who}, ")
    assert f"queued {len(groups)}, failed 0, unknown 0" in report
    assert {(chat, key) for chat, key, _, _ in progress.updates} == {(ADMIN.chat, f"run-{run.id}")}
    assert harness.store.last_sent(SALES) == harness.scheduler.ledger.deliveries(run.id)[0].result
    # /jobs lists jobs, not ad-hoc runs
    jobs = await run_confirmed(harness.layer, "/jobs")
    assert ADHOC_JOB not in jobs.text


async def test_a_template_send_is_rendered_per_group(make_harness: HarnessFactory) -> None:
    harness, _ = await started(make_harness)
    reply = await run_confirmed(
        harness.layer, "/send all-sales template boas_vindas nome={group} grupo=x cupom=y"
    )
    assert reply.ok, reply.text
    await harness.idle()
    [run] = adhoc_runs(harness)
    assert (run.outcome, run.sent) == ("ok", 2)
    sends = [r.body for r in harness.sandbox.requests if r.endpoint == "send"]
    assert sorted(s["variables"]["nome"] for s in sends) == ["Sales Rio", "Sales Team"]


async def test_gap_is_honoured_between_sends(make_harness: HarnessFactory) -> None:
    harness, _ = await started(make_harness)
    groups = [(gid, NAMES[gid]) for gid in ALL]
    harness.scheduler.send_now(text_job(gap="10s"), groups, by="test", chat="console")
    await harness.idle()
    assert len(harness.sleep.calls) == len(ALL) - 1  # between two sends, never before the first
    assert all(0 <= pause <= 10 for pause in harness.sleep.calls)


async def test_a_number_wide_failure_stops_the_run_after_the_disconnect(
    make_harness: HarnessFactory,
) -> None:
    harness, progress = await started(make_harness)
    harness.sleep.hold_after = 0  # one send, then held at the first pause
    groups = [(gid, NAMES[gid]) for gid in ALL]
    run = harness.scheduler.send_now(text_job(gap="5s"), groups, by="test", chat="console")
    await harness.until(lambda: not harness.sleep.gate.is_set())
    harness.sandbox.mode = "disconnected"
    harness.sleep.gate.set()
    await harness.idle()
    final = harness.scheduler.ledger.get_run(run.id)
    assert final is not None
    assert (final.outcome, final.sent, final.failed) == ("partial", 1, 3)
    sends = [r for r in harness.sandbox.requests if r.endpoint == "send"]
    assert len(sends) == 2  # the one that found the number disconnected, then no more
    [report] = progress.finals()
    assert report.splitlines()[2].endswith(
        "failed WHATSAPP_INSTANCE_NOT_CONNECTED"
    )  # failures first


async def test_cancel_stops_a_run_between_two_sends(make_harness: HarnessFactory) -> None:
    harness, progress = await started(make_harness)
    harness.sleep.hold_after = 1  # two sends, then held at the second pause
    groups = [(gid, NAMES[gid]) for gid in ALL]
    run = harness.scheduler.send_now(text_job(gap="5s"), groups, by="test", chat="console")
    await harness.until(lambda: not harness.sleep.gate.is_set())
    viewer = await run_confirmed(harness.layer, f"/cancel {run.id}", VIEWER)
    assert not viewer.ok  # an admin command
    reply = await run_confirmed(harness.layer, f"/cancel #{run.id}")
    assert reply.ok
    assert reply.text.startswith(f"Canceling run #{run.id}: it stops before its next send")
    again = await run_confirmed(harness.layer, f"/cancel {run.id}")
    assert again.text == f"Run #{run.id} is already being canceled."
    harness.sleep.gate.set()
    await harness.idle()
    final = harness.scheduler.ledger.get_run(run.id)
    assert final is not None
    assert (final.sent, final.failed, final.outcome) == (2, 2, "partial")
    assert f"canceled by {ADMIN.who}: 2 not sent" in final.detail
    rows = harness.scheduler.ledger.deliveries(run.id)
    assert [(r.state, r.code) for r in rows] == [
        ("sent", ""),
        ("sent", ""),
        ("failed", CANCELED),
        ("failed", CANCELED),
    ]
    assert len(harness.sandbox.sent_messages) == 2  # what was sent stays sent, nothing more
    [report] = progress.finals()
    assert "failed CANCELED" in report
    done = await run_confirmed(harness.layer, f"/cancel {run.id}")
    assert (done.ok, done.text) == (
        False,
        f"Run #{run.id} is not in progress (partial): nothing to cancel.",
    )


@pytest.mark.parametrize(
    ("word", "answer"),
    [
        ("999", "There is no run #999."),
        ("abc", "'abc' is not a run number: give the number of the run, e.g. /cancel 123 "
                "(the reply to a /send names it)."),
        *(
            (word, f"'{word}' is not a run number: give the number of the run, e.g. /cancel "
                   "123 (the reply to a /send names it).")
            for word in ("²", "١٢٣", "-1")
        ),
    ],
)  # fmt: skip
async def test_cancel_of_no_run_is_one_sentence(
    make_harness: HarnessFactory, word: str, answer: str
) -> None:
    harness, _ = await started(make_harness)
    reply = await run_confirmed(harness.layer, f"/cancel {word}")
    assert (reply.ok, reply.text) == (False, answer)


async def test_cancel_stops_a_scheduled_run_too(make_harness: HarnessFactory) -> None:
    from scheduler_kit import broadcast

    progress = Progress()
    harness = await make_harness([broadcast(targets=["all"], gap="5s", text="x")]).start(progress)
    harness.sleep.hold_after = 0
    await harness.fire_next()
    await harness.until(lambda: not harness.sleep.gate.is_set())
    [run] = harness.runs("morning")
    reply = await run_confirmed(harness.layer, f"/cancel {run.id}")
    assert reply.ok, reply.text
    harness.sleep.gate.set()
    await harness.idle()
    [run] = harness.runs("morning")
    assert (run.sent, run.failed) == (1, 3)
    assert {r.code for r in harness.scheduler.ledger.deliveries(run.id, "failed")} == {CANCELED}


async def test_an_interrupted_adhoc_run_resumes_on_the_next_start_without_duplicates(
    make_harness: HarnessFactory,
) -> None:
    first, _ = await started(make_harness)
    first.sleep.hold_after = 1  # two sends, then the bot "dies" at the second pause
    groups = [(gid, NAMES[gid]) for gid in ALL]
    job = text_job("Hi {group}", gap="5s")
    run = first.scheduler.send_now(job, groups, by="a", chat="console")
    # a crash while a request is in flight: its row stays `sending`
    first.scheduler.ledger.mark_sending(run.id, SUPPORT)
    await first.until(lambda: not first.sleep.gate.is_set())
    progress = Progress()
    second = await make_harness([], after=first).start(progress)
    await second.idle()
    run = second.scheduler.ledger.get_run(run.id) or run
    counts = Counter(m.group_id for m in second.sandbox.sent_messages)
    assert max(counts.values()) == 1  # no group got it twice
    rows = {r.group_id: r for r in second.scheduler.ledger.deliveries(run.id)}
    assert rows[SUPPORT].state == "unknown"  # may have gone out: reported, not resent
    assert all(rows[gid].state == "sent" for gid in counts)
    assert set(counts) | {SUPPORT} == set(ALL)
    assert {m.text for m in second.sandbox.sent_messages} == {f"Hi {NAMES[g]}" for g in counts}
    assert run.outcome == "partial"
    assert "interrupted by a crash" in run.detail
    [report] = progress.finals()
    assert "unknown INTERRUPTED" in report
    for task in list(first.scheduler._run_tasks):  # the "dead" bot's run: gone for good
        task.cancel()
    await asyncio.sleep(0)


async def test_send_now_needs_a_running_scheduler(make_harness: HarnessFactory) -> None:
    harness, _ = await started(make_harness)
    await harness.stop()
    reply = await run_confirmed(harness.layer, "/send all-sales Hello")  # sent here, as before
    assert reply.text.splitlines()[0] == "Queued 2 of 2."
    assert adhoc_runs(harness) == []


async def test_a_one_group_send_stays_synchronous(make_harness: HarnessFactory) -> None:
    harness, _ = await started(make_harness)
    reply = await run_confirmed(harness.layer, "/send sales Hello")
    assert reply.text.startswith("Queued to Sales Team")
    assert adhoc_runs(harness) == []


async def test_a_one_group_failure_is_the_failure_sentence_only(
    make_harness: HarnessFactory,
) -> None:
    harness, _ = await started(make_harness)
    harness.sandbox.mode = "disconnected"
    reply = await run_confirmed(harness.layer, "/send sales Hello")
    assert not reply.ok
    [line] = reply.text.splitlines()
    assert line.startswith(f"{SALES}: failed — The WhatsApp number is not connected")


class Printer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def notify(self, text: str) -> None:
        self.lines.append(text)


async def test_the_console_prints_a_line_per_progress_update(
    caplog: pytest.LogCaptureFixture,
) -> None:
    printer = Printer()
    console = ConsoleNotifier(printer)
    await console.progress("console", "run-1", "run #1: 1 of 2 done…", False)
    await console.progress("console", "run-1", "run #1: queued 2", True)
    assert printer.lines == ["run #1: 1 of 2 done…", "run #1: queued 2"]
    with caplog.at_level(logging.INFO, logger="bot.notify"):
        await LogNotifier().progress("console", "run-1", "run #1: queued 2", True)
    assert "report to console: run #1: queued 2" in caplog.text
