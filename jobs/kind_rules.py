"""What each job kind's config accepts: the per-kind rules :mod:`bot.jobconfig` checks.

These are the only per-kind facts a job definition needs, kept apart from the
kinds themselves (:mod:`jobs.kinds`) because the kinds read the ledger, the
ledger reads job definitions, and job definitions are :class:`bot.jobconfig.JobConfig`:
a kind module imported by the config model would be an import cycle. This
module imports nothing of the project, so the config model can consult it.
Adding a kind means a name in :data:`KindName`, its rules here, and its module
in :mod:`jobs.kinds` (a test checks the three agree).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, Literal

__all__ = ["CONFIG_RULES", "KindName", "Problem"]

KindName = Literal["broadcast", "invite_reset"]
"""Every kind a job may have; the config refuses any other."""

Problem = tuple[tuple[str | int, ...], str]
"""Where in the job (its key) and what is wrong."""


def _broadcast(data: Mapping[str, Any]) -> list[Problem]:
    if data.get("text") is None:
        return [(("text",), "required for kind 'broadcast'")]
    return []


def _invite_reset(data: Mapping[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    if data.get("text") is not None:
        problems.append((("text",), "not allowed for kind 'invite_reset' (it sends no text)"))
    if data.get("pin") is True:
        problems.append(
            (("pin",), "only for kind 'broadcast' (an invite reset sends nothing to pin)")
        )
    return problems


CONFIG_RULES: Final[Mapping[str, Callable[[Mapping[str, Any]], list[Problem]]]] = {
    "broadcast": _broadcast,
    "invite_reset": _invite_reset,
}
"""Per kind: the rules between its keys, checked on a job's raw input."""
