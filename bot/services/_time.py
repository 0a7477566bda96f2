"""Time helpers: the current moment, and moments as stored text.

Every clock the bot takes as a parameter defaults to :func:`utc_now`; every
moment written to the database is :func:`utc_text` (ISO 8601 in UTC with
microseconds, so text order is time order) and read back with
:func:`from_utc_text`.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """Now, timezone-aware, in UTC."""
    return datetime.now(UTC)


def utc_text(moment: datetime) -> str:
    """``moment`` (aware) as stored text: ISO 8601 UTC with microseconds."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_utc_text(text: str) -> datetime:
    """The inverse of :func:`utc_text`: an aware moment in UTC."""
    return datetime.fromisoformat(text).astimezone(UTC)
