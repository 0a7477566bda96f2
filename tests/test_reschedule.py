"""/reschedule and /edit: a chat job changed in place, its history kept; config jobs refused.

The real command layer with a real scheduler (fake clock and timer), real
store file, real client to the sandbox (in process). The harness starts on
Friday 2026-11-27 12:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import ADMIN
from scheduler_kit import RIO, SALES, Harness, HarnessFactory, broadcast, invite_reset

from bot.commands.types import Pending, Reply


@pytest.fixture
async def bot(make_harness: HarnessFactory) -> Harness:
    return await make_harness([broadcast(), invite_reset()]).start()


async def ask(bot: Harness, text: str) -> Pending:
    outcome = await bot.layer.execute(text, ADMIN)
    assert isinstance(outcome, Pending), getattr(outcome, "text", outcome)
    return outcome


async def agree(bot: Harness, text: str) -> Reply:
    reply = await bot.layer.confirm((await ask(bot, text)).token, ADMIN)
    assert reply.ok, reply.text
    return reply


async def refused(bot: Harness, text: str) -> Reply:
    outcome = await bot.layer.execute(text, ADMIN)
    assert isinstance(outcome, Reply), f"unexpected question: {getattr(outcome, 'question', '')}"
    assert not outcome.ok
    return outcome


async def test_reschedule_keeps_the_job_and_its_history(bot: Harness) -> None:
    await agree(bot, "/schedule promo every 1h send sales Hi")
    await bot.advance(hours=1)
    assert len(bot.runs("promo")) == 1
    created = bot.scheduler.book.get("promo")

    question = await ask(bot, '/reschedule promo "0 10 * * fri"')
    assert question.question.splitlines()[:3] == [
        "Reschedule promo (broadcast):",
        "old: every 1h in UTC",
        'new: cron "0 10 * * fri" in UTC',
    ]
    assert (
        "Next runs: Fri 2026-12-04 10:00 +00:00, Fri 2026-12-11 10:00 +00:00, "
        "Fri 2026-12-18 10:00 +00:00."
    ) in question.question
    reply = await bot.layer.confirm(question.token, ADMIN)

    assert reply.ok
    assert reply.text.startswith("Changed promo; its history is kept. Next runs: Fri 2026-12-04")
    changed = bot.scheduler.book.get("promo")
    assert changed is not None and created is not None
    assert changed.config.cron == "0 10 * * fri" and changed.config.every is None
    assert (changed.created_by, changed.created_at) == (created.created_by, created.created_at)
    assert bot.timer.when("promo") == datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    await bot.advance_to(datetime(2026, 12, 4, 10, 0, tzinfo=UTC))
    scheduled = [run.scheduled for run in bot.runs("promo")]
    assert scheduled == [
        datetime(2026, 11, 27, 13, 0, tzinfo=UTC),
        datetime(2026, 12, 4, 10, 0, tzinfo=UTC),
    ]
    assert [text for text in bot.texts_to(SALES) if text == "Hi"] == ["Hi", "Hi"]


async def test_reschedule_keeps_the_job_zone(bot: Harness) -> None:
    await agree(bot, "/schedule promo tz=America/Sao_Paulo every 1h send sales Hi")
    question = await ask(bot, '/reschedule promo "0 10 * * fri"')
    assert "Next runs: Fri 2026-11-27 10:00 -03:00," in question.question


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ('/reschedule morning "0 10 * * *"', "'morning' is a config job: reschedule it in"),
        ("/reschedule promo every 5m", "every 5m runs more often than the minimum for a broadcast"),
        ('/reschedule promo "0 25 * * *"', "cron"),
        ("/reschedule promo at 2026-11-27T11:00", "has already passed"),
        ("/reschedule promo every 1h send sales Hi", "only a schedule goes after the name"),
        ("/reschedule promo soon", "quote a cron expression"),
        ("/reschedule nope every 1h", "No job called 'nope'"),
    ],
)  # fmt: skip
async def test_a_bad_reschedule_is_refused_and_changes_nothing(
    bot: Harness, command: str, problem: str
) -> None:
    await agree(bot, "/schedule promo every 1h send sales Hi")
    before = bot.scheduler.book.get("promo")
    reply = await refused(bot, command)
    assert problem in reply.text
    assert bot.scheduler.book.get("promo") == before
    assert bot.timer.when("promo") == datetime(2026, 11, 27, 13, 0, tzinfo=UTC)


async def test_edit_text_shows_old_and_new_and_applies_to_the_next_run(bot: Harness) -> None:
    await agree(bot, "/schedule promo every 1h send sales Hi")
    await bot.advance(hours=1)
    question = await ask(bot, "/edit promo text Hello, {group}!")
    assert question.question.splitlines()[:3] == [
        "Edit the text of promo:",
        "old: Hi",
        "new: Hello, {group}!",
    ]
    assert "Next runs: Fri 2026-11-27 14:00 +00:00," in question.question  # rhythm kept
    assert (await bot.layer.confirm(question.token, ADMIN)).ok
    await bot.advance(hours=1)
    assert bot.texts_to(SALES)[-2:] == ["Hi", "Hello, Sales Team!"]
    assert len(bot.runs("promo")) == 2


async def test_edit_options(bot: Harness) -> None:
    await agree(bot, "/schedule promo every 1h send sales Hi")
    question = await ask(bot, "/edit promo gap=5s pin=yes tz=America/Sao_Paulo")
    assert "old options: none" in question.question
    assert "new options: gap=5s pin=yes (zone UTC -> America/Sao_Paulo)" in question.question
    assert (await bot.layer.confirm(question.token, ADMIN)).ok
    definition = bot.scheduler.book.get("promo")
    assert definition is not None
    config = definition.config
    assert (config.gap, config.pin, config.timezone) == (
        timedelta(seconds=5),
        True,
        "America/Sao_Paulo",
    )


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ("/edit morning text Hi", "'morning' is a config job: edit it in the config file"),
        ("/edit promo color=red", "unknown option 'color='"),
        ("/edit promo gap=5s loud", "write text <text…> or key=value options"),
        ("/edit promo text", "give the new text"),
        ("/edit promo text Hi {nome}", "unknown placeholder {nome}"),
        ("/edit promo until=2026-11-01", "until=2026-11-01 has already passed"),
        ("/edit reset text Hi", "an invite reset has no text"),
        ("/edit reset pin=yes", "pin= is only for a broadcast"),
    ],
)
async def test_a_bad_edit_is_refused_and_changes_nothing(
    bot: Harness, command: str, problem: str
) -> None:
    await agree(bot, "/schedule promo every 1h send sales Hi")
    await agree(bot, "/schedule reset every 1d reset-invite vip")
    before = bot.scheduler.book.get("promo"), bot.scheduler.book.get("reset")
    reply = await refused(bot, command)
    assert problem in reply.text
    assert (bot.scheduler.book.get("promo"), bot.scheduler.book.get("reset")) == before


async def test_a_running_job_finishes_as_it_began(make_harness: HarnessFactory) -> None:
    bot = await make_harness([broadcast()]).start()
    await agree(bot, "/schedule promo gap=1s every 1h send all-sales Old")
    bot.sleep.hold_after = 0  # the run stops at its first gap, between the two groups
    await bot.fire_next()
    await bot.until(lambda: len(bot.texts_to(SALES)) + len(bot.texts_to(RIO)) == 1)

    question = await ask(bot, "/edit promo text New")
    assert "A run is in progress: the change applies from the next run." in question.question
    reply = await bot.layer.confirm(question.token, ADMIN)
    assert "The run in progress finishes as it began." in reply.text
    bot.sleep.gate.set()
    await bot.idle()
    assert bot.texts_to(SALES) + bot.texts_to(RIO) == ["Old", "Old"]

    await bot.advance(hours=1)
    assert bot.texts_to(SALES)[-1] == "New" and bot.texts_to(RIO)[-1] == "New"
    assert len(bot.runs("promo")) == 2
