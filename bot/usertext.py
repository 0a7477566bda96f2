"""Text a user wrote: whether a message shows anything, and short quotes for errors.

:func:`message_text_problem` is the one check for the text of a message
(broadcast jobs from the config and ``/schedule``, and ``/send``): it must
show something, and it may not carry control characters. :func:`excerpt`
quotes a value the way ``repr`` does, but never more than a few dozen
characters of it, so a 100 KB value in a config file or a command does not
become a 100 KB error message. A command is at most :data:`MAX_COMMAND_CHARS`.

Numbers typed as text are the ASCII digits 0-9 only (:func:`ascii_int`,
:func:`is_ascii_digits`; regexes use ``[0-9]``, never ``\\d``): ``"²".isdigit()``
is true and ``int("²")`` fails, ``int()`` quietly reads ``"٣"`` (Arabic-Indic)
and ``"１"`` (fullwidth) and accepts ``" 5"``, ``"+5"`` and ``"1_000"``, and it
refuses more than 4,300 digits.
"""

from __future__ import annotations

import unicodedata

__all__ = [
    "EXCERPT_LENGTH",
    "MAX_COMMAND_CHARS",
    "ascii_int",
    "excerpt",
    "is_ascii_digits",
    "message_text_problem",
    "one_line",
    "shorten",
]

EXCERPT_LENGTH = 60  # characters of a value quoted back in an error message


def excerpt(value: object, limit: int = EXCERPT_LENGTH) -> str:
    """``repr(value)`` for short values; the start and the length of long strings."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}… ({len(value)} characters)"
    shown = repr(value)
    return shown if len(shown) <= limit + 2 else shown[:limit] + "…"


def shorten(text: str, limit: int = EXCERPT_LENGTH) -> str:
    """``text`` itself when short; its start and ``…`` otherwise (no quotes added)."""
    return text if len(text) <= limit else text[:limit] + "…"


def one_line(text: str) -> str:
    """``text`` with line breaks, controls and other unprintable characters escaped."""
    if text.isprintable():
        return text
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text
    )


# Allowed controls: a message may be laid out with tabs and line breaks.
_LAYOUT = frozenset("\t\n\r")
# Letters and symbols that draw nothing (fonts render them blank), used to fake empty text.
_FILLERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f")
# Cc: controls; Cf: formatting (zero-width space, joiners, BOM...); Cs: lone surrogates.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})


def message_text_problem(text: str) -> str | None:
    """What is wrong with ``text`` as a message (a clause to put after "the text"), or None.

    Refused: a control character anywhere except tab, line feed and carriage
    return (NUL and the like are never meant, and some systems cut the text
    there), a lone surrogate, and a text with nothing visible (empty, only
    spaces, controls, zero-width and other formatting characters or blank
    fillers). Formatting characters *inside* visible text (emoji joiners) are fine.
    """
    for position, char in enumerate(text, start=1):
        category = unicodedata.category(char)
        if (category == "Cc" and char not in _LAYOUT) or category == "Cs":
            return (
                f"contains the control character U+{ord(char):04X} at position {position}; "
                "remove it"
            )
    if all(_invisible(char) for char in text):
        return (
            "is empty or has nothing visible (only spaces, control or invisible formatting "
            "characters)"
        )
    return None


def _invisible(char: str) -> bool:
    return (
        char.isspace()
        or char in _FILLERS
        or unicodedata.category(char) in _INVISIBLE_CATEGORIES
        or "VARIATION SELECTOR" in unicodedata.name(char, "")
    )


# -- commands and numbers ------------------------------------------------------------

# Telegram's own limit for a message; the console and `exec` get the same one.
MAX_COMMAND_CHARS = 4096


def is_ascii_digits(text: str) -> bool:
    """True when ``text`` is one or more of the digits 0-9 and nothing else."""
    return text.isascii() and text.isdigit()


def ascii_int(text: str, *, max_digits: int = 18) -> int | None:
    """The value of ``text`` written with the digits 0-9 only, else None.

    No sign, no spaces, no underscores. Leading zeros are fine; a value with
    more than ``max_digits`` significant digits is None too, so callers never
    meet Python's limit on digits or an absurd number.
    """
    if not is_ascii_digits(text):
        return None
    significant = text.lstrip("0") or "0"
    if len(significant) > max_digits:
        return None
    return int(significant)
