"""Placeholder format specs are bounded wherever a text is rendered or validated.

`{group:>3000000000}` would make Python allocate about 3 GB, in the validator
as much as in a run. Every width and precision (text specs and strftime
specs) above MAX_WIDTH is refused before anything is formatted: by
render_text itself, by the config loader and by /schedule.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from conftest import ADMIN
from scheduler_kit import SALES, Harness, HarnessFactory, broadcast

from bot.commands.types import Pending, Reply
from bot.config import ConfigError, load_config
from bot.placeholders import MAX_WIDTH, check_text, render_text

WHEN = datetime(2026, 12, 1, 9, 5)

# Each of these would allocate far more than a message is worth (some: gigabytes).
TOO_WIDE = [
    ("{group:>3000000000}", "width 3000000000 is more than 1000"),
    ("{group:3000000000}", "width 3000000000 is more than 1000"),
    ("{weekday:*^1001}", "width 1001 is more than 1000"),
    ("{group:.3000000000}", "precision 3000000000 is more than 1000"),
    ("{group:>" + "9" * 5000 + "}", "width 99999999999999999999… is more than 1000"),
    ("{date:%3000000000Y}", "width 3000000000 is more than 1000"),
    ("{time:%_1001H}", "width 1001 is more than 1000"),
    ("{date:%d/%m %-3000000000d}", "width 3000000000 is more than 1000"),
    ("Hi {group:>٣٠٠٠٠٠٠٠٠٠}", "is more than 1000"),  # Arabic-Indic digits are digits too
]

ALLOWED = [
    ("{group:>1000}", " " * 990 + "Sales Team"),
    ("[{group:^14}]", "[  Sales Team  ]"),
    ("{group:.5}", "Sales"),
    ("{weekday:.3}", "Tue"),
    ("{date:%d/%m}", "01/12"),
    ("{date:%-d}", "1"),
    ("{time:%_5H}", "    9"),
    ("{date:%%1000000Y}", "%1000000Y"),  # %% is a literal percent: no width here
    ("{{group:>3000000000}}", "{group:>3000000000}"),  # escaped braces are plain text
]

pytestmark = pytest.mark.usefixtures("no_grouppilot_env")


@pytest.mark.parametrize(("text", "reason"), TOO_WIDE)
def test_render_text_refuses_a_spec_beyond_the_bound(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match="placeholder") as caught:
        render_text(text, group="Sales Team", when=WHEN)
    assert reason in str(caught.value)
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{group:>{weekday}}", "only a format spec"),  # a nested field could carry any width
        ("{group!r}", "only a format spec"),
        ("{grup}", "unknown placeholder {grup}"),
        ("{group:%d}", "not a format spec for a text"),
        ("{group", "cannot read the placeholders"),
    ],
)
def test_render_text_refuses_what_validation_refuses(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        render_text(text, group="Sales Team", when=WHEN)


@pytest.mark.parametrize(("text", "expected"), ALLOWED)
def test_specs_within_the_bound_render(text: str, expected: str) -> None:
    assert render_text(text, group="Sales Team", when=WHEN) == expected
    check_text(text)


def test_the_bound_is_1000() -> None:
    assert MAX_WIDTH == 1000


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str], Path]:
    def _write(text: str) -> Path:
        path = tmp_path / "config.toml"
        job = (
            '[groups]\nsales = "120363123456789012@g.us"\n'
            '[[jobs]]\nname = "w"\nkind = "broadcast"\nevery = "1h"\ntargets = ["sales"]\n'
        )
        path.write_text(job + f"text = '{text}'\n", encoding="utf-8")  # a TOML literal string
        return path

    return _write


@pytest.mark.parametrize(("text", "reason"), TOO_WIDE)
def test_config_refuses_a_spec_beyond_the_bound(
    write: Callable[[str], Path], text: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(text))
    [problem] = caught.value.problems
    assert problem.startswith("jobs[0] (w).text: placeholder {")
    assert reason in problem
    assert len(problem) < 300


@pytest.fixture
async def bot(make_harness: HarnessFactory) -> Harness:
    return await make_harness([broadcast()]).start()


async def schedule(bot: Harness, text: str) -> Reply:
    reply = await bot.layer.execute(text, ADMIN)
    if isinstance(reply, Pending):  # a valid /schedule asks to confirm
        reply = await bot.layer.confirm(reply.token, ADMIN)
    assert isinstance(reply, Reply)
    return reply


@pytest.mark.parametrize(("text", "reason"), TOO_WIDE[:4] + TOO_WIDE[5:7])
async def test_schedule_refuses_a_spec_beyond_the_bound(
    bot: Harness, text: str, reason: str
) -> None:
    reply = await schedule(bot, f"/schedule w every 1h send sales {text}")
    assert not reply.ok
    assert reason in reply.text
    assert bot.scheduler.book.get("w") is None  # nothing stored
    assert set(bot.timer.armed) == {"morning"}


async def test_schedule_accepts_and_renders_a_spec_within_the_bound(bot: Harness) -> None:
    reply = await schedule(bot, "/schedule w every 1h send sales [{group:>12}] {date:%d/%m}")
    assert reply.ok, reply.text
    await bot.advance(hours=1)
    assert bot.texts_to(SALES) == ["[  Sales Team] 27/11"]
