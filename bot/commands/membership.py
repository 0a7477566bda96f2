"""/create, /add, /remove, /promote, /demote: who is in a group, per number.

The API can answer 2xx while some people were not added (privacy settings,
recently left, group full), so membership is always judged by reading the
group back; the per-person status the engine gave, when it gave one, only
explains why.

API calls are only those the reply needs: each command reads the group it
changes (before, where the reply compares, and after), so the group's name
comes from that read; the directory is asked for the list only to resolve a
name, and membership changes keep its cached names.

Numbers are read once, here, into `PhoneNumber`s; the client sends their
E.164 digits and the group read back is compared on the same digits.

When `/add` or `/create` leaves people out for a reason an invite link gets
around (privacy settings, left recently, a Meta number that only invites, or
no reason given), the reply becomes a question offering to send them the
group's invite link by WhatsApp message (`bot.commands.invites`).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from bot.commands.context import Confirmation, Context
from bot.commands.invites import offer_invites
from bot.commands.types import Reply
from bot.services import GroupRef, explain
from bot.whatsapp.errors import ApiError
from bot.whatsapp.identifiers import PhoneNumber, numbers_from_words, participant_digits
from bot.whatsapp.models import Group

# Per-person statuses reported by the engines under the API.
_REASONS = {
    "403": "their privacy settings do not allow it",
    "408": "they left the group recently",
    "409": "already a member",
    "500": "the group is full",
    "404": "not on WhatsApp",
}
_INVITE_HINT = "send them the invite link instead (/invite {group})"
# Creating a group gives no per-person statuses: who is missing afterwards is
# missing for one of these (the same list /add gets statuses for).
_CREATE_LEFT_OUT = (
    "Not in the group after creating it: likely their privacy settings, "
    "or the number is not on WhatsApp."
)
_ADD_LEFT_OUT = (
    "The API gave no reason: likely their privacy settings, or the number is not on WhatsApp."
)
# Left out for these, an invite link does not help: not on WhatsApp, group full.
_NOT_INVITABLE = {"404", "500", "409"}
_INVITE_ONLY = "META_GROUP_INVITE_ONLY"  # a Meta number adds nobody: invite links only


def person_statuses(raw: Mapping[str, Any]) -> dict[str, str]:
    """Per-number status codes (keyed by E.164 digits) from the API's per-person list."""
    statuses: dict[str, str] = {}
    for key in ("participants", "results", "data"):
        items = raw.get(key)
        if not isinstance(items, list):
            continue
        for item in items:
            if not isinstance(item, dict):
                continue
            number = item.get("wa_id") or item.get("number") or item.get("id") or item.get("jid")
            status = item.get("status") or item.get("code") or item.get("error")
            if number is not None and status is not None:
                statuses[participant_digits(str(number))] = str(status)
    return statuses


def _membership_lines(
    numbers: list[PhoneNumber],
    before: Group | None,
    after: Group,
    statuses: Mapping[str, str],
    group_word: str,
    unexplained: str = "",
) -> tuple[list[str], list[PhoneNumber], bool]:
    """One line per number, who could be sent the invite link, and whether anyone was left out.

    `unexplained`: the likely reasons, said after the hint (the line's start
    stays as /add has it), for someone left out without a status.
    """
    lines: list[str] = []
    invitable: list[PhoneNumber] = []
    left_out = False
    for number in numbers:
        status = statuses.get(number.digits, "")
        if before is not None and before.has(number):
            lines.append(f"{number}: already a member")
        elif after.has(number):
            lines.append(f"{number}: added")
        else:
            left_out = True
            if status not in _NOT_INVITABLE:
                invitable.append(number)
            reason = _REASONS.get(status, "")
            why = f" ({reason})" if reason and status != "409" else ""
            hint = _INVITE_HINT.format(group=shlex.quote(group_word))
            likely = f". {unexplained}" if unexplained and not reason else ""
            lines.append(f"{number}: not added{why}; {hint}{likely}")
    return lines, invitable, left_out


async def create(ctx: Context, args: list[str]) -> Reply | Confirmation:
    subject, raw_numbers = args[0], args[1:]
    numbers = numbers_from_words(raw_numbers, ctx.default_country)
    created = await ctx.client.create_group(subject, numbers)
    ctx.directory.invalidate()  # a new group: the cached list of names is out of date
    name = created.subject or subject
    head = f"Created {name} ({created.id})."
    if not numbers:
        return Reply(head)
    after = await ctx.client.get_group(created.id)
    lines, invitable, left_out = _membership_lines(
        numbers, None, after, {}, created.id, _CREATE_LEFT_OUT
    )
    report = [head, *lines]
    if invitable:
        label = GroupRef(created.id, name).label
        return await offer_invites(ctx, created.id, name, label, report, invitable)
    return Reply("\n".join(report), ok=not left_out)


