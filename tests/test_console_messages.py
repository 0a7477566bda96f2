"""Issue 11's messages from the console (`grouppilot run`) and `grouppilot exec`, end to end.

Both are real subprocesses speaking HTTP to the sandbox served on 127.0.0.1
(`sandbox_server`), so each test checks what the sandbox received: the
templates read, the invite links sent by WhatsApp message (one
``destinationNumber`` send per number, the configured text with the group's
real link), and that a template with a wrong variable sends nothing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import clean_env
from test_exec import exec_on_terminal, grouppilot_exec, served_config

from bot.config_sections import DEFAULT_INVITE
from bot.console import CONFIRM_PROMPT, PROMPT
from bot.sandbox import Sandbox, SandboxServerThread
from bot.store import Store

ROOT = Path(__file__).resolve().parent.parent
SALES = "120363123456789012@g.us"
BLOCKED = "5511955550000"  # the sandbox refuses to add it: privacy settings
TEMPLATES = [
    "3 templates:",
    "- boas_vindas — sendable — variables: nome, grupo, cupom",
    "- lembrete — sendable — variables: none",
    "- promo_rejeitada — not sendable (Meta status REJECTED) — variables: codigo",
    "Send one with /send <target> template <id> name=value …",
]
TEMPLATE_READS = [
    ("list_templates", "/v1/templates"),
    ("get_template", "/v1/templates/boas_vindas"),
    ("get_template", "/v1/templates/lembrete"),
    ("get_template", "/v1/templates/promo_rejeitada"),
]


def sends(sandbox: Sandbox) -> list[dict[str, Any]]:
    """Bodies of every send request the sandbox received, in order."""
    return [r.body for r in sandbox.requests if r.endpoint == "send"]


def invite_text(sandbox: Sandbox) -> str:
    """The default `messages.invite` for Sales Team with its current link."""
    link = sandbox.groups[SALES].invite_link
    return DEFAULT_INVITE.format(group="Sales Team", link=link)


def audit_of(tmp_path: Path) -> list[tuple[str, str]]:
    with Store(tmp_path / "grouppilot.db") as store:
        return [(e.command, e.outcome) for e in reversed(store.recent_audit(100))]


def run_console(config: Path, stdin: str) -> subprocess.CompletedProcess[str]:
    """`grouppilot run` with the console reading `stdin` (EOF stops it)."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=clean_env(),
    )


# -- the console --------------------------------------------------------------------------


def test_console_session_templates_invites_offer_and_a_wrong_template(
    tmp_path: Path, sandbox_server: SandboxServerThread
) -> None:
    sandbox = sandbox_server.sandbox
    text = invite_text(sandbox)
    script = (
        "/templates\n"
        "/invite sales send +5511955550001\n"
        "y\n"
        "/invite sales send +5511955550002\n"
        "n\n"
        f"/add sales {BLOCKED}\n"
        "y\n"
        "/send sales template boas_vindas nome=Ana grupo={group}\n"
    )
    result = run_console(served_config(tmp_path, sandbox_server), script)

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    out = result.stdout
    assert "\n".join(TEMPLATES) in out
    assert out.count(CONFIRM_PROMPT) == 3
    assert [(r.endpoint, r.path) for r in sandbox.requests][:4] == TEMPLATE_READS
    # y sent to the first number, n to nobody, y to the number /add could not add
    assert sends(sandbox) == [
        {"destinationNumber": "+5511955550001", "text": text},
        {"destinationNumber": f"+{BLOCKED}", "text": text},
    ]
    first, blocked = sandbox.sent_messages
    assert f"+5511955550001: queued (message {first.id})" in out
    assert f"+{BLOCKED}: queued (message {blocked.id})" in out
    assert "+5511955550002" not in [m.destination_number for m in sandbox.sent_messages]
    assert "Cancelled" in out
    # the template: read once, refused naming the variable, nothing sent
    assert "missing variable cupom" in out
    assert [r.path for r in sandbox.requests].count("/v1/templates/boas_vindas") == 2
    assert not any(s.get("templateId") for s in sends(sandbox))
    assert BLOCKED not in sandbox.groups[SALES].participants
    assert out.rstrip().endswith(PROMPT.rstrip())
    assert audit_of(tmp_path) == [
        ("/templates", "ok"),
        ("/invite sales send +5511955550001", "awaiting confirmation"),
        ("/invite sales send +5511955550001", "confirmed: ok"),
        ("/invite sales send +5511955550002", "awaiting confirmation"),
        ("/invite sales send +5511955550002", "cancelled"),
        (f"/add sales {BLOCKED}", "awaiting confirmation"),
        (f"/add sales {BLOCKED}", "confirmed: failed"),
        ("/send sales template boas_vindas nome=Ana grupo={group}", "failed"),
    ]


