"""The bot's parts, wired in one place from the settings.

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

Use it as an async context manager: leaving it closes everything, in the
reverse order of opening. Later parts (the Telegram front end, the scheduler)
are built here too and register their shutdown with `on_close`.

Storage faults come out as one `StorageError`: from the store's open (the
store's and the scheduler's schemas are migrated there, together), and from
the scheduler's start (its rebuild writes the jobs) and shutdown, where a raw
``sqlite3.Error`` is translated.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, AsyncExitStack
from types import TracebackType
from typing import Self

from bot.commands.layer import CommandLayer
from bot.config import Settings
from bot.notify import Notifier
from bot.sandbox import Sandbox
from bot.storage_errors import storage_faults
from bot.store import Store
from bot.whatsapp.client import WhatsAppClient, client_from_settings
from jobs.scheduler import JobScheduler
from jobs.schema import JOB_MIGRATIONS

__all__ = ["Runtime"]

log = logging.getLogger(__name__)


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
        self.sandbox: Sandbox | None = None
        if settings.pilot.is_sandbox:
            self.sandbox = sandbox if sandbox is not None else Sandbox()
        owned_store = store is None
        if store is None:
            store = Store(settings.storage.path, migrations=(JOB_MIGRATIONS,))
        self.store = store
        try:
            self.client: WhatsAppClient = client_from_settings(settings.pilot, sandbox=self.sandbox)
            self.commands = CommandLayer(settings=settings, client=self.client, store=self.store)
            with self._storage_faults():
                self.scheduler = JobScheduler(
                    settings=settings,
                    store=self.store,
                    client=self.client,
                    directory=self.commands.directory,
                )
            self.commands.scheduler = self.scheduler
        except BaseException:
            # Nothing has used the client yet: only the store holds a resource.
            if owned_store:
                self.store.close()
            raise
        if owned_store:
            self._exits.callback(self.store.close)
        self._exits.push_async_callback(self.client.aclose)

    @property
    def mode(self) -> str:
        """``sandbox (in process)`` or ``live <base url>`` (never a secret)."""
        pilot = self.settings.pilot
        return "sandbox (in process)" if pilot.is_sandbox else f"live {pilot.base_url}"

    async def start_scheduler(self, notifier: Notifier) -> None:
        """Start the job scheduler; job reports go to `notifier`. Stopped on close.

        Stopping lets a run in progress finish its current send and leaves the
        rest resumable; it happens before the client and the store close.
        """
        self.on_close(self.scheduler.stop)
        with self._storage_faults():
            await self.scheduler.start(notifier)

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
