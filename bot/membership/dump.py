"""Writing the live groups as a groups file (``grouppilot dump``).

The output is meant for git: the same live state always gives the same text
(groups by subject then id, numbers sorted, no timestamps), every group keeps
its ``id`` (so renaming it in WhatsApp does not lose it), admins and
superadmins go under ``admins`` and everyone else under ``members``. Reading
the output back with :func:`bot.membership.file.load_groups_file` gives
exactly the live state. Keys are made from subjects (``Sales Team`` ->
``sales-team``), unique with ``-2``, ``-3``… suffixes.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections.abc import Iterable
from typing import Final

from bot.membership.file import RESERVED_KEYS
from bot.whatsapp.client import WhatsAppClient
from bot.whatsapp.errors import InvalidNumber, NotFound, PilotError
from bot.whatsapp.identifiers import PhoneNumber
from bot.whatsapp.models import Group

__all__ = ["group_key", "read_live_groups", "render_groups_file", "toml_string"]

_KEY_LENGTH: Final = 40  # the most a key may have (bot.membership.file.KEY)
_NOT_KEY: Final = re.compile(r"[^a-z0-9]+")
_ADMIN_ROLES: Final = frozenset({"admin", "superadmin"})
# TOML's short escapes; every other control character is written as \uXXXX.
_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f"}
_ESCAPES["\r"] = "\\r"


async def read_live_groups(
    client: WhatsAppClient, *, only: str | None = None, concurrency: int = 4
) -> list[Group]:
    """Every group of the number (or those whose subject contains ``only``, any case), read in full.

    ``concurrency`` readers share the work, so no more requests are in flight
    than the client lets through at once (its caps hold them in any case). A
    group gone between the list and its read is left out; any other API error
    stops the reading and is raised.
    """
    summaries = await client.list_groups()
    if only is not None:
        needle = only.casefold()
        summaries = [s for s in summaries if needle in s.name.casefold()]
    pending = iter(summaries)
    groups: list[Group] = []
    failures: list[PilotError] = []

    async def reader() -> None:
        for summary in pending:  # one iterator shared by the readers: each group read once
            if failures:
                return
            try:
                groups.append(await client.get_group(summary.id))
            except NotFound:
                continue
            except PilotError as exc:
                failures.append(exc)
                return

    await asyncio.gather(*(reader() for _ in range(max(1, min(concurrency, len(summaries))))))
    if failures:
        raise failures[0]
    return groups


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string: quotes, backslashes and control characters escaped.

    A lone surrogate (possible in a decoded JSON string, impossible in TOML or
    UTF-8) becomes U+FFFD.
    """
    out = ['"']
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif unicodedata.category(char) == "Cc":  # U+0000-001F, U+007F-009F
            out.append(f"\\u{ord(char):04X}")
        elif unicodedata.category(char) == "Cs":
            out.append("\ufffd")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def group_key(subject: str, taken: set[str]) -> str:
    """A key for ``subject`` under the key rule, not in ``taken`` (nor reserved); adds it."""
    ascii_text = unicodedata.normalize("NFKD", subject).encode("ascii", "ignore").decode()
    base = _NOT_KEY.sub("-", ascii_text.lower()).strip("-")[:_KEY_LENGTH].strip("-") or "group"
    key, number = base, 1
    while key in taken or key in RESERVED_KEYS:
        number += 1
        suffix = f"-{number}"
        key = base[: _KEY_LENGTH - len(suffix)].rstrip("-") + suffix
    taken.add(key)
    return key


def render_groups_file(groups: Iterable[Group], *, owner: str = "") -> str:
    """The groups file that declares exactly ``groups`` as they are live.

    ``owner`` (E.164 digits of the API key's number, if known) is only named in
    the header: it stays listed where it is a member, as the file is the truth.
    """
    lines = [
        "# Groups as code: written by `grouppilot dump` (docs/groups-as-code.md).",
        "# Edit, then `grouppilot plan` to see the changes and `grouppilot apply` to make them.",
        "# admins are members too: list each number once, under admins or members.",
    ]
    if owner:
        lines.append(f"# +{owner} owns the API key: plan and apply never remove it.")
    taken: set[str] = set()
    for group in sorted(groups, key=lambda g: (g.subject, g.id)):
        lines.append("")
        lines.append(f"[groups.{group_key(group.subject, taken)}]")
        lines.append(f"id = {toml_string(group.id)}")
        lines.append(f"subject = {toml_string(group.subject)}")
        admins = {p.number for p in group.participants if p.role in _ADMIN_ROLES}
        members = {p.number for p in group.participants} - admins
        lines.extend(_numbers("admins", admins))
        lines.extend(_numbers("members", members))
    return "\n".join(lines) + "\n"


def _numbers(name: str, numbers: set[str]) -> list[str]:
    """``name = [...]``, one number a line; one the file could not read back is a comment."""
    if not numbers:
        return [f"{name} = []"]
    lines = [f"{name} = ["]
    for digits in sorted(numbers):
        if _is_number(digits):
            lines.append(f'  "+{digits}",')
        else:  # e.g. a participant id the API gave without a phone number
            lines.append(f"  # {toml_string(digits)} is not a phone number: left out")
    lines.append("]")
    return lines


def _is_number(digits: str) -> bool:
    """Whether the loader reads ``+digits`` back as these digits."""
    try:
        return PhoneNumber.parse(f"+{digits}", "US").digits == digits  # "+": no region used
    except InvalidNumber:
        return False
