"""Who is speaking in Telegram, and with which rights (docs/telegram.md).

`RightsPolicy.of_message` turns the message that carries a command into a
`Principal`; `RightsPolicy.of_press` does the same for whoever pressed a
`Confirm` / `Cancel` button. The command layer decides what those rights
allow; this module only answers "who, where, how much":

- a post in a channel listed in ``admin_chats``: admin (only channel admins
  can post there); ``who`` is ``channel:<id>`` plus ``signed <signature>``
  when the channel signs its posts (a label, not an identity);
- a message in a group listed in ``admin_chats``: admin if the sender is in
  ``admins`` or an administrator of that group (``getChatMember``, cached
  for `MEMBER_TTL` seconds), or posts anonymously *as the group* (only its
  administrators can); viewer if in ``viewers``; otherwise no rights;
- a private chat: admin if in ``admins``, viewer if in ``viewers``;
- anything else: no rights. The layer audits such an attempt and answers
  nothing.

A button press is admin only for someone who would be an admin of that chat
when typing there: in ``admins``, or an administrator of the (listed) group
or channel. ``chat`` is always ``telegram:<chat id>``; ``who`` is
``user:<id> (@username)`` (or the person's name when they have no username).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from telegram import Bot, CallbackQuery, Chat, Message, User
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, Forbidden

from bot.commands.types import Principal, Rights
from bot.config import TelegramSettings

__all__ = ["MEMBER_TTL", "MemberCache", "RightsPolicy", "chat_name", "user_name"]

MEMBER_TTL = 60.0  # seconds a getChatMember answer is trusted
_MAX_CACHED = 1024
_ADMIN_STATUSES = frozenset({ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER})


def chat_name(chat_id: int) -> str:
    """The audit log's name of a Telegram chat."""
    return f"telegram:{chat_id}"


def user_name(user: User) -> str:
    """``user:<id> (@username)``, or ``user:<id> (Full Name)`` without a username."""
    label = f"@{user.username}" if user.username else user.full_name
    return f"user:{user.id} ({label})" if label else f"user:{user.id}"


def _channel_name(chat: Chat, signature: str | None) -> str:
    return f"channel:{chat.id} signed {signature}" if signature else f"channel:{chat.id}"


class MemberCache:
    """``getChatMember`` answers ("is this user an administrator here?"), kept briefly.

    Negative answers are cached too, so a stranger typing commands in an
    admin group costs one API call a minute. A user unknown to the chat
    (``BadRequest``) or a chat the bot has left (``Forbidden``) means "no";
    network failures propagate (the error handler tells the chat).
    """

    def __init__(
        self, ttl: float = MEMBER_TTL, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self._monotonic = monotonic
        self._answers: OrderedDict[tuple[int, int], tuple[float, bool]] = OrderedDict()

    async def is_admin(self, bot: Bot, chat_id: int, user_id: int) -> bool:
        key = (chat_id, user_id)
        now = self._monotonic()
        cached = self._answers.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            member = await bot.get_chat_member(chat_id=chat_id, user_id=user_id)
            answer = member.status in _ADMIN_STATUSES
        except (BadRequest, Forbidden):
            answer = False
        self._answers[key] = (now + self.ttl, answer)
        self._answers.move_to_end(key)
        while len(self._answers) > _MAX_CACHED:
            self._answers.popitem(last=False)
        return answer


class RightsPolicy:
    """The rights of docs/telegram.md applied to Telegram messages and button presses."""

    def __init__(self, settings: TelegramSettings, members: MemberCache | None = None) -> None:
        self.admin_chats = frozenset(settings.admin_chats)
        self.admins = frozenset(settings.admins)
        self.viewers = frozenset(settings.viewers)
        self.members = members if members is not None else MemberCache()

    async def of_message(self, message: Message) -> Principal:
        """The principal of a command carried by `message` (a post or a message)."""
        chat = message.chat
        where = chat_name(chat.id)
        if chat.type == ChatType.CHANNEL:
            rights = Rights.ADMIN if chat.id in self.admin_chats else Rights.NONE
            return Principal(where, _channel_name(chat, message.author_signature), rights)
        sender = message.sender_chat
        if sender is not None:  # written as a chat, not as a person
            if sender.id == chat.id and chat.id in self.admin_chats:
                # Only the group's administrators can post anonymously as the group.
                who = "anonymous admin" + (
                    f" signed {message.author_signature}" if message.author_signature else ""
                )
                return Principal(where, who, Rights.ADMIN)
            return Principal(where, _channel_name(sender, message.author_signature), Rights.NONE)
        user = message.from_user
        if user is None:
            return Principal(where, "unknown sender", Rights.NONE)
        if chat.type == ChatType.PRIVATE:
            return Principal(where, user_name(user), self._listed(user.id))
        if chat.id not in self.admin_chats:
            return Principal(where, user_name(user), Rights.NONE)
        return Principal(where, user_name(user), await self._in_admin_chat(message, user))

    async def of_press(self, query: CallbackQuery) -> Principal:
        """The principal of whoever pressed a button under one of our messages."""
        user = query.from_user
        who = user_name(user)
        message = query.message
        if message is None:  # too old to know where it was
            return Principal("telegram:unknown", who, Rights.NONE)
        chat = message.chat
        where = chat_name(chat.id)
        if chat.type == ChatType.PRIVATE:
            return Principal(where, who, self._listed(user.id))
        if chat.id not in self.admin_chats:
            return Principal(where, who, Rights.NONE)
        if user.id in self.admins or await self.members.is_admin(query.get_bot(), chat.id, user.id):
            return Principal(where, who, Rights.ADMIN)
        return Principal(where, who, Rights.VIEWER if user.id in self.viewers else Rights.NONE)

    def may_hear_errors(self, chat: Chat | None, user: User | None) -> bool:
        """Whether an error may be told in `chat` (never to strangers)."""
        if chat is None:
            return False
        if chat.type == ChatType.PRIVATE:
            return user is not None and self._listed(user.id) > Rights.NONE
        return chat.id in self.admin_chats

    # -- internals ----------------------------------------------------------------

    def _listed(self, user_id: int) -> Rights:
        if user_id in self.admins:
            return Rights.ADMIN
        if user_id in self.viewers:
            return Rights.VIEWER
        return Rights.NONE

    async def _in_admin_chat(self, message: Message, user: User) -> Rights:
        if user.id in self.admins:
            return Rights.ADMIN
        if await self.members.is_admin(message.get_bot(), message.chat.id, user.id):
            return Rights.ADMIN
        return Rights.VIEWER if user.id in self.viewers else Rights.NONE
