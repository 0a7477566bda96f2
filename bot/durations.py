"""Durations as written in the config and in commands: ``"30s"``, ``"15m"``, ``"2h"``, ``"1d"``.

A duration is one or more ``<integer><unit>`` parts with the units ``d`` (days),
``h`` (hours), ``m`` (minutes) and ``s`` (seconds), largest unit first, each at
most once: ``"1h30m"``, ``"1d 12h"``. A bare ``"0"`` means zero. Durations are
elapsed time (a ``"1d"`` interval is 24 hours, also across a DST change).

``parse_duration`` turns the text into a :class:`datetime.timedelta` and raises
``ValueError`` naming the bad text; ``format_duration`` is its inverse, used
wherever a duration is shown back to the user.
"""

from __future__ import annotations

import re
from datetime import timedelta

from bot.usertext import ascii_int, excerpt, is_ascii_digits

__all__ = ["format_duration", "parse_duration", "rounded_duration"]

_UNITS: dict[str, int] = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
_PART = re.compile(r"([0-9]+)\s*([a-zA-Z]+)")  # ASCII digits only: \d matches "٣" too
_HINT = 'use a number and a unit s, m, h or d, e.g. "30s", "15m", "2h", "1d" or "1h30m"'


def parse_duration(text: str) -> timedelta:
    """Parse ``text`` such as ``"1h30m"`` into a timedelta (zero is allowed).

    Raises ``ValueError`` with a message that quotes ``text`` when it is not a
    duration.
    """
    if not isinstance(text, str):
        raise ValueError(f"invalid duration {text!r}: expected a string; {_HINT}")
    compact = text.strip()
    if compact == "0":
        return timedelta(0)
    shown = f"invalid duration {excerpt(text)}"
    if not compact:
        raise ValueError(f"{shown}: empty; {_HINT}")

    seconds = 0
    position = 0
    previous_rank = -1
    ranks = list(_UNITS)
    while position < len(compact):
        match = _PART.match(compact, position)
        if match is None and is_ascii_digits(compact[position:]):
            raise ValueError(f"{shown}: missing unit; {_HINT}")
        if match is None:
            raise ValueError(f"{shown}: {_HINT}")
        number, unit = match.groups()
        if unit not in _UNITS:
            raise ValueError(f"{shown}: unknown unit {excerpt(unit)}; {_HINT}")
        rank = ranks.index(unit)
        if rank <= previous_rank:
            raise ValueError(
                f"{shown}: units must go from largest to smallest, each at most once (e.g. 1h30m)"
            )
        previous_rank = rank
        amount = ascii_int(number)
        if amount is None:
            raise ValueError(f"{shown}: too long")
        seconds += amount * _UNITS[unit]
        position = match.end()
        while position < len(compact) and compact[position].isspace():
            position += 1

    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"{shown}: too long") from None


def format_duration(value: timedelta) -> str:
    """Render a timedelta the way ``parse_duration`` reads it (``"1h30m"``, ``"0s"``).

    Fractions of a second, which the parser never produces, are shown as
    decimal seconds (``"1.5s"``). Negative values get a leading ``-``.
    """
    if value < timedelta(0):
        return "-" + format_duration(-value)
    whole = value.days * 86_400 + value.seconds
    micro = value.microseconds
    parts: list[str] = []
    for unit, size in _UNITS.items():
        amount, whole = divmod(whole, size)
        if amount and (unit != "s" or not micro):
            parts.append(f"{amount}{unit}")
        elif unit == "s" and micro:
            parts.append(f"{amount}.{micro:06d}".rstrip("0") + "s")
    return "".join(parts) or "0s"


def rounded_duration(value: timedelta) -> str:
    """A duration for people, to two units (``5s``, ``3m05s``, ``2h07m``, ``2d03h``).

    Used where the exact value does not matter (how long a run took, uptime);
    ``format_duration`` is the exact form the config reads. Negative is ``0s``.
    """
    seconds = max(0, int(value.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"
