"""A message text must show something: one check for broadcast jobs and /send.

Text that is empty or only spaces, control or invisible formatting characters
(zero-width space, joiners, fillers) is refused with one sentence, and so is
a control character (NUL, BEL, …) anywhere; tabs and line breaks are fine.
Config jobs, /schedule and /send use the same check, so they refuse the same
texts with the same words, and nothing is sent or stored.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ADMIN
from conftest import run_confirmed as run
from scheduler_kit import Harness, HarnessFactory, broadcast

from bot.commands.types import Reply
from bot.config import ConfigError, load_config
from bot.sandbox import Sandbox
from bot.usertext import message_text_problem

NOTHING_VISIBLE = "is empty or has nothing visible"
CONTROL = "contains the control character"

REFUSED = [
    pytest.param("\x00\x01", CONTROL + " U+0000", id="nul-and-soh"),
    pytest.param("\u200b", NOTHING_VISIBLE, id="zero-width-space"),
    pytest.param("\u200b\u200d\ufeff\u2060", NOTHING_VISIBLE, id="format-characters"),
    pytest.param(" \t\n\u3000\u00a0", NOTHING_VISIBLE, id="whitespace"),
    pytest.param("\u3164\u2800", NOTHING_VISIBLE, id="fillers"),
    pytest.param("Hi\x00there", CONTROL + " U+0000 at position 3", id="nul-inside"),
    pytest.param("Hi\x07", CONTROL + " U+0007", id="bell"),
    pytest.param("Hi\x85", CONTROL + " U+0085", id="c1-control"),
]
ACCEPTED = [
    pytest.param("Hi 👍🏽", id="emoji-with-modifier"),
    pytest.param("👨\u200d👩\u200d👧", id="zwj-sequence"),
    pytest.param("a\tb\r\nc", id="tab-and-line-breaks"),
    pytest.param("\u200bHi", id="zero-width-then-text"),
    pytest.param("\u0301", id="a-lone-combining-mark"),  # shown on a dotted circle
]

pytestmark = pytest.mark.usefixtures("no_grouppilot_env")


@pytest.mark.parametrize(("text", "reason"), REFUSED)
def test_the_check_refuses(text: str, reason: str) -> None:
    problem = message_text_problem(text)
    assert problem is not None and reason in problem


@pytest.mark.parametrize("text", ACCEPTED)
def test_the_check_accepts(text: str) -> None:
    assert message_text_problem(text) is None


def config_with_text(tmp_path: Path, text: str) -> Path:
    escaped = text.encode("unicode_escape").decode("ascii").replace('"', '\\"')
    escaped = escaped.replace("\\x", "\\u00")  # TOML knows \uXXXX, not \xXX
    path = tmp_path / "config.toml"
    path.write_text(
        '[groups]\nsales = "120363123456789012@g.us"\n'
        '[[jobs]]\nname = "j"\nkind = "broadcast"\nevery = "1h"\ntargets = ["sales"]\n'
        f'text = "{escaped}"\n',
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    ("text", "reason"),
    [*REFUSED, pytest.param("{group:.0}", NOTHING_VISIBLE, id="renders-to-nothing")],
)
def test_config_refuses_a_text_with_nothing_to_show(tmp_path: Path, text: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(config_with_text(tmp_path, text))
    [problem] = caught.value.problems
    assert problem.startswith("jobs[0] (j).text: ")
    assert reason in problem


@pytest.mark.parametrize("text", ACCEPTED)
def test_config_accepts_a_visible_text(tmp_path: Path, text: str) -> None:
    assert load_config(config_with_text(tmp_path, text)).jobs[0].text == text


@pytest.mark.parametrize(("text", "reason"), REFUSED[:3] + REFUSED[5:7])
async def test_send_refuses_and_sends_nothing(
    layer, sandbox: Sandbox, text: str, reason: str
) -> None:
    reply = await run(layer, f"/send sales {text}")
    assert not reply.ok
    assert reply.text.startswith("The text to send ")
    assert reason in reply.text
    assert not [r for r in sandbox.requests if r.endpoint == "send"]


async def test_send_keeps_a_visible_text_as_typed(layer, sandbox: Sandbox) -> None:
    reply = await run(layer, "/send sales 👨\u200d👩\u200d👧\tok")
    assert reply.ok, reply.text
    assert [m.text for m in sandbox.sent_messages] == ["👨\u200d👩\u200d👧\tok"]


@pytest.fixture
async def bot(make_harness: HarnessFactory) -> Harness:
    return await make_harness([broadcast()]).start()


@pytest.mark.parametrize(("text", "reason"), REFUSED[:3] + REFUSED[5:7])
async def test_schedule_refuses_and_stores_nothing(bot: Harness, text: str, reason: str) -> None:
    reply = await bot.layer.execute(f"/schedule promo every 1h send sales {text}", ADMIN)
    assert isinstance(reply, Reply)
    assert not reply.ok
    assert reason in reply.text
    assert bot.scheduler.book.get("promo") is None
