"""The one error handler of the Telegram front end.

python-telegram-bot hands it every exception raised by a handler (with the
update) and every error of the polling loop (with ``update=None``). Nothing
it sees stops the bot; polling goes on by itself.

- `Conflict` (409: another process polls updates with the same token): one
  clear log line and a notice to the notify chats, repeated at most every
  `CONFLICT_NOTICE_EVERY` seconds while it lasts.
- `Forbidden` (the bot was removed from a chat or may no longer post there):
  logged as a warning naming the chat; nobody can be told there anyway.
- `ChatMigrated` (a group became a supergroup): logged with the new id that
  belongs in ``admin_chats``.
- Network trouble while polling: a warning without a traceback (PTB retries).
- Anything else: logged with its traceback and context under a short incident
  id, and the chat is told briefly ("logged as 1a2b3c4d"), but only an admin
  chat or the private chat of a listed admin or viewer: strangers hear nothing.

No message built here contains an exception's text (which could hold the
token or a user's input); the log does, through the redacting record factory.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.error import ChatMigrated, Conflict, Forbidden, NetworkError, TelegramError
from telegram.ext import ContextTypes

from bot.telegram.principals import RightsPolicy

__all__ = ["CONFLICT_NOTICE", "CONFLICT_NOTICE_EVERY", "ErrorHandler"]

log = logging.getLogger(__name__)

CONFLICT_NOTICE_EVERY = 600.0
CONFLICT_NOTICE = (
    "Warning: another program is polling Telegram updates with this bot's token "
    "(409 Conflict), so some commands may go to it instead of this bot. Stop the "
    "other instance, or revoke the token with BotFather if you do not know it."
)


def _describe(update: object) -> str:
    if not isinstance(update, Update):
        return "polling"
    chat = update.effective_chat
    user = update.effective_user
    kind = "button press" if update.callback_query else "message"
    return (
        f"{kind} (update {update.update_id}, chat {chat.id if chat else '?'}, "
        f"user {user.id if user else '-'})"
    )


class ErrorHandler:
    """`Application.add_error_handler(ErrorHandler(...))`; never raises."""

    def __init__(
        self,
        rights: RightsPolicy,
        notify: Callable[[str], Awaitable[None]],
        *,
        conflict_notice_every: float = CONFLICT_NOTICE_EVERY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rights = rights
        self.notify = notify
        self.conflict_notice_every = conflict_notice_every
        self._monotonic = monotonic
        self._last_conflict: float | None = None

    async def __call__(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        try:
            await self._handle(update, error, context)
        except Exception:  # the error handler itself must never take the bot down
            log.exception("the Telegram error handler failed on %s", _describe(update))

    async def _handle(
        self, update: object, error: Exception | None, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        if isinstance(error, Conflict):
            await self._conflict()
        elif isinstance(error, Forbidden):
            chat = update.effective_chat if isinstance(update, Update) else None
            log.warning(
                "Telegram refused to let the bot act in chat %s (%s): it was removed from "
                "that chat or lost its rights there; the bot goes on",
                chat.id if chat else "?",
                error.message,
            )
        elif isinstance(error, ChatMigrated):
            log.warning(
                "a group became a supergroup with the new id %s: put that id in "
                "telegram.admin_chats",
                error.new_chat_id,
            )
        elif update is None and isinstance(error, NetworkError):
            log.warning("polling Telegram failed (%s); retrying", error.message)
        else:
            incident = secrets.token_hex(4)
            log.error("incident %s while handling %s", incident, _describe(update), exc_info=error)
            if isinstance(update, Update):
                await self._tell(update, context, incident)

    async def _conflict(self) -> None:
        now = self._monotonic()
        if self._last_conflict is not None and now - self._last_conflict < (
            self.conflict_notice_every
        ):
            log.debug("409 Conflict again: another instance still polls")
            return
        self._last_conflict = now
        log.error(
            "409 Conflict from Telegram: another process is polling updates with this bot "
            "token (a second grouppilot, or a test script?). Polling continues; stop the "
            "other instance."
        )
        await self.notify(CONFLICT_NOTICE)

    async def _tell(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, incident: str
    ) -> None:
        text = f"Something went wrong there (logged as {incident}). Please try again."
        query = update.callback_query
        if query is not None:
            with contextlib.suppress(TelegramError):  # already answered, or too old
                await query.answer(text)
            return
        chat = update.effective_chat
        if chat is None or not self.rights.may_hear_errors(chat, update.effective_user):
            return
        try:
            await context.bot.send_message(chat_id=chat.id, text=text)
        except TelegramError as exc:
            log.warning("could not tell chat %s about incident %s: %s", chat.id, incident, exc)
