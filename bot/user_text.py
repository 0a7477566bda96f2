"""Reading numbers from typed text, and quoting typed text back, safely.

Every place that reads user input (commands, durations, cron fields) uses these
instead of the tempting built-ins, which have traps:

- ``str.isdigit()`` is true for ``"²"``, ``"٣"`` (Arabic-Indic) and ``"１"``
  (fullwidth); ``int()`` then fails on the first and quietly reads the others.
  ``int()`` also accepts ``" 5"``, ``"+5"`` and ``"1_000"``, and refuses more
  than 4,300 digits. A number here is the ASCII digits 0-9 and nothing else
  (`ascii_int`, `is_ascii_digits`); regexes use ``[0-9]``, never ``\\d``, which
  matches every script's digits.
- A reply that quotes what someone typed must stay short and on one line,
  whatever they typed: `excerpt`.
"""

from __future__ import annotations

import unicodedata

__all__ = ["EXCERPT_CHARS", "MAX_COMMAND_CHARS", "ascii_int", "excerpt", "is_ascii_digits"]

# Telegram's own limit for a message; the console and `exec` get the same one.
MAX_COMMAND_CHARS = 4096
# How much of someone's input a reply quotes back, at most.
EXCERPT_CHARS = 60
_ELLIPSIS = "…"
# Invisible characters that reorder the text around them (a reply could be
# made to read differently from what it says).
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def is_ascii_digits(text: str) -> bool:
    """True when `text` is one or more of the digits 0-9 and nothing else."""
    return text.isascii() and text.isdigit()


def ascii_int(text: str, *, max_digits: int = 18) -> int | None:
    """The value of `text` written with the digits 0-9 only, else None.

    No sign, no spaces, no underscores. Leading zeros are fine; a value with
    more than `max_digits` significant digits is None too, so callers never
    meet Python's limit on digits or an absurd number.
    """
    if not is_ascii_digits(text):
        return None
    significant = text.lstrip("0") or "0"
    if len(significant) > max_digits:
        return None
    return int(significant)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """At most `limit` characters of `text`, on one line, to quote in a reply.

    A cut ends in "…". Line breaks and other white space become spaces;
    control and bidi characters become U+FFFD, so a quote cannot break the
    reply's layout or a terminal.
    """
    head = text[: limit + 1]
    shown = "".join(_visible(ch) for ch in head)
    if len(text) > limit:
        return shown[: limit - 1] + _ELLIPSIS
    return shown


def _visible(ch: str) -> str:
    if ch.isspace():
        return " "
    if ch in _BIDI_CONTROLS or unicodedata.category(ch) == "Cc":
        return "\ufffd"
    return ch
