"""What a typed command reads or changes, decided at once from its text (`Claim`).

`claim_of` runs when a command arrives, before anything is awaited, so it
may not ask the API. It reads the command's spec (`changes`, `group_args`,
`job_arg`, `group_list` in the catalog) and turns each group word into keys:

- the word as typed, case-folded (``word:sales team``): two commands naming
  a group the same way keep their order, including a word that becomes an
  alias or a group only later (``/alias launch X`` then ``/group launch``);
- the group id, when the word is one (or its digits) or an alias
  (``group:1203…@g.us``), so ``sales`` and ``1203…@g.us`` keep their order;
- a `[targets]` name: the keys of each of its members;
- ``all``: every group (`ordering.ALL_GROUPS`).

A group *name* is not looked up (that needs the group list): commands naming
one group once by name and once by alias or id may run side by side. Text
that does not parse claims nothing: it is refused without waiting.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from bot.commands.ordering import ALL_GROUPS, GROUP_LIST, Claim
from bot.commands.parsing import ParseError, split_args, split_command
from bot.commands.registry import Registry
from bot.services import ALL, GroupDirectory, group_id_in

__all__ = ["claim_of", "group_key", "job_key", "word_key"]

log = logging.getLogger(__name__)


def group_key(group_id: str) -> str:
    return f"group:{group_id}"


def word_key(word: str) -> str:
    return f"word:{word.strip().casefold()}"


def job_key(name: str) -> str:
    return f"job:{name.strip().casefold()}"


def claim_of(text: str, registry: Registry, directory: GroupDirectory) -> Claim:
    """The `Claim` of the command `text` (an empty one when it does not parse)."""
    try:
        line = split_command(text)
        spec = registry.get(line.name)
        if spec is None:
            return Claim()
        args = split_args(line.rest, free_text_after=spec.free_text_after)
    except ParseError:
        return Claim()
    keys: set[str] = set()
    if spec.group_list:
        keys.add(GROUP_LIST)
    if spec.job_arg is not None and spec.job_arg < len(args):
        keys.add(job_key(args[spec.job_arg]))
    words = [args[index] for index in spec.group_args if index < len(args)]
    if words:
        aliases = _aliases(directory)
        for word in words:
            keys |= _word_keys(word, aliases, directory.targets)
    return Claim(frozenset(keys), spec.changes)


def _word_keys(
    word: str, aliases: Mapping[str, str], targets: Mapping[str, list[str]], depth: int = 0
) -> set[str]:
    text = word.strip()
    lower = text.lower()
    if lower == ALL:
        return {ALL_GROUPS}
    keys = {word_key(text)}
    group_id = group_id_in(text)  # the same rule resolution uses
    if group_id is not None:
        keys.add(group_key(group_id))
    elif lower in aliases:
        keys.add(group_key(aliases[lower]))
    elif lower in targets and depth == 0:  # targets list aliases and ids, never targets
        for member in targets[lower]:
            keys |= _word_keys(member, aliases, targets, depth + 1)
    return keys


def _aliases(directory: GroupDirectory) -> dict[str, str]:
    try:
        return directory.aliases()
    except Exception:  # the store is unreadable: order by the words alone
        log.warning("cannot read the aliases to order a command; using the words as typed")
        return {}
