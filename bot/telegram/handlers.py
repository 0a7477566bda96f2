"""Thin async handlers between python-telegram-bot and the command layer.

- `Handlers.command`: a command from a channel post, a group message or a
  private chat (new messages only: the front end registers it for
  ``filters.UpdateType.CHANNEL_POST | filters.UpdateType.MESSAGE``, so edits
  never get here). It builds the principal, runs the command, and sends the
  reply, or the question with `Confirm` / `Cancel` buttons. A principal with
  no rights is still handed to the layer (which audits the attempt and
  answers `Reply.nothing()`), so a stranger gets no message at all.
- `Handlers.press`: a button press. Always answered. A presser without admin
  rights in that chat gets a short "not allowed" and the buttons stay; an
  admin's press settles the command once and the message is edited to show
  the outcome, buttons removed.
- `Handlers.membership`: the bot was added to, promoted in or removed from a
  chat; logged with the chat id (how an operator finds a channel's id).

Errors are not caught here: they reach the one error handler (`errors.py`).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import TypeVar

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot.commands.layer import CommandLayer
from bot.commands.types import Pending, Reply, Rights
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
_ANSWER_MAX = 200  # Telegram's limit for a callback query answer


def _addressed_elsewhere(text: str, username: str | None) -> bool:
    """True for ``/cmd@OtherBot``: another bot's command, to be ignored silently."""
    head = text.split(maxsplit=1)[0] if text.strip() else ""
    _, at, name = head.partition("@")
    return bool(at) and username is not None and name.lower() != username.lower()


def _start_as_help(text: str) -> str:
    """Telegram sends ``/start`` when someone opens a chat with the bot: show help."""
    head, _, rest = text.strip().partition(" ")
    name, at, bot = head.partition("@")
    return f"/help{at}{bot} {rest}".rstrip() if name.lower() == "/start" else text


class Handlers:
    """The callbacks the front end registers on its `Application`."""

    def __init__(self, commands: CommandLayer, rights: RightsPolicy) -> None:
        self.commands = commands
        self.rights = rights
        self._asked: OrderedDict[str, int] = OrderedDict()  # token -> chat of its buttons
        self._settled: OrderedDict[str, None] = OrderedDict()

    async def command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or not message.text or message.is_automatic_forward:
            return  # a linked channel's post copied into its discussion group runs once, there
        if _addressed_elsewhere(message.text, context.bot.username):
            return
        principal = await self.rights.of_message(message)
        outcome = await self.commands.execute(_start_as_help(message.text), principal)
        if isinstance(outcome, Pending):
            _remember(self._asked, outcome.token, message.chat_id)
            await send_text(
                context.bot,
                message.chat_id,
                outcome.question,
                reply_to=message.message_id,
                buttons=confirm_buttons(outcome.token),
            )
        elif not outcome.silent:
            await send_text(context.bot, message.chat_id, outcome.text, reply_to=message.message_id)

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
        if token in self._settled:  # a second press on a settled question changes nothing
            await query.answer(_ALREADY_SETTLED)
            return
        principal = await self.rights.of_press(query)
        settle = self.commands.confirm if verb == CONFIRM else self.commands.cancel
        reply = await settle(token, principal)  # the layer checks and audits the press too
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
