"""``grouppilot apply``'s run, after the config and the groups file were read (bot/cli.py).

In order: end an apply a crash left open (its steps of unknown outcome are
not repeated: the plan below reads their groups again), compute the plan
from the live groups, print it, refuse it when the removal guard says so,
ask ``Apply these changes? [y/N]`` on a terminal (``--yes`` skips the
question; without a terminal and without ``--yes`` nothing is applied),
apply it and print each step's outcome and what to do next.

The plan goes to stdout with the results; the question, refusals and
failures to stderr.
"""

from __future__ import annotations

import os
import sys

from bot.config import Settings
from bot.membership.apply import Applier
from bot.membership.model import GroupsFile
from bot.membership.plan import compute_plan, format_plan, owner_digits
from bot.runtime import client_from_settings
from bot.services import explain
from bot.store import Store
from bot.whatsapp.errors import InvalidNumber, PilotError

__all__ = ["APPLY_PROMPT", "apply_file"]

APPLY_PROMPT = "Apply these changes? [y/N] "
BY = "local operator"  # who the history and the audit log name (like exec's local operator)
EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


async def apply_file(
    settings: Settings, declared: GroupsFile, only: str | None, yes: bool, allow_removals: int
) -> int:
    """Plan, show, confirm and apply; the exit code."""
    try:
        owner = owner_digits(settings.membership.owner, settings.pilot.default_country)
    except InvalidNumber as exc:
        _err(f"grouppilot apply: membership.owner: {exc}.")
        return EXIT_CONFIG
    with Store(settings.storage.path) as store:
        async with client_from_settings(settings.pilot) as client:
            applier = Applier(
                store,
                client,
                owner=owner,
                max_removal_share=settings.membership.max_removal_share,
            )
            unknown = applier.resume(by=BY)
            if unknown:
                _err(
                    f"An earlier apply was interrupted: {len(unknown)} step(s) of unknown "
                    "outcome; their groups are read again and nothing is repeated."
                )
            try:
                plan = await compute_plan(client, declared, only=only, owner=owner)
            except ValueError as exc:
                _err(f"grouppilot apply: {exc}")
                return EXIT_CONFIG
            except PilotError as exc:
                _err(f"grouppilot apply: {explain(exc)}")
                return EXIT_FAILED
            print(format_plan(plan), flush=True)
            if not plan.has_changes:
                return EXIT_OK
            refused = applier.refusal(plan, allow_removals)
            if refused:
                await applier.apply(plan, by=BY, allow_removals=allow_removals)  # recorded
                _err(refused)
                return EXIT_FAILED
            if not yes and not await _confirmed():
                return EXIT_FAILED
            report = await applier.apply(plan, by=BY, allow_removals=allow_removals)
            print("\n".join(report.lines()), flush=True)
            return EXIT_OK if report.ok else EXIT_FAILED


async def _confirmed() -> bool:
    from bot.console import LineReader, is_yes

    if not os.isatty(0):
        _err(
            "grouppilot apply: not applied: stdin is not a terminal to confirm on; "
            "pass --yes to apply."
        )
        return False
    print(APPLY_PROMPT, end="", file=sys.stderr, flush=True)
    answer = await LineReader(0).readline()
    if answer is None:
        print(file=sys.stderr, flush=True)
    if is_yes(answer):
        return True
    _err("Not applied: nothing was changed.")
    return False


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
