"""Numbers in typed text are the ASCII digits 0-9 only, everywhere.

`"²".isdigit()` is true and `int("²")` fails (`/log ²` was an internal error);
`int()` quietly reads `"٣"` (Arabic-Indic) and `"１"` (fullwidth) and regexes'
`\\d` matches them. Every place that reads a number from text is tried here
with such digits: it refuses them with its usual sentence and never crashes.
Commands run through the real command layer (real client to the sandbox in
process, real SQLite; a real scheduler with a fake clock for job commands).
"""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import ADMIN, VIEWER
from scheduler_kit import Harness, HarnessFactory

from bot.commands.layer import CommandLayer
from bot.commands.types import Pending, Reply
from bot.durations import parse_duration
from bot.lock import _read_pid
from bot.sandbox import SandboxServerThread
from bot.store import Store
from bot.usertext import ascii_int, is_ascii_digits
from jobs.schedule import CronSchedule, parse_at

# Digits that are not 0-9: superscript (isdigit, not decimal), Arabic-Indic,
# fullwidth, Bengali, Devanagari, a vulgar fraction, a Roman numeral.
ODD_DIGITS = ["²", "٣", "１", "৩", "५", "½", "Ⅻ"]
ODD_NUMBERS = [*ODD_DIGITS, "1²", "٣٠", "１０", "²²", "5٣"]


def reply_of(outcome: Reply | Pending) -> Reply:
    assert isinstance(outcome, Reply), f"expected a Reply, got {outcome!r}"
    return outcome


# -- the helper ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", 0), ("7", 7), ("0042", 42), ("100", 100), ("0" * 5000 + "9", 9), ("9" * 18, 10**18 - 1)],
)
def test_ascii_int_reads_plain_digits(text: str, value: int) -> None:
    assert is_ascii_digits(text)
    assert ascii_int(text) == value


@pytest.mark.parametrize(
    "text", [*ODD_NUMBERS, "", " 5", "5 ", "+5", "-5", "1_000", "1.5", "1e3", "0x10"]
)
def test_ascii_int_refuses_everything_else(text: str) -> None:
    assert ascii_int(text) is None


@pytest.mark.parametrize("text", ["9" * 19, "9" * 5000])
def test_ascii_int_refuses_absurdly_long_numbers(text: str) -> None:
    assert is_ascii_digits(text)
    assert ascii_int(text) is None  # never int()'s "Exceeds the limit (4300 digits)"


# -- /log [n] ------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", [*ODD_NUMBERS, "9" * 4000, "-1", "+5", "1_0"])
async def test_log_refuses_a_count_not_written_in_ascii_digits(
    layer: CommandLayer, store: Store, number: str
) -> None:
    reply = reply_of(await layer.execute(f"/log {number}", VIEWER))
    assert not reply.ok
    assert reply.text == "Give a number of entries from 1 to 100, e.g. /log 20"
    [row] = store.recent_audit(10)
    assert row.outcome == "failed"


@pytest.mark.parametrize("number", ["1", "05", "100", "0" * 4000 + "1"])
async def test_log_reads_ascii_counts(layer: CommandLayer, number: str) -> None:
    reply = reply_of(await layer.execute(f"/log {number}", VIEWER))
    assert reply.ok, reply.text


# -- <group>: digits are a group id only when they are ASCII -------------------------------------


@pytest.mark.parametrize("digit", ["²", "٣", "１"])
async def test_odd_digits_are_a_name_not_a_group_id(
    layer: CommandLayer, sandbox_server: SandboxServerThread, digit: str
) -> None:
    word = digit * 12
    reply = reply_of(await layer.execute(f"/group {word}", VIEWER))
    assert not reply.ok
    assert reply.text.startswith(f"No group, alias or target called '{word}'."), reply.text
    # Only the group list was read: no request was made for a made-up id.
    assert all("@g.us" not in request.path for request in sandbox_server.sandbox.requests)


