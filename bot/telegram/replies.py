"""How the bot talks back in Telegram: escaped HTML, split below the size limit.

Every reply is sent with ``parse_mode=HTML`` and *all* of its text escaped
(`escape`), so usage lines such as ``/add <group> <number…>`` arrive as
typed and nothing a user or the WhatsApp API wrote can inject markup. Never
MarkdownV2.

Telegram refuses a message longer than 4096 characters (counted in UTF-16
code units after entity parsing). `split_text` cuts a long reply into pieces
of at most `MAX_CHARS` at line boundaries (a single overlong line is cut at
its last space, or hard if it has none). `send_text` sends the pieces in
order: the first one replies to the command, inline buttons go on the last.
`edit_text` shows a result in place of a question (buttons removed), with any
overflow sent after it. Replies, confirmations and job reports all go through
these two functions.
"""

from __future__ import annotations

import html
from collections.abc import Iterator

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
)
from telegram.constants import MessageLimit, ParseMode

__all__ = [
    "CANCEL",
    "CONFIRM",
    "MAX_CHARS",
    "confirm_buttons",
    "edit_text",
    "escape",
    "parse_button",
    "send_text",
    "split_text",
    "utf16_len",
]

MAX_CHARS = 4000  # a margin below MessageLimit.MAX_TEXT_LENGTH (4096)
assert MAX_CHARS < MessageLimit.MAX_TEXT_LENGTH

CONFIRM, CANCEL = "c", "x"  # callback data is "<verb>:<token>", far below 64 bytes
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)  # invite links would unfurl otherwise
_EMPTY = "Done."  # Telegram refuses an empty message; a reply is never silent by accident


def escape(text: str) -> str:
    """`text` as Telegram HTML that shows exactly `text` (`<`, `>`, `&` escaped)."""
    return html.escape(text, quote=False)


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji may count 2)."""
    return len(text.encode("utf-16-le")) // 2


def _fitting_prefix(text: str, limit: int) -> int:
    """How many code points of `text` fit in `limit` UTF-16 units."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return index
    return len(text)


def _pieces_of_line(line: str, limit: int) -> Iterator[str]:
    while utf16_len(line) > limit:
        cut = _fitting_prefix(line, limit)
        space = line.rfind(" ", 0, cut + 1)
        if space > cut // 2:  # a word boundary not too far back
            yield line[:space]
            line = line[space + 1 :]
        else:
            yield line[:cut]
            line = line[cut:]
    yield line


def split_text(text: str, limit: int = MAX_CHARS) -> list[str]:
    """`text` in pieces of at most `limit` UTF-16 units, cut at line boundaries.

    Joining the pieces with newlines gives back the text (minus blank lines
    at the cuts). Blank pieces are dropped: Telegram refuses them.
    """
    if limit < 2:
        raise ValueError("limit must be at least 2")
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.split("\n"):
        for piece in _pieces_of_line(line, limit):
            length = utf16_len(piece)
            if current and size + 1 + length > limit:
                chunks.append("\n".join(current))
                current, size = [], 0
            size += length + (1 if current else 0)
            current.append(piece)
    if current:
        chunks.append("\n".join(current))
    return [chunk.strip("\n") for chunk in chunks if chunk.strip()]


def confirm_buttons(token: str) -> InlineKeyboardMarkup:
    """The `Confirm` / `Cancel` buttons of one pending command."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Confirm", callback_data=f"{CONFIRM}:{token}"),
                InlineKeyboardButton("Cancel", callback_data=f"{CANCEL}:{token}"),
            ]
        ]
    )


def parse_button(data: str | None) -> tuple[str, str] | None:
    """``(verb, token)`` from a button's callback data, or None if it is not ours."""
    if not data:
        return None
    verb, _, token = data.partition(":")
    if verb not in (CONFIRM, CANCEL) or not token:
        return None
    return verb, token


async def send_text(
    bot: Bot,
    chat_id: int,
    text: str,
    *,
    reply_to: int | None = None,
    buttons: InlineKeyboardMarkup | None = None,
) -> Message:
    """Send `text` in as many messages as it takes; return the last one sent."""
    pieces = split_text(text) or [_EMPTY]
    last: Message | None = None
    for index, piece in enumerate(pieces):
        final = index == len(pieces) - 1
        last = await bot.send_message(
            chat_id=chat_id,
            text=escape(piece),
            parse_mode=ParseMode.HTML,
            link_preview_options=_NO_PREVIEW,
            reply_parameters=(
                ReplyParameters(message_id=reply_to, allow_sending_without_reply=True)
                if index == 0 and reply_to is not None
                else None
            ),
            reply_markup=buttons if final else None,
        )
    assert last is not None
    return last


async def edit_text(bot: Bot, message: Message, text: str) -> None:
    """Replace `message`'s text (and buttons) with `text`; overflow follows as new messages."""
    pieces = split_text(text) or [_EMPTY]
    await bot.edit_message_text(
        chat_id=message.chat_id,
        message_id=message.message_id,
        text=escape(pieces[0]),
        parse_mode=ParseMode.HTML,
        link_preview_options=_NO_PREVIEW,
        reply_markup=None,
    )
    if len(pieces) > 1:
        await send_text(bot, message.chat_id, "\n".join(pieces[1:]), reply_to=message.message_id)
