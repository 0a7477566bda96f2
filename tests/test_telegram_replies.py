"""Reply rendering for Telegram: HTML escaping, splitting below 4096, the buttons."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.telegram.redact import MASK, protect, redact
from bot.telegram.replies import (
    CANCEL,
    CONFIRM,
    MAX_CHARS,
    confirm_buttons,
    escape,
    parse_button,
    split_text,
    utf16_len,
)


def test_escape_leaves_nothing_telegram_would_read_as_markup() -> None:
    assert escape("/add <group> <number…> & co") == "/add &lt;group&gt; &lt;number…&gt; &amp; co"
    assert escape("\"quoted\" 'text'") == "\"quoted\" 'text'"


def test_short_text_is_one_piece() -> None:
    assert split_text("Hello\nworld") == ["Hello\nworld"]
    assert split_text("") == []
    assert split_text("\n\n") == []


def test_long_text_is_cut_at_line_boundaries() -> None:
    lines = [f"Group {n:03d} — 120363{n:012d}@g.us" for n in range(300)]
    pieces = split_text("\n".join(lines))
    assert len(pieces) > 1
    assert all(utf16_len(p) <= MAX_CHARS for p in pieces)
    assert [line for p in pieces for line in p.split("\n")] == lines


def test_an_overlong_line_is_cut_at_a_space_or_hard() -> None:
    words = " ".join(["word"] * 2000)
    pieces = split_text(words, limit=100)
    assert all(len(p) <= 100 for p in pieces)
    assert " ".join(pieces) == words
    assert all(not p.startswith(" ") and not p.endswith(" ") for p in pieces)
    solid = "x" * 250
    assert split_text(solid, limit=100) == ["x" * 100, "x" * 100, "x" * 50]


def test_length_is_counted_as_telegram_counts_it() -> None:
    emoji = "😀" * 3000  # 6000 UTF-16 units
    pieces = split_text(emoji)
    assert all(utf16_len(p) <= MAX_CHARS for p in pieces)
    assert "".join(pieces) == emoji  # no emoji cut in half


@given(st.text(alphabet=st.sampled_from("ab \n😀<&"), max_size=600), st.integers(4, 60))
def test_split_never_exceeds_the_limit_and_loses_no_text(text: str, limit: int) -> None:
    pieces = split_text(text, limit=limit)
    assert all(utf16_len(p) <= limit for p in pieces)
    assert all(p.strip() for p in pieces)
    kept = "".join("".join(pieces).split())
    assert kept == "".join(text.split())  # only whitespace may move at the cuts


def test_buttons_fit_in_64_bytes_and_parse_back() -> None:
    markup = confirm_buttons("A" * 12)
    [[confirm, cancel]] = markup.inline_keyboard
    assert (confirm.text, cancel.text) == ("Confirm", "Cancel")
    assert all(len(str(b.callback_data).encode()) <= 64 for b in (confirm, cancel))
    assert parse_button(str(confirm.callback_data)) == (CONFIRM, "A" * 12)
    assert parse_button(str(cancel.callback_data)) == (CANCEL, "A" * 12)
    for junk in (None, "", "c:", "z:abc", "nonsense"):
        assert parse_button(junk) is None


def test_redaction_covers_messages_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    token = "424242:RedactMePleaseInEveryLogLine"
    protect(token)
    assert redact(f"https://api.telegram.org/bot{token}/getMe") == (
        f"https://api.telegram.org/bot{MASK}/getMe"
    )
    log = logging.getLogger("test.redact")
    with caplog.at_level(logging.INFO):
        log.info("url %s", f"/bot{token}/getMe")
        try:
            raise RuntimeError(f"The token `{token}` was rejected by the server.")
        except RuntimeError:
            log.exception("start failed")
    assert "RedactMePleaseInEveryLogLine" not in caplog.text
    assert MASK in caplog.text
