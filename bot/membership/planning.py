"""A plan from the configured groups file, for the chat command and the drift job.

``grouppilot plan`` reads the file itself (its exit codes tell a bad file from
an API error); ``/plan`` and the ``drift`` job only need one sentence when
the plan cannot be made, and a reply short enough for a chat.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Final

from bot.membership.file import load_groups_file
from bot.membership.model import GroupsFile, GroupsFileError, Plan
from bot.membership.plan import compute_plan, owner_digits
from bot.whatsapp import WhatsAppClient
from bot.whatsapp.errors import InvalidNumber

__all__ = ["CHAT_LINES", "NoPlan", "capped", "plan_from_file"]

CHAT_LINES: Final = 60  # a plan longer than this is cut in chat (Telegram caps a message)
PROBLEMS_SHOWN: Final = 5


class NoPlan(Exception):
    """The plan cannot be made (no, missing or bad groups file; bad owner); ``str`` says why."""


async def plan_from_file(
    client: WhatsAppClient,
    path: str,
    *,
    default_country: str,
    owner: str = "",
    only: str | None = None,
) -> Plan:
    """Read ``path`` (membership.file, absolute) and plan it; NoPlan, ValueError or PilotError."""
    if not path:
        raise NoPlan("No groups file: set membership.file in the config.")
    try:
        owner_number = owner_digits(owner, default_country)
    except InvalidNumber as exc:
        raise NoPlan(f"membership.owner in the config: {exc}.") from None
    declared = await asyncio.to_thread(_load, path, default_country)
    return await compute_plan(client, declared, only=only, owner=owner_number)


def _load(path: str, default_country: str) -> GroupsFile:
    if not Path(path).is_file():
        raise NoPlan(f"The groups file {path} does not exist (membership.file).")
    try:
        return load_groups_file(path, default_country=default_country)
    except GroupsFileError as exc:
        shown = exc.problems[:PROBLEMS_SHOWN]
        more = len(exc.problems) - len(shown)
        lines = [f"The groups file {path} has {_problems(len(exc.problems))}:"]
        lines += [f"- {problem}" for problem in shown]
        if more:
            lines.append(f"… and {more} more (grouppilot plan lists them all)")
        raise NoPlan("\n".join(lines)) from None


def _problems(count: int) -> str:
    return "1 problem" if count == 1 else f"{count} problems"


def capped(text: str, limit: int = CHAT_LINES) -> str:
    """``text`` cut to its first ``limit`` lines, saying how many more there are."""
    lines = text.splitlines()
    if len(lines) <= limit:
        return text
    more = len(lines) - limit
    return "\n".join([*lines[:limit], f"… {more} more lines; run grouppilot plan for all"])
