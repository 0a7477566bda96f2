"""Reading and checking a groups file: TOML in, a :class:`GroupsFile` or every problem out.

A groups file declares ``[groups.<key>]`` tables (``id``, ``subject``,
``members``, ``admins``) and shared ``[lists]`` of numbers, used in a group as
``"@list-name"``. It is checked with the same care as the config: every
problem is collected and reported at once, each as one line naming its place
(``groups.sales.members[2]: '12ab' is not a phone number``), and a bad file
raises :class:`GroupsFileError`, never a traceback.

Numbers are read once, here, with :meth:`PhoneNumber.parse` and the config's
default country; from then on they are E.164 digits.
"""

from __future__ import annotations

import difflib
import re
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from bot.membership.model import DeclaredGroup, GroupsFile, GroupsFileError
from bot.usertext import excerpt, one_line, shorten
from bot.whatsapp.errors import InvalidNumber
from bot.whatsapp.identifiers import GROUP_ID_PATTERN, PhoneNumber

__all__ = [
    "KEY",
    "KEY_RULE",
    "MAX_FILE_BYTES",
    "MAX_GROUPS",
    "MAX_MEMBERS",
    "MAX_PROBLEMS",
    "MAX_SUBJECT",
    "RESERVED_KEYS",
    "load_groups_file",
    "parse_groups",
]

# The job NAME rule (bot.jobconfig.NAME), repeated because this layer may not import
# the config side; tests/test_groups_file.py checks that the two stay the same.
KEY: Final = re.compile(r"^[a-z0-9_-]{1,40}$")
KEY_RULE: Final = "use 1-40 of a-z, 0-9, '-' and '_'"
RESERVED_KEYS: Final = frozenset({"all"})  # "all" means every group in commands and jobs

MAX_FILE_BYTES: Final = 10 * 1024 * 1024
MAX_GROUPS: Final = 10_000
MAX_MEMBERS: Final = 1_024  # per group, admins included
MAX_SUBJECT: Final = 100  # characters: WhatsApp's own limit on a group subject
MAX_PROBLEMS: Final = 100  # shown; a file of 10,000 bad numbers is summed up after these

_TOP_KEYS: Final = ("groups", "lists")
_GROUP_KEYS: Final = ("id", "subject", "members", "admins")
_LIST_MARK: Final = "@"


