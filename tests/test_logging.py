"""Logging: level, text or JSON lines with their fields, the journal, secrets masked.

The formatters are driven through a real logger; the level, format and
journal choices through `grouppilot run` as a real subprocess, whose stderr is
what an operator (or the journal) reads.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import clean_env

from bot.logs import JsonFormatter, TextFormatter, log_context, protect, stderr_is_journal

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456789:AAFakeTokenForLogTestsOnly_xyz123"
API_KEY = "ps_live_logtest_5f3a9c1e"
STAMPED = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARNING) [a-z_.]+: ")


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO, io.StringIO]]:
    """A logger writing both formats to two buffers, secrets protected."""
    protect(TOKEN, "<bot-token>")
    protect(API_KEY, "<api-key>")
    logger = logging.getLogger("grouppilot.test_logging")
    text, lines = io.StringIO(), io.StringIO()
    handlers = [logging.StreamHandler(text), logging.StreamHandler(lines)]
    handlers[0].setFormatter(TextFormatter())
    handlers[1].setFormatter(JsonFormatter())
    for handler in handlers:
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield logger, text, lines
    finally:
        for handler in handlers:
            logger.removeHandler(handler)


def json_lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_json_line_has_time_level_logger_message_and_the_context_fields(
    logged: tuple[logging.Logger, io.StringIO, io.StringIO],
) -> None:
    logger, _, lines = logged
    with log_context(job="morning", run=42), log_context(group="120363@g.us"):
        logger.info("sent %d", 3)
    with log_context(command="groups"):
        logger.warning("slow", extra={"group": "from-extra"})
    logger.info("plain")
    first, second, third = json_lines(lines)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(first["time"]))
    assert {k: v for k, v in first.items() if k != "time"} == {
        "level": "INFO",
        "logger": "grouppilot.test_logging",
        "message": "sent 3",
        "job": "morning",
        "run": 42,
        "group": "120363@g.us",
    }
    assert (second["command"], second["group"], second["level"]) == (
        "groups",
        "from-extra",
        "WARNING",
    )
    assert not {"command", "job", "run", "group"} & set(third)


def test_json_escapes_what_a_sender_controls(
    logged: tuple[logging.Logger, io.StringIO, io.StringIO],
) -> None:
    logger, _, lines = logged
    logger.info("subject %s", 'evil"\n{"level": "CRITICAL"}')
    [line] = json_lines(lines)  # still one line, one object
    assert line["message"] == 'subject evil"\n{"level": "CRITICAL"}'


@pytest.mark.parametrize("secret", [TOKEN, TOKEN.partition(":")[2], API_KEY])
def test_secrets_are_masked_in_both_formats_message_fields_and_traceback(
    logged: tuple[logging.Logger, io.StringIO, io.StringIO], secret: str
) -> None:
    logger, text, lines = logged
    with log_context(command=f"/x {secret}"):
        logger.info("url https://api.example/bot%s/getMe", secret, extra={"group": secret})
        try:
            raise ValueError(f"refused {secret}")
        except ValueError:
            logger.exception("failed")
    assert secret not in text.getvalue()
    assert secret not in lines.getvalue()
    assert "Traceback" in text.getvalue()
    info, failure = json_lines(lines)
    assert "<" in str(info["message"]) and "<" in str(info["group"])
    assert secret not in str(info["command"])
    assert "ValueError: refused <" in str(failure["exception"])


def test_text_format_is_the_historical_line() -> None:
    record = logging.LogRecord("grouppilot", logging.INFO, __file__, 1, "stopped", None, None)
    assert STAMPED.match(TextFormatter().format(record))
    assert TextFormatter(timestamps=False).format(record) == "INFO grouppilot: stopped"
    line = json.loads(JsonFormatter(timestamps=False).format(record))
    assert "time" not in line


def test_journal_is_detected_by_device_and_inode(tmp_path: Path) -> None:
    with open(tmp_path / "journal", "w") as stream, open(tmp_path / "other", "w") as other:
        status = os.fstat(stream.fileno())
        env = {"JOURNAL_STREAM": f"{status.st_dev}:{status.st_ino}"}
        assert stderr_is_journal(stream, env)
        assert not stderr_is_journal(other, env)  # inherited, but stderr was redirected
        assert not stderr_is_journal(stream, {})
        assert not stderr_is_journal(stream, {"JOURNAL_STREAM": "nonsense"})
        assert not stderr_is_journal(io.StringIO(), env)  # no file behind it


# -- grouppilot run ------------------------------------------------------------------


def run_bot(
    tmp_path: Path, *args: str, config: str = "", stderr_file: Path | None = None, **env: str
) -> str:
    """`grouppilot run` on the console, fed /groups then EOF; its stderr."""
    db = tmp_path / "grouppilot.db"
    path = tmp_path / "grouppilot.toml"
    path.write_text(f'[pilot]\nbase_url = "sandbox"\n[storage]\npath = "{db}"\n{config}')
    command = [sys.executable, "-m", "bot.cli", "run", "--config", str(path), *args]
    if stderr_file is not None:
        with open(stderr_file, "w") as stream:
            status = os.fstat(stream.fileno())
            env["JOURNAL_STREAM"] = f"{status.st_dev}:{status.st_ino}"
            result = subprocess.run(
                command,
                input="/groups\n",
                stdout=subprocess.PIPE,
                stderr=stream,
                text=True,
                timeout=60,
                cwd=ROOT,
                env=clean_env(**env),
            )
        stderr = stderr_file.read_text()
    else:
        result = subprocess.run(
            command,
            input="/groups\n",
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            env=clean_env(**env),
        )
        stderr = result.stderr
    assert result.returncode == 0, stderr
    return stderr


def test_run_logs_the_plain_text_format_by_default(tmp_path: Path) -> None:
    lines = run_bot(tmp_path).splitlines()
    assert lines and all(STAMPED.match(line) for line in lines), lines
    assert lines[-1].endswith("INFO grouppilot: stopped")


@pytest.mark.parametrize(
    ("args", "env", "config", "debug", "info"),
    [
        ((), {"GROUPPILOT_LOG__LEVEL": "warning"}, "", False, False),
        ((), {}, '[log]\nlevel = "DEBUG"\n', True, True),
        (("--log-level", "debug"), {"GROUPPILOT_LOG__LEVEL": "ERROR"}, "", True, True),
        (("--log-level", "WARNING"), {"GROUPPILOT_LOG__LEVEL": "DEBUG"}, "", False, False),
    ],
)
def test_log_level_from_flag_env_or_config_the_flag_wins(
    tmp_path: Path,
    args: tuple[str, ...],
    env: dict[str, str],
    config: str,
    debug: bool,
    info: bool,
) -> None:
    stderr = run_bot(tmp_path, *args, config=config, **env)
    assert (" DEBUG " in stderr, " INFO grouppilot: stopped" in stderr) == (debug, info)


def test_json_format_under_the_journal_has_no_time(tmp_path: Path) -> None:
    stderr = run_bot(tmp_path, stderr_file=tmp_path / "journal.log", GROUPPILOT_LOG__FORMAT="json")
    lines = [json.loads(line) for line in stderr.splitlines()]
    assert lines[-1] == {"level": "INFO", "logger": "grouppilot", "message": "stopped"}
    assert all("time" not in line for line in lines)


def test_text_format_under_the_journal_has_no_time(tmp_path: Path) -> None:
    stderr = run_bot(tmp_path, stderr_file=tmp_path / "journal.log")
    assert stderr.splitlines()[-1] == "INFO grouppilot: stopped"


def test_api_key_never_reaches_the_log_even_at_debug(tmp_path: Path) -> None:
    stderr = run_bot(
        tmp_path,
        "--log-level",
        "DEBUG",
        GROUPPILOT_PILOT__API_KEY=API_KEY,
        GROUPPILOT_LOG__FORMAT="json",
    )
    assert API_KEY not in stderr
    assert all(json.loads(line) for line in stderr.splitlines())
