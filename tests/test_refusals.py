"""Every refusal a user can get shares one base, and becomes a reply in the command layer only.

The tree is drawn in bot/services/_refusal.py. A refusal raised anywhere
below a handler, also inside an action run after Confirm, is answered with
its own sentence by the command layer's guard, never as an internal error.
"""

from __future__ import annotations

import pytest
from conftest import ADMIN
from scheduler_kit import Harness, HarnessFactory, broadcast

from bot.commands.parsing import ParseError
from bot.commands.types import Pending
from bot.services import Refusal, ResolveError
from jobs.definitions import DefinitionError
from jobs.scheduler import JobNotFound, SchedulerNotRunning, StorageRefused


@pytest.mark.parametrize(
    ("refusal", "builtin"),
    [
        (ParseError, ValueError),
        (ResolveError, LookupError),
        (JobNotFound, LookupError),
        (DefinitionError, ValueError),
        (SchedulerNotRunning, RuntimeError),
        (StorageRefused, RuntimeError),
    ],
)
def test_every_refusal_is_a_refusal_and_keeps_its_builtin_base(
    refusal: type[Exception], builtin: type[Exception]
) -> None:
    assert issubclass(refusal, Refusal)
    assert issubclass(refusal, builtin)


@pytest.mark.parametrize(
    ("known", "sentence"),
    [
        (["morning", "links"], "No job called 'mornin'. Did you mean morning?"),
        (["links"], "No job called 'mornin'. Jobs: links."),
        ([], "No job called 'mornin'. Jobs: none yet."),
    ],
)
def test_job_not_found_says_what_exists(known: list[str], sentence: str) -> None:
    error = JobNotFound("mornin", known)
    assert error.name == "mornin"
    assert str(error) == sentence


async def test_a_confirmed_run_of_a_job_removed_meanwhile_is_refused_in_one_sentence(
    make_harness: HarnessFactory,
) -> None:
    bot: Harness = await make_harness([broadcast()]).start()
    scheduled = await bot.layer.execute("/schedule promo every 1h send sales Hi", ADMIN)
    assert isinstance(scheduled, Pending)  # /schedule asks to confirm
    assert (await bot.layer.confirm(scheduled.token, ADMIN)).ok
    run = await bot.layer.execute("/run promo", ADMIN)
    assert isinstance(run, Pending)
    remove = await bot.layer.execute("/unschedule promo", ADMIN)
    assert isinstance(remove, Pending)
    assert (await bot.layer.confirm(remove.token, ADMIN)).ok

    reply = await bot.layer.confirm(run.token, ADMIN)

    assert not reply.ok
    assert reply.text == "No job called 'promo'. Jobs: morning."
    assert "promo" not in bot.timer.armed
