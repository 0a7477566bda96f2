"""`grouppilot apply --yes` killed (SIGKILL) between two steps, then run again.

A real subprocess against the sandbox served on 127.0.0.1. The sandbox holds
its answer to the promote for a few seconds (it has carried the promote out
already), so the kill lands while that step is ``doing``. The second apply
turns it into ``unknown``, reads the groups again (the promote shows as done)
and carries out only what is left: every change reached the sandbox once.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from conftest import clean_env

from bot.membership.history import steps_of
from bot.sandbox import SandboxServerThread
from bot.store import Store

ROOT = Path(__file__).resolve().parent.parent
SALES = "120363123456789012@g.us"
SUPPORT = "120363000000000002@g.us"
NEW_SALES, NEW_SUPPORT = "5511955550101", "5511955550102"
CHANGES = ("add", "promote", "demote", "remove", "create_group")

GROUPS = f"""
[groups.sales]
id = "{SALES}"
subject = "Sales Team"
members = ["+{NEW_SALES}"]
admins = ["+5511911112222", "+5511933334444"]

[groups.support]
id = "{SUPPORT}"
subject = "Support"
members = ["+{NEW_SUPPORT}"]
"""


def write_config(tmp_path: Path, url: str) -> Path:
    groups = tmp_path / "groups.toml"
    groups.write_text(GROUPS)
    config = tmp_path / "grouppilot.toml"
    config.write_text(
        "[pilot]\n"
        f"base_url = {json.dumps(url)}\n"
        'api_key = "ps_test"\n'
        "max_rps = 100\n"
        "timeout = 30\n"
        "[storage]\n"
        f"path = {json.dumps(str(tmp_path / 'grouppilot.db'))}\n"
        "[membership]\n"
        f"file = {json.dumps(str(groups))}\n"
        'owner = "+5511987654321"\n'
    )
    return config


def apply_command(config: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bot.cli",
        "apply",
        "--config",
        str(config),
        "--yes",
        "--allow-removals",
        "1",
    ]


def test_killed_mid_apply_then_apply_again_repeats_no_step(
    tmp_path: Path, sandbox_server: SandboxServerThread
) -> None:
    sandbox = sandbox_server.sandbox
    config = write_config(tmp_path, sandbox_server.url)
    sandbox.inject("promote", delay=20)  # carried out, then the answer waits
    process = subprocess.Popen(
        apply_command(config),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=clean_env(),
    )
    try:
        deadline = time.monotonic() + 30
        while not any(r.endpoint == "promote" for r in sandbox.requests):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the promote never reached the sandbox"
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=10)
    assert process.returncode == -signal.SIGKILL
    sandbox.clear_faults()
    first = Counter(r.endpoint for r in sandbox.requests if r.endpoint in CHANGES)
    assert first == {"add": 1, "promote": 1}  # sales: add, then promote (killed)

    again = subprocess.run(
        apply_command(config),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=clean_env(),
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "An earlier apply was interrupted: 1 step(s) of unknown outcome" in again.stderr
    assert "promote" not in again.stdout.split("Plan:")[0]  # the re-read shows it done

    total = Counter(r.endpoint for r in sandbox.requests if r.endpoint in CHANGES)
    assert total == {"add": 2, "promote": 1, "remove": 1}  # each change reached it once
    sales, support = sandbox.get_group(SALES), sandbox.get_group(SUPPORT)
    assert sales.participants["5511933334444"] == "admin"
    assert NEW_SALES in sales.participants
    assert set(support.participants) == {"5511987654321", NEW_SUPPORT}

    with Store(tmp_path / "grouppilot.db") as store:
        runs = store.db.execute("SELECT id, outcome FROM plan_runs ORDER BY id").fetchall()
        assert [outcome for _id, outcome in runs] == ["interrupted", "ok"]
        killed = [(s.kind, s.state) for s in steps_of(store.db, runs[0][0])]
        assert killed == [
            ("add", "done"),
            ("promote", "unknown"),
            ("add", "pending"),
            ("remove", "pending"),
        ]
        finished = [(s.group_key, s.kind, s.state) for s in steps_of(store.db, runs[1][0])]
        assert finished == [("support", "add", "done"), ("support", "remove", "done")]
        audit = [(e.chat, e.command, e.outcome) for e in reversed(store.recent_audit(20))]
    assert ("apply", "promote sales +5511933334444", "unknown") in audit
    assert ("apply", "remove support +5511977778888", "ok") in audit


# -- the command line's other answers ----------------------------------------------------


def run_apply(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "bot.cli", "apply", "--config", str(config), *args]
    return subprocess.run(
        command,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=clean_env(),
    )


def changes_at(server: SandboxServerThread) -> list[str]:
    return [r.endpoint or "" for r in server.sandbox.requests if r.endpoint in CHANGES]


def test_without_yes_and_without_a_terminal_nothing_is_applied(
    tmp_path: Path, sandbox_server: SandboxServerThread
) -> None:
    result = run_apply(write_config(tmp_path, sandbox_server.url), "--allow-removals", "1")
    assert result.returncode == 1
    assert f"+ add +{NEW_SALES}" in result.stdout  # the plan was shown
    assert "pass --yes to apply" in result.stderr
    assert changes_at(sandbox_server) == []


def test_the_removal_guard_refuses_and_names_the_count(
    tmp_path: Path, sandbox_server: SandboxServerThread
) -> None:
    config = write_config(tmp_path, sandbox_server.url)
    result = run_apply(config, "--yes")
    assert result.returncode == 1
    assert "support would lose 1 of 2 members (50%)" in result.stderr
    assert "--allow-removals 1" in result.stderr
    assert changes_at(sandbox_server) == []
    with Store(tmp_path / "grouppilot.db") as store:
        outcomes = store.db.execute("SELECT outcome FROM plan_runs").fetchall()
    assert outcomes == [("refused",)]


def test_only_the_named_group_is_applied(
    tmp_path: Path, sandbox_server: SandboxServerThread
) -> None:
    result = run_apply(write_config(tmp_path, sandbox_server.url), "sales", "--yes")
    assert result.returncode == 0, result.stderr
    assert f"sales: add +{NEW_SALES} done" in result.stdout
    assert all(SUPPORT.split("@")[0] not in r.path for r in sandbox_server.sandbox.requests)


def test_a_bad_groups_file_exits_2_naming_it(
    tmp_path: Path, sandbox_server: SandboxServerThread
) -> None:
    config = write_config(tmp_path, sandbox_server.url)
    (tmp_path / "groups.toml").write_text(GROUPS + 'members = ["@nosuchlist"]\n')
    result = run_apply(config, "--yes")
    assert result.returncode == 2
    assert "invalid groups file" in result.stderr
    assert sandbox_server.sandbox.requests == []


def test_an_unknown_group_exits_2(tmp_path: Path, sandbox_server: SandboxServerThread) -> None:
    result = run_apply(write_config(tmp_path, sandbox_server.url), "nosuch", "--yes")
    assert result.returncode == 2
    assert "'nosuch' is not a group of the groups file" in result.stderr
    assert changes_at(sandbox_server) == []
