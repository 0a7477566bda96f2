"""What a command handler gets: the bot's parts, the caller, and `ask` for confirmation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.commands.types import Principal, Reply, Rights
from bot.config import Settings
from bot.services import GroupDirectory
from bot.store import Store
from bot.whatsapp.client import WhatsAppClient
from jobs.scheduler import JobScheduler

Action = Callable[[], Awaitable[Reply]]


@dataclass(frozen=True)
class Confirmation:
    """A handler's request to ask before acting: the question and the deed."""

    question: str
    action: Action


class CommandHelp(Protocol):
    """What a handler may ask of the command registry (`bot.commands.registry.Registry`).

    A protocol, not the class: the registry holds the handlers, which take a
    `Context`, so the context cannot import the registry back.
    """

    def help_reply(self, args: list[str], rights: Rights) -> Reply: ...


@dataclass
class Context:
    settings: Settings
    client: WhatsAppClient
    store: Store
    directory: GroupDirectory
    principal: Principal
    clock: Callable[[], datetime]
    started_at: datetime
    command_text: str
    registry: CommandHelp
    scheduler: JobScheduler | None = None  # the bot's job scheduler (running or not)

    @property
    def default_country(self) -> str:
        return self.settings.pilot.default_country

    def ask(self, question: str, action: Action) -> Confirmation:
        """Return this from a handler to run `action` only after Confirm."""
        return Confirmation(question, action)
