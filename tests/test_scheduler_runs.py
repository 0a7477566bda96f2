"""Runs of the two job kinds: deliveries, ledger states, pins, gaps, reports, invite resets.

Real scheduler, real SQLite file, real client to the sandbox (in process); a fake
clock and timer decide when runs fire.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from scheduler_kit import (
    RIO,
    SALES,
    START,
    SUPPORT,
    VIP,
    HarnessFactory,
    broadcast,
    invite_reset,
)

NINE = START.replace(hour=9) + timedelta(days=1)  # Saturday 09:00 UTC


async def test_broadcast_sends_rendered_text_once_per_group(make_harness: HarnessFactory) -> None:
    harness = await make_harness(
        [broadcast(text="Hi {group}: {date:%d/%m} {time} {weekday}")]
    ).start()
    await harness.advance_to(NINE)
    assert harness.texts_to(SALES) == ["Hi Sales Team: 28/11 09:00 Saturday"]
    assert harness.texts_to(RIO) == ["Hi Sales Rio: 28/11 09:00 Saturday"]
    assert harness.texts_to(SUPPORT) == []
    [run] = harness.runs("morning")
    assert (run.trigger, run.outcome, run.sent, run.failed, run.unknown) == (
        "schedule",
        "ok",
        2,
        0,
        0,
    )
    assert run.scheduled == NINE
    assert run.started == run.finished == NINE  # the fake clock did not move
    rows = harness.scheduler.ledger.deliveries(run.id)
    assert [(r.group_id, r.state) for r in rows] == [(SALES, "sent"), (RIO, "sent")]
    assert harness.store.last_sent(SALES) == rows[0].result  # for /pin sales last
    assert harness.notes.texts == ["morning (09:00 UTC): queued 2, failed 0, unknown 0"]


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("UTC", "09:00 Saturday"),
        ("America/Sao_Paulo", "09:00 Saturday"),
        ("Asia/Tokyo", "09:00 Saturday"),
    ],
)
async def test_placeholders_use_the_job_zone(
    make_harness: HarnessFactory, zone: str, expected: str
) -> None:
    harness = await make_harness(
        [broadcast(text="{time} {weekday}", targets=["sales"], timezone=zone)]
    ).start()
    await harness.advance(days=2)
    assert harness.texts_to(SALES)[0] == expected


@pytest.mark.parametrize("targets", [["all"], ["all", "sales"], ["sales", SALES, "all-sales"]])
async def test_targets_resolve_at_run_time_each_group_once(
    make_harness: HarnessFactory, targets: list[str]
) -> None:
    harness = await make_harness([broadcast(targets=targets, text="x")]).start()
    await harness.advance_to(NINE)
    sent = [m.group_id for m in harness.sandbox.sent_messages]
    assert len(sent) == len(set(sent))
    expected = {SALES, RIO, SUPPORT, VIP} if "all" in targets else {SALES, RIO}
    assert set(sent) == expected


async def test_pin_pins_every_sent_message(make_harness: HarnessFactory) -> None:
    harness = await make_harness([broadcast(pin=True, text="pinned")]).start()
    await harness.advance_to(NINE)
    groups = harness.sandbox.groups
    for message in harness.sandbox.sent_messages:
        assert groups[message.group_id].pinned == {message.id}
    [run] = harness.runs("morning")
    assert {r.pin for r in harness.scheduler.ledger.deliveries(run.id)} == {"pinned"}


async def test_a_failed_pin_is_reported_but_the_message_counts_as_sent(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness([broadcast(pin=True, text="pinned")]).start()
    harness.sandbox.mode = "evolution"  # pin refused
    await harness.advance_to(NINE)
    [run] = harness.runs("morning")
    assert (run.outcome, run.sent) == ("ok", 2)
    [report] = harness.notes.texts
    assert "queued, but the pin failed (NOT_SUPPORTED_ON_EVOLUTION)" in report


@pytest.mark.parametrize("gap", ["10s", "2m"])
async def test_gap_pauses_between_sends_never_before_the_first(
    make_harness: HarnessFactory, gap: str
) -> None:
    harness = await make_harness([broadcast(gap=gap, targets=["all"], text="x")]).start()
    await harness.advance_to(NINE)
    limit = {"10s": 10, "2m": 120}[gap]
    assert len(harness.sleep.calls) == 3  # 4 groups, 3 gaps
    assert all(0 <= pause <= limit for pause in harness.sleep.calls)
    assert len(set(harness.sleep.calls)) == 3  # random, not fixed


async def test_no_gap_no_pause(make_harness: HarnessFactory) -> None:
    harness = await make_harness([broadcast(targets=["all"], text="x")]).start()
    await harness.advance_to(NINE)
    assert harness.sleep.calls == []


async def test_failures_are_reported_with_names_and_codes(make_harness: HarnessFactory) -> None:
    harness = await make_harness([broadcast(targets=["all"], text="x")]).start()
    harness.sandbox.inject("send", status=502, code="WHATSAPP_UPSTREAM_ERROR", times=1)
    harness.sandbox.inject("send", drop=True, times=1)
    await harness.advance_to(NINE)
    [run] = harness.runs("morning")
    assert (run.outcome, run.sent, run.failed, run.unknown) == ("partial", 2, 1, 1)
    [report] = harness.notes.texts
    lines = report.splitlines()
    assert lines[0] == "morning (09:00 UTC): queued 2, failed 1, unknown 1"
    assert lines[1] == f"- Sales Team ({SALES}): failed WHATSAPP_UPSTREAM_ERROR"
    assert lines[2].startswith(f"- Sales Rio ({RIO}): unknown OUTCOME_UNKNOWN")
    assert "not resent" in lines[2]
    # the dropped send was applied by the server and never tried again
    assert len(harness.texts_to(RIO)) == 1
    assert len([r for r in harness.sandbox.requests if r.endpoint == "send"]) == 4


async def test_a_number_wide_failure_stops_the_run(make_harness: HarnessFactory) -> None:
    harness = await make_harness([broadcast(targets=["sales", "rio", "support"], text="x")]).start()
    harness.sandbox.mode = "disconnected"
    await harness.advance_to(NINE)
    [run] = harness.runs("morning")
    assert (run.outcome, run.failed) == ("failed", 3)
    sends = [r for r in harness.sandbox.requests if r.endpoint == "send"]
    assert len(sends) <= harness.settings.pilot.concurrency
    codes = {r.code for r in harness.scheduler.ledger.deliveries(run.id)}
    assert codes == {"WHATSAPP_INSTANCE_NOT_CONNECTED"}


@pytest.mark.parametrize(
    ("notify", "fail", "reported"),
    [
        ("always", False, True),
        ("always", True, True),
        ("failures", False, False),
        ("failures", True, True),
        ("never", False, False),
        ("never", True, False),
    ],
)
async def test_notify_decides_whether_a_report_goes_out(
    make_harness: HarnessFactory, notify: str, fail: bool, reported: bool
) -> None:
    harness = await make_harness([broadcast(notify=notify, text="x")]).start()
    if fail:
        harness.sandbox.inject("send", status=500, code="WHATSAPP_UPSTREAM_ERROR", times=1)
    await harness.advance_to(NINE)
    assert bool(harness.notes.texts) is reported


async def test_unresolvable_targets_fail_the_run_with_the_reason(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness([broadcast(targets=["all"], text="x")]).start()
    harness.sandbox.mode = "disconnected"
    await harness.advance_to(NINE)
    [run] = harness.runs("morning")
    assert (run.outcome, run.total) == ("failed", 0)
    assert "WHATSAPP_INSTANCE_NOT_CONNECTED" in run.detail
    [report] = harness.notes.texts
    assert report.startswith("morning (09:00 UTC): failed: targets:")


# -- invite resets ---------------------------------------------------------------------------


async def test_invite_reset_stores_and_announces_new_links(make_harness: HarnessFactory) -> None:
    harness = await make_harness([invite_reset(targets=["vip", "sales"])]).start()
    before = {gid: g.invite_link for gid, g in harness.sandbox.groups.items()}
    await harness.advance(days=1)
    after = harness.sandbox.groups
    for gid in (VIP, SALES):
        assert after[gid].invite_link != before[gid]
        assert harness.store.last_invite_link(gid) == after[gid].invite_link
    assert after[RIO].invite_link == before[RIO]
    [text] = harness.notes.texts
    assert text.startswith("links (03:00 UTC): reset 2, failed 0, unknown 0")
    assert "links: new invite links" in text
    assert f"VIP Customers ({VIP}): {after[VIP].invite_link}" in text


@pytest.mark.parametrize(("notify", "announce"), [("never", True), ("never", False)])
async def test_announce_is_independent_of_notify(
    make_harness: HarnessFactory, notify: str, announce: bool
) -> None:
    harness = await make_harness([invite_reset(notify=notify, announce=announce)]).start()
    await harness.advance(days=1)
    if announce:
        [text] = harness.notes.texts
        assert text.startswith("links: new invite links")
    else:
        assert harness.notes.texts == []


@pytest.mark.parametrize(
    ("known_before", "applied", "state", "code"),
    [
        (True, True, "sent", ""),  # the reset happened: the link changed
        (True, False, "failed", "NOT_RESET"),  # it did not: the old link is still valid
        (False, True, "unknown", "OUTCOME_UNKNOWN"),  # no link known before: cannot tell
    ],
)
async def test_invite_reset_without_answer_reads_the_link_never_resets_again(
    make_harness: HarnessFactory, known_before: bool, applied: bool, state: str, code: str
) -> None:
    harness = await make_harness([invite_reset()]).start()
    if known_before:
        harness.store.record_invite_link(VIP, harness.sandbox.groups[VIP].invite_link)
    if applied:
        harness.sandbox.inject("invite", drop=True, times=1)  # applied, then no answer
    else:
        harness.sandbox.inject("invite", status=500, drop=True, times=1)  # dropped unapplied
    await harness.advance(days=1)
    resets = [r for r in harness.sandbox.requests if r.endpoint == "invite" and r.body["reset"]]
    reads = [r for r in harness.sandbox.requests if r.endpoint == "invite" and not r.body["reset"]]
    assert (len(resets), len(reads)) == (1, 1)
    [run] = harness.runs("links")
    [row] = harness.scheduler.ledger.deliveries(run.id)
    assert (row.state, row.code) == (state, code)
    current = harness.sandbox.groups[VIP].invite_link
    assert row.result == current
    assert harness.store.last_invite_link(VIP) == current


async def test_invite_reset_without_answer_and_failed_read_says_it_may_have_happened(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness([invite_reset()]).start()
    harness.store.record_invite_link(VIP, harness.sandbox.groups[VIP].invite_link)
    harness.sandbox.inject("invite", drop=True, times=1)  # applied, then no answer
    harness.sandbox.inject(
        "invite", status=409, code="WHATSAPP_INSTANCE_NOT_CONNECTED", times=1
    )  # and the read-back fails
    await harness.advance(days=1)
    resets = [r for r in harness.sandbox.requests if r.endpoint == "invite" and r.body["reset"]]
    assert len(resets) == 1  # never reset twice
    [run] = harness.runs("links")
    [row] = harness.scheduler.ledger.deliveries(run.id)
    assert row.state == "unknown"
    assert "The reset may have happened" in row.detail
    assert f"/invite {VIP} shows the current link" in row.detail
    assert "retry" not in row.detail.lower()