async def add(ctx: Context, args: list[str]) -> Reply | Confirmation:
    numbers = numbers_from_words(args[1:], ctx.default_country)
    group = await ctx.directory.resolve_group(args[0], named=False)
    before = await ctx.client.get_group(group.id)
    try:
        result = await ctx.client.add_participants(group.id, numbers)
    except ApiError as exc:
        if exc.code != _INVITE_ONLY:
            raise
        return await _offer_instead_of_adding(ctx, group, before, numbers, exc)
    after = await ctx.client.get_group(group.id)
    lines, invitable, left_out = _membership_lines(
        numbers, before, after, person_statuses(result.raw), args[0], _ADD_LEFT_OUT
    )
    label = _label(group, after)
    summary = f"{label}:" if not left_out else f"{label} (some not added):"
    report = [summary, *lines]
    if invitable:
        name = after.subject or group.name
        return await offer_invites(ctx, group.id, name, label, report, invitable)
    return Reply("\n".join(report), ok=not left_out)


async def _offer_instead_of_adding(
    ctx: Context, group: GroupRef, before: Group, numbers: list[PhoneNumber], refusal: ApiError
) -> Reply | Confirmation:
    """A Meta number adds nobody: offer the invite link to everyone not yet a member."""
    label = _label(group, before)
    outsiders = [n for n in numbers if not before.has(n)]
    lines = [f"{n}: already a member" for n in numbers if before.has(n)]
    report = [f"{label}: nobody was added. {explain(refusal)}", *lines]
    if not outsiders:
        return Reply.failed("\n".join(report))
    name = before.subject or group.name
    return await offer_invites(ctx, group.id, name, label, report, outsiders)


async def remove(ctx: Context, args: list[str]) -> Confirmation | Reply:
    numbers = numbers_from_words(args[1:], ctx.default_country)
    group = await ctx.directory.resolve_group(args[0], named=False)
    current = await ctx.client.get_group(group.id)
    members = [n for n in numbers if current.has(n)]
    strangers = [n for n in numbers if not current.has(n)]
    if not members:
        listed = ", ".join(str(n) for n in strangers)
        return Reply.failed(f"Not a member of {_label(group, current)}: {listed}. Nothing to do.")

    async def do_remove() -> Reply:
        await ctx.client.remove_participants(group.id, members)
        after = await ctx.client.get_group(group.id)
        lines = [
            f"{n}: still a member (the API did not remove them)"
            if after.has(n)
            else f"{n}: removed"
            for n in members
        ]
        lines += [f"{n}: was not a member" for n in strangers]
        failed = any(after.has(n) for n in members)
        return Reply("\n".join([f"{_label(group, after)}:", *lines]), ok=not failed)

    who = ", ".join(str(n) for n in members)
    note = f" (not members: {', '.join(str(n) for n in strangers)})" if strangers else ""
    return ctx.ask(f"Remove {who} from {_label(group, current)}?{note}", do_remove)


async def promote(ctx: Context, args: list[str]) -> Reply:
    return await _set_role(ctx, args, "admin")


async def demote(ctx: Context, args: list[str]) -> Reply:
    return await _set_role(ctx, args, "member")


async def _set_role(ctx: Context, args: list[str], role: str) -> Reply:
    numbers = numbers_from_words(args[1:], ctx.default_country)
    group = await ctx.directory.resolve_group(args[0], named=False)
    if role == "admin":
        await ctx.client.promote(group.id, numbers)
    else:
        await ctx.client.demote(group.id, numbers)
    after = await ctx.client.get_group(group.id)
    lines, ok = [], True
    for number in numbers:
        now = after.role_of(number)
        if now is None:
            ok = False
            lines.append(f"{number}: not a member")
        elif (role == "admin") == (now in ("admin", "superadmin")):
            lines.append(f"{number}: {now}")
        else:
            ok = False
            lines.append(f"{number}: still {now} (the API did not change it)")
    return Reply("\n".join([f"{_label(group, after)}:", *lines]), ok=ok)


def _label(group: GroupRef, read: Group) -> str:
    return GroupRef(group.id, read.subject or group.name).label
