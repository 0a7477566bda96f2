"""The chat job examples of docs/commands.md work as written against the sandbox.

The command table's example column is read from the page itself, and the job
commands' examples run in the table's order (the `/schedule` example makes the
job that `/reschedule`, `/edit` and `/unschedule` then change) on a running
scheduler with the example config's aliases, targets and job names.
"""

from __future__ import annotations

import re
from pathlib import Path

from conftest import ADMIN
from scheduler_kit import Harness, HarnessFactory, broadcast, invite_reset

from bot.commands.types import Pending, Reply

COMMANDS_PAGE = Path(__file__).resolve().parent.parent / "docs" / "commands.md"
JOB_COMMANDS = ("/schedule", "/reschedule", "/edit", "/run", "/pause", "/resume", "/unschedule")
ROW = re.compile(r"^\| `(/[a-z]+)[^|]*\| [^|]+ \| `([^`]+)` \|")


def table_examples() -> list[str]:
    examples: list[str] = []
    for line in COMMANDS_PAGE.read_text(encoding="utf-8").splitlines():
        found = ROW.match(line)
        if found and found.group(1) in JOB_COMMANDS:
            examples.append(found.group(2))
    return examples


async def answer(bot: Harness, text: str) -> Reply:
    outcome = await bot.layer.execute(text, ADMIN)
    if isinstance(outcome, Pending):
        outcome = await bot.layer.confirm(outcome.token, ADMIN)
    return outcome


def test_the_page_has_the_job_examples() -> None:
    names = {example.split()[0] for example in table_examples()}
    assert names == set(JOB_COMMANDS)


async def test_every_job_example_works_as_written(make_harness: HarnessFactory) -> None:
    bot = await make_harness(
        [
            broadcast("morning-sales", timezone="America/Sao_Paulo"),
            invite_reset("nightly-invite-reset", timezone="America/Sao_Paulo"),
        ]
    ).start()
    examples = table_examples()
    for example in examples:
        reply = await answer(bot, example)
        assert reply.ok, f"{example} -> {reply.text}"
        await bot.idle()
    chat_jobs = {d.name for d in bot.scheduler.book.all() if d.source == "chat"}
    assert chat_jobs == {"vip-reset", "nightly-drift"}  # promo was made, changed, then removed
