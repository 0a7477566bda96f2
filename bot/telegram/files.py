"""Files posted with a command: a photo or document captioned ``/send <target> [caption…]``.

Only `/send` takes a file. The file is downloaded from Telegram (``getFile``,
then the file URL) and handed to the command layer as an `Attachment`: a
``data:`` URI that the WhatsApp API takes as media. A file larger than the
provider's media limit (or Telegram's own 20 MB bot download limit) is refused
before it is downloaded, from the size Telegram states.

A journaled update replayed after a restart carries the same file ids, which
Telegram keeps valid, so the file is simply downloaded again; a download that
fails ends in one sentence and nothing is sent.
"""

from __future__ import annotations

import logging

from telegram import Message
from telegram.error import TelegramError
from telegram.ext import filters

from bot.commands.context import Attachment
from bot.telegram.redact import redact
from bot.whatsapp.content import MAX_MEDIA_BYTES, data_uri, media_type_for_mime
from bot.whatsapp.errors import InvalidInput

__all__ = ["FILE_COMMANDS", "FileRefused", "attachment_of", "file_base_url", "has_file"]

log = logging.getLogger(__name__)

TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024  # what a bot may download through the Bot API
MAX_FILE_BYTES = min(MAX_MEDIA_BYTES, TELEGRAM_DOWNLOAD_LIMIT)

# A photo or document whose caption starts with "/": a command with a file.
# New messages and channel posts only, as for text commands (edits never run).
FILE_COMMANDS = (
    (filters.PHOTO | filters.Document.ALL)
    & filters.CaptionRegex(r"^\s*/")
    & (filters.UpdateType.CHANNEL_POST | filters.UpdateType.MESSAGE)
)


class FileRefused(Exception):
    """A posted file that cannot be sent: ``str()`` is the sentence for the chat."""


def file_base_url(api_base_url: str) -> str:
    """The file download URL matching a Bot API base URL (``…/bot`` -> ``…/file/bot``)."""
    base = api_base_url.rstrip("/")
    head, slash, tail = base.rpartition("/")
    if slash and tail == "bot":
        return f"{head}/file/bot"
    return f"{base}/file/bot"


def has_file(message: Message) -> bool:
    return bool(message.photo) or message.document is not None


def _reason(exc: Exception) -> str:
    return exc.message if isinstance(exc, TelegramError) else "no file path"


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _too_large(size: int | None) -> None:
    if size is not None and size > MAX_FILE_BYTES:
        raise FileRefused(
            f"The file is {_megabytes(size)}; files sent with /send can be at most "
            f"{MAX_FILE_BYTES // (1024 * 1024)} MB. Nothing was sent: post a smaller one, "
            "or send a link with /send <target> media <url>."
        )


async def attachment_of(message: Message) -> Attachment:
    """Download the photo or document of `message` as an `Attachment`; FileRefused if not."""
    if message.photo:
        photo = message.photo[-1]  # the largest size Telegram made
        _too_large(photo.file_size)
        mime, media_type, file_name = "image/jpeg", "image", ""
        get_file = photo.get_file
    elif message.document is not None:
        document = message.document
        _too_large(document.file_size)
        mime = document.mime_type or "application/octet-stream"
        media_type, file_name = media_type_for_mime(mime), document.file_name or ""
        get_file = document.get_file
    else:  # pragma: no cover - FILE_COMMANDS lets only photos and documents through
        raise FileRefused("Only a photo or a document can be sent with /send.")
    try:
        file = await get_file()
        _too_large(file.file_size)
        data = bytes(await file.download_as_bytearray())
    except (TelegramError, RuntimeError) as exc:  # RuntimeError: Telegram gave no file path
        log.warning("cannot download a file posted with /send: %s", redact(_reason(exc)))
        raise FileRefused(
            "Could not download the file from Telegram. Nothing was sent: post it again."
        ) from None
    try:
        media = data_uri(data, mime)
    except InvalidInput as exc:  # larger than stated
        raise FileRefused(f"Nothing was sent: {exc}.") from None
    return Attachment(media=media, media_type=media_type, file_name=file_name[:255])
