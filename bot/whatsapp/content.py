"""What a message says: free text, a template with variables, or media with a caption.

`POST /v1/messages/send` takes exactly one content mode; here each mode is its
own class, so a value of `Content` can never hold two (or none). Each checks
its input when made, before any request, and knows its request fields
(`fields()`); the client adds the one destination.

Media is a public http(s) URL or a `data:` URI of at most `MAX_MEDIA_BYTES`
decoded bytes (what Telegram hands us is sent this way). `data_uri()` builds
one and refuses anything larger, so a too-large file is refused before it is
encoded, let alone sent.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal, get_args
from urllib.parse import urlsplit

from bot.usertext import excerpt
from bot.whatsapp.errors import InvalidInput

__all__ = [
    "MAX_CAPTION",
    "MAX_MEDIA_BYTES",
    "MEDIA_TYPES",
    "Content",
    "Media",
    "MediaType",
    "TemplateMessage",
    "Text",
    "data_uri",
    "media_type_for_mime",
]

MediaType = Literal["image", "document", "video", "audio"]
MEDIA_TYPES: Final[tuple[str, ...]] = get_args(MediaType)
MAX_MEDIA_BYTES: Final = 16 * 1024 * 1024  # the provider's limit for a media send
MAX_CAPTION: Final = 1024  # WhatsApp shows at most this much under a photo or file
MAX_FILE_NAME: Final = 255
_DATA_URI = re.compile(r"^data:([a-z0-9.+-]+/[a-z0-9.+-]+);base64,(.*)$", re.IGNORECASE | re.DOTALL)
_TEMPLATE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")


@dataclass(frozen=True)
class Text:
    """A free-form text (on Meta numbers: only inside the 24 h window)."""

    text: str

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise InvalidInput("a message needs some text", value=self.text)

    def fields(self) -> dict[str, object]:
        return {"text": self.text}

    def describe(self) -> str:
        return "text"


@dataclass(frozen=True)
class TemplateMessage:
    """A saved template and the values of its `{{variables}}` (always sendable on Meta)."""

    template_id: str
    variables: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _TEMPLATE_ID.fullmatch(self.template_id):
            raise InvalidInput(
                f"{excerpt(self.template_id)} is not a template id (list them with /templates)",
                value=self.template_id,
            )
        # Frozen in both senses: a caller's dict changing later cannot change what is sent.
        object.__setattr__(self, "variables", MappingProxyType(dict(self.variables)))

    def fields(self) -> dict[str, object]:
        return {"templateId": self.template_id, "variables": dict(self.variables)}

    def describe(self) -> str:
        return f"template {self.template_id}"


@dataclass(frozen=True)
class Media:
    """An image, document, video or audio (a URL or a data URI), with an optional caption."""

    media: str
    media_type: MediaType
    caption: str = ""
    file_name: str = ""

    def __post_init__(self) -> None:
        if self.media_type not in MEDIA_TYPES:
            raise InvalidInput(
                f"{excerpt(self.media_type)} is not a media type (use {', '.join(MEDIA_TYPES)})",
                value=str(self.media_type),
            )
        problem = media_problem(self.media)
        if problem is not None:
            raise InvalidInput(problem, value=self.media[:100])
        if len(self.caption) > MAX_CAPTION:
            raise InvalidInput(
                f"a caption has at most {MAX_CAPTION} characters (this one has "
                f"{len(self.caption)})",
                value=self.caption[:100],
            )
        if len(self.file_name) > MAX_FILE_NAME:
            raise InvalidInput("a file name has at most 255 characters", value=self.file_name[:100])

    def fields(self) -> dict[str, object]:
        payload: dict[str, object] = {"media": self.media, "mediaType": self.media_type}
        if self.caption.strip():
            payload["caption"] = self.caption
        if self.file_name:
            payload["fileName"] = self.file_name
        return payload

    def describe(self) -> str:
        return self.media_type


Content = Text | TemplateMessage | Media


def media_problem(media: str) -> str | None:
    """What is wrong with a media reference (None: a usable URL or data URI)."""
    found = _DATA_URI.match(media)
    if found is not None:
        encoded = found.group(2)
        if _decoded_size(encoded) > MAX_MEDIA_BYTES:
            return f"the file is larger than the {MAX_MEDIA_BYTES // (1024 * 1024)} MB media limit"
        try:
            base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            return "the data URI is not valid base64"
        return None
    parts = urlsplit(media.strip())
    if parts.scheme in ("http", "https") and parts.netloc and " " not in media.strip():
        return None
    return f"{excerpt(media)} is not a media link: give an http(s) URL of the file"


def data_uri(data: bytes, mime: str) -> str:
    """`data:<mime>;base64,…` for `data`; InvalidInput when it is over the media limit."""
    if len(data) > MAX_MEDIA_BYTES:
        raise InvalidInput(
            f"the file is {len(data) / (1024 * 1024):.1f} MB; the media limit is "
            f"{MAX_MEDIA_BYTES // (1024 * 1024)} MB",
            value=mime,
        )
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def media_type_for_mime(mime: str) -> MediaType:
    """The media type WhatsApp shows a file of `mime` as (anything unknown: a document)."""
    head = mime.split("/", 1)[0].lower()
    if head == "image":
        return "image"
    if head == "video":
        return "video"
    if head == "audio":
        return "audio"
    return "document"


def _decoded_size(encoded: str) -> int:
    """Bytes that base64 text decodes to (without decoding it)."""
    stripped = encoded.rstrip("=")
    return len(stripped) * 3 // 4
