"""Environment variables that look meant for grouppilot but set nothing.

pydantic-settings reads ``GROUPPILOT_<SECTION>`` and ``GROUPPILOT_<SECTION>__<KEY>``
(any case) and reports unknown keys under a section as errors; a variable
that matches no section at all, like ``GROUPPILOT_TELEGRAM_TOKEN`` with one
underscore, it ignores in silence, so the bot may start without the token the
admin set. :func:`unused_variable_warnings` names each such variable, with
the variable it probably meant, and never its value (it may be a secret).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

from bot.usertext import shorten

__all__ = ["CONFIG_VARIABLE", "PREFIX", "unused_variable_warnings"]

PREFIX = "GROUPPILOT_"
CONFIG_VARIABLE = "GROUPPILOT_CONFIG"  # the config file's path, read by load_config
NESTED = "__"
_CLOSE = 0.8  # difflib ratio for a suggestion within the prefix
_CLOSE_PREFIX = 0.9  # stricter for names without the prefix (other programs' variables)


def unused_variable_warnings(
    environ: Iterable[str], sections: Mapping[str, Iterable[str] | None]
) -> list[str]:
    """A warning per variable of ``environ`` meant for grouppilot that sets nothing.

    ``sections`` maps each top-level setting to its keys, or to None when
    anything may follow it (``[groups]`` aliases, ``[targets]``, ``jobs``).
    """
    layout = {section.upper(): _upper(keys) for section, keys in sections.items()}
    known = [CONFIG_VARIABLE] + [
        f"{PREFIX}{section}{NESTED}{key}" for section, keys in layout.items() for key in keys or ()
    ]
    warnings: list[str] = []
    for name in environ:
        upper = name.upper()
        if upper.startswith(PREFIX):
            if _is_read(upper, layout):
                continue
            guess = _guess(upper, layout, known)
            reason = "matches no setting and is ignored"
        elif "PILOT" in upper:  # the others belong to other programs (and difflib is slow)
            guess = _close(upper, known, _CLOSE_PREFIX)
            if guess is None:
                continue  # another program's variable
            reason = "looks meant for grouppilot but is ignored"
        else:
            continue
        hint = f"; did you mean {guess}?" if guess else f" (settings are {PREFIX}<SECTION>__<KEY>)"
        warnings.append(f"environment variable {shorten(name)} {reason}{hint}")
    return warnings


def _upper(keys: Iterable[str] | None) -> tuple[str, ...] | None:
    return None if keys is None else tuple(key.upper() for key in keys)


def _is_read(upper: str, layout: Mapping[str, tuple[str, ...] | None]) -> bool:
    """Whether pydantic-settings reads it (a wrong key under a section is its error)."""
    if upper == CONFIG_VARIABLE:
        return True
    rest = upper.removeprefix(PREFIX)
    return any(rest == section or rest.startswith(section + NESTED) for section in layout)


def _guess(
    upper: str, layout: Mapping[str, tuple[str, ...] | None], known: list[str]
) -> str | None:
    rest = upper.removeprefix(PREFIX)
    for section, keys in layout.items():
        # One underscore where two belong: GROUPPILOT_TELEGRAM_TOKEN, GROUPPILOT_GROUPS_VIP.
        key = rest.removeprefix(section + "_")
        if key != rest and key and (keys is None or key in keys):
            return f"{PREFIX}{section}{NESTED}{key}"
    owners = [section for section, keys in layout.items() if keys and rest in keys]
    if len(owners) == 1:  # the section left out: GROUPPILOT_TOKEN
        return f"{PREFIX}{owners[0]}{NESTED}{rest}"
    return _close(upper, known, _CLOSE)


def _close(upper: str, known: list[str], cutoff: float) -> str | None:
    matches = difflib.get_close_matches(upper, known, n=1, cutoff=cutoff)
    return matches[0] if matches else None
