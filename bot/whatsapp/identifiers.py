"""Group ids and phone numbers, checked before any request is made.

A phone number is read once, where a person typed it, into a `PhoneNumber`
that carries E.164 and nothing else; from then on it is passed around as that
value and never read again. Reading digits a second time is how `+1 415 555
0100` once became a Brazilian number: its digits `14155550100`, re-read with
the default country, looked like a national number of area 14.

We parse with phonenumbers and accept any *possible* number: the stricter
"valid" test rejects new number ranges, and the Brazilian ninth digit is never
added or removed, because only the person who wrote it knows which is right.
"Valid" only decides between two readings of bare digits (see `PhoneNumber.parse`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

import phonenumbers

from bot.usertext import excerpt
from bot.whatsapp.errors import InvalidGroupId, InvalidNumber

GROUP_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]+@g\.us$")
# What people type around the digits: spaces, dashes, dots, slashes, brackets.
_NUMBER_CHARS = re.compile(r"^\+?[0-9\s().\-/]+$")
_E164_DIGITS = re.compile(r"^[1-9][0-9]{1,14}$")
# Bare digits valid nowhere and longer than this are read as international:
# no country's national numbers we serve (Brazil: 11 with the ninth digit) are longer.
_LONGEST_NATIONAL = 11
# No phone number has more digits (phonenumbers' limit): a longer run of words is several.
_MOST_DIGITS = 17
_NO_DESC = phonenumbers.PhoneNumberDesc()


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


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """One phone number in E.164: `digits` for the API, `str()` for people.

    `digits` is E.164 without `+` (`14155550100`), the form the API takes and
    answers in participant ids; `str()` is `+14155550100`. Make one with
    `parse` from what someone typed; the constructor takes only digits that
    already are E.164 (country code first) and never applies a default country.
    """

    digits: str

    def __post_init__(self) -> None:
        if not _E164_DIGITS.fullmatch(self.digits) or not _has_country_code(self.digits):
            raise ValueError(f"{self.digits!r} is not an E.164 number (digits, country code first)")

    def __str__(self) -> str:
        return f"+{self.digits}"

    @classmethod
    def parse(cls, text: str, default_region: str) -> PhoneNumber:
        """The number in `text`, written any common way, or InvalidNumber.

        With `+` or `00` the country code is what was typed. Bare digits are a
        national number of `default_region` when they are a valid number there
        (`11977771111`, `(11) 97777-1111`); else international when valid as
        such (`14155550100`, `5511977771111`); when valid in neither reading
        (a range newer than our metadata), international only when longer than
        any national number (`_LONGEST_NATIONAL`).
        """
        raw = text.strip()
        if raw.startswith("00"):
            raw = "+" + raw[2:]
        if not raw or not _NUMBER_CHARS.fullmatch(raw):
            raise InvalidNumber(f"{excerpt(text)} is not a phone number", value=text)
        if raw.startswith("+"):
            parsed = _parsed(raw, None, text)
        else:
            parsed = _read_bare(raw, default_region, text)
        # Local-only lengths (a number missing its area code) cannot be reached
        # from WhatsApp: they are as wrong as a number that is too short.
        reason = phonenumbers.is_possible_number_with_reason(parsed)
        if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
            raise InvalidNumber(
                f"{excerpt(text)} is not a possible phone number for its country", value=text
            )
        e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        return cls(e164.removeprefix("+"))


def _read_bare(raw: str, default_region: str, text: str) -> phonenumbers.PhoneNumber:
    """Digits typed without `+` or `00`: national, or international (see `parse`)."""
    digits = re.sub(r"\D", "", raw)
    national = _parsed(raw, default_region, text)
    if phonenumbers.is_valid_number(national) or digits.startswith("0"):
        return national
    try:
        international = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return national
    if phonenumbers.is_valid_number(international) or len(digits) > _LONGEST_NATIONAL:
        return international
    _refuse_incomplete(national, default_region, text)
    return national


def _refuse_incomplete(national: phonenumbers.PhoneNumber, region: str, text: str) -> None:
    """Refuse a national reading too short for any of the region's numbers.

    `97777-1111` in Brazil is a mobile number without its area code: possible
    (a local-only length), but shorter than every fixed-line and mobile number
    there, so it cannot be reached from WhatsApp. Called only when no reading
    is valid, so new ranges of a full length are still accepted.
    """
    shortest = _shortest_national(region)
    if shortest is None or len(str(national.national_number)) >= shortest:
        return
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    international = phonenumbers.PhoneNumberFormat.INTERNATIONAL
    shown = f", e.g. {phonenumbers.format_number(example, international)}" if example else ""
    raise InvalidNumber(
        f"{excerpt(text)} looks like a number without its area code: write it with the "
        f"area code{shown}",
        value=text,
    )


def _shortest_national(region: str) -> int | None:
    """The fewest digits a fixed-line or mobile number of `region` has, if known."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region.upper())
    if metadata is None:
        return None
    lengths: list[int] = []
    general = [n for n in (metadata.general_desc or _NO_DESC).possible_length if n > 0]
    for desc in (metadata.fixed_line, metadata.mobile):
        if desc is None:
            continue
        own = [n for n in desc.possible_length if n > 0]  # -1: same as the general one
        lengths += own or general
    return min(lengths) if lengths else None


