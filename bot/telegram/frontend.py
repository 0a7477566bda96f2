"""The Telegram front end: a python-telegram-bot Application, wired in one place.

`TelegramFrontEnd(settings.telegram, runtime.commands)` builds the
`Application` (token; ``api_base_url`` as the builder's ``base_url`` for a
self-hosted Bot API server; `AIORateLimiter` with retries, so flood control
(429 ``RetryAfter``) delays a reply instead of losing it; no PTB job queue,
grouppilot runs its own scheduler), registers the handlers and the one error
handler, and runs inside the caller's event loop:

- `start`: ``initialize()`` (``getMe``: the bot's username, with which the
  handlers ignore ``/cmd@OtherBot``), ``setMyCommands`` from the command
  definitions, ``start()``, then the updates the journal still holds
  (`recovery.py`: replayed in order, or answered), then
  ``updater.start_polling`` with ``drop_pending_updates`` from the config
  and the update types we use;
- updates run side by side through `intake.UpdateIntake` (PTB's
  ``concurrent_updates``), journaled by `intake.JournalingQueue` (PTB's
  ``update_queue``) before Telegram considers them delivered;
- `stop_commands`: stop polling, keep the fetched updates not yet started
  for the next start, give the commands in flight `stop_grace` seconds, then
  cut them off (their chats are told). Bounded, whatever the WhatsApp API
  does; `stop` does it, then PTB's ``stop()`` and ``shutdown()``;
- `notify`: a `bot.notify.Notifier` that sends job reports and alerts to
  ``effective_notify_chats`` through the same reply path; it never raises.
  Its `progress` keeps an ad-hoc run's one progress message up to date
  (`bot.telegram.progress`: edited at most every `progress_every` seconds).

`last_poll_ok` is when a ``getUpdates`` last came back (an empty long poll
counts): `polling_alive` is what readiness and the watchdog ask.

Never ``run_polling`` (it owns the loop and the signals); `grouppilot run`
owns both. The token stays out of logs and messages (`redact`).
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self, TypeAlias

from telegram import BotCommand, Update
from telegram.error import Forbidden, InvalidToken, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest, RequestData
from telegram.warnings import PTBDeprecationWarning

from bot.commands.layer import CommandLayer
from bot.commands.types import Rights
from bot.config import TelegramSettings
from bot.services import utc_now
from bot.telegram.errors import CONFLICT_NOTICE_EVERY, ErrorHandler
from bot.telegram.files import FILE_COMMANDS, file_base_url
from bot.telegram.handlers import NOTICE_TIMEOUT, Handlers
from bot.telegram.intake import MAX_CONCURRENT_UPDATES, JournalingQueue, UpdateIntake
from bot.telegram.journal import UpdateJournal
from bot.telegram.principals import MEMBER_TTL, MemberCache, RightsPolicy
from bot.telegram.progress import PROGRESS_EVERY, ProgressMessages
from bot.telegram.recovery import recover
from bot.telegram.redact import protect, quiet_http_logs, redact
from bot.telegram.replies import send_text

__all__ = ["ALLOWED_UPDATES", "TelegramFrontEnd", "TelegramStartError"]

log = logging.getLogger(__name__)

TelegramApp: TypeAlias = Application[
    ExtBot[Any], ContextTypes.DEFAULT_TYPE, dict[Any, Any], dict[Any, Any], dict[Any, Any], None
]

# Only what we handle: never edited messages or posts (edits never run commands).
ALLOWED_UPDATES = (
    Update.MESSAGE,
    Update.CHANNEL_POST,
    Update.CALLBACK_QUERY,
    Update.MY_CHAT_MEMBER,
)
COMMANDS = filters.COMMAND & (filters.UpdateType.CHANNEL_POST | filters.UpdateType.MESSAGE)
_DESCRIPTION_MAX = 256
# A command in flight at a stop gets this long to finish; with the notice to
# its chat and PTB's own stop, the front end is down well within 20 s.
STOP_GRACE = 10.0


class _PollingRequest(HTTPXRequest):
    """The ``getUpdates`` connection, noting each answer Telegram gave (any 2xx)."""

    def __init__(self, on_answer: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._on_answer = on_answer

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> tuple[int, bytes]:
        code, payload = await super().do_request(url, method, request_data, *args, **kwargs)
        if 200 <= code < 300:
            self._on_answer()
        return code, payload


class TelegramStartError(Exception):
    """The front end could not start (bad token, Bot API unreachable); no secret inside."""


class TelegramFrontEnd:
    """Commands from Telegram chats to the command layer, and reports back."""

    def __init__(
        self,
        settings: TelegramSettings,
        commands: CommandLayer,
        *,
        poll_timeout: float = 10.0,
        max_retries: int = 3,
        member_ttl: float = MEMBER_TTL,
        conflict_notice_every: float = CONFLICT_NOTICE_EVERY,
        stop_grace: float = STOP_GRACE,
        notice_timeout: float = NOTICE_TIMEOUT,
        max_concurrent_updates: int = MAX_CONCURRENT_UPDATES,
        progress_every: float = PROGRESS_EVERY,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if not settings.enabled:
            raise ValueError("telegram.token is empty")
        self.settings = settings
        self.commands = commands
        self.poll_timeout = poll_timeout
        self.stop_grace = stop_grace
        self.notice_timeout = notice_timeout
        self.rights = RightsPolicy(settings, MemberCache(member_ttl))
        self.intake = UpdateIntake(max_concurrent_updates)
        self.updates = JournalingQueue()
        self.journal: UpdateJournal | None = None  # once the bot's id is known
        self.handlers = Handlers(commands, self.rights, self.intake, notice_timeout=notice_timeout)
        self.errors = ErrorHandler(
            self.rights, self.notify, conflict_notice_every=conflict_notice_every
        )
        self._token = settings.token.get_secret_value()
        protect(self._token)
        self._clock = clock
        self.last_poll_ok: datetime | None = None  # when getUpdates last answered
        # Ours, so that they can be closed even when initialize() fails.
        self._requests = (
            HTTPXRequest(connection_pool_size=64),  # replies, edits, getChatMember...
            _PollingRequest(self._polled, connection_pool_size=1),  # getUpdates
        )
        self.application: TelegramApp = self._build(max_retries)
        self.progress_messages = ProgressMessages(
            lambda: self.application.bot, min_interval=progress_every
        )

    # -- lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        """Connect, publish the command menu and start polling; `TelegramStartError` if not."""
        quiet_http_logs()
        # PTB warns about its own use of RetryAfter.retry_after; nothing for us to change.
        warnings.filterwarnings(
            "ignore", message=r".*`retry_after`", category=PTBDeprecationWarning
        )
        app = self.application
        try:
            await app.initialize()
        except TelegramError as exc:
            await self._close_connections()  # a failed initialize() leaves them open
            raise self._start_error(exc) from None
        try:
            self._open_journal()
            await self._publish_commands()
            await app.start()
            if self.journal is not None:
                await recover(
                    self.journal,
                    self.updates,
                    app.bot,
                    self.commands,
                    self.rights,
                    drop=self.settings.drop_pending_updates,
                    notice_timeout=self.notice_timeout,
                )
            assert app.updater is not None
            await app.updater.start_polling(
                timeout=timedelta(seconds=self.poll_timeout),
                drop_pending_updates=self.settings.drop_pending_updates,
                allowed_updates=list(ALLOWED_UPDATES),
                error_callback=self._polling_error,
            )
        except BaseException as exc:
            await self.stop()
            if isinstance(exc, TelegramError):
                raise TelegramStartError(
                    f"Telegram refused to start polling: {redact(exc.message)}"
                ) from None
            raise
        log.info(
            "Telegram front end started as @%s: commands from admin chats %s, "
            "reports to %s, %s pending updates",
            app.bot.username,
            list(self.settings.admin_chats) or "(none)",
            self.settings.effective_notify_chats or "(the log)",
            "dropping" if self.settings.drop_pending_updates else "keeping",
        )

    async def stop_commands(self) -> None:
        """Stop taking commands, in bounded time (idempotent); `notify` still works.

        Polling stops; updates fetched but not started stay in the journal for
        the next start; commands in flight get `stop_grace` seconds, then are
        cut off and their chats told.
        """
        app = self.application
        began = time.monotonic()
        if app.updater is not None and app.updater.running:
            try:
                await app.updater.stop()
            except Exception:
                log.exception("error while stopping polling")
        not_dispatched = self.updates.discard_all()  # they stay queued in the journal
        in_line, cut_off = await self.intake.stop(
            self.stop_grace, notice_time=self.notice_timeout + 1.0
        )
        if not_dispatched or in_line or cut_off:
            log.warning(
                "stopped taking Telegram commands in %.1f s: %d kept for the next start, "
                "%d cut off after %.1f s",
                time.monotonic() - began,
                not_dispatched + in_line,
                cut_off,
                self.stop_grace,
            )

    async def stop(self) -> None:
        """Stop taking commands (bounded), then stop PTB and close connections (idempotent)."""
        await self.stop_commands()
        app = self.application
        steps = []
        if app.running:
            steps.append(app.stop)
        steps.append(app.shutdown)
        for step in steps:
            try:
                await step()
            except Exception:
                log.exception("error while stopping the Telegram front end")
        log.info("Telegram front end stopped")

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def polling_alive(self, now: datetime, grace: timedelta) -> bool:
        """Whether ``getUpdates`` answered within `grace` before `now` (never yet: no)."""
        return self.last_poll_ok is not None and now - self.last_poll_ok <= grace

    def _polled(self) -> None:
        self.last_poll_ok = self._clock()

    # -- bot.notify.Notifier ------------------------------------------------------

    async def notify(self, text: str) -> None:
        """Send a job report or alert to every notify chat; log what cannot be delivered."""
        chats = self.settings.effective_notify_chats
        if not chats or not self.application.running:
            log.info("report (no Telegram notify chat, or not running): %s", text)
            return
        for chat_id in chats:
            try:
                await send_text(self.application.bot, chat_id, text)
            except Forbidden as exc:
                log.warning(
                    "cannot post the report in chat %s (%s): was the bot removed from it?",
                    chat_id,
                    exc.message,
                )
            except Exception:
                log.exception("cannot post the report in chat %s", chat_id)

    async def tell(self, chat: str, text: str) -> None:
        """Send `text` to one chat (``telegram:<id>``, a `/send`'s follow-up); never raises."""
        chat_id = chat.removeprefix("telegram:")
        if chat_id == chat or not chat_id.lstrip("-").isdigit() or not self.application.running:
            log.info("to %s (not a Telegram chat, or not running): %s", chat, text)
            return
        try:
            await send_text(self.application.bot, int(chat_id), text)
        except Exception as exc:  # a follow-up that cannot go out is only logged
            log.warning("cannot post a follow-up in chat %s (%s)", chat_id, exc)

    async def progress(self, chat: str, key: str, text: str, final: bool) -> None:
        """One message per `key` in `chat`, edited in place (`bot.telegram.progress`)."""
        chat_id = chat.removeprefix("telegram:")
        if chat_id == chat or not chat_id.lstrip("-").isdigit() or not self.application.running:
            if final:
                log.info("to %s (not a Telegram chat, or not running): %s", chat, text)
            return
        await self.progress_messages.show(int(chat_id), key, text, final=final)

    # -- wiring -------------------------------------------------------------------

    def _build(self, max_retries: int) -> TelegramApp:
        builder = (
            ApplicationBuilder()
            .token(self._token)
            .request(self._requests[0])
            .get_updates_request(self._requests[1])
            .rate_limiter(AIORateLimiter(max_retries=max_retries))
            .job_queue(None)
            .update_queue(self.updates)
            .concurrent_updates(self.intake)
        )
        if self.settings.api_base_url:
            builder = builder.base_url(self.settings.api_base_url)
            builder = builder.base_file_url(file_base_url(self.settings.api_base_url))
        app: TelegramApp = builder.build()
        app.add_handler(MessageHandler(COMMANDS, self.handlers.command))
        app.add_handler(MessageHandler(FILE_COMMANDS, self.handlers.file_command))
        app.add_handler(CallbackQueryHandler(self.handlers.press))
        app.add_handler(
            ChatMemberHandler(self.handlers.membership, ChatMemberHandler.MY_CHAT_MEMBER)
        )
        app.add_error_handler(self.errors)
        return app

    def _start_error(self, exc: TelegramError) -> TelegramStartError:
        if isinstance(exc, InvalidToken):
            return TelegramStartError(
                "Telegram rejected the bot token: check telegram.token "
                "(or GROUPPILOT_TELEGRAM__TOKEN); BotFather shows it with /token"
            )
        where = redact(self.settings.api_base_url) or "api.telegram.org"
        return TelegramStartError(
            f"cannot reach the Telegram Bot API at {where}: {redact(exc.message)}"
        )

    async def _close_connections(self) -> None:
        for request in self._requests:
            try:
                await request.shutdown()
            except Exception:
                log.debug("closing a Bot API connection pool failed", exc_info=True)

    def _open_journal(self) -> None:
        try:
            self.journal = UpdateJournal(self.commands.store.db, self.application.bot.id)
        except Exception:  # no journal: commands still run, only restart safety is lost
            log.exception("cannot open the Telegram update journal; going on without it")
            return
        self.updates.journal = self.intake.journal = self.journal

    def _polling_error(self, error: TelegramError) -> None:
        # Called by the polling loop (not a coroutine): hand over to the error handler.
        self.application.create_task(self.application.process_error(update=None, error=error))

    async def _publish_commands(self) -> None:
        menu = [
            BotCommand(spec.name, (spec.summary or spec.name)[:_DESCRIPTION_MAX])
            for spec in self.commands.commands_for(Rights.ADMIN)
        ]
        try:
            await self.application.bot.set_my_commands(menu)
        except TelegramError as exc:  # a missing menu is not worth refusing to start
            log.warning("could not publish the command menu: %s", redact(exc.message))