# -- grouppilot exec ----------------------------------------------------------------------


def test_exec_templates(tmp_path: Path, sandbox_server: SandboxServerThread) -> None:
    done = grouppilot_exec(served_config(tmp_path, sandbox_server), "/templates")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == TEMPLATES
    assert [(r.endpoint, r.path) for r in sandbox_server.sandbox.requests] == TEMPLATE_READS


def test_exec_invite_send_answered_yes_sends_the_link(
    tmp_path: Path, sandbox_server: SandboxServerThread
) -> None:
    sandbox = sandbox_server.sandbox
    config = served_config(tmp_path, sandbox_server)
    done = exec_on_terminal(config, "/invite sales send +5511955550001 5511955550003", "y")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Confirm? [y/N] " in done.stderr
    assert f"Text: {invite_text(sandbox)}" in done.stderr  # the question says what goes out
    assert sends(sandbox) == [
        {"destinationNumber": "+5511955550001", "text": invite_text(sandbox)},
        {"destinationNumber": "+5511955550003", "text": invite_text(sandbox)},
    ]
    ids = [m.id for m in sandbox.sent_messages]
    assert f"+5511955550001: queued (message {ids[0]})" in done.stdout
    assert f"+5511955550003: queued (message {ids[1]})" in done.stdout
    assert all(r.body == {"reset": False} for r in sandbox.requests if r.endpoint == "invite")


@pytest.mark.parametrize("answer", ["n", ""])
def test_exec_invite_send_answered_no_sends_nothing(
    tmp_path: Path, sandbox_server: SandboxServerThread, answer: str
) -> None:
    sandbox = sandbox_server.sandbox
    config = served_config(tmp_path, sandbox_server)
    done = exec_on_terminal(config, "/invite sales send +5511955550001", answer)
    assert done.returncode == 1
    assert "Cancelled" in done.stdout
    assert sends(sandbox) == []
    assert sandbox.sent_messages == []
    assert audit_of(tmp_path)[-1] == ("/invite sales send +5511955550001", "cancelled")


def test_exec_add_offer_confirmed_sends_the_link_to_that_number(
    tmp_path: Path, sandbox_server: SandboxServerThread
) -> None:
    sandbox = sandbox_server.sandbox
    config = served_config(tmp_path, sandbox_server)
    done = grouppilot_exec(config, "--yes", f"/add sales {BLOCKED}")
    assert done.returncode == 1  # the person is still not in the group
    assert "invite link by WhatsApp message?" in done.stderr  # the offer, for the record
    assert sends(sandbox) == [{"destinationNumber": f"+{BLOCKED}", "text": invite_text(sandbox)}]
    [message] = sandbox.sent_messages
    assert f"+{BLOCKED}: queued (message {message.id})" in done.stdout
    assert BLOCKED not in sandbox.groups[SALES].participants


@pytest.mark.parametrize(
    ("words", "sentence"),
    [
        ("nome=Ana grupo=x cupom=1 extra=2", "unknown variable extra"),
        ("nome=Ana grupo=x cupom=", "Variable cupom is empty"),
    ],
)
def test_exec_template_with_a_wrong_variable_exits_1_and_sends_nothing(
    tmp_path: Path, sandbox_server: SandboxServerThread, words: str, sentence: str
) -> None:
    done = grouppilot_exec(
        served_config(tmp_path, sandbox_server), f"/send sales template boas_vindas {words}"
    )
    assert done.returncode == 1
    assert sentence in done.stdout
    assert "Traceback" not in done.stderr
    assert sends(sandbox_server.sandbox) == []
    assert sandbox_server.sandbox.sent_messages == []
