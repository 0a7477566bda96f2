"""/run: what it asks before a manual run, ``--dry-run``, and one report on the console.

- an invite reset asks first, like ``/invite … reset``, naming the groups whose links die;
- a broadcast's question names the resolved groups (the first 10, then a count) and the
  first group's message, rendered;
- ``/run <job> --dry-run`` shows each group's content (the first 20, then a count),
  sends nothing, resets nothing and records no run;
- on the console, a manual run's report is printed once (it used to be printed by the
  console's notifier and then again as the command's reply).

The real command layer and scheduler (fake clock and timer, real SQLite file) against
the in-process sandbox, here with 30 groups; the console test runs the real process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ADMIN, clean_env
from scheduler_kit import SALES, VIP, Harness, HarnessFactory, broadcast, invite_reset

from bot.commands.types import Pending, Reply
from bot.sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent
IMAGE = "https://example.com/offer.png"
GROUPS = 30  # the sandbox's 4 demo groups and 26 more


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(groups=GROUPS)


def sends(bot: Harness) -> list[Any]:
    return [r for r in bot.sandbox.requests if r.endpoint == "send"]


def links(bot: Harness) -> dict[str, str]:
    return {gid: group.invite_link for gid, group in bot.sandbox.groups.items()}


async def ask(bot: Harness, text: str) -> Pending:
    outcome = await bot.layer.execute(text, ADMIN)
    assert isinstance(outcome, Pending), outcome
    return outcome


async def answer(bot: Harness, text: str) -> Reply:
    outcome = await bot.layer.execute(text, ADMIN)
    assert isinstance(outcome, Reply), outcome
    return outcome


# -- the question -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("targets", "named"),
    [
        (["vip"], "1 group: VIP Customers."),
        (["all-sales"], "2 groups: Sales Team, Sales Rio."),
    ],
)
async def test_an_invite_reset_asks_first_naming_the_groups(
    make_harness: HarnessFactory, targets: list[str], named: str
) -> None:
    bot = await make_harness([invite_reset(targets=targets)]).start()
    before = links(bot)
    question = await ask(bot, "/run links")
    assert question.question == (
        f"Run links now (a manual run)? It resets the invite links of {named} "
        "Their current links will stop working."
    )
    assert links(bot) == before  # nothing before Confirm
    declined = await bot.layer.cancel(question.token, ADMIN)
    assert declined.ok
    assert links(bot) == before and bot.runs("links") == []
    confirmed = await bot.layer.confirm((await ask(bot, "/run links")).token, ADMIN)
    assert confirmed.ok, confirmed.text
    assert links(bot) != before
    assert [run.trigger for run in bot.runs("links")] == ["manual"]


@pytest.mark.parametrize(
    ("job", "example"),
    [
        (broadcast(targets=["all"], text="Oi {group}, {date:%d/%m}"), "Oi Sales Team, 27/11"),
        (
            {**broadcast(targets=["all"], media=IMAGE, media_type="image", caption="{group}!")}
            | {"text": None},
            f"image {IMAGE}\ncaption: Sales Team!",
        ),
        (
            {
                **broadcast(
                    targets=["all"],
                    template="boas_vindas",
                    variables={"nome": "{group}", "grupo": "g", "cupom": "OFF-{date:%d%m}"},
                ),
                "text": None,
            },
            "template boas_vindas with nome=Sales Team, grupo=g, cupom=OFF-2711",
        ),
    ],
)
async def test_a_broadcast_names_its_groups_and_shows_one_rendered_example(
    make_harness: HarnessFactory, job: dict[str, Any], example: str
) -> None:
    job = {key: value for key, value in job.items() if value is not None}
    bot = await make_harness([job]).start()
    question = (await ask(bot, "/run morning")).question
    first, named, shown = question.split("\n", 2)
    assert first.startswith(f"Run morning now (a manual run)? It sends to {GROUPS} groups: ")
    assert first.endswith(f" and {GROUPS - 10} more.")
    assert first.count(",") == 9  # ten names
    assert "{group}" not in question and "{date" not in question
    assert named == "Example, as Sales Team gets it:"
    assert shown == example
    assert sends(bot) == []


async def test_targets_that_do_not_resolve_are_refused_before_asking(
    make_harness: HarnessFactory,
) -> None:
    bot = await make_harness([broadcast(targets=["all"], text="x")]).start()
    bot.sandbox.mode = "disconnected"
    for command, refusal in (("/run morning", "Not run"), ("/run morning --dry-run", "Dry run")):
        reply = await answer(bot, command)
        assert not reply.ok
        assert reply.text.startswith(f"{refusal}: targets: ")
        assert "WHATSAPP_INSTANCE_NOT_CONNECTED" in reply.text
    assert bot.runs("morning") == []


# -- --dry-run ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("job", "first_group"),
    [
        (broadcast(targets=["all-sales"], text="Oi {group}\nbom {weekday}"),
         ["Sales Team (120363123456789012@g.us):", "  Oi Sales Team", "  bom Friday"]),
        (invite_reset(name="morning", targets=["all-sales"]),
         ["Sales Team (120363123456789012@g.us):",
          "  the invite link would be reset (the current one stops working)"]),
    ],
)  # fmt: skip
async def test_dry_run_shows_each_group_and_does_nothing(
    make_harness: HarnessFactory, job: dict[str, Any], first_group: list[str]
) -> None:
    bot = await make_harness([job]).start()
    before = links(bot)
    reply = await answer(bot, "/run morning --dry-run")
    assert reply.ok, reply.text
    lines = reply.text.splitlines()
    assert lines[0].startswith("Dry run of morning: nothing is sent and no run is recorded.")
    assert lines[0].endswith(" 2 groups:")
    assert lines[1 : 1 + len(first_group)] == first_group
    assert any(line.startswith("Sales Rio (") for line in lines)
    assert sends(bot) == [] and links(bot) == before
    assert bot.runs("morning") == []


@pytest.mark.parametrize("flag", ["--dry-run", "--DRY-RUN", "\u2014dry-run"])
async def test_dry_run_is_bounded_to_twenty_groups(make_harness: HarnessFactory, flag: str) -> None:
    bot = await make_harness([broadcast(targets=["all"], text="Hi {group}")]).start()
    reply = await answer(bot, f"/run morning {flag}")
    lines = reply.text.splitlines()
    assert sum(1 for line in lines if line.startswith("  Hi ")) == 20
    assert lines[-1] == f"… and {GROUPS - 20} more groups."
    assert sends(bot) == []


@pytest.mark.parametrize("word", ["--dryrun", "now", "-n"])
async def test_another_word_after_the_job_is_refused(
    make_harness: HarnessFactory, word: str
) -> None:
    bot = await make_harness([broadcast(targets=["sales"], text="x")]).start()
    reply = await answer(bot, f"/run morning {word}")
    assert not reply.ok
    assert reply.text.startswith("/run takes a job name and optionally --dry-run, not ")
    assert sends(bot) == [] and bot.runs("morning") == []


async def test_dry_run_of_a_wrong_template_says_the_run_would_be_refused(
    make_harness: HarnessFactory,
) -> None:
    job = {**broadcast(targets=["sales"], template="no_such_template"), "text": None}
    bot = await make_harness([{k: v for k, v in job.items() if v is not None}]).start()
    reply = await answer(bot, "/run morning --dry-run")
    assert not reply.ok
    assert reply.text.startswith("Dry run: a run would be refused: ")


# -- the console prints the report once ------------------------------------------------------


def console_config(tmp_path: Path, notify: str) -> Path:
    config = tmp_path / "grouppilot.toml"
    db = tmp_path / "data" / "grouppilot.db"
    config.write_text(
        "[pilot]\n"
        'base_url = "sandbox"\n'
        "max_rps = 100\n"
        "[storage]\n"
        f"path = {json.dumps(str(db))}\n"
        "[groups]\n"
        f'sales = "{SALES}"\n'
        f'vip = "{VIP}"\n'
        "[[jobs]]\n"
        'name = "hello"\n'
        'kind = "broadcast"\n'
        'every = "1d"\n'
        'targets = ["sales"]\n'
        'text = "Hi {group}"\n'
        f'notify = "{notify}"\n'
        "[[jobs]]\n"
        'name = "links"\n'
        'kind = "invite_reset"\n'
        'every = "1d"\n'
        'targets = ["vip"]\n'
        f'notify = "{notify}"\n'
    )
    return config


@pytest.mark.parametrize("notify", ["always", "never"])
async def test_the_console_prints_a_manual_run_report_once(tmp_path: Path, notify: str) -> None:
    config = console_config(tmp_path, notify)
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
        input="/run hello\ny\n/run links\ny\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=clean_env(),
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.count("manual run by local operator): queued 1, failed 0, unknown 0") == 1
    assert out.count("manual run by local operator): reset 1, failed 0, unknown 0") == 1
    assert "(report sent to the notify chats)" not in out
    assert "It resets the invite links of 1 group: VIP Customers." in out
