"""What a command handler gets: the bot's parts, the caller, and `ask` for confirmation.

Handlers never see the whole configuration: `CommandOptions` holds the few
configured values commands read; the wiring (`bot.runtime`) fills it in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from bot.commands.types import Principal, Reply, Rights
from bot.jobconfig import JobConfig
from bot.services import GroupDirectory
from bot.store import Store
from bot.whatsapp.client import WhatsAppClient

if TYPE_CHECKING:  # the scheduler (and APScheduler) only loads where jobs are run
    from jobs.scheduler import JobScheduler

Action = Callable[[], Awaitable[Reply]]


@dataclass(frozen=True)
class Confirmation:
    """A handler's request to ask before acting: the question and the deed."""

    question: str
    action: Action


@dataclass(frozen=True)
class CommandOptions:
    """The configured values the commands read (built by the wiring from the settings)."""

    default_country: str  # region of numbers written without a country code
    timezone: str  # the zone of a /schedule job
    sandbox: bool  # /status: the built-in emulator, or the live API at `api_base_url`
    api_base_url: str
    config_jobs: tuple[JobConfig, ...]  # /status in a process without a scheduler


class CommandHelp(Protocol):
    """What a handler may ask of the command registry (`bot.commands.registry.Registry`).

    A protocol, not the class: the registry holds the handlers, which take a
    `Context`, so the context cannot import the registry back.
    """

    def help_reply(self, args: list[str], rights: Rights) -> Reply: ...


@dataclass
class Context:
    options: CommandOptions
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
        return self.options.default_country

    def ask(self, question: str, action: Action) -> Confirmation:
        """Return this from a handler to run `action` only after Confirm."""
        return Confirmation(question, action)
