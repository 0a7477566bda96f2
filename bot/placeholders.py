"""Placeholders in a broadcast text: ``{group}``, ``{date}``, ``{time}``, ``{weekday}``.

:func:`render_text` fills them; :func:`check_text` is what validation runs
(config files and ``/schedule``): it reads the placeholders, reports unknown
ones, and renders the text on sample values, so a text that validates also
renders.

Format specs follow Python's (``{group:>20}``, ``{weekday:.3}``) for the
text placeholders and ``strftime`` (``{date:%d/%m}``, ``{time:%_5H}``) for the
date and time. Every spec is read *before* anything is formatted, and a width
or a precision above :data:`MAX_WIDTH` is refused: ``{group:>3000000000}``
would otherwise allocate gigabytes, in the validator as much as in a run.
Rendering refuses the same specs on its own, so no path can skip the bound.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from datetime import UTC, datetime

from bot.usertext import excerpt, shorten

__all__ = ["MAX_WIDTH", "PLACEHOLDERS", "check_text", "render_text"]

PLACEHOLDERS = ("group", "date", "time", "weekday")
MAX_WIDTH = 1000  # widest field (and longest precision) a placeholder may ask for
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_SAMPLE_GROUP = "Sales Team"
_SAMPLE_WHEN = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

# Python's format spec mini-language: [[fill]align][sign][z][#][0][width][grouping][.precision]
# [type]. Anything Python accepts matches, so every width is seen before format() runs.
_TEXT_FORMAT = re.compile(
    r"(?:.?[<>=^])?[-+ ]?z?\#?0?(?P<width>\d*)[,_]?(?:\.(?P<precision>\d*))?[a-zA-Z%]?",
    re.DOTALL,
)
# strftime: "%%" is a literal percent; otherwise glibc reads %[flags][width]conversion.
_STRFTIME_DIRECTIVE = re.compile(r"%(?:%|[-_0^#+]*(?P<width>[0-9]*))")


class _Moment:
    """A datetime placeholder value: plain ``{date}``/``{time}`` get a short default."""

    def __init__(self, when: datetime, default: str) -> None:
        self.when, self.default = when, default

    def __format__(self, spec: str) -> str:
        return self.when.strftime(spec or self.default)


def render_text(text: str, *, group: str, when: datetime) -> str:
    """Fill a broadcast text: ``{group}`` name, ``{date}``/``{time}`` of ``when``, ``{weekday}``.

    Without a format spec ``{date}`` is ``2026-12-01``, ``{time}`` is ``09:00``
    and ``{weekday}`` the English day name. ``when`` should be the run's
    scheduled time in the job's zone. Raises ``ValueError`` naming the
    placeholder for an unknown one or a spec it refuses (see the module).
    """
    values = {
        "group": group,
        "date": _Moment(when, "%Y-%m-%d"),
        "time": _Moment(when, "%H:%M"),
        "weekday": _WEEKDAY_NAMES[when.weekday()],
    }
    parts: list[str] = []
    for literal, field, spec in _fields(text):
        parts.append(literal)
        if field is not None:
            try:
                parts.append(format(values[field], spec))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"placeholder {_shown(field, spec)}: {exc}") from None
    return "".join(parts)


def check_text(text: str) -> str:
    """Validate the placeholders of ``text``; return it rendered on sample values.

    Raises ``ValueError`` with one sentence: the placeholders cannot be read,
    which are unknown (all of them at once), or which spec is refused.
    """
    names = [field for _, field, _, _ in _parse(text) if field is not None]
    unknown = [f"{{{shorten(name)}}}" for name in names if name not in PLACEHOLDERS]
    if unknown:
        raise ValueError(_unknown(unknown))
    return render_text(text, group=_SAMPLE_GROUP, when=_SAMPLE_WHEN)


def _parse(text: str) -> list[tuple[str, str | None, str | None, str | None]]:
    try:
        return list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(
            f"cannot read the placeholders ({exc}); write {{{{ and }}}} for braces"
        ) from None


def _fields(text: str) -> Iterator[tuple[str, str | None, str]]:
    """(literal text, placeholder or None, its spec), each spec checked before any formatting."""
    for literal, field, spec, conversion in _parse(text):
        if field is None:
            yield literal, None, ""
            continue
        spec = spec or ""
        shown = _shown(field, spec, conversion)
        if field not in PLACEHOLDERS:
            raise ValueError(_unknown([shown]))
        if conversion or "{" in spec:
            raise ValueError(f"placeholder {shown}: only a format spec may follow the name")
        problem = _spec_problem(field, spec)
        if problem is not None:
            raise ValueError(f"placeholder {shown}: {problem}")
        yield literal, field, spec


def _spec_problem(field: str, spec: str) -> str | None:
    """Why ``spec`` is refused for ``field`` (too wide, unreadable), or None."""
    if field in ("date", "time"):
        for directive in _STRFTIME_DIRECTIVE.finditer(spec):
            problem = _too_big("width", directive["width"])
            if problem is not None:
                return problem
        return None
    match = _TEXT_FORMAT.fullmatch(spec)
    if match is None:
        return f"{excerpt(spec)} is not a format spec for a text (e.g. >20, ^30 or .10)"
    return _too_big("width", match["width"]) or _too_big("precision", match["precision"])


def _too_big(what: str, digits: str | None) -> str | None:
    if not digits:
        return None
    # Count digits first: int() refuses strings of thousands of digits with its own error.
    significant = digits.lstrip("0")
    if len(significant) > len(str(MAX_WIDTH)) or int(significant or "0") > MAX_WIDTH:
        return f"{what} {shorten(digits, 20)} is more than {MAX_WIDTH}"
    return None


def _shown(field: str, spec: str, conversion: str | None = None) -> str:
    """The placeholder as written (shortened when long), for messages."""
    written = field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
    return "{" + shorten(written) + "}"


def _unknown(shown: list[str]) -> str:
    allowed = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
    return f"unknown placeholder {', '.join(dict.fromkeys(shown))}: use {allowed}"
