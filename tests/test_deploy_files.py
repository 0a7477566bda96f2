"""The service files in deploy/: parsed, checked for what a service needs, and linted.

`systemd-analyze verify` runs when systemd is installed, hadolint when it is;
otherwise those tests skip and the parsers below still hold the files to the
promises docs/operations.md makes.
"""

from __future__ import annotations

import configparser
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "grouppilot.service"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / "grouppilot.env.example"


def unit() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(UNIT.read_text())
    return parser


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("Type", "notify"),
        ("WatchdogSec", "60"),
        ("Restart", "on-failure"),
        ("RestartPreventExitStatus", "2"),
        ("StateDirectory", "grouppilot"),
        ("DynamicUser", "yes"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("Environment", "GROUPPILOT_STORAGE__PATH=/var/lib/grouppilot/grouppilot.db"),
    ],
)
def test_the_unit_has_what_the_service_needs(key: str, expected: str) -> None:
    assert unit()["Service"][key] == expected


def test_the_unit_runs_the_bot_itself_not_as_root() -> None:
    service = unit()["Service"]
    command = shlex.split(service["ExecStart"])
    assert command[0].endswith("/.venv/bin/grouppilot")  # the main process: systemd hears it
    assert command[1:3] == ["run", "--no-console"]
    assert service["EnvironmentFile"].startswith("/etc/grouppilot/")
    assert "User" not in service or service["User"] not in {"root", "0"}
    assert int(service["TimeoutStopSec"]) > 20  # a clean stop takes at most 20 s
    assert unit()["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not here")
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    # verify checks ExecStart exists: point it at this checkout's own entry point.
    entry = Path(sys.executable).with_name("grouppilot")
    if not entry.exists():
        pytest.skip("no grouppilot entry point beside the interpreter")
    text = UNIT.read_text().replace("/opt/grouppilot/.venv/bin/grouppilot", str(entry))
    copy = tmp_path / "grouppilot.service"
    copy.write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    problems = [line for line in result.stderr.splitlines() if "grouppilot.service" in line]
    assert result.returncode == 0 and not problems, result.stderr


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def test_the_dockerfile_builds_with_uv_and_runs_as_a_user() -> None:
    found = instructions()
    names = [name for name, _ in found]
    assert names[0] == "FROM"
    assert any("uv sync --frozen" in args for name, args in found if name == "RUN")
    final = names[len(names) - 1 - names[::-1].index("FROM") :]  # the last stage
    assert "USER" in final
    user = [args for name, args in found if name == "USER"][-1]
    assert user not in {"root", "0"} and not user.startswith("0:")


def test_the_dockerfile_keeps_the_database_in_a_volume() -> None:
    found = instructions()
    [volume] = [args for name, args in found if name == "VOLUME"]
    assert json.loads(volume) == ["/data"]
    env = " ".join(args for name, args in found if name == "ENV")
    assert "GROUPPILOT_STORAGE__PATH=/data/grouppilot.db" in env


def test_the_dockerfile_checks_health_on_healthz() -> None:
    [health] = [args for name, args in instructions() if name == "HEALTHCHECK"]
    options, _, command = health.partition("CMD ")
    assert "--interval=" in options
    argv = json.loads(command)
    assert argv[0] == "python" and "/healthz" in argv[-1]
    compile(argv[-1], "<healthcheck>", "exec")  # the one-liner is valid Python


@pytest.mark.skipif(shutil.which("hadolint") is None, reason="hadolint not here")
def test_hadolint_accepts_the_dockerfile() -> None:
    result = subprocess.run(
        ["hadolint", "--failure-threshold", "warning", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_file_mounts_the_volume_and_the_secrets() -> None:
    text = COMPOSE.read_text()
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:  # no PyYAML here: the same promises, as text
        assert re.search(r"^\s+- grouppilot-data:/data$", text, re.MULTILINE)
        assert re.search(r"^\s+dockerfile: deploy/Dockerfile$", text, re.MULTILINE)
        assert re.search(r"^\s+- grouppilot\.env$", text, re.MULTILINE)
        assert re.search(r'^\s+- "127\.0\.0\.1:8080:8080"$', text, re.MULTILINE)
        assert re.search(r"^volumes:\n\s+grouppilot-data:", text, re.MULTILINE)
        return
    service = yaml.safe_load(text)["services"]["grouppilot"]
    assert service["build"]["dockerfile"] == "deploy/Dockerfile"
    assert "grouppilot-data:/data" in service["volumes"]
    assert service["env_file"] == ["grouppilot.env"]
    assert service["ports"] == ["127.0.0.1:8080:8080"]


def test_the_env_example_names_only_real_settings() -> None:
    from bot.config import Settings

    names = re.findall(r"^#? ?(GROUPPILOT_[A-Z_]+)=", ENV_EXAMPLE.read_text(), re.MULTILINE)
    assert "GROUPPILOT_PILOT__API_KEY" in names
    for name in names:
        section, _, key = name.removeprefix("GROUPPILOT_").lower().partition("__")
        model = type(getattr(Settings.model_construct(), section))
        assert key in model.model_fields, name
