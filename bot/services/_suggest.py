"""'Did you mean': the known words closest to one a user mistyped."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, known: Iterable[str], *, n: int = 3, cutoff: float = 0.6) -> list[str]:
    """Up to ``n`` of ``known`` that look like ``word``, closest first (may be empty)."""
    return difflib.get_close_matches(word, list(known), n=n, cutoff=cutoff)
