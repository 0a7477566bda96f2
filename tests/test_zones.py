"""Time zone names that do not load are one short sentence, never a traceback.

Config keys (`scheduler.timezone`, a job's `timezone`) loaded directly and
through `grouppilot check` / `grouppilot run` as subprocesses (exit 2).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import clean_env

from bot.config import ConfigError, load_config
from bot.zones import load_zone

ROOT = Path(__file__).resolve().parent.parent
HUGE = "Europe/" + "x" * 100_000  # the OS refuses the file name (ENAMETOOLONG)
JOB = """
[groups]
sales = "120363123456789012@g.us"
[[jobs]]
name = "j"
kind = "invite_reset"
every = "1h"
targets = ["sales"]
"""

BAD_ZONES = [
    pytest.param(HUGE, id="100KB"),
    pytest.param("America", id="a-directory"),
    pytest.param("Mars/Olympus", id="unknown"),
    pytest.param("Europe/Berlin\\u0000", id="nul"),
    pytest.param("/etc/localtime", id="absolute-path"),
    pytest.param("../../etc/passwd", id="outside-tzpath"),
    pytest.param("", id="empty"),
]

pytestmark = pytest.mark.usefixtures("no_grouppilot_env")


def toml_zone(where: str, zone: str) -> str:
    if where == "scheduler":
        return f'[scheduler]\ntimezone = "{zone}"\n' + JOB
    return JOB + f'timezone = "{zone}"\n'


@pytest.mark.parametrize("zone", BAD_ZONES)
@pytest.mark.parametrize(
    ("where", "key"), [("scheduler", "scheduler.timezone"), ("job", "jobs[0] (j).timezone")]
)
def test_a_zone_that_does_not_load_is_one_short_problem(
    tmp_path: Path, zone: str, where: str, key: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml_zone(where, zone), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    [problem] = [p for p in caught.value.problems if p.startswith(f"{key}: ")]
    assert "unknown time zone" in problem
    assert "IANA" in problem
    assert len(problem) < 300  # a short excerpt, never the whole 100 KB name


@pytest.mark.parametrize("name", [HUGE, "America", "Mars/Olympus", "a\x00b", "/etc/localtime", ""])
def test_load_zone_raises_only_value_error(name: str) -> None:
    with pytest.raises(ValueError, match="unknown time zone") as caught:
        load_zone(name)
    assert len(str(caught.value)) < 300


def test_load_zone_gives_the_zone() -> None:
    assert load_zone("America/Sao_Paulo").key == "America/Sao_Paulo"


@pytest.mark.parametrize("command", ["check", "run"])
# Every bad zone in the config: test_a_zone_that_does_not_load_is_one_short_problem.
@pytest.mark.parametrize("zone", [HUGE], ids=["100KB"])
def test_cli_refuses_a_bad_zone_with_one_sentence(tmp_path: Path, command: str, zone: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[storage]\npath = "{tmp_path / "bot.db"}"\n' + toml_zone("scheduler", zone),
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", command, "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        input="",
        env=clean_env(),
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "scheduler.timezone: unknown time zone" in result.stderr
    assert len(result.stderr) < 1000
    assert result.stdout == ""
    assert not (tmp_path / "bot.db").exists()  # nothing ran
