"""`grouppilot plan`, run as a real subprocess against the sandbox served on 127.0.0.1.

Exit codes like ``terraform plan -detailed-exitcode``: 0 no changes, 2 changes
(or a bad config or groups file, its problems on stderr), 1 an error.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import clean_env

from bot.sandbox import SandboxServerThread

SALES = "120363123456789012@g.us"
IN_SYNC = f"""
[groups.sales]
id = "{SALES}"
subject = "Sales Team"
admins = ["+55 11 98765-4321", "+55 11 91111-2222"]
members = ["+55 11 93333-4444"]
"""
WITH_CHANGES = f"""
[lists]
reps = ["+55 11 95555-0001"]

[groups.sales]
id = "{SALES}"
subject = "Sales Team"
admins = ["+55 11 98765-4321", "+55 11 91111-2222"]
members = ["@reps"]
"""


def plan(
    tmp_path: Path, base_url: str, groups: str | None, *args: str, owner: str = ""
) -> subprocess.CompletedProcess[str]:
    groups_file = tmp_path / "groups.toml"
    if groups is not None:
        groups_file.write_text(groups)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[pilot]\nbase_url = "{base_url}"\napi_key = "ps_test_key"\nmax_rps = 1000\n'
        f'[membership]\nfile = "{groups_file}"\nowner = "{owner}"\n'
    )
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "plan", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(),
        check=False,
    )


def test_no_changes_exits_0(tmp_path: Path, sandbox_server: SandboxServerThread) -> None:
    result = plan(tmp_path, sandbox_server.url, IN_SYNC, "sales")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "No changes: the live groups match the file (1 group).\n"
    assert result.stderr == ""


def test_changes_exit_2_and_print_the_plan(
    tmp_path: Path, sandbox_server: SandboxServerThread
) -> None:
    before = sandbox_server.sandbox.groups[SALES].participants
    result = plan(tmp_path, sandbox_server.url, WITH_CHANGES, owner="+55 11 98765-4321")
    assert result.returncode == 2, result.stderr
    assert result.stdout.splitlines()[:4] == [
        f"sales (Sales Team, {SALES})",
        "  + add +5511955550001",
        "  - remove +5511933334444",
        "Plan: 1 to add, 1 to remove in 1 of 1 group.",
    ]
    assert "Not in the file (left alone): 3 groups" in result.stdout
    assert sandbox_server.sandbox.groups[SALES].participants == before  # nothing changed


def test_an_api_failure_exits_1_in_one_sentence(
    tmp_path: Path, sandbox_server: SandboxServerThread
) -> None:
    sandbox_server.sandbox.inject("list_groups", status=401, code="UNAUTHORIZED", times=None)
    result = plan(tmp_path, sandbox_server.url, IN_SYNC)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("grouppilot plan: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "ps_test_key" not in result.stderr


def test_a_missing_groups_file_exits_1(tmp_path: Path) -> None:
    result = plan(tmp_path, "sandbox", None)
    assert result.returncode == 1
    assert result.stderr == (
        f"grouppilot plan: the groups file {tmp_path / 'groups.toml'} does not exist "
        "(membership.file).\n"
    )


def test_an_unknown_group_exits_1(tmp_path: Path) -> None:
    result = plan(tmp_path, "sandbox", IN_SYNC, "nope")
    assert result.returncode == 1
    assert result.stderr == (
        "grouppilot plan: 'nope' is not a group of the groups file (its groups: sales).\n"
    )


@pytest.mark.parametrize(
    ("groups", "problem"),
    [
        ('[groups.sales]\nsubject = "S"\nmembers = ["not a number"]\n', "not a number"),
        ('[groups.sales]\nsubject = "S"\nmembers = ["@nobody"]\n', "nobody"),
        ('[groups.sales]\nsubject = "S"\ncolour = "red"\n', "colour"),
    ],
)
def test_a_bad_groups_file_exits_2_naming_the_problem(
    tmp_path: Path, groups: str, problem: str
) -> None:
    result = plan(tmp_path, "sandbox", groups)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"grouppilot plan: invalid groups file {tmp_path}")
    assert problem in result.stderr
