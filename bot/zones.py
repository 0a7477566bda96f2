"""Loading an IANA time zone by the name a user wrote: a zone or one short sentence.

Every place that turns a user's zone name into a zone (config keys, job
definitions, ``/schedule``) goes through :func:`load_zone`. ``ZoneInfo`` reads
a file named after the key, so besides ``ZoneInfoNotFoundError`` and
``ValueError`` it can raise ``OSError`` (a name too long for the file system,
a directory such as ``"America"``) and ``TypeError``: all of them mean "not a
zone" and become one ``ValueError`` that quotes at most an excerpt of the name.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.usertext import excerpt

__all__ = ["load_zone"]


def load_zone(name: str) -> ZoneInfo:
    """Return the IANA zone ``name`` or raise ``ValueError`` quoting (an excerpt of) it."""
    try:
        return ZoneInfo(name)
    except Exception:  # ZoneInfoNotFoundError, ValueError, OSError, TypeError, ...
        # Whatever the reason, the name is not a zone we can use; the cause is noise.
        raise ValueError(
            f"unknown time zone {excerpt(name)}: use an IANA name such as 'Europe/Berlin' or 'UTC'"
        ) from None
