"""Text a user wrote: short quotes of it for error messages.

:func:`excerpt` quotes a value the way ``repr`` does, but never more than a
few dozen characters of it, so a 100 KB value in a config file or a command
does not become a 100 KB error message.
"""

from __future__ import annotations

__all__ = ["EXCERPT_LENGTH", "excerpt", "shorten"]

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