def load_groups_file(path: str | Path, *, default_country: str) -> GroupsFile:
    """Read and check the groups file at ``path``; raise GroupsFileError naming every problem."""
    file = Path(path).expanduser()
    where = one_line(str(file))
    if not file.is_file():
        reason = "is a directory, not a groups file" if file.is_dir() else "groups file not found"
        raise GroupsFileError([f"{where}: {reason}"], path=str(file))
    try:
        with file.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise GroupsFileError(
                [f"{where}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB"], path=str(file)
            )
        data = tomllib.loads(raw.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise GroupsFileError([f"{where}: invalid TOML: {exc}"], path=str(file)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GroupsFileError([f"{where}: cannot read: {exc}"], path=str(file)) from None
    return parse_groups(data, default_country=default_country, path=str(file))


def parse_groups(data: Mapping[str, Any], *, default_country: str, path: str = "") -> GroupsFile:
    """Check an already-parsed groups file (a TOML document as a dict)."""
    reader = _Reader(default_country)
    result = reader.read(data, path)
    if reader.problems:
        raise GroupsFileError(_capped(reader.problems), path=path)
    return result


def _capped(problems: list[str]) -> list[str]:
    if len(problems) <= MAX_PROBLEMS:
        return problems
    return [*problems[:MAX_PROBLEMS], f"… and {len(problems) - MAX_PROBLEMS:,} more problems"]


def _place(*parts: str | int) -> str:
    """``groups.sales.members[2]``: keys shortened, so a 100 KB key stays one short line."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{shorten(part)}" if text else shorten(part)
    return text


def _unknown(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
    return f"unknown key ({hint})"


@dataclass
class _Entries:
    """One group's ``members`` or ``admins``: the numbers, and those written directly."""

    numbers: dict[str, None] = field(default_factory=dict)  # ordered set of E.164 digits
    direct: dict[str, str] = field(default_factory=dict)  # digits -> the place it was written


class _Reader:
    """Walks a parsed file once, collecting every problem in file order."""

    def __init__(self, default_country: str) -> None:
        self.default_country = default_country
        self.problems: list[str] = []
        self._parsed: dict[str, str | InvalidNumber] = {}  # text -> digits, read once

    def problem(self, place: str, reason: str) -> None:
        self.problems.append(one_line(f"{place}: {reason}"))

    # ------------------------------------------------------------------ whole file
    def read(self, data: Mapping[str, Any], path: str) -> GroupsFile:
        for key in data:
            if key not in _TOP_KEYS:
                self.problem(_place(key), _unknown(key, _TOP_KEYS))
        lists = self.read_lists(data.get("lists", {}))
        groups_table = data.get("groups", {})
        if not isinstance(groups_table, dict):
            self.problem("groups", "must be a table of groups ([groups.<key>])")
            return GroupsFile((), lists, path)
        if len(groups_table) > MAX_GROUPS:
            self.problem("groups", f"{len(groups_table):,} groups: at most {MAX_GROUPS:,}")
            return GroupsFile((), lists, path)
        groups: list[DeclaredGroup] = []
        for key, table in groups_table.items():
            group = self.read_group(key, table, lists)
            if group is not None:
                groups.append(group)
        self.check_unique(groups)
        return GroupsFile(tuple(groups), lists, path)

    # ------------------------------------------------------------------ [lists]
    def read_lists(self, table: object) -> dict[str, tuple[str, ...]]:
        if not isinstance(table, dict):
            self.problem("lists", 'must be a table of lists (e.g. sales-reps = ["+55 11 …"])')
            return {}
        lists: dict[str, tuple[str, ...]] = {}
        for name, entries in table.items():
            place = _place("lists", name)
            if not KEY.fullmatch(name):
                self.problem(place, f"list name {excerpt(name)}: {KEY_RULE}")
            if not isinstance(entries, list):
                self.problem(place, "must be a list of numbers")
                continue
            numbers: dict[str, None] = {}
            for index, entry in enumerate(entries):
                entry_place = _place("lists", name, index)
                if isinstance(entry, str) and entry.strip().startswith(_LIST_MARK):
                    self.problem(entry_place, f"{excerpt(entry)}: a list cannot include a list")
                    continue
                digits = self.number(entry_place, entry)
                if digits is not None:
                    numbers[digits] = None
            lists[name] = tuple(numbers)
        return lists

    # ------------------------------------------------------------------ [groups.<key>]
    def read_group(
        self, key: str, table: object, lists: Mapping[str, tuple[str, ...]]
    ) -> DeclaredGroup | None:
        place = _place("groups", key)
        ok = True
        if not KEY.fullmatch(key):
            self.problem(place, f"key {excerpt(key)}: {KEY_RULE} (e.g. sales-rio)")
            ok = False
        elif key in RESERVED_KEYS:
            self.problem(place, f"key {key!r} is reserved (it means every group): choose another")
            ok = False
        if not isinstance(table, dict):
            self.problem(place, "must be a table (id, subject, members, admins)")
            return None
        for name in table:
            if name not in _GROUP_KEYS:
                self.problem(_place("groups", key, name), _unknown(name, _GROUP_KEYS))
                ok = False
        group_id, id_ok = self.read_id(key, table.get("id"))
        subject = self.read_subject(key, table)
        members = self.read_entries(key, "members", table.get("members", []), lists)
        admins = self.read_entries(key, "admins", table.get("admins", []), lists)
        if members is None or admins is None or subject is None or not id_ok:
            return None
        for digits in admins.direct.keys() & members.direct.keys():
            self.problem(
                place,
                f"+{digits} is listed in members and admins: list it once, under admins "
                "(admins are members too)",
            )
            ok = False
        everyone = {**members.numbers, **admins.numbers}
        if len(everyone) > MAX_MEMBERS:
            self.problem(
                place, f"{len(everyone):,} members (admins included): at most {MAX_MEMBERS:,}"
            )
            ok = False
        if not ok:
            return None
        return DeclaredGroup(
            key=key,
            id=group_id,
            subject=subject,
            members=frozenset(everyone),
            admins=frozenset(admins.numbers),
        )

    def read_id(self, key: str, value: object) -> tuple[str | None, bool]:
        """The id (None when not given) and whether it is usable (a bad one is reported)."""
        if value is None:
            return None, True
        place = _place("groups", key, "id")
        if not isinstance(value, str) or not GROUP_ID_PATTERN.fullmatch(value):
            self.problem(
                place,
                f"{excerpt(value)} is not a WhatsApp group id (expected something like "
                "120363123456789012@g.us)",
            )
            return None, False
        return value, True

    def read_subject(self, key: str, table: Mapping[str, object]) -> str | None:
        place = _place("groups", key, "subject")
        if "subject" not in table:
            self.problem(place, "required (the group's name, as WhatsApp shows it)")
            return None
        value = table["subject"]
        if not isinstance(value, str):
            self.problem(place, f"must be a string (got {excerpt(value)})")
            return None
        if not value.strip():
            self.problem(place, "must not be empty")
            return None
        if len(value) > MAX_SUBJECT:
            self.problem(place, f"{excerpt(value)} is longer than {MAX_SUBJECT} characters")
            return None
        if any(unicodedata.category(char) == "Cc" for char in value):
            self.problem(place, f"{excerpt(value)} contains a line break or control character")
            return None
        return value

    def read_entries(
        self, key: str, role: str, value: object, lists: Mapping[str, tuple[str, ...]]
    ) -> _Entries | None:
        """``members`` or ``admins``: numbers and ``@list`` references; None when not a list."""
        if not isinstance(value, list):
            self.problem(_place("groups", key, role), "must be a list of numbers")
            return None
        entries = _Entries()
        for index, entry in enumerate(value):
            place = _place("groups", key, role, index)
            if isinstance(entry, str) and entry.strip().startswith(_LIST_MARK):
                name = entry.strip()[len(_LIST_MARK) :]
                if name not in lists:
                    known = ", ".join(shorten(n) for n in lists) or "none"
                    self.problem(place, f"{excerpt(entry)}: no such list in [lists] ({known})")
                    continue
                entries.numbers.update(dict.fromkeys(lists[name]))
                continue
            digits = self.number(place, entry)
            if digits is not None:
                entries.numbers[digits] = None
                entries.direct.setdefault(digits, place)
        return entries

    def number(self, place: str, entry: object) -> str | None:
        """One number as E.164 digits, or None (reported)."""
        if not isinstance(entry, str):
            self.problem(place, f"{excerpt(entry)}: write the number as a string, in quotes")
            return None
        parsed = self._parsed.get(entry)
        if parsed is None:
            try:
                parsed = PhoneNumber.parse(entry, self.default_country).digits
            except InvalidNumber as exc:
                parsed = exc
            self._parsed[entry] = parsed
        if isinstance(parsed, InvalidNumber):
            self.problem(place, str(parsed))
            return None
        return parsed

    # ------------------------------------------------------------------ across groups
    def check_unique(self, groups: list[DeclaredGroup]) -> None:
        """Ids are unique; a group without an id needs a subject no other group has."""
        by_id: dict[str, str] = {}
        by_subject: dict[str, list[str]] = {}
        for group in groups:
            by_subject.setdefault(group.subject, []).append(group.key)
            if group.id is None:
                continue
            first = by_id.setdefault(group.id, group.key)
            if first != group.key:
                self.problem(
                    _place("groups", group.key, "id"),
                    f"{group.id!r} is also the id of groups.{first}",
                )
        for group in groups:
            others = [k for k in by_subject[group.subject] if k != group.key]
            if group.id is None and others:
                self.problem(
                    _place("groups", group.key, "subject"),
                    f"{excerpt(group.subject)} is also the subject of groups.{others[0]}: a group "
                    "without an id is matched by its exact subject, so give it an id or a "
                    "unique subject",
                )
