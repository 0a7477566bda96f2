"""Thin async handlers between python-telegram-bot and the command layer.

- `Handlers.command`: a command from a channel post, a group message or a
  private chat (new messages only: the front end registers it for
  ``filters.UpdateType.CHANNEL_POST | filters.UpdateType.MESSAGE``, so edits
  never get here). It builds the principal, runs the command, and sends the
  reply, or the question with `Confirm` / `Cancel` buttons. A principal with
  no rights is still handed to the layer (which audits the attempt and
  answers `Reply.nothing()`), so a stranger gets no message at all.
  Two Telegram rules live here and nowhere else: ``/cmd@OtherBot`` (another
  bot's command) is ignored, and ``/start`` (sent when someone opens a chat
  with the bot) runs as ``/help``.
- `Handlers.file_command`: a photo or document whose caption is a command
  (registered for `files.FILE_COMMANDS`). Only ``/send`` takes a file: for an
  admin's `/send` the file is downloaded (`files.attachment_of`: too large is
  refused before the download) and handed to the layer as the attachment;
  any other command with a file is answered "Files only go with /send".
- `Handlers.press`: a button press. Always answered. A presser without admin
  rights in that chat gets a short "not allowed" and the buttons stay; an
  admin's press settles the command once and the message is edited to show
  the outcome, buttons removed.
- `Handlers.membership`: the bot was added to, promoted in or removed from a
  chat; logged with the chat id (how an operator finds a channel's id).

Updates run side by side (`intake.py`). A command and a Confirm press take
their place in the command layer's line first thing, before anything is
awaited, so their arrival order is kept where it matters. A command cut off
by a stop after it started is answered with what it may have left behind.

Errors are not caught here: they reach the one error handler (`errors.py`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from telegram import Bot, CallbackQuery, Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.commands.context import Attachment
from bot.commands.layer import CommandLayer
from bot.commands.ordering import Ticket
from bot.commands.parsing import ParseError, split_command
from bot.commands.types import Outcome, Pending, Reply, Rights
from bot.telegram.files import FileRefused, attachment_of, has_file
from bot.telegram.intake import UpdateIntake
from bot.telegram.principals import RightsPolicy
from bot.telegram.replies import (
    CONFIRM,
    MAX_CHARS,
    confirm_buttons,
    edit_text,
    parse_button,
    send_text,
    utf16_len,
)

__all__ = ["Handlers"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

_MEMORY = 1000  # questions remembered (the layer keeps them 5 minutes)
_STALE_BUTTON = "This button is no longer valid."
_ALREADY_SETTLED = "Already done."
_STOPPING = "Not done: the bot is stopping. Nothing was changed."
_ANSWER_MAX = 200  # Telegram's limit for a callback query answer
_FILES_ONLY_WITH_SEND = (
    "Files only go with /send: post the photo or document with /send <target> [caption…] "
    "as its caption. Nothing was done."
)
NOTICE_TIMEOUT = 3.0  # seconds to tell a chat its command was interrupted (the bot is stopping)


def _addressed_elsewhere(text: str, username: str | None) -> bool:
    """True for ``/cmd@OtherBot``: another bot's command, to be ignored silently."""
    head = text.split(maxsplit=1)[0] if text.strip() else ""
    _, at, name = head.partition("@")
    return bool(at) and username is not None and name.lower() != username.lower()


def _command_name(text: str) -> str | None:
    """The command word of `text` (``send`` for ``/send@Bot …``), None when unreadable."""
    try:
        return split_command(text).name
    except ParseError:
        return None


def _start_as_help(text: str) -> str:
    """Telegram sends ``/start`` when someone opens a chat with the bot: show help."""
    head, _, rest = text.strip().partition(" ")
    name, at, bot = head.partition("@")
    return f"/help{at}{bot} {rest}".rstrip() if name.lower() == "/start" else text


