"""What a groups file declares, and what a plan would change: plain data.

Numbers are E.164 digits without ``+`` (``5511999999999``), read once from
what the file says with :class:`bot.whatsapp.identifiers.PhoneNumber`. A
declared group's ``members`` include its ``admins`` (listing an admin once,
under ``admins``, is enough). A plan lists, per declared group, the changes
in the order they are carried out: create, add, promote, demote, remove
(removals last, so a group is never left without the people meant to run it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = [
    "ORDER",
    "Change",
    "ChangeKind",
    "DeclaredGroup",
    "GroupPlan",
    "GroupsFile",
    "GroupsFileError",
    "Plan",
]

ChangeKind = Literal["create", "add", "promote", "demote", "remove"]
ORDER: Final[tuple[ChangeKind, ...]] = ("create", "add", "promote", "demote", "remove")
"""The safe order of an apply: nobody is removed before everyone meant to be in is in."""


class GroupsFileError(Exception):
    """A groups file that cannot be used; ``problems`` names every one, with its place."""

    def __init__(self, problems: list[str], *, path: str = "") -> None:
        self.problems = list(problems)
        self.path = path
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class DeclaredGroup:
    """One ``[groups.<key>]`` table: the key, the live id (None: matched by subject), who is in."""

    key: str
    id: str | None
    subject: str
    members: frozenset[str]  # everyone in the group, admins included (E.164 digits)
    admins: frozenset[str]


@dataclass(frozen=True)
class GroupsFile:
    """A whole groups file, checked: its groups (in file order) and its shared lists."""

    groups: tuple[DeclaredGroup, ...]
    lists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    path: str = ""

    def group(self, key: str) -> DeclaredGroup | None:
        return next((g for g in self.groups if g.key == key), None)

    def aliases(self) -> dict[str, str]:
        """Each key of a group with an id, as an alias for commands (key -> group id)."""
        return {g.key: g.id for g in self.groups if g.id is not None}


@dataclass(frozen=True)
class Change:
    """One step: ``create`` (the subject in ``detail``), or a number added, promoted, …"""

    kind: ChangeKind
    number: str = ""  # E.164 digits; empty for create
    detail: str = ""  # create: the subject; otherwise a note (e.g. why a step is not done)


@dataclass(frozen=True)
class GroupPlan:
    """The changes of one declared group, in :data:`ORDER`.

    ``group_id`` is None when the group is to be created. ``live_members`` is
    how many members the live group has now (0 for a new one): the removal
    guard compares ``removals`` with it. ``notes`` are differences the API
    cannot change (a subject) and protections (the key's owner kept).
    """

    key: str
    group_id: str | None
    subject: str
    changes: tuple[Change, ...]
    live_members: int = 0
    notes: tuple[str, ...] = ()

    @property
    def removals(self) -> int:
        return sum(1 for change in self.changes if change.kind == "remove")


@dataclass(frozen=True)
class Plan:
    """Every declared group's plan, and the live groups the file does not declare (untouched)."""

    groups: tuple[GroupPlan, ...]
    undeclared: tuple[tuple[str, str], ...] = ()  # (id, name) of live groups not in the file

    @property
    def has_changes(self) -> bool:
        return any(group.changes for group in self.groups)
