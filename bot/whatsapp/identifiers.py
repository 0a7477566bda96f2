"""Group ids and phone numbers, checked before any request is made.

Numbers go to the API as E.164 digits without `+` (`5511999999999`). We parse
with phonenumbers and accept any *possible* number: the stricter "valid"
test rejects new number ranges, and the Brazilian ninth digit is never added
or removed, because only the person who wrote it knows which is right.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from urllib.parse import quote

import phonenumbers

from bot.usertext import excerpt
from bot.whatsapp.errors import InvalidGroupId, InvalidNumber

GROUP_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]+@g\.us$")
# What people type around the digits: spaces, dashes, dots, slashes, brackets.
_NUMBER_CHARS = re.compile(r"^\+?[0-9\s().\-/]+$")


def check_group_id(group_id: str) -> str:
    """Return `group_id` unchanged if it is a group JID, else raise InvalidGroupId."""
    if not GROUP_ID_PATTERN.fullmatch(group_id):
        raise InvalidGroupId(
            f"{group_id!r} is not a WhatsApp group id (expected something like "
            "120363123456789012@g.us)",
            value=group_id,
        )
    return group_id


def group_path(group_id: str) -> str:
    """The `{groupId}` path segment: the JID percent-encoded (`%40g.us`)."""
    return quote(check_group_id(group_id), safe="")


def normalize_number(text: str, default_region: str = "BR") -> str:
    """E.164 digits without `+` for a number written any common way.

    `default_region` applies to numbers written without a country code, e.g.
    `(11) 99999-9999`. A number with a leading `00` international prefix is
    treated like one with `+`.
    """
    raw = text.strip()
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    if not raw or not _NUMBER_CHARS.fullmatch(raw):
        raise InvalidNumber(f"{excerpt(text)} is not a phone number", value=text)
    digits = re.sub(r"\D", "", raw)
    # Bare digits that already carry a country code (5511999999999) parse as
    # international numbers; with the region they would gain a second code.
    if not raw.startswith("+") and len(digits) > 11 and not digits.startswith("0"):
        raw = "+" + digits
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidNumber(f"{excerpt(text)} is not a phone number ({exc})", value=text) from exc
    if not phonenumbers.is_possible_number(parsed):
        shown = excerpt(text)
        raise InvalidNumber(f"{shown!r} is not a possible phone number for its country", value=text)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164).lstrip("+")


def normalize_numbers(texts: Iterable[str], default_region: str = "BR") -> list[str]:
    """Normalise all numbers, or raise for the first bad one; duplicates dropped."""
    seen: dict[str, None] = {}
    for text in texts:
        seen[normalize_number(text, default_region)] = None
    return list(seen)


def numbers_from_words(words: Sequence[str], default_region: str = "BR") -> list[str]:
    """Phone numbers typed as words, the way people type them, as E.164 digits.

    `+55 11 99999-9999 5511888888888` is two numbers: a word is joined to the
    number before it while that number is not yet complete on its own, or
    while joining keeps it a possible number. A word with letters is never
    joined, so `12ab` is reported as typed. Duplicates are dropped.
    """
    chunks: list[str] = []
    for word in words:
        if chunks and _NUMBER_CHARS.fullmatch(word) and not word.startswith("+"):
            joined = f"{chunks[-1]} {word}"
            if not _is_possible(chunks[-1], default_region) or _is_possible(joined, default_region):
                chunks[-1] = joined
                continue
        chunks.append(word)
    return normalize_numbers(chunks, default_region)


def _is_possible(text: str, default_region: str) -> bool:
    try:
        normalize_number(text, default_region)
    except InvalidNumber:
        return False
    return True