def _parsed(raw: str, region: str | None, text: str) -> phonenumbers.PhoneNumber:
    try:
        return phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidNumber(f"{excerpt(text)} is not a phone number ({exc})", value=text) from exc


def _has_country_code(digits: str) -> bool:
    try:
        phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return False
    return True


def participant_digits(participant_id: str) -> str:
    """The E.164 digits of a participant id the API gave, in any spelling.

    `5511999999999@s.whatsapp.net`, `5511999999999:12@s.whatsapp.net` (a
    device suffix), `+55 11 99999-9999` and bare digits all give
    `5511999999999`. The API always answers international numbers, so these
    digits compare directly with `PhoneNumber.digits`; they are never parsed
    with a default country.
    """
    local = participant_id.split("@", 1)[0].split(":", 1)[0]
    return re.sub(r"\D", "", local)


def parse_numbers(texts: Iterable[str], default_region: str) -> list[PhoneNumber]:
    """Read all numbers, or raise for the first bad one; duplicates dropped."""
    seen: dict[PhoneNumber, None] = {}
    for text in texts:
        seen[PhoneNumber.parse(text, default_region)] = None
    return list(seen)


def numbers_from_words(words: Sequence[str], default_region: str) -> list[PhoneNumber]:
    """Phone numbers typed as words, the way people type them.

    `+55 11 99999-9999 5511888888888` is two numbers: each number is the
    longest run of words that reads as a possible number, so a number whose
    first groups already look complete (`0501 234 56 78`) is not cut short.
    A word with letters or starting with `+` is never joined to the words
    before it, so `12ab` is reported as typed. Duplicates are dropped.
    """
    chunks: list[str] = []
    start = 0
    while start < len(words):
        run_end = _run_end(words, start)
        end = next(
            (
                stop
                for stop in range(run_end, start + 1, -1)
                if _is_possible(" ".join(words[start:stop]), default_region)
            ),
            # No run is a number: one word, or, when even that is not a
            # number, the whole run, so the error quotes what was typed.
            start + 1 if _is_possible(words[start], default_region) else run_end,
        )
        chunks.append(" ".join(words[start:end]))
        start = end
    return parse_numbers(chunks, default_region)


def _run_end(words: Sequence[str], start: int) -> int:
    """The end of the run of words from `start` that could still be one number."""
    end = start + 1
    digits = sum(ch.isdigit() for ch in words[start])
    if not _NUMBER_CHARS.fullmatch(words[start]):
        return end
    while end < len(words) and _NUMBER_CHARS.fullmatch(words[end]):
        if words[end].startswith("+"):
            break
        digits += sum(ch.isdigit() for ch in words[end])
        if digits > _MOST_DIGITS:
            break
        end += 1
    return end


def _is_possible(text: str, default_region: str) -> bool:
    try:
        PhoneNumber.parse(text, default_region)
    except InvalidNumber:
        return False
    return True
