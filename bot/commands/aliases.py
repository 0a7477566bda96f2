"""/alias, /unalias, /aliases: friendly names for groups.

Config aliases and targets are read-only; runtime aliases live in the store.
A runtime alias may not shadow a config alias, a target, or `all`.
"""

from __future__ import annotations

from bot.commands.context import Context
from bot.commands.types import Reply
from bot.jobconfig import NAME, NAME_RULE
from bot.services import ALL
from bot.usertext import excerpt


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
    if config:
        lines.append("Aliases (config):")
        lines += [f"  {name} -> {gid}" for name, gid in sorted(config.items())]
    if runtime:
        lines.append("Aliases (set by chat):")
        lines += [f"  {name} -> {gid}" for name, gid in sorted(runtime.items())]
    targets = ctx.directory.targets
    if targets:
        lines.append("Targets (config):")
        lines += [f"  {name}: {', '.join(members)}" for name, members in sorted(targets.items())]
    lines.append("Target 'all': every group of the number.")
    return Reply("\n".join(lines))
