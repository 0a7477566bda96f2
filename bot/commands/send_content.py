"""What `/send` sends: the words after the target read as text, a template or media.

`/send <target> <text…>` sends the text as typed. Two lowercase words at the
start of the text choose another content mode:

- ``template <id> [name=value…]``: a saved template and its variables
  (quotes group words: ``nome="Ana Maria"``); a word without ``=``, an empty
  name or value, or a name given twice is refused with one sentence;
- ``media [type] <url> [caption…]``: a file by its link; the type (``image``,
  ``document``, ``video``, ``audio``) is guessed from the link's extension
  unless given, a document by default; the caption is kept as typed.

A text that really starts with one of those words is written with ``text`` in
front (``/send sales text template review at 3pm``): ``text`` is taken as the
mode word only before ``text``, ``template`` or ``media``, so every other text
(``/send sales text me later``) is sent exactly as before. Capitalised words
(``Template changes…``) are never mode words.

A file posted in Telegram with ``/send <target> [caption…]`` as its caption
(`Context.attachment`) is sent as media with the rest as its caption; a
template or a media link cannot go with it.
"""

from __future__ import annotations

import mimetypes
import posixpath
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from bot.commands.context import Attachment
from bot.commands.parsing import split_args
from bot.services import Refusal
from bot.usertext import excerpt, message_text_problem, one_line, shorten
from bot.whatsapp.content import (
    MEDIA_TYPES,
    Media,
    MediaType,
    TemplateMessage,
    Text,
    media_type_for_mime,
)

__all__ = [
    "SEND_USAGE",
    "ContentRefused",
    "TemplateRequest",
    "describe",
    "read_content",
]

SEND_USAGE = "<target> <text…> | template <id> [name=value…] | media [type] <url> [caption…]"
_USAGE_LINE = f"/send {SEND_USAGE}"
_AS_TEXT = "to send it as text, put text first: /send <target> text {word} …"
_MODE_WORDS = ("text", "template", "media")


class ContentRefused(Refusal, ValueError):
    """The content words of a `/send` cannot be read: ``str()`` says why (nothing sent)."""


@dataclass(frozen=True)
class TemplateRequest:
    """A template as typed: its id and variables, placeholders not yet filled."""

    template_id: str
    variables: dict[str, str]


Requested = Text | TemplateRequest | Media


def read_content(words: str, attachment: Attachment | None) -> Requested:
    """The content `words` (everything after the target) ask for; ContentRefused if unreadable.

    With an `attachment`, the words are its caption.
    """
    head, tail = _first_word(words)
    if head == "text" and _first_word(tail)[0] in _MODE_WORDS:
        return _content_with(attachment, _text(tail))
    if head in ("template", "media"):
        if attachment is not None:
            raise ContentRefused(
                f"A file posted with /send is sent as it is, with the rest as its caption; "
                f"{head} cannot go with it ({_AS_TEXT.format(word=head)})."
            )
        return _template(tail) if head == "template" else _media(tail)
    return _content_with(attachment, _text(words) if words.strip() else None)


def _first_word(words: str) -> tuple[str, str]:
    """The first word of `words` and the rest as typed (line breaks kept)."""
    parts = words.strip().split(maxsplit=1)
    if not parts:
        return "", ""
    return parts[0], (parts[1] if len(parts) > 1 else "")


def _content_with(attachment: Attachment | None, text: Text | None) -> Requested:
    if attachment is None:
        if text is None:
            raise ContentRefused(f"Missing arguments. Usage: {_USAGE_LINE}")
        return text
    return Media(
        attachment.media,
        _media_type(attachment.media_type),
        caption=text.text if text is not None else "",
        file_name=attachment.file_name,
    )


def _text(words: str) -> Text:
    problem = message_text_problem(words)
    if problem is not None:
        raise ContentRefused(f"The text to send {problem}. Usage: {_USAGE_LINE}")
    return Text(words)


def _template(words: str) -> TemplateRequest:
    parts = split_args(words)  # quotes allowed; an unclosed one is a ParseError (a Refusal)
    if not parts:
        raise ContentRefused(
            "Give the template's id after template, e.g. /send sales template boas_vindas "
            f"nome=Ana (/templates lists them; {_AS_TEXT.format(word='template')})."
        )
    template_id, pairs = parts[0], parts[1:]
    TemplateMessage(template_id)  # an impossible id is refused here, before any request
    variables: dict[str, str] = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        name = name.strip()
        shown = shorten(one_line(name))
        if not equals:
            raise ContentRefused(
                f"{excerpt(pair)} is not name=value: give each template variable as "
                f"name=value ({_AS_TEXT.format(word='template')}). Nothing was sent."
            )
        if not name:
            raise ContentRefused(
                f"{excerpt(pair)} has no variable name before =. Nothing was sent."
            )
        if name in variables:
            raise ContentRefused(f"Variable {shown} is given twice. Nothing was sent.")
        if not value.strip():
            raise ContentRefused(
                f"Variable {shown} is empty: give it a value, e.g. {shown}=Ana "
                "(quote values with spaces). Nothing was sent."
            )
        variables[name] = value
    return TemplateRequest(template_id, variables)


def _media(words: str) -> Media:
    first, rest = _first_word(words)
    media_type: MediaType | None = None
    if first in MEDIA_TYPES:
        media_type = _media_type(first)
        first, rest = _first_word(rest)
    if not first:
        raise ContentRefused(
            "Give the file's link after media, e.g. /send sales media "
            f"https://example.com/offer.pdf Our offer ({_AS_TEXT.format(word='media')})."
        )
    url = first
    guessed = media_type or _guessed_type(url)
    caption = rest.strip()
    file_name = _file_name(url) if guessed == "document" else ""
    return Media(url, guessed, caption=caption, file_name=file_name)  # checks the link


def _guessed_type(url: str) -> MediaType:
    """The media type a link's extension suggests (a document when it suggests none)."""
    mime, _ = mimetypes.guess_type(urlsplit(url).path)
    return media_type_for_mime(mime) if mime else "document"


def _file_name(url: str) -> str:
    name = posixpath.basename(unquote(urlsplit(url).path))
    return name[:255]


_MEDIA_TYPE_WORDS: dict[str, MediaType] = {
    "image": "image",
    "document": "document",
    "video": "video",
    "audio": "audio",
}


def _media_type(word: str) -> MediaType:
    """`word` as a media type (anything else: a document, as the provider would show it)."""
    return _MEDIA_TYPE_WORDS.get(word, "document")


def describe(content: Requested, attachment: Attachment | None) -> str:
    """One line naming what will be sent (the confirmation for several groups)."""
    if isinstance(content, Text):
        text = content.text
        return text if len(text) <= 200 else text[:200] + "…"
    if isinstance(content, TemplateRequest):
        shown = ", ".join(f"{name}={value}" for name, value in content.variables.items())
        return f"template {content.template_id}" + (f" with {shown}" if shown else "")
    what = (
        f"{content.media_type} posted here"
        + (f" ({attachment.file_name})" if attachment.file_name else "")
        if attachment is not None
        else f"{content.media_type} {content.media}"
    )
    caption = content.caption
    if caption:
        caption = caption if len(caption) <= 200 else caption[:200] + "…"
        return f"{what}, caption: {caption}"
    return what
