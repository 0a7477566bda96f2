"""/schedule options (key=value), its confirmation with the next three runs, scheduler.min_interval.

The real command layer with a real scheduler (fake clock and timer), real
store file, real client to the sandbox (in process). The harness starts on
Friday 2026-11-27 12:00 UTC (09:00 in America/Sao_Paulo, UTC-3); the
example config's scheduler.timezone is UTC and its min_interval 15m.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from conftest import ADMIN
from scheduler_kit import SALES, Harness, HarnessFactory, broadcast

from bot.commands.types import Pending, Reply


@pytest.fixture
async def bot(make_harness: HarnessFactory) -> Harness:
    return await make_harness([broadcast()]).start()


async def ask(bot: Harness, text: str) -> Pending:
    outcome = await bot.layer.execute(text, ADMIN)
    assert isinstance(outcome, Pending), getattr(outcome, "text", outcome)
    return outcome


async def refused(bot: Harness, text: str) -> Reply:
    outcome = await bot.layer.execute(text, ADMIN)
    assert isinstance(outcome, Reply), f"unexpected question: {getattr(outcome, 'question', '')}"
    assert not outcome.ok
    return outcome


async def test_tz_runs_a_cron_at_its_local_time(bot: Harness) -> None:
    question = await ask(bot, '/schedule promo tz=America/Sao_Paulo "0 10 * * fri" send sales Hi')
    assert 'cron "0 10 * * fri" in America/Sao_Paulo' in question.question
    assert (
        "Next runs: Fri 2026-11-27 10:00 -03:00, Fri 2026-12-04 10:00 -03:00, "
        "Fri 2026-12-11 10:00 -03:00."
    ) in question.question
    assert bot.scheduler.book.get("promo") is None  # nothing until Confirm

    reply = await bot.layer.confirm(question.token, ADMIN)

    assert reply.ok, reply.text
    assert reply.text.startswith('Scheduled promo: cron "0 10 * * fri" (America/Sao_Paulo)')
    await bot.advance(hours=2)
    runs = bot.runs("promo")
    assert [run.scheduled for run in runs] == [datetime(2026, 11, 27, 13, 0, tzinfo=UTC)]
    assert bot.texts_to(SALES) == ["Hi"]


async def test_options_are_stored_and_shown(bot: Harness) -> None:
    question = await ask(
        bot,
        "/schedule promo gap=5s jitter=1m pin=yes notify=failures until=2026-12-31 "
        'skip=2026-12-04,2026-12-25 pause_on_failure=3 "0 10 * * fri" send sales Hello {group}',
    )
    text = question.question
    assert text.splitlines()[0] == (
        'Schedule promo (broadcast): send to sales (1 group now), cron "0 10 * * fri" in UTC.'
    )
    assert (
        "options: gap=5s jitter=1m pin=yes notify=failures until=2026-12-31 "
        "skip=2026-12-04,2026-12-25 pause_on_failure=3"
    ) in text
    assert "text: Hello {group}" in text
    # 2026-12-04 is a skip date: the preview steps over it
    assert (
        "Next runs: Fri 2026-12-11 10:00 +00:00, Fri 2026-12-18 10:00 +00:00, Fri 2026-12-25"
    ) not in text
    assert "Next runs: Fri 2026-12-11 10:00 +00:00, Fri 2026-12-18 10:00 +00:00." in text

    assert (await bot.layer.confirm(question.token, ADMIN)).ok
    definition = bot.scheduler.book.get("promo")
    assert definition is not None
    config = definition.config
    assert (config.gap, config.jitter, config.pin, config.notify) == (
        timedelta(seconds=5),
        timedelta(minutes=1),
        True,
        "failures",
    )
    assert config.until == date(2026, 12, 31)
    assert config.skip_dates == [date(2026, 12, 4), date(2026, 12, 25)]
    assert config.pause_on_failure == 3


async def test_an_invite_reset_takes_options_but_pin(bot: Harness) -> None:
    question = await ask(bot, "/schedule links notify=never every 1d reset-invite vip")
    assert "options: notify=never" in question.question
    assert (await bot.layer.confirm(question.token, ADMIN)).ok


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ("color=red", "unknown option 'color=': the options are tz=, gap=,"),
        ("gap=5s gap=6s", "gap= is given twice"),
        ("pin=maybe", "pin= takes yes or no, not 'maybe'"),
        ("tz=", "tz= needs a value"),
        ("tz=Mars/Olympus", "tz: unknown time zone 'Mars/Olympus'"),
        ("gap=5x", "gap:"),
        ("gap=2h", "gap: at most 1h"),
        ("jitter=soon", "jitter:"),
        ("notify=loudly", "notify:"),
        ("until=2026-13-01", "until: expected a date such as 2026-12-25"),
        ("until=2026-11-26", "until=2026-11-26 has already passed"),
        ("skip=2026-12-25,christmas", "skip: expected a date such as 2026-12-25"),
        ("pause_on_failure=0", "pause_on_failure:"),
        ("pause_on_failure=many", "pause_on_failure:"),
    ],
)
async def test_a_bad_option_is_refused_and_nothing_stored(
    bot: Harness, options: str, problem: str
) -> None:
    reply = await refused(bot, f"/schedule promo {options} every 1h send sales Hi")
    assert reply.text.startswith("Not scheduled: "), reply.text
    assert problem in reply.text
    assert bot.scheduler.book.get("promo") is None


async def test_pin_is_refused_for_an_invite_reset(bot: Harness) -> None:
    reply = await refused(bot, "/schedule links pin=no every 1d reset-invite vip")
    assert reply.text == (
        "Not scheduled: pin= is only for a broadcast (an invite reset sends nothing to pin)"
    )
    assert bot.scheduler.book.get("links") is None


@pytest.mark.parametrize(
    ("when", "problem"),
    [
        ("every 10m", "every 10m runs more often than the minimum for a broadcast, 15m"),
        ('"*/5 * * * *"', 'cron "*/5 * * * *" runs 5m apart, more often than the minimum'),
        ('"0,10 9 * * *"', 'cron "0,10 9 * * *" runs 10m apart'),
    ],
)
async def test_a_broadcast_faster_than_min_interval_is_refused(
    bot: Harness, when: str, problem: str
) -> None:
    reply = await refused(bot, f"/schedule promo {when} send sales Hi")
    assert problem in reply.text
    assert "(scheduler.min_interval)" in reply.text
    assert bot.scheduler.book.get("promo") is None


@pytest.mark.parametrize(
    "command",
    [
        "/schedule promo every 15m send sales Hi",  # exactly the minimum
        '/schedule promo "0,15,30,45 * * * *" send sales Hi',
        "/schedule links every 5m reset-invite vip",  # invite resets send no message
    ],
)
async def test_a_schedule_at_or_above_min_interval_is_asked(bot: Harness, command: str) -> None:
    await ask(bot, command)


async def test_cancel_stores_nothing(bot: Harness) -> None:
    question = await ask(bot, "/schedule promo every 1h send sales Hi")
    await bot.layer.cancel(question.token, ADMIN)
    assert bot.scheduler.book.get("promo") is None
    assert "promo" not in bot.timer.armed


async def test_the_question_counts_an_every_job_from_now(bot: Harness) -> None:
    question = await ask(bot, "/schedule promo tz=Asia/Kolkata every 1d send sales Hi")
    assert (
        "Next runs: Sat 2026-11-28 17:30 +05:30, Sun 2026-11-29 17:30 +05:30, "
        "Mon 2026-11-30 17:30 +05:30."
    ) in question.question
