"""The plan: what would make the live groups match a groups file (nothing is changed here).

:func:`compute_plan` reads the live state through the one client (one
``list_groups`` and one ``get_group`` per declared group, so the client's rate
and concurrency caps hold) and compares it with the file, group by group:

- a group declared without an id is matched by its exact subject; with no
  match it is to be created (and every member added, every admin promoted:
  the number itself creates it and is its superadmin);
- a group declared with an id that is not a group of this number is only
  noted: a group with an id is never created;
- otherwise the members the file adds, promotes, demotes and removes, in
  :data:`~bot.membership.model.ORDER`. Superadmins and the number that owns
  the API key are never demoted or removed (a note says so), and a subject
  that differs is noted: the API cannot rename a group.

Live groups the file does not declare are listed in ``Plan.undeclared`` and
left alone. :func:`format_plan` renders a plan as a diff people read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Final

from bot.membership.model import (
    ORDER,
    Change,
    ChangeKind,
    DeclaredGroup,
    GroupPlan,
    GroupsFile,
    Plan,
)
from bot.usertext import excerpt
from bot.whatsapp import WhatsAppClient
from bot.whatsapp.errors import NotFound
from bot.whatsapp.identifiers import PhoneNumber
from bot.whatsapp.models import Group, GroupSummary

__all__ = [
    "compute_plan",
    "counts_text",
    "format_plan",
    "group_lines",
    "owner_digits",
    "plan_counts",
]

# At most this many group reads are in flight from one plan. The client's
# gate caps the requests actually sent; this caps the reads (and the live
# groups held in memory) waiting for it, so 1,000 groups cost ~32 at a time.
READS_AT_ONCE: Final = 32
UNDECLARED_SHOWN: Final = 20
SIGNS: Final[dict[ChangeKind, str]] = {
    "create": "+",
    "add": "+",
    "promote": "^",
    "demote": "v",
    "remove": "-",
}
_ADMIN_ROLES: Final = frozenset({"admin", "superadmin"})


async def compute_plan(
    client: WhatsAppClient,
    declared: GroupsFile,
    *,
    only: str | None = None,
    owner: str = "",
) -> Plan:
    """The changes that would make the live groups match ``declared``; reads only.

    ``only`` (a key or a group id of the file) plans that one group; an
    unknown one raises ValueError. ``owner`` is the API key's number (E.164
    digits; other characters are ignored): never removed nor demoted.
    API failures propagate as the client raises them.
    """
    chosen = _chosen_groups(declared, only)
    owner_digits = "".join(ch for ch in owner if ch.isdigit())
    live = await client.list_groups()
    live_ids = {summary.id for summary in live}
    by_subject: dict[str, list[str]] = {}
    for summary in live:
        by_subject.setdefault(summary.name, []).append(summary.id)

    gate = asyncio.Semaphore(READS_AT_ONCE)

    async def plan_one(group: DeclaredGroup) -> GroupPlan:
        if group.id is not None and group.id not in live_ids:
            note = f"! group id {group.id} is not a group of this number: nothing planned"
            return GroupPlan(group.key, group.id, group.subject, (), notes=(note,))
        if group.id is None:
            matches = by_subject.get(group.subject, [])
            if not matches:
                return _creation(group, owner_digits)
            if len(matches) > 1:
                note = (
                    f"! {len(matches)} live groups are named {group.subject!r}: "
                    "add the id of the one meant to the file"
                )
                return GroupPlan(group.key, None, group.subject, (), notes=(note,))
            group_id = matches[0]
        else:
            group_id = group.id
        async with gate:
            try:
                live_group = await client.get_group(group_id)
            except NotFound:  # left or deleted since the list was read
                note = f"! group id {group_id} is not a group of this number: nothing planned"
                return GroupPlan(group.key, group_id, group.subject, (), notes=(note,))
        return _changes(group, group_id, live_group, owner_digits)

    plans = await asyncio.gather(*(plan_one(group) for group in chosen))
    if only is not None:
        return Plan(tuple(plans))
    matched = {plan.group_id for plan in plans if plan.group_id is not None}
    undeclared = tuple((s.id, s.name) for s in _sorted_summaries(live) if s.id not in matched)
    return Plan(tuple(plans), undeclared)


def owner_digits(owner: str, default_country: str) -> str:
    """``membership.owner`` (any format ``/add`` accepts) as E.164 digits; "" stays "".

    Raises InvalidNumber (a ValueError) with one sentence when it is no phone number.
    """
    if not owner.strip():
        return ""
    return PhoneNumber.parse(owner, default_country).digits


def _chosen_groups(declared: GroupsFile, only: str | None) -> tuple[DeclaredGroup, ...]:
    if only is None:
        return declared.groups
    for group in declared.groups:
        if only in (group.key, group.id):
            return (group,)
    keys = ", ".join(group.key for group in declared.groups[:10]) or "none"
    more = "…" if len(declared.groups) > 10 else ""
    raise ValueError(
        f"{excerpt(only)} is not a group of the groups file (its groups: {keys}{more})."
    )


def _creation(group: DeclaredGroup, owner: str) -> GroupPlan:
    """A new group: created by the number itself (its superadmin), then filled."""
    changes = [Change("create", detail=group.subject)]
    changes += [Change("add", n) for n in sorted(group.members | group.admins) if n != owner]
    changes += [Change("promote", n) for n in sorted(group.admins) if n != owner]
    return GroupPlan(group.key, None, group.subject, tuple(changes))


def _changes(group: DeclaredGroup, group_id: str, live: Group, owner: str) -> GroupPlan:
    roles = {participant.number: participant.role for participant in live.participants}
    members = group.members | group.admins
    notes: list[str] = []
    if live.subject != group.subject:
        notes.append(
            f"~ subject: {live.subject!r} -> {group.subject!r} "
            "(not applicable: the API cannot rename a group)"
        )
    steps: dict[ChangeKind, list[str]] = {kind: [] for kind in ORDER}
    steps["add"] = sorted(members - roles.keys())
    steps["promote"] = sorted(n for n in group.admins if roles.get(n, "member") == "member")
    for number in sorted(roles):
        role = roles[number]
        if number in group.admins:
            continue
        if number in members and role not in _ADMIN_ROLES:
            continue
        kind: ChangeKind = "demote" if number in members else "remove"
        kept = _kept_because(number, role, owner)
        if kept:
            notes.append(
                f"= +{number} kept: {kept} (not {'demoted' if kind == 'demote' else 'removed'})"
            )
        else:
            steps[kind].append(number)
    changes = tuple(Change(kind, number) for kind in ORDER for number in steps[kind])
    return GroupPlan(group.key, group_id, group.subject, changes, len(roles), tuple(notes))


def _kept_because(number: str, role: str, owner: str) -> str:
    if owner and number == owner:
        return "owns the API key"
    if role == "superadmin":
        return "superadmin"
    return ""


def _sorted_summaries(live: Iterable[GroupSummary]) -> list[GroupSummary]:
    return sorted(live, key=lambda summary: (summary.name.casefold(), summary.id))


# -- the plan as people read it ------------------------------------------------


def plan_counts(plan: Plan) -> dict[ChangeKind, int]:
    """How many changes of each kind the plan holds (every kind, in ORDER)."""
    counts: dict[ChangeKind, int] = dict.fromkeys(ORDER, 0)
    for group in plan.groups:
        for change in group.changes:
            counts[change.kind] += 1
    return counts


def format_plan(plan: Plan) -> str:
    """The plan as a diff: the groups with changes or notes, a summary, the undeclared groups."""
    lines: list[str] = []
    for group in plan.groups:
        if group.changes or group.notes:
            lines += group_lines(group)
    lines.append(_summary(plan))
    if plan.undeclared:
        lines.append(f"Not in the file (left alone): {_groups(len(plan.undeclared))}")
        shown = plan.undeclared[:UNDECLARED_SHOWN]
        lines += [f"  {name or '(no name)'} ({gid})" for gid, name in shown]
        if len(plan.undeclared) > UNDECLARED_SHOWN:
            lines.append(f"  … and {len(plan.undeclared) - UNDECLARED_SHOWN} more")
    return "\n".join(lines)


def group_lines(group: GroupPlan) -> list[str]:
    """One group's part of the plan: ``key (subject, id)``, then its changes and notes."""
    where = group.group_id if group.group_id is not None else "new group"
    lines = [f"{group.key} ({group.subject}, {where})"]
    lines += [f"  {_change_line(change)}" for change in group.changes]
    lines += [f"  {note}" for note in group.notes]
    return lines


def counts_text(changes: Iterable[Change]) -> str:
    """``1 to create, 3 to add, 1 to remove`` (kinds in ORDER, zeros left out)."""
    counts: dict[ChangeKind, int] = dict.fromkeys(ORDER, 0)
    for change in changes:
        counts[change.kind] += 1
    return ", ".join(f"{count} to {kind}" for kind, count in counts.items() if count)


def _change_line(change: Change) -> str:
    if change.kind == "create":
        return f'+ create "{change.detail}"'
    return f"{SIGNS[change.kind]} {change.kind} +{change.number}"


def _summary(plan: Plan) -> str:
    total = len(plan.groups)
    if not plan.has_changes:
        return f"No changes: the live groups match the file ({_groups(total)})."
    parts = counts_text(change for group in plan.groups for change in group.changes)
    changed = sum(1 for group in plan.groups if group.changes)
    return f"Plan: {parts} in {changed} of {_groups(total)}."


def _groups(count: int) -> str:
    return f"{count} group" if count == 1 else f"{count} groups"
