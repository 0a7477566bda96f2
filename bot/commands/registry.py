"""Command definitions: one `CommandSpec` per command, and the help built from them.

A spec says who may run the command, how many arguments it takes, whether
its tail is free text, and which coroutine does the work. Three fields tell
the command layer what must stay in order when commands run side by side
(`bot.commands.claims`): whether the command `changes` anything, which
arguments name a group, target or alias (`group_args`), which one names a
job (`job_arg`), and whether it reads or changes the list of groups itself
(`group_list`). A command with none of them (``/help``, ``/log``...) never
waits for another. `/help`, usage
errors, "did you mean" and Telegram's command menu are all generated from
these, so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from bot.commands.context import Confirmation, Context
from bot.commands.types import Reply, Rights
from bot.services import did_you_mean
from bot.usertext import one_line, shorten

Handler = Callable[[Context, list[str]], Awaitable[Reply | Confirmation]]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    usage: str  # arguments only, e.g. "<group> <number…>"
    summary: str
    rights: Rights
    handler: Handler
    min_args: int = 0
    max_args: int | None = 0  # None: any number
    free_text_after: int | None = None  # words before a free-text tail
    example: str = ""
    changes: bool = False  # may change groups, aliases or jobs (else it only reads)
    group_args: tuple[int, ...] = ()  # positions of arguments naming a group/target/alias
    job_arg: int | None = None  # position of the argument naming a job
    group_list: bool = False  # reads (/groups) or changes (/create) the list of groups

    @property
    def usage_line(self) -> str:
        return f"/{self.name} {self.usage}".rstrip()

    def arity_problem(self, args: list[str]) -> str | None:
        if len(args) < self.min_args:
            return "missing arguments"
        if self.max_args is not None and len(args) > self.max_args:
            return "too many arguments"
        return None


class Registry:
    """All commands by name, in the order they were added."""

    def __init__(self, specs: Iterable[CommandSpec]) -> None:
        self._specs: dict[str, CommandSpec] = {}
        for spec in specs:
            if spec.name in self._specs:
                raise ValueError(f"command /{spec.name} defined twice")
            self._specs[spec.name] = spec

    def get(self, name: str) -> CommandSpec | None:
        # (Telegram's /start is turned into /help by the Telegram front end.)
        return self._specs.get(name.lower().lstrip("/"))

    def allowed(self, rights: Rights) -> list[CommandSpec]:
        return [spec for spec in self._specs.values() if rights >= spec.rights]

    def suggest(self, name: str, rights: Rights) -> list[str]:
        names = [spec.name for spec in self.allowed(rights)]
        return did_you_mean(name.lower(), names, n=3, cutoff=0.6)

    def unknown_text(self, name: str, rights: Rights) -> str:
        suggestions = self.suggest(name, rights)
        shown = shorten(one_line(name))
        if suggestions:
            options = " or ".join(f"/{s}" for s in suggestions)
            return f"Unknown command /{shown}. Did you mean {options}?"
        return f"Unknown command /{shown}. Type /help for the list."

    def help_reply(self, args: list[str], rights: Rights) -> Reply:
        """`/help` (the list) or `/help <command>` (its details) for someone with `rights`."""
        if not args:
            return Reply(self.help_text(rights))
        spec = self.get(args[0])
        if spec is None:
            return Reply.failed(self.unknown_text(args[0].lstrip("/"), rights))
        if rights < spec.rights:
            return Reply(f"/{spec.name} needs admin rights; you have read-only access.")
        return Reply(self.command_help(spec))

    def help_text(self, rights: Rights) -> str:
        lines = ["Commands you can use:"]
        for spec in self.allowed(rights):
            lines.append(f"{spec.usage_line} — {spec.summary}")
        lines.append("Type /help <command> for details.")
        return "\n".join(lines)

    def command_help(self, spec: CommandSpec) -> str:
        lines = [f"Usage: {spec.usage_line}", spec.summary]
        if spec.example:
            lines.append(f"Example: {spec.example}")
        if spec.rights >= Rights.ADMIN:
            lines.append("Needs admin rights.")
        return "\n".join(lines)
