"""Turning typed text into a command name and its arguments.

Arguments are split like a shell (quotes group words, a backslash escapes),
and Telegram's `/cmd@BotName` form is accepted. A command that ends in free
text (`/send <target> <text…>`) splits only its leading words: the message is
kept as typed, line breaks and apostrophes included (`Don't` would otherwise
be an unclosed quote). A message typed entirely in quotes loses its quotes.

A line longer than `MAX_COMMAND_CHARS` (Telegram's own limit) is refused
before any of this: shlex takes seconds on a megabyte, on the event loop that
the scheduler shares. Errors quote the typed text only as a short excerpt.
"""

from __future__ import annotations

import io
import re
import shlex
from dataclasses import dataclass

from bot.services import Refusal
from bot.usertext import MAX_COMMAND_CHARS, excerpt

_COMMAND = re.compile(r"^/(?P<name>[A-Za-z][A-Za-z0-9_-]*)(?:@(?P<bot>[A-Za-z0-9_]+))?$")


TOO_LONG = f"Commands can be at most {MAX_COMMAND_CHARS:,} characters long; nothing was run."


class ParseError(Refusal, ValueError):
    """Text that is not a command we can read."""


@dataclass(frozen=True)
class CommandLine:
    """The command word of a line and the unparsed rest."""

    name: str
    addressed_to: str | None  # the @BotName suffix, if any
    rest: str
    text: str


# Pasted text often carries no-break and other Unicode spaces, which shlex
# does not split on; line breaks are kept (they matter in message text).
_UNICODE_SPACES = re.compile(r"[^\S\n\r\t ]")


def split_command(text: str) -> CommandLine:
    """Find `/name[@Bot]` at the start of `text`, or raise ParseError."""
    if len(text) > MAX_COMMAND_CHARS:
        raise ParseError(TOO_LONG)
    stripped = _UNICODE_SPACES.sub(" ", text).strip()
    if not stripped:
        raise ParseError("Type a command, e.g. /help")
    head, *tail = stripped.split(maxsplit=1)
    rest = tail[0] if tail else ""
    match = _COMMAND.fullmatch(head)
    if match is None:
        if not stripped.startswith("/"):
            raise ParseError("Commands start with /, e.g. /help")
        raise ParseError(f"{excerpt(head)} is not a command name; try /help")
    return CommandLine(
        name=match["name"].lower(), addressed_to=match["bot"], rest=rest.strip(), text=stripped
    )


def split_args(rest: str, *, free_text_after: int | None = None) -> list[str]:
    """Shell-split `rest`; with `free_text_after=k`, k words then the raw remainder.

    The remainder, if any, is one last element (omitted when empty).
    """
    if len(rest) > MAX_COMMAND_CHARS:  # split_command refuses these first; never shlex them
        raise ParseError(TOO_LONG)
    if free_text_after is None:
        try:
            return shlex.split(rest)
        except ValueError as exc:
            raise ParseError(f"Cannot read that command: {exc} (check the quotes)") from None
    stream = io.StringIO(rest)
    lexer = shlex.shlex(stream, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    words: list[str] = []
    try:
        for _ in range(free_text_after):
            token = lexer.get_token()
            if token is None or token == lexer.eof:
                return words
            words.append(token)
    except ValueError as exc:
        raise ParseError(f"Cannot read that command: {exc} (check the quotes)") from None
    remainder = stream.read().strip()
    if remainder:
        words.append(_unquote_whole(remainder))
    return words


def _unquote_whole(text: str) -> str:
    """`"Hello world"` -> `Hello world`; anything else unchanged."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        try:
            parts = shlex.split(text)
        except ValueError:
            return text
        if len(parts) == 1:
            return parts[0]
    return text
