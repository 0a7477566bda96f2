"""Pydantic validation errors as short sentences, for the config file and ``/schedule``.

Both read a job definition (`bot.jobconfig.JobConfig`) and report what is
wrong with it the same way; this module holds that wording so that the command
layer needs nothing of the configuration loader.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic_core import ErrorDetails

from bot.usertext import excerpt, one_line, shorten

__all__ = ["MAX_REASON", "problems_from_errors"]

MAX_REASON = 400  # characters: a safety net, the messages quote excerpts already
_SECRET_KEYS = frozenset({"api_key", "token"})
_FRIENDLY = {"missing": "required", "extra_forbidden": "unknown key"}
_NO_ECHO = frozenset({"missing", "extra_forbidden", "value_error", "assertion_error"})


def problems_from_errors(errors: Sequence[ErrorDetails]) -> list[tuple[tuple[str | int, ...], str]]:
    """Pydantic errors as ``(loc, reason)``; never echoes a secret's value."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for error in errors:
        loc = tuple(
            one_line(shorten(part)) if isinstance(part, str) else part  # a 100 KB key stays short
            for part in error["loc"]
            if part != "[key]"
        )
        kind = error["type"]
        reason = _FRIENDLY.get(kind) or error["msg"].removeprefix("Value error, ")
        value = error.get("input")
        secret = any(part in _SECRET_KEYS for part in loc if isinstance(part, str))
        if kind not in _NO_ECHO and not secret and isinstance(value, str | int | float):
            reason += f" (got {excerpt(value)})"
        problems.append((loc, one_line(shorten(reason, MAX_REASON))))
    return problems
