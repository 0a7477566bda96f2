"""Checks of a `POST /v1/messages/send` body: one destination, one content mode.

The rules are the provider's (docs/sandbox.md, "Sending"), written here on
purpose rather than shared with the client: the emulator is the other side
of the wire, so a client mistake must be able to fail against it.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Final
from urllib.parse import urlsplit

from bot.sandbox.errors import ApiError
from bot.sandbox.messages import Content
from bot.sandbox.templates import checked_variables

GROUP_ID_RE: Final = re.compile(r"^[A-Za-z0-9_-]+@g\.us$")
DESTINATION_RE: Final = re.compile(r"^\+[1-9][0-9]{7,14}$")
MAX_TEXT: Final = 65_536
MAX_CAPTION: Final = 1024
MAX_FILE_NAME: Final = 255
MAX_MEDIA_BYTES: Final = 16 * 1024 * 1024
MEDIA_TYPES: Final = ("image", "document", "video", "audio")
_DATA_URI: Final = re.compile(r"^data:([A-Za-z0-9.+-]+/[A-Za-z0-9.+-]+);base64,(.*)$", re.DOTALL)
_MODE_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "text": ("text",),
    "template": ("templateId", "variables"),
    "media": ("media", "mediaType", "caption", "fileName"),
}
_MODE_OF: Final = {"text": "text", "templateId": "template", "media": "media"}


def invalid(message: str) -> ApiError:
    """400 VALIDATION_ERROR with that message."""
    return ApiError(400, "VALIDATION_ERROR", message)


def group_id(value: Any) -> str:
    """A well-formed group id, or 400 INVALID_GROUP_ID."""
    if not isinstance(value, str) or not GROUP_ID_RE.fullmatch(value):
        raise ApiError(400, "INVALID_GROUP_ID", f"Invalid group id: {value!r}")
    return value


def checked_string(payload: dict[str, Any], key: str, limit: int) -> str:
    """A non-blank string of at most `limit` characters, or VALIDATION_ERROR."""
    value = payload.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise invalid(f"{key} must be a non-empty string of at most {limit} characters")
    return value


def destination(payload: dict[str, Any]) -> tuple[str | None, str | None]:
    """(group id, None) or (None, "+digits"): exactly one destination."""
    given = [k for k in ("groupId", "destinationNumber", "newsletterId") if k in payload]
    if len(given) != 1:
        raise invalid("exactly one destination: groupId, destinationNumber or newsletterId")
    if given == ["newsletterId"]:
        raise invalid("newsletters are not emulated")
    if given == ["groupId"]:
        return group_id(payload["groupId"]), None
    number = payload["destinationNumber"]
    if not isinstance(number, str) or not DESTINATION_RE.fullmatch(number):
        raise invalid("destinationNumber must be E.164 with '+': '+' then 8-15 digits")
    return None, number


def content(payload: dict[str, Any]) -> Content:
    """The one content mode of the send, checked."""
    modes = [mode for key, mode in _MODE_OF.items() if key in payload]
    if len(modes) != 1:
        raise invalid("exactly one content mode: text, templateId (+ variables) or media")
    [mode] = modes
    stray = [
        key for other, keys in _MODE_KEYS.items() if other != mode for key in keys if key in payload
    ]
    if stray:
        raise invalid(f"{', '.join(stray)} cannot be used in a {mode} send")
    if mode == "text":
        return Content(kind="text", text=checked_string(payload, "text", MAX_TEXT))
    if mode == "template":
        template, variables = checked_variables(payload["templateId"], payload.get("variables"))
        return Content(kind="template", template_id=template.id, variables=variables)
    return _media(payload)


def _media(payload: dict[str, Any]) -> Content:
    media_type = payload.get("mediaType")
    if media_type not in MEDIA_TYPES:
        raise invalid(f"mediaType must be one of {', '.join(MEDIA_TYPES)}")
    caption = _optional_string(payload, "caption", MAX_CAPTION)
    file_name = _optional_string(payload, "fileName", MAX_FILE_NAME)
    media = payload.get("media")
    if not isinstance(media, str) or not media:
        raise invalid("media must be an http(s) URL or a base64 data URI")
    match = _DATA_URI.fullmatch(media)
    if match is not None:
        mime, size = match.group(1), _decoded_size(match.group(2))
        return Content(
            kind="media",
            media_type=str(media_type),
            media_mime=mime,
            media_size=size,
            caption=caption,
            file_name=file_name,
        )
    parts = urlsplit(media)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid("media must be an http(s) URL or a data:<mime>;base64,<data> URI")
    return Content(
        kind="media",
        media_type=str(media_type),
        media_url=media,
        caption=caption,
        file_name=file_name,
    )


def _optional_string(payload: dict[str, Any], key: str, limit: int) -> str | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise invalid(f"{key} must be a string of at most {limit} characters")
    return value


def _decoded_size(data: str) -> int:
    """Bytes the base64 `data` stands for: 413 when over the limit, 400 when not base64."""
    # Checked from the length first, so an oversized upload is not decoded at all.
    if (len(data) // 4) * 3 - 2 > MAX_MEDIA_BYTES:
        raise ApiError(413, "MEDIA_TOO_LARGE", f"Media is larger than {MAX_MEDIA_BYTES} bytes")
    try:
        decoded = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise invalid("media data URI is not valid base64") from exc
    if len(decoded) > MAX_MEDIA_BYTES:
        raise ApiError(413, "MEDIA_TOO_LARGE", f"Media is larger than {MAX_MEDIA_BYTES} bytes")
    if not decoded:
        raise invalid("media data URI is empty")
    return len(decoded)


def abbreviated(payload: Any) -> Any:
    """The body as kept in request records: a long data URI shortened to its summary."""
    if not isinstance(payload, dict):
        return payload
    media = payload.get("media")
    if isinstance(media, str) and len(media) > 1024 and media.startswith("data:"):
        head = media.split(",", 1)[0]
        return {**payload, "media": f"{head},…({len(media)} characters)"}
    return payload
