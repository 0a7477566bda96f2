"""Durations: the exact form the config reads, and the rounded form people read."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.durations import format_duration, parse_duration, rounded_duration


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=-5), "0s"),
        (timedelta(seconds=59.9), "59s"),
        (timedelta(seconds=65), "1m05s"),
        (timedelta(minutes=59, seconds=59), "59m59s"),
        (timedelta(hours=2, minutes=7, seconds=30), "2h07m"),
        (timedelta(hours=23, minutes=59), "23h59m"),
        (timedelta(days=2, hours=3, minutes=59), "2d03h"),
        (timedelta(days=400), "400d00h"),
    ],
)
def test_rounded_duration(value: timedelta, shown: str) -> None:
    assert rounded_duration(value) == shown


@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=366)))
def test_format_duration_is_read_back_exactly(value: timedelta) -> None:
    value = timedelta(seconds=int(value.total_seconds()))  # the parser reads whole seconds
    assert parse_duration(format_duration(value)) == value
