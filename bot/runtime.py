"""The bot's parts, wired in one place from the settings.

This is the one module below the front ends that reads `Settings`: every
other part gets the few values it needs, here, when it is built, and is
complete from then on (nothing is assigned after construction). The builders
(`client_from_settings`, `build_directory`, `build_commands`, `build_parts`)
are what `Runtime` uses, and what tests and benchmarks use to build the same
parts over their own clock, timer or store.

`Runtime(settings)` holds what every front end shares:

- ``store``: the SQLite store at ``storage.path``;
- ``client``: the one WhatsApp client (its rate and concurrency caps hold for
  commands and jobs alike); with ``pilot.base_url = "sandbox"`` it talks to an
  in-process `Sandbox` (``sandbox``), otherwise to the live API;
- ``commands``: the `CommandLayer` over both;
- ``scheduler``: the `JobScheduler` of config and ``/schedule`` jobs, built
  here but started only by `start_scheduler` (``grouppilot run``); in a
  process that does not start it (``exec``) job commands can read but not
  change.
- ``tracker``: the `DeliveryTracker` that follows sent messages
  (``messages.track_delivery``), started with the scheduler; it is the
  command layer's `SendFollower` (a `/send` in ``exec`` is not followed).
- ``connection``: the number's `ConnectionState`, and ``alerts``: the
  `ConnectionAlerts` over it (broadcasts fail fast while it is known
  disconnected; changes go to the notify chats once); the provider's
  webhooks and ``probe``, the `ConnectionProbe` that runs every
  ``monitor.probe_every`` (started with the scheduler), report to it.
- ``notifier``: where reports and alerts go, the one `start_scheduler` was
  given (the log until then).

`start_http` (``grouppilot run`` with ``[http]``) serves the webhook
receiver, ``/readyz``, ``/healthz`` and ``/metrics`` over these parts;
aiohttp's server is imported there, so ``exec`` and a ``run`` without
``[http]`` never load it.

Use it as an async context manager: leaving it closes everything, in the
reverse order of opening. Later parts (the Telegram front end, the scheduler)
are built here too and register their shutdown with `on_close`.

Storage faults come out as one `StorageError`: from the store's open (the
store's and the scheduler's schemas are migrated there, together), and from
the scheduler's start (its rebuild writes the jobs) and shutdown, where a raw
``sqlite3.Error`` is translated.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, AsyncExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

import httpx
from pydantic import SecretStr

from bot import metrics
from bot.commands.context import CommandOptions
from bot.commands.layer import MAX_COMMAND_AGE, CommandLayer
from bot.config import PilotSettings, Settings
from bot.config_service import parse_listen
from bot.membership.file import load_groups_file
from bot.membership.model import GroupsFile, GroupsFileError
from bot.membership.planning import PlanSource
from bot.notify import LogNotifier, Notifier
from bot.sandbox import Sandbox, SandboxTransport
from bot.services import ConnectionState, GroupDirectory, utc_now
from bot.storage_errors import storage_faults
from bot.store import Store
from bot.whatsapp.client import WhatsAppClient
from bot.whatsapp.retry import RetryPolicy
from jobs.connection import ConnectionAlerts, ConnectionProbe
from jobs.scheduler import JobScheduler
from jobs.schema import JOB_MIGRATIONS
from jobs.tracker import DeliveryTracker

if TYPE_CHECKING:
    from bot.http import HttpEndpoint
    from bot.http.readiness import PollingSource
    from jobs.timer import Timer

__all__ = [
    "Parts",
    "Runtime",
    "build_commands",
    "build_directory",
    "build_parts",
    "build_probe",
    "client_from_settings",
    "command_options",
    "groups_file_path",
    "load_declared_groups",
]

log = logging.getLogger(__name__)


def client_from_settings(
    pilot: PilotSettings,
    *,
    sandbox: Sandbox | None = None,
    retry: RetryPolicy | None = None,
) -> WhatsAppClient:
    """The one client of the bot: live API, or the in-process sandbox.

    With `base_url = "sandbox"` requests go to `sandbox` (a fresh one with the
    demo groups when not given) through an httpx transport, no sockets.
    """
    transport: httpx.AsyncBaseTransport | None = None
    base_url = pilot.base_url
    api_key = pilot.api_key
    if pilot.is_sandbox:
        transport = SandboxTransport(sandbox)
        base_url = "http://sandbox"
        # The emulator wants some key; a real one is not needed.
        api_key = api_key if api_key.get_secret_value() else SecretStr("sandbox")
    return WhatsAppClient(
        base_url=base_url,
        api_key=api_key,
        timeout=pilot.timeout,
        max_rps=pilot.max_rps,
        concurrency=pilot.concurrency,
        retry=retry,
        transport=transport,
    )


def command_options(settings: Settings) -> CommandOptions:
    """The configured values the command layer reads."""
    return CommandOptions(
        default_country=settings.pilot.default_country,
        timezone=settings.scheduler.timezone,
        sandbox=settings.pilot.is_sandbox,
        api_base_url=settings.pilot.base_url,
        config_jobs=tuple(settings.jobs),
        invite_text=settings.messages.invite,
        track_delivery=settings.messages.track_delivery,
        min_interval=settings.scheduler.min_interval,
        groups_file=groups_file_path(settings.membership.file),
        membership_owner=settings.membership.owner,
        max_removal_share=settings.membership.max_removal_share,
    )


def groups_file_path(file: str) -> str:
    """membership.file made absolute against the working directory ("" stays "")."""
    return str(Path(file).resolve()) if file else ""


def build_directory(
    settings: Settings,
    *,
    client: WhatsAppClient,
    store: Store,
    monotonic: Callable[[], float] = time.monotonic,
) -> GroupDirectory:
    """Group lookup shared by commands and jobs: config aliases and targets, chat aliases.

    Each key of the groups file (``membership.file``) with an id is an alias
    too, beside the config's ``[groups]``; the config wins a clash. A file that
    does not load adds none (``run`` and ``check`` refuse it at start).
    """
    return GroupDirectory(
        client,
        config_aliases=_with_file_aliases(settings),
        targets=settings.targets,
        runtime_aliases=store.aliases,
        monotonic=monotonic,
    )


def load_declared_groups(settings: Settings) -> GroupsFile | None:
    """The groups file ``membership.file`` names (None when unset); raises GroupsFileError."""
    if not settings.membership.file:
        return None
    return load_groups_file(
        settings.membership.file, default_country=settings.pilot.default_country
    )


def _with_file_aliases(settings: Settings) -> dict[str, str]:
    """The config's aliases, and the groups file's keys that clash with none of its names."""
    try:
        declared = load_declared_groups(settings)
    except GroupsFileError as exc:
        first, more = exc.problems[0], len(exc.problems) - 1
        also = f" (and {more} more problems)" if more else ""
        log.warning("groups file not loaded, its keys are no aliases: %s%s", first, also)
        return dict(settings.groups)
    aliases = dict(settings.groups)
    for key, group_id in (declared.aliases() if declared else {}).items():
        if settings.groups.get(key) == group_id:
            continue  # the same alias twice: nothing to say
        if key in settings.groups or key in settings.targets:
            log.warning(
                "groups file key %r is also a name in the config, which wins: it is no alias", key
            )
            continue
        aliases[key] = group_id
    return aliases


def build_commands(
    settings: Settings,
    *,
    client: WhatsAppClient,
    store: Store,
    directory: GroupDirectory | None = None,
    scheduler: JobScheduler | None = None,
    clock: Callable[[], datetime] = utc_now,
    monotonic: Callable[[], float] = time.monotonic,
    max_command_age: timedelta = MAX_COMMAND_AGE,
    follower: DeliveryTracker | None = None,
) -> CommandLayer:
    """The command layer; its own group directory unless `directory` is given."""
    if directory is None:
        directory = build_directory(settings, client=client, store=store, monotonic=monotonic)
    return CommandLayer(
        options=command_options(settings),
        client=client,
        store=store,
        directory=directory,
        scheduler=scheduler,
        clock=clock,
        monotonic=monotonic,
        max_command_age=max_command_age,
        follower=follower,
    )


@dataclass(frozen=True)
class Parts:
    """What the front ends share, over one client and one store."""

    directory: GroupDirectory
    scheduler: JobScheduler
    commands: CommandLayer
    tracker: DeliveryTracker
    alerts: ConnectionAlerts  # the number's connection; changes go to the notify chats once


def build_parts(
    settings: Settings,
    *,
    client: WhatsAppClient,
    store: Store,
    clock: Callable[[], datetime] = utc_now,
    monotonic: Callable[[], float] = time.monotonic,
    timer: Timer | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rng: random.Random | None = None,
) -> Parts:
    """Directory, scheduler and delivery tracker (not started) and command layer, each complete.

    `clock`, `monotonic`, `timer`, `sleep` and `rng` are for tests and
    benchmarks; the defaults are the real ones. May raise ``sqlite3.Error``
    (the scheduler reads its tables).
    """
    directory = build_directory(settings, client=client, store=store, monotonic=monotonic)

    async def tell_notify_chats(text: str) -> None:
        # The scheduler's notify chats, known once it starts (it needs the alerts first).
        await scheduler.notify_chats(text)

    alerts = ConnectionAlerts(ConnectionState(clock=clock), tell_notify_chats)
    scheduler = JobScheduler(
        config_jobs=settings.jobs,
        parallel=settings.pilot.concurrency,
        store=store,
        client=client,
        directory=directory,
        timer=timer,
        clock=clock,
        sleep=sleep,
        rng=rng,
        track_delivery=settings.messages.track_delivery,
        connection=alerts,
        plan_source=PlanSource(
            groups_file_path(settings.membership.file),
            settings.pilot.default_country,
            settings.membership.owner,
        ),
    )
    tracker = DeliveryTracker(
        store=store,
        client=client,
        horizon=settings.messages.track_delivery,
        clock=clock,
        sleep=sleep,
    )
    commands = build_commands(
        settings,
        client=client,
        store=store,
        directory=directory,
        scheduler=scheduler,
        clock=clock,
        monotonic=monotonic,
        follower=tracker,
    )
    return Parts(
        directory=directory,
        scheduler=scheduler,
        commands=commands,
        tracker=tracker,
        alerts=alerts,
    )


def build_probe(
    settings: Settings,
    *,
    client: WhatsAppClient,
    alerts: ConnectionAlerts,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> ConnectionProbe:
    """The connection probe of ``monitor.probe_every`` (not started; off when 0)."""
    return ConnectionProbe(
        client=client, alerts=alerts, every=settings.monitor.probe_every, sleep=sleep
    )


class Runtime:
    """Store, WhatsApp client and command layer built from one `Settings`."""

    def __init__(
        self,
        settings: Settings,
        *,
        sandbox: Sandbox | None = None,
        store: Store | None = None,
    ) -> None:
        """Open the store and build the client and the command layer.

        `sandbox` replaces the fresh in-process emulator (sandbox mode only);
        a given `store` is used as is and not closed by this runtime. Raises
        `StorageError` when the database cannot be used.
        """
        self.settings = settings
        self._exits = AsyncExitStack()
        self.notifier: Notifier = LogNotifier()
        self.sandbox: Sandbox | None = None
        if settings.pilot.is_sandbox:
            self.sandbox = sandbox if sandbox is not None else Sandbox()
        owned_store = store is None
        if store is None:
            store = Store(settings.storage.path, migrations=(JOB_MIGRATIONS,))
        self.store = store
        try:
            self.client: WhatsAppClient = client_from_settings(settings.pilot, sandbox=self.sandbox)
            with self._storage_faults():
                parts = build_parts(settings, client=self.client, store=self.store)
            self.directory = parts.directory
            self.scheduler = parts.scheduler
            self.commands = parts.commands
            self.tracker = parts.tracker
            self.alerts = parts.alerts
            self.connection = parts.alerts.state  # what webhooks and readiness read too
            self.probe = build_probe(settings, client=self.client, alerts=self.alerts)
        except BaseException:
            # Nothing has used the client yet: only the store holds a resource.
            if owned_store:
                self.store.close()
            raise
        if owned_store:
            self._exits.callback(self.store.close)
        self._exits.push_async_callback(self.client.aclose)
        self._exits.callback(metrics.watch_ledger(self.scheduler.ledger.pending_count))

    @property
    def mode(self) -> str:
        """``sandbox (in process)`` or ``live <base url>`` (never a secret)."""
        pilot = self.settings.pilot
        return "sandbox (in process)" if pilot.is_sandbox else f"live {pilot.base_url}"

    async def start_scheduler(self, notifier: Notifier) -> None:
        """Start the job scheduler and the delivery tracker; reports go to `notifier`.

        Both stop on close, before the client and the store close. Stopping
        lets a run in progress finish its current send and leaves the rest
        resumable; the tracker goes on from its database at the next start.
        """
        self.notifier = notifier
        self.on_close(self.scheduler.stop)
        with self._storage_faults():
            await self.scheduler.start(notifier)
        self.on_close(self.tracker.stop)
        await self.tracker.start(notifier)
        await self.start_probe()

    async def start_probe(self) -> None:
        """Start the connection probe (``monitor.probe_every``); it stops on close.

        Its notices go through the scheduler's notifier, so it starts with the
        scheduler and stops before it.
        """
        self.on_close(self.probe.stop)
        await self.probe.start()

    async def start_http(
        self, *, polling: PollingSource | None = None, port: int | None = None
    ) -> HttpEndpoint:
        """Listen on ``http.listen``: webhooks, readiness, liveness, metrics; stopped on close.

        `polling`: the Telegram front end (readiness checks its polling), None
        without a token. `port` replaces the configured one (tests: 0, any free
        port). An address that cannot be used raises OSError.
        """
        # Imported here: without [http] (and in exec) aiohttp's server is never loaded.
        from bot.http import HttpEndpoint
        from bot.http.readiness import Readiness
        from bot.http.webhooks import WebhookReceiver

        http = self.settings.http
        host, configured_port = parse_listen(http.listen)
        receiver = WebhookReceiver(
            secret=http.webhook_secret.get_secret_value(),
            directory=self.directory,
            tracker=self.tracker,
            connection=self.connection,
            notify=self._notify,
            max_body=http.max_body,
        )
        readiness = Readiness(
            store=self.store,
            scheduler=self.scheduler,
            connection=self.connection,
            polling=polling,
            polling_grace=self.settings.monitor.polling_grace,
        )
        endpoint = HttpEndpoint(
            host=host,
            port=configured_port if port is None else port,
            routes=[*receiver.routes(), *readiness.routes()],
            max_body=http.max_body,
        )
        await endpoint.start()
        self.on_close(endpoint.stop)
        return endpoint

    async def _notify(self, text: str) -> None:
        """Tell the notify chats through whichever notifier is current (late-bound)."""
        await self.notifier.notify(text)

    def on_close(self, callback: Callable[[], Awaitable[object]]) -> None:
        """Run `callback` when the runtime closes (last registered, first run)."""
        self._exits.push_async_callback(callback)

    async def aclose(self) -> None:
        """Close everything (idempotent); a storage fault on the way is a `StorageError`."""
        with self._storage_faults():
            await self._exits.aclose()

    def _storage_faults(self) -> AbstractContextManager[None]:
        return storage_faults(self.store.path or self.settings.storage.path)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