class Handlers:
    """The callbacks the front end registers on its `Application`."""

    def __init__(
        self,
        commands: CommandLayer,
        rights: RightsPolicy,
        intake: UpdateIntake,
        *,
        notice_timeout: float = NOTICE_TIMEOUT,
    ) -> None:
        self.commands = commands
        self.rights = rights
        self.intake = intake
        self.notice_timeout = notice_timeout
        self._asked: OrderedDict[str, int] = OrderedDict()  # token -> chat of its buttons
        self._settled: OrderedDict[str, None] = OrderedDict()
        self._pressing: dict[str, _PressLine] = {}  # presses on one question, one at a time

    async def command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or not message.text or message.is_automatic_forward:
            return  # a linked channel's post copied into its discussion group runs once, there
        if _addressed_elsewhere(message.text, context.bot.username):
            return
        text = _start_as_help(message.text)
        ticket = self.intake.hold(update, self.commands.admit(text))  # before any await
        async with self._in_line(ticket, context.bot, message):
            principal = await self.rights.of_message(message)
            outcome = await self.commands.execute(
                text, principal, ticket=ticket, sent_at=message.date
            )
        await self._answer(context.bot, message, outcome)

    async def file_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A photo or document whose caption is a command: only `/send` takes a file.

        The same rights as a text command; the file is downloaded only for an
        admin's `/send` recent enough to run (others are refused by the layer
        as usual, without the download).
        """
        message = update.effective_message
        if message is None or not message.caption or message.is_automatic_forward:
            return
        if not has_file(message) or _addressed_elsewhere(message.caption, context.bot.username):
            return
        text = _start_as_help(message.caption)
        ticket = self.intake.hold(update, self.commands.admit(text))  # before any await
        async with self._in_line(ticket, context.bot, message):
            principal = await self.rights.of_message(message)
            attachment: Attachment | None = None
            refusal: str | None = None
            if principal.rights >= Rights.VIEWER and _command_name(text) != "send":
                refusal = _FILES_ONLY_WITH_SEND
            elif principal.rights >= Rights.ADMIN and not self._too_old(message):
                try:
                    attachment = await attachment_of(message)
                except FileRefused as exc:
                    refusal = str(exc)
            if refusal is not None:
                outcome: Outcome = Reply.failed(refusal)
            else:
                outcome = await self.commands.execute(
                    text, principal, ticket=ticket, sent_at=message.date, attachment=attachment
                )
        await self._answer(context.bot, message, outcome)

    def _too_old(self, message: Message) -> bool:
        """Sent so long ago that the layer will not run it (so no download either)."""
        return self.commands.clock() - message.date > self.commands.max_command_age

    async def _answer(self, bot: Bot, message: Message, outcome: Outcome) -> None:
        """Send the reply, or the question with Confirm / Cancel buttons (nothing if silent)."""
        if isinstance(outcome, Pending):
            _remember(self._asked, outcome.token, message.chat_id)
            await send_text(
                bot,
                message.chat_id,
                outcome.question,
                reply_to=message.message_id,
                buttons=confirm_buttons(outcome.token),
            )
        elif not outcome.silent:
            await send_text(bot, message.chat_id, outcome.text, reply_to=message.message_id)

    async def press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        button = parse_button(query.data)
        message = query.message
        if button is None or not isinstance(message, Message):
            await query.answer(_STALE_BUTTON)
            return
        verb, token = button
        async with self._one_at_a_time(token):
            await self._settle(update, context, query, message, verb, token)

    async def _settle(
        self,
        update: Update,
        context: ContextTypes.DEFAULT_TYPE,
        query: CallbackQuery,
        message: Message,
        verb: str,
        token: str,
    ) -> None:
        if token in self._settled:  # a second press on a settled question changes nothing
            await query.answer(_ALREADY_SETTLED)
            return
        if verb == CONFIRM:  # the layer checks and audits the press too
            ticket = self.intake.hold(update, self.commands.admit_confirmation(token))
            async with self._in_line(ticket, context.bot, message, press=query):
                principal = await self.rights.of_press(query)
                reply = await self.commands.confirm(token, principal, ticket=ticket)
        else:
            principal = await self.rights.of_press(query)
            reply = await self.commands.cancel(token, principal)
        asked_in = self._asked.get(token, message.chat_id)
        if principal.rights < Rights.ADMIN or asked_in != message.chat_id:
            await query.answer(reply.text[:_ANSWER_MAX])  # "not allowed": buttons stay
            return
        _remember(self._settled, token, None)
        await query.answer(_short(verb, reply))
        await edit_text(context.bot, message, _settled_text(message.text or "", reply))

    async def membership(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.my_chat_member
        if change is None:
            return
        chat = change.chat
        status = change.new_chat_member.status
        listed = chat.id in self.rights.admin_chats
        hint = ""
        if chat.type != ChatType.PRIVATE and not listed and status in ("administrator", "member"):
            hint = f"; add {chat.id} to telegram.admin_chats to take commands there"
        log.info(
            "the bot is now %s in %s %r (id %s)%s", status, chat.type, chat.title, chat.id, hint
        )

    @asynccontextmanager
    async def _one_at_a_time(self, token: str) -> AsyncIterator[None]:
        """Presses on one question are handled in the order they came, one at a time.

        Updates run side by side, and a double press must not see the question
        half settled (the second one is then "Already done.").
        """
        line = self._pressing.setdefault(token, _PressLine())
        line.users += 1
        try:
            async with line.lock:  # free: no wait, so a first press keeps its place
                yield
        finally:
            line.users -= 1
            if not line.users:
                del self._pressing[token]

    @asynccontextmanager
    async def _in_line(
        self, ticket: Ticket, bot: Bot, message: Message, *, press: CallbackQuery | None = None
    ) -> AsyncIterator[None]:
        """Leave the line however the block ends; if a stop cut it off, say what that means.

        A command cut off before it started says nothing: it runs after the
        restart. A press does not outlive a restart (confirmations do not), so
        it is answered now.
        """
        try:
            yield
        except asyncio.CancelledError:
            if ticket.started:
                text = self.commands.interrupted_text(ticket.label, changes=ticket.claim.changes)
                reply = send_text(bot, message.chat_id, text, reply_to=message.message_id)
                await self._bounded(reply)
            elif press is not None:
                await self._bounded(press.answer(_STOPPING))
            raise
        finally:
            ticket.release()

    async def _bounded(self, telling: Awaitable[object]) -> None:
        """Tell a chat something while the bot stops: within `notice_timeout`, never raising."""
        try:
            async with asyncio.timeout(self.notice_timeout):
                await telling
        except (TelegramError, TimeoutError) as exc:
            log.warning("could not tell a chat that the bot is stopping (%s)", exc)


@dataclass
class _PressLine:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


def _remember(memory: OrderedDict[str, _T], token: str, value: _T) -> None:
    memory[token] = value
    while len(memory) > _MEMORY:
        memory.popitem(last=False)


def _short(verb: str, reply: Reply) -> str:
    """The small pop-up answer to an admin's press."""
    if not reply.ok:
        return "Not done: see the message."
    return "Done." if verb == CONFIRM else "Cancelled."


def _settled_text(question: str, reply: Reply) -> str:
    """The question with its outcome below it (the outcome alone if that is too long)."""
    combined = f"{question}\n\n{reply.text}" if question else reply.text
    return combined if utf16_len(combined) <= MAX_CHARS else reply.text
