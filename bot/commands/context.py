"""What a command handler gets: the bot's parts, the caller, and `ask` for confirmation.

Handlers never see the whole configuration: `CommandOptions` holds the few
configured values commands read; the wiring (`bot.runtime`) fills it in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
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
    # What Cancel (or expiry) says stands: an offer made after a change has
    # already changed something.
    declined: str = "Nothing was changed."


@dataclass(frozen=True)
class CommandOptions:
    """The configured values the commands read (built by the wiring from the settings)."""

    default_country: str  # region of numbers written without a country code
    timezone: str  # the zone of a /schedule job
    sandbox: bool  # /status: the built-in emulator, or the live API at `api_base_url`
    api_base_url: str
    config_jobs: tuple[JobConfig, ...]  # /status in a process without a scheduler
    invite_text: str  # messages.invite: the invite-link message, with {group} and {link}
    track_delivery: timedelta  # how long sent messages are followed (0: not at all)
    min_interval: timedelta  # scheduler.min_interval: the fastest /schedule broadcast
    # membership.file, absolute ("" : none); /plan and /apply read it on every use.
    groups_file: str = ""
    membership_owner: str = ""  # membership.owner as written (the API key's number; "" : unknown)
    max_removal_share: float = 0.25  # membership.max_removal_share: /apply's removal guard


@dataclass(frozen=True)
class Attachment:
    """A file posted with a command (a photo or document under `/send … `), ready to send.

    `media` is a `data:` URI within the provider's media limit (the front end
    refuses larger files before building one); `media_type` is how WhatsApp
    shows it (`image`, `document`, `video`, `audio`).
    """

    media: str
    media_type: str
    file_name: str = ""


class SendFollower(Protocol):
    """What `/send` hands its sent messages to (the delivery tracker, `jobs.tracker`).

    `follow_sends` records the messages of one `/send` (message id, group id,
    group label) so that their delivery is followed and one follow-up with
    the counts reaches `chat` later (or says it cannot: then no line promises
    a follow-up). A protocol: the tracker lives with the
    scheduler, which commands only import where jobs run.
    """

    def follow_sends(
        self, chat: str, command: str, sends: list[tuple[str, str, str]]
    ) -> timedelta | None:
        """How long the messages will be followed; None when they are not (not running, off)."""


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
    attachment: Attachment | None = None  # a file posted with the command (Telegram)
    follower: SendFollower | None = None  # None: sent messages are not followed

    @property
    def default_country(self) -> str:
        return self.options.default_country

    def ask(
        self, question: str, action: Action, *, declined: str = "Nothing was changed."
    ) -> Confirmation:
        """Return this from a handler to run `action` only after Confirm.

        `declined` is what Cancel or expiry says (default: nothing changed).
        """
        return Confirmation(question, action, declined)
