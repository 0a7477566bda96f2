"""The [messages] section: the invite-link text and the delivery-tracking horizon."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import DEFAULT_INVITE, ConfigError, load_config, render_invite

pytestmark = pytest.mark.usefixtures("no_grouppilot_env")


def test_defaults(tmp_path: Path) -> None:
    settings = load_config(_write(tmp_path, ""))
    assert settings.messages.invite == DEFAULT_INVITE
    assert settings.messages.track_delivery == timedelta(minutes=30)


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("value", "expected"),
    [('"0s"', timedelta(0)), ('"2h"', timedelta(hours=2)), ('"7d"', timedelta(days=7))],
)
def test_track_delivery(tmp_path: Path, value: str, expected: timedelta) -> None:
    settings = load_config(_write(tmp_path, f"[messages]\ntrack_delivery = {value}\n"))
    assert settings.messages.track_delivery == expected


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ('track_delivery = "8d"', "messages.track_delivery: at most 7d"),
        ('track_delivery = "soon"', "messages.track_delivery"),
        ('invite = "Join {group}"', "must contain {link}"),
        ('invite = "Join {grupo}: {link}"', "unknown placeholder {grupo}"),
        ('invite = "Join {link"', "messages.invite"),
        ('invite = "{link}\\u0000"', "messages.invite"),
        ('colour = "blue"', "messages.colour"),
    ],
)
def test_bad_messages_settings_name_the_key(tmp_path: Path, line: str, needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, f"[messages]\n{line}\n"))
    assert any(needle in problem for problem in caught.value.problems), caught.value.problems


def test_environment_overrides_the_invite_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GROUPPILOT_MESSAGES__INVITE", "Entre no {group}: {link}")
    settings = load_config(_write(tmp_path, ""))
    text = render_invite(settings.messages.invite, group="Vendas", link="https://x")
    assert text == "Entre no Vendas: https://x"
