"""/alias, /unalias, /aliases: friendly names for groups.

Config aliases and targets are read-only; runtime aliases live in the store.
A runtime alias may not shadow a config alias, a target, or `all`.
`/aliases` names each alias's group from the directory's group list (cached;
one list call at most, bounded by NAMES_WAIT); without it, ids only.
"""

from __future__ import annotations

import asyncio

from bot.commands.context import Context
from bot.commands.types import Reply
from bot.jobconfig import NAME, NAME_RULE
from bot.services import ALL, explain
from bot.usertext import excerpt
from bot.whatsapp.errors import PilotError

# Names are a nicety: /aliases answers without them rather than wait on a slow API.
NAMES_WAIT = 1.5  # seconds


async def set_alias(ctx: Context, args: list[str]) -> Reply:
    name = args[0].lower()
    if not NAME.fullmatch(name):
        return Reply.failed(f"{excerpt(args[0])} cannot be an alias: {NAME_RULE}.")
    if name == ALL:
        return Reply.failed("'all' is reserved: it means every group of the number.")
    if name in ctx.directory.config_aliases:
        return Reply.failed(f"'{name}' is a config alias and is read-only; edit the config.")
    if name in ctx.directory.targets:
        return Reply.failed(f"'{name}' is already a target name in the config.")
    ref = await ctx.directory.resolve_group(args[1])
    previous = ctx.store.aliases().get(name)
    ctx.store.set_alias(name, ref.id, by=ctx.principal.who)
    moved = f" (was {previous})" if previous and previous != ref.id else ""
    return Reply(f"Alias {name} -> {ref.label}{moved}.")


async def remove_alias(ctx: Context, args: list[str]) -> Reply:
    name = args[0].lower()
    if name in ctx.directory.config_aliases:
        return Reply.failed(f"'{name}' is a config alias and is read-only; edit the config.")
    if not ctx.store.remove_alias(name):
        return Reply.failed(f"There is no runtime alias called {excerpt(name)}. See /aliases.")
    return Reply(f"Alias {name} removed.")


async def list_aliases(ctx: Context, args: list[str]) -> Reply:
    lines: list[str] = []
    config = ctx.directory.config_aliases
    runtime = {k: v for k, v in ctx.store.aliases().items() if k not in config}
    names, unavailable = await _group_names(ctx) if config or runtime else ({}, "")
    if config:
        lines.append("Aliases (config):")
        lines += [_alias_line(name, gid, names) for name, gid in sorted(config.items())]
    if runtime:
        lines.append("Aliases (set by chat):")
        lines += [_alias_line(name, gid, names) for name, gid in sorted(runtime.items())]
    if unavailable:
        lines.append(unavailable)
    targets = ctx.directory.targets
    if targets:
        lines.append("Targets (config):")
        lines += [f"  {name}: {', '.join(members)}" for name, members in sorted(targets.items())]
    lines.append("Target 'all': every group of the number.")
    return Reply("\n".join(lines))


async def _group_names(ctx: Context) -> tuple[dict[str, str], str]:
    """Group names by id from the directory's (cached) list: one list call at most.

    Names are a nicety here: when the list cannot be read the aliases are
    still shown, with their ids, and the second value says why names are missing.
    """
    try:
        async with asyncio.timeout(NAMES_WAIT):
            groups = await ctx.directory.groups()
    except PilotError as exc:
        return {}, f"(Group names are unavailable: {explain(exc)})"
    except TimeoutError:
        late = f"the group list did not come within {NAMES_WAIT:g} s"
        return {}, f"(Group names are unavailable: {late}.)"
    return {group.id: group.name or group.id for group in groups}, ""


def _alias_line(name: str, group_id: str, names: dict[str, str]) -> str:
    """`  sales -> 120363…@g.us (Sales team)`; an id the number has no group for says so."""
    if not names:
        return f"  {name} -> {group_id}"
    shown = names.get(group_id, "not a group of this number")
    return f"  {name} -> {group_id} ({shown})" if shown != group_id else f"  {name} -> {group_id}"
