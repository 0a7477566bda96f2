"""A GROUPPILOT_* variable that sets nothing is named in a warning, never its value.

`GROUPPILOT_TELEGRAM_TOKEN` (one underscore) used to be ignored in silence:
the bot started in console mode while the admin believed it had a token.
The loader now logs a warning per such variable, with a did-you-mean, and
`check` lists it in its report; the value never appears anywhere.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import clean_env

from bot.check import format_check
from bot.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"
SECRET = "123456:SECRET_TOKEN_VALUE_q9"

pytestmark = pytest.mark.usefixtures("no_grouppilot_env")


@pytest.mark.parametrize(
    ("variable", "suggestion"),
    [
        ("GROUPPILOT_TELEGRAM_TOKEN", "GROUPPILOT_TELEGRAM__TOKEN"),
        ("GROUPPILOT_PILOT_API_KEY", "GROUPPILOT_PILOT__API_KEY"),
        ("GROUPPILOT__PILOT__TIMEOUT", "GROUPPILOT_PILOT__TIMEOUT"),
        ("GROUPPILOT_TOKEN", "GROUPPILOT_TELEGRAM__TOKEN"),
        ("GROUPPILOT_API_KEY", "GROUPPILOT_PILOT__API_KEY"),
        ("GROUPPILOT_GROUPS_VIP", "GROUPPILOT_GROUPS__VIP"),
        ("grouppilot_telegram_token", "GROUPPILOT_TELEGRAM__TOKEN"),
        ("GROUPPILOT_CONFIG_FILE", "GROUPPILOT_CONFIG"),
        ("GROUPILOT_TELEGRAM__TOKEN", "GROUPPILOT_TELEGRAM__TOKEN"),  # a typo in the prefix
        ("GROUPPILOT_COLOUR", None),
    ],
)
def test_a_variable_that_sets_nothing_is_named_with_a_suggestion(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    variable: str,
    suggestion: str | None,
) -> None:
    monkeypatch.setenv(variable, SECRET)
    with caplog.at_level(logging.WARNING):
        settings = load_config(EXAMPLE)
    assert not settings.telegram.enabled  # still ignored: a warning, not a guess
    [warning] = settings.env_warnings
    assert warning.startswith(f"environment variable {variable} ")
    assert "ignored" in warning
    if suggestion is None:
        assert "did you mean" not in warning
    else:
        assert f"did you mean {suggestion}?" in warning
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [warning]
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    "variable",
    [
        "GROUPPILOT_CONFIG",
        "GROUPPILOT_TELEGRAM__TOKEN",
        "grouppilot_pilot__timeout",
        "GROUPPILOT_GROUPS__VIP",
        "GROUPPILOT_TARGETS__LAUNCH",
        "GROUPPILOT_SCHEDULER",
        "PILOT_API_KEY",  # another program's variable
        "GROUP_ID",
    ],
)
def test_variables_the_loader_reads_or_does_not_own_give_no_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, variable: str
) -> None:
    values = {
        "GROUPPILOT_CONFIG": str(EXAMPLE),
        "GROUPPILOT_TELEGRAM__TOKEN": "",
        "grouppilot_pilot__timeout": "7",
        "GROUPPILOT_GROUPS__VIP": "120363000000000003@g.us",
        "GROUPPILOT_TARGETS__LAUNCH": '["vip"]',
        "GROUPPILOT_SCHEDULER": '{"timezone": "UTC"}',
    }
    monkeypatch.setenv(variable, values.get(variable, "x"))
    with caplog.at_level(logging.WARNING):
        settings = load_config(EXAMPLE)
    assert settings.env_warnings == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_warning_comes_even_when_the_config_is_invalid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[pilot]\nbase_url = "https://pilotstatus.com.br"\n', encoding="utf-8")
    monkeypatch.setenv("GROUPPILOT_PILOT_API_KEY", SECRET)  # why api_key is "missing"
    with caplog.at_level(logging.WARNING), pytest.raises(ConfigError, match=r"pilot\.api_key"):
        load_config(path)
    assert "did you mean GROUPPILOT_PILOT__API_KEY?" in caplog.text
    assert SECRET not in caplog.text


def test_check_report_lists_the_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROUPPILOT_TELEGRAM_TOKEN", SECRET)
    report = format_check(load_config(EXAMPLE), now=datetime(2026, 11, 27, 12, tzinfo=UTC))
    lines = report.splitlines()
    assert lines[1].startswith("warning: environment variable GROUPPILOT_TELEGRAM_TOKEN ")
    assert SECRET not in report


def grouppilot(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        input="",  # run: the console reads EOF and stops cleanly
        env=clean_env(**env),
    )


@pytest.mark.parametrize("command", ["check", "run"])
def test_cli_warns_about_the_variable_and_never_shows_its_value(
    tmp_path: Path, command: str
) -> None:
    config = tmp_path / "config.toml"
    text = EXAMPLE.read_text(encoding="utf-8")
    config.write_text(
        text.replace('path = "grouppilot.db"', f'path = "{tmp_path / "bot.db"}"'), encoding="utf-8"
    )
    result = grouppilot(command, "--config", str(config), GROUPPILOT_TELEGRAM_TOKEN=SECRET)
    assert result.returncode == 0, result.stderr
    assert "GROUPPILOT_TELEGRAM_TOKEN" in result.stderr
    assert "did you mean GROUPPILOT_TELEGRAM__TOKEN?" in result.stderr
    if command == "check":
        assert "warning: environment variable GROUPPILOT_TELEGRAM_TOKEN" in result.stdout
    assert SECRET not in result.stdout + result.stderr
    for stored in tmp_path.glob("bot.db*"):  # the database and its journal files
        assert SECRET.encode() not in stored.read_bytes()
