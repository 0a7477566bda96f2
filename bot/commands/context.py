"""What a command handler gets: the bot's parts, the caller, and `ask` for confirmation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bot.commands.registry import Registry
from bot.commands.types import Principal, Reply
from bot.config import Settings
from bot.services import GroupDirectory
from bot.store import Store
from bot.whatsapp.client import WhatsAppClient

if TYPE_CHECKING:
    from jobs.scheduler import JobScheduler

Action = Callable[[], Awaitable[Reply]]


@dataclass(frozen=True)
class Confirmation:
    """A handler's request to ask before acting: the question and the deed."""

    question: str
    action: Action


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
    registry: Registry
    scheduler: JobScheduler | None = None  # the bot's job scheduler (running or not)

    @property
    def default_country(self) -> str:
        return self.settings.pilot.default_country

    def ask(self, question: str, action: Action) -> Confirmation:
        """Return this from a handler to run `action` only after Confirm."""
        return Confirmation(question, action)
