"""From the words admins type to group ids: `<group>` and `<target>` (docs/commands.md).

Precedence when words clash: group id, alias, target name, group name. A
name matches case-insensitively, exactly first, then as a unique substring.
Names need the group list, which is slow upstream and rate limited, so it is
cached for at most `ttl` seconds and dropped when the bot changes what the
list holds: a group created (`invalidate`), and refreshed in place by what the
provider's webhooks tell (`learn`). Adding, removing, promoting or
demoting people changes no name, so it keeps the list. `/groups` asks for a
fresh list. Commands that read the group anyway (the membership commands)
resolve ids and aliases without the list (`named=False`) and take the name
from their read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bot.services._refusal import Refusal
from bot.services._suggest import did_you_mean
from bot.usertext import excerpt, is_ascii_digits
from bot.whatsapp.client import WhatsAppClient
from bot.whatsapp.errors import PilotError
from bot.whatsapp.identifiers import GROUP_ID_PATTERN
from bot.whatsapp.models import GroupSummary

ALL = "all"
_MAX_CANDIDATES = 8
# Group ids are under 30 characters (120363123456789012@g.us, or the older
# <phone>-<timestamp>@g.us); a longer word is not read as one.
_MAX_GROUP_ID_CHARS = 48
_MIN_ID_DIGITS = 10  # fewer digits are a name (or a mistake), not an id


def group_id_in(word: str) -> str | None:
    """The group id `word` spells (the id, or its digits 0-9), else None: it is a name."""
    if len(word) > _MAX_GROUP_ID_CHARS:  # a name then: replies quote ids in full
        return None
    if GROUP_ID_PATTERN.fullmatch(word):
        return word
    if is_ascii_digits(word) and len(word) >= _MIN_ID_DIGITS:
        return f"{word}@g.us"
    return None


class ResolveError(Refusal, LookupError):
    """A word that names no group, or more than one."""


@dataclass(frozen=True)
class GroupRef:
    """A resolved group: its id and the best name we know for it."""

    id: str
    name: str

    @property
    def label(self) -> str:
        return f"{self.name} ({self.id})" if self.name and self.name != self.id else self.id


class GroupDirectory:
    """Resolves `<group>` and `<target>` words against aliases, targets and the API."""

    def __init__(
        self,
        client: WhatsAppClient,
        *,
        config_aliases: Mapping[str, str],
        targets: Mapping[str, list[str]],
        runtime_aliases: Callable[[], Mapping[str, str]],
        ttl: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._config_aliases = dict(config_aliases)
        self._targets = {name: list(members) for name, members in targets.items()}
        self._runtime_aliases = runtime_aliases
        self._ttl = ttl
        self._monotonic = monotonic
        self._cached: list[GroupSummary] | None = None
        self._cached_at = 0.0

    # -- the group list -------------------------------------------------------

    async def groups(self, *, fresh: bool = False) -> list[GroupSummary]:
        now = self._monotonic()
        if fresh or self._cached is None or now - self._cached_at > self._ttl:
            self._cached = await self._client.list_groups()
            self._cached_at = self._monotonic()
        return self._cached

    def invalidate(self) -> None:
        """Forget the cached list: call after a change to which groups exist or their names."""
        self._cached = None

    def learn(self, group_id: str, name: str) -> bool:
        """A group id and name the provider told us (``message.group``): refresh the cached list.

        Whether it was news (a group the list lacked, or a new name). No API
        call; without a cached list there is nothing to refresh (the next read
        brings the group). Raises ValueError for what is not a group id.
        """
        if len(group_id) > _MAX_GROUP_ID_CHARS or not GROUP_ID_PATTERN.fullmatch(group_id):
            raise ValueError(f"not a group id: {excerpt(group_id)}")
        if self._cached is None:
            return False
        known = next((g for g in self._cached if g.id == group_id), None)
        if known is not None and (not name or known.name == name):
            return False
        learned = GroupSummary(id=group_id, name=name)
        # A new list, not an edit: a caller may still be reading the old one.
        others = [g for g in self._cached if g.id != group_id]
        self._cached = (
            [*others, learned]
            if known is None
            else [learned if g.id == group_id else g for g in self._cached]
        )
        return True

    def known_name(self, group_id: str) -> str:
        """The group's name if the cached list (still fresh) has it, else the id; no API call."""
        if self._cached is None or self._monotonic() - self._cached_at > self._ttl:
            return group_id
        return next((g.name for g in self._cached if g.id == group_id and g.name), group_id)

    # -- names ----------------------------------------------------------------

    def aliases(self) -> dict[str, str]:
        """Config aliases win over runtime ones of the same name."""
        return {**self._runtime_aliases(), **self._config_aliases}

    @property
    def config_aliases(self) -> dict[str, str]:
        return dict(self._config_aliases)

    @property
    def targets(self) -> dict[str, list[str]]:
        return {name: list(members) for name, members in self._targets.items()}

    async def name_of(self, group_id: str) -> str:
        """The group's name from the (cached) list; the id when unknown."""
        try:
            groups = await self.groups()
        except PilotError:  # a name is a nicety: never fail an operation for the API
            return group_id
        return next((g.name for g in groups if g.id == group_id and g.name), group_id)

    # -- resolution -------------------------------------------------------------

    async def resolve_group(self, word: str, *, named: bool = True) -> GroupRef:
        """One group for `word`, or ResolveError listing candidates.

        `named=False`: the caller reads the group itself and names it from that
        read, so an id or alias costs no list call (a cached name is still used).
        """
        text = word.strip()
        if not text:
            raise ResolveError("Give a group: an id, an alias or a name.")
        group_id = group_id_in(text) or self.aliases().get(text.lower())
        if group_id is not None:
            name = await self.name_of(group_id) if named else self.known_name(group_id)
            return GroupRef(group_id, name)
        if text.lower() in self._targets or text.lower() == ALL:
            raise ResolveError(
                f"{excerpt(text)} names a list of groups; this command takes one group."
            )
        return await self._by_name(text)

    async def resolve_target(self, word: str) -> list[GroupRef]:
        """The groups of a `<target>`: a group, a [targets] name, or `all`."""
        text = word.strip().lower()
        if text == ALL:
            return [GroupRef(g.id, g.name) for g in await self.groups()]
        direct = group_id_in(word.strip())
        if direct is None and text not in self.aliases() and text in self._targets:
            refs: dict[str, GroupRef] = {}
            for member in self._targets[text]:
                ref = await self.resolve_group(member)
                refs.setdefault(ref.id, ref)
            return list(refs.values())
        return [await self.resolve_group(word)]

    async def _by_name(self, text: str) -> GroupRef:
        groups = await self.groups()
        needle = text.casefold()
        exact = [g for g in groups if g.name.casefold() == needle]
        found = exact or [g for g in groups if needle in g.name.casefold()]
        if len(found) == 1:
            return GroupRef(found[0].id, found[0].name)
        if found:
            listed = "; ".join(GroupRef(g.id, g.name).label for g in found[:_MAX_CANDIDATES])
            more = (
                f" and {len(found) - _MAX_CANDIDATES} more" if len(found) > _MAX_CANDIDATES else ""
            )
            raise ResolveError(
                f"{excerpt(text)} matches {len(found)} groups: {listed}{more}. "
                "Use the id or an alias, or more of the name."
            )
        names = [g.name for g in groups if g.name]
        close = did_you_mean(text, names, n=_MAX_CANDIDATES, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else " See /groups or /aliases."
        raise ResolveError(f"No group, alias or target called {excerpt(text)}.{hint}")
