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

__all__ = ["CONFIG_RULES", "CONTENT_MODES", "KindName", "Problem"]

KindName = Literal["broadcast", "invite_reset", "drift"]
"""Every kind a job may have; the config refuses any other."""

Problem = tuple[tuple[str | int, ...], str]
"""Where in the job (its key) and what is wrong."""


CONTENT_MODES: Final[Mapping[str, tuple[str, ...]]] = {
    "text": ("text",),
    "template": ("template", "variables"),
    "media": ("media", "media_type", "caption"),
}
"""A broadcast's content modes and the keys of each; a broadcast sets exactly one mode."""

_MODES_RULE = "text, template with variables, or media with media_type and caption"


def _found(data: Mapping[str, Any], keys: tuple[str, ...]) -> list[str]:
    return [key for key in keys if data.get(key) is not None]


def _listed(keys: list[str]) -> str:
    return keys[0] if len(keys) == 1 else f"{', '.join(keys[:-1])} and {keys[-1]}"


def _broadcast(data: Mapping[str, Any]) -> list[Problem]:
    found = {mode: _found(data, keys) for mode, keys in CONTENT_MODES.items()}
    modes = [mode for mode, keys in found.items() if keys]
    if not modes:
        # Where a text-only broadcast was told "text: required", and still is.
        why = "required for kind 'broadcast' unless it sends a template or media"
        return [(("text",), f"{why} (set one of {_MODES_RULE})")]
    if len(modes) > 1:
        keys = [key for mode in modes for key in found[mode]]
        return [((), f"set only one content mode (found {_listed(keys)}): {_MODES_RULE}")]
    problems: list[Problem] = []
    if modes == ["template"] and data.get("template") is None:
        problems.append((("template",), "required with variables (the template's id)"))
    if modes == ["media"] and data.get("media") is None:
        problems.append((("media",), "required with media_type or caption (an http(s) URL)"))
    if modes == ["media"] and data.get("media_type") is None:
        problems.append((("media_type",), "required with media: image, document, video or audio"))
    return problems


def _invite_reset(data: Mapping[str, Any]) -> list[Problem]:
    problems: list[Problem] = [
        ((key,), "not allowed for kind 'invite_reset' (it sends no message)")
        for keys in CONTENT_MODES.values()
        for key in _found(data, keys)
    ]
    if data.get("pin") is True:
        problems.append(
            (("pin",), "only for kind 'broadcast' (an invite reset sends nothing to pin)")
        )
    return problems


def _drift(data: Mapping[str, Any]) -> list[Problem]:
    problems: list[Problem] = [
        ((key,), "not allowed for kind 'drift' (it sends no message to the groups)")
        for keys in CONTENT_MODES.values()
        for key in _found(data, keys)
    ]
    if data.get("pin") is True:
        problems.append(
            (("pin",), "only for kind 'broadcast' (a drift check sends nothing to pin)")
        )
    return problems


CONFIG_RULES: Final[Mapping[str, Callable[[Mapping[str, Any]], list[Problem]]]] = {
    "broadcast": _broadcast,
    "invite_reset": _invite_reset,
    "drift": _drift,
}
"""Per kind: the rules between its keys, checked on a job's raw input."""