async def test_arabic_indic_group_id_digits_are_not_read_as_an_id(layer: CommandLayer) -> None:
    arabic = "١٢٠٣٦٣١٢٣٤٥٦٧٨٩٠١٢"  # 120363123456789012 in Arabic-Indic digits
    reply = reply_of(await layer.execute(f"/group {arabic}", VIEWER))
    assert not reply.ok
    assert "No group, alias or target called" in reply.text


# -- durations -----------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ODD_NUMBERS)
@pytest.mark.parametrize("unit", ["s", "m", "h", "d"])
def test_duration_refuses_odd_digits(number: str, unit: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(f"{number}{unit}")


@pytest.mark.parametrize("text", ["1h٣٠m", "１h", "1h 3²m"])
def test_duration_refuses_odd_digits_in_a_later_part(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["9" * 5000 + "s", "9" * 30 + "d"])
def test_duration_with_too_many_digits_is_too_long(text: str) -> None:
    with pytest.raises(ValueError, match="too long"):
        parse_duration(text)


# -- cron fields and `at` times -----------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "٣ * * * *",
        "0 １ * * *",
        "0 9 ² * *",
        "0 9 * ٣ *",
        "0 9 * * ٣",
        "0 9 * * 1/٣",
        "0 9 * * 1-５",
        "*/٣ * * * *",
        "0 9 * * 1/²",
        "1-٣ * * * *",
    ],
)
def test_cron_refuses_odd_digits(expression: str) -> None:
    with pytest.raises(ValueError, match="0-9"):
        CronSchedule(expression, ZoneInfo("UTC"))


@pytest.mark.parametrize("expression", ["0 9 * * 1/" + "9" * 5000, "9" * 5000 + " * * * *"])
def test_cron_with_absurd_numbers_is_refused_clearly(expression: str) -> None:
    with pytest.raises(ValueError, match="cron"):
        CronSchedule(expression, ZoneInfo("UTC"))


@pytest.mark.parametrize(
    "text", ["٢٠٢٦-١٢-٠١T09:00", "2026-12-01T0٩:00", "２026-12-01T09:00", "2026-12-01T09:00+0٣:00"]
)
def test_at_refuses_odd_digits(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_at(text)


@pytest.fixture
async def bot(make_harness: HarnessFactory) -> Harness:
    return await make_harness([]).start()


@pytest.mark.parametrize(
    "when",
    [
        "every ٣m",
        "every ²m",
        "every １h",
        '"٣ * * * *"',
        '"0 9 * * 1/٣"',
        '"0 9 * * 1/²"',
        "at ٢٠٢٦-١٢-٠١T09:00",
    ],
)
async def test_schedule_refuses_odd_digits_and_stores_nothing(bot: Harness, when: str) -> None:
    reply = reply_of(await bot.layer.execute(f"/schedule promo {when} send sales Hi", ADMIN))
    assert not reply.ok
    assert reply.text.startswith("Not scheduled:"), reply.text
    assert bot.scheduler.book.get("promo") is None


# -- phone numbers and the lock file --------------------------------------------------------------


@pytest.mark.parametrize("number", ["٥٥١١٩٥٥٥٥١٢٣٤", "５５１１９５５５５１２３４", "55119555512²4"])
async def test_phone_numbers_in_odd_digits_are_refused(
    layer: CommandLayer, sandbox_server: SandboxServerThread, number: str
) -> None:
    reply = reply_of(await layer.execute(f"/add sales {number}", ADMIN))
    assert not reply.ok
    assert "is not a phone number" in reply.text
    assert number not in sandbox_server.sandbox.groups["120363123456789012@g.us"].participants


@pytest.mark.parametrize(
    ("content", "pid"),
    [(b"1234\n", 1234), ("²".encode(), None), ("٣".encode(), None), ("１".encode(), None)],
)
def test_lock_pid_file_reads_ascii_digits_only(
    tmp_path: Path, content: bytes, pid: int | None
) -> None:
    path = tmp_path / "pid"
    path.write_bytes(content)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert _read_pid(fd) == pid
    finally:
        os.close(fd)


def test_cron_still_reads_ascii() -> None:
    schedule = CronSchedule("0 9 * * 1/2", ZoneInfo("UTC"))
    assert schedule.describe() == 'cron "0 9 * * 1/2"'
