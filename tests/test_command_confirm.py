"""Confirmation of risky commands (docs/commands.md): ask, then act once, or never.

`/remove`, `/invite <group> reset` and `/send` to several groups return a
`Pending`; nothing changes in the sandbox until the same chat's admin confirms,
once, within five minutes. Real layer, real client to the sandbox (in process),
real SQLite store; the only stand-in is a hand-moved monotonic clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import ADMIN, STRANGER, VIEWER

from bot.commands.layer import CONFIRM_TTL, CommandLayer
from bot.commands.types import Pending, Principal, Reply, Rights
from bot.config import Settings
from bot.runtime import build_commands
from bot.sandbox import Sandbox, SandboxServerThread
from bot.store import Store
from bot.whatsapp import WhatsAppClient

SALES = "120363123456789012@g.us"
RIO = "120363000000000001@g.us"
MEMBER = "5511933334444"  # a regular member of Sales Team

OTHER_ADMIN_SAME_CHAT = Principal(chat=ADMIN.chat, who="user:3", rights=Rights.ADMIN)
ADMIN_OF_ANOTHER_CHAT = Principal(chat="telegram:-1002", who=ADMIN.who, rights=Rights.ADMIN)
NOT_CONNECTED = "The WhatsApp number is not connected (WHATSAPP_INSTANCE_NOT_CONNECTED)"


class FakeMonotonic:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def world(sandbox: Sandbox) -> dict[str, Any]:
    """Everything a confirmed action could change upstream."""
    return {
        "groups": {
            gid: (g.name, dict(g.participants), g.invite_link, sorted(g.pinned))
            for gid, g in sandbox.groups.items()
        },
        "sent": [(m.id, m.group_id, m.text) for m in sandbox.sent_messages],
    }


def outcomes(store: Store) -> list[tuple[str, str, str]]:
    """(who, command, outcome) of the audit log, oldest first."""
    return [(e.who, e.command, e.outcome) for e in reversed(store.recent_audit(1000))]


# -- the three confirm commands -------------------------------------------------------------


@dataclass(frozen=True)
class Confirmable:
    id: str
    command: str
    question_has: Callable[[Sandbox], list[str]]
    applied: Callable[[Sandbox, dict[str, Any], Reply], None]


def remove_applied(sandbox: Sandbox, before: dict[str, Any], reply: Reply) -> None:
    participants = sandbox.groups[SALES].participants
    assert MEMBER not in participants
    assert len(participants) == len(before["groups"][SALES][1]) - 1
    assert f"+{MEMBER}: removed" in reply.text


def reset_applied(sandbox: Sandbox, before: dict[str, Any], reply: Reply) -> None:
    old, new = before["groups"][SALES][2], sandbox.groups[SALES].invite_link
    assert new != old
    assert new in reply.text
    assert old not in reply.text


def send_applied(sandbox: Sandbox, before: dict[str, Any], reply: Reply) -> None:
    sent = sorted((m.group_id, m.text) for m in sandbox.sent_messages)
    assert sent == sorted([(SALES, "Meeting at 3pm"), (RIO, "Meeting at 3pm")])
    assert "Queued 2 of 2." in reply.text
    assert "Sales Team" in reply.text
    assert "Sales Rio" in reply.text


CONFIRMABLES = [
    Confirmable(
        "remove",
        f"/remove sales {MEMBER}",
        lambda sandbox: ["Remove", f"+{MEMBER}", "Sales Team"],
        remove_applied,
    ),
    Confirmable(
        "invite-reset",
        "/invite sales reset",
        lambda sandbox: ["Reset", "Sales Team", sandbox.groups[SALES].invite_link],
        reset_applied,
    ),
    Confirmable(
        "send-several",
        "/send all-sales Meeting at 3pm",
        lambda sandbox: ["Send to 2 groups", "Sales Team", "Sales Rio", "Meeting at 3pm"],
        send_applied,
    ),
]
IDS = [c.id for c in CONFIRMABLES]


async def ask(layer: CommandLayer, text: str, principal: Principal = ADMIN) -> Pending:
    outcome = await layer.execute(text, principal)
    assert isinstance(outcome, Pending), outcome
    return outcome


@pytest.fixture
def fake_monotonic() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
def timed_layer(
    settings: Settings, client: WhatsAppClient, store: Store, fake_monotonic: FakeMonotonic
) -> CommandLayer:
    return build_commands(settings, client=client, store=store, monotonic=fake_monotonic)


# -- asking -------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CONFIRMABLES, ids=IDS)
async def test_question_says_what_will_happen_and_nothing_changes(
    layer: CommandLayer, sandbox_server: SandboxServerThread, store: Store, case: Confirmable
) -> None:
    sandbox = sandbox_server.sandbox
    before = world(sandbox)
    expected = case.question_has(sandbox)
    pending = await ask(layer, case.command)
    for needle in expected:
        assert needle in pending.question, (needle, pending.question)
    assert pending.command == case.command
    assert pending.token
    assert world(sandbox) == before
    assert outcomes(store) == [(ADMIN.who, case.command, "awaiting confirmation")]


async def test_invite_reset_question_shows_the_current_link(
    layer: CommandLayer, sandbox_server: SandboxServerThread, store: Store
) -> None:
    link = sandbox_server.sandbox.groups[SALES].invite_link
    pending = await ask(layer, "/invite sales reset")
    assert link in pending.question
    assert sandbox_server.sandbox.groups[SALES].invite_link == link
    resets = [r for r in sandbox_server.sandbox.requests if (r.body or {}).get("reset")]
    assert resets == []
    assert store.last_invite_link(SALES) == link  # the read before asking is recorded


@pytest.mark.parametrize(
    ("target", "group_id", "name"),
    [("sales", SALES, "Sales Team"), ("rio", RIO, "Sales Rio"), (SALES, SALES, "Sales Team")],
)
async def test_send_to_one_group_needs_no_confirmation(
    layer: CommandLayer,
    sandbox_server: SandboxServerThread,
    store: Store,
    target: str,
    group_id: str,
    name: str,
) -> None:
    text = f"/send {target} Meeting at 3pm"
    outcome = await layer.execute(text, ADMIN)
    assert isinstance(outcome, Reply), outcome
    assert outcome.ok, outcome.text
    [message] = sandbox_server.sandbox.sent_messages
    assert (message.group_id, message.text) == (group_id, "Meeting at 3pm")
    assert name in outcome.text
    assert message.id in outcome.text
    assert store.last_sent(group_id) == message.id
    assert outcomes(store) == [(ADMIN.who, text, "ok")]


async def test_send_to_all_asks_and_names_every_group(
    layer: CommandLayer, sandbox_server: SandboxServerThread
) -> None:
    sandbox = sandbox_server.sandbox
    pending = await ask(layer, "/send all Hi everyone")
    assert f"Send to {len(sandbox.groups)} groups" in pending.question
    for group in sandbox.groups.values():
        assert group.name in pending.question
    assert sandbox.sent_messages == []
    reply = await layer.confirm(pending.token, ADMIN)
    assert reply.ok, reply.text
    assert sorted(m.group_id for m in sandbox.sent_messages) == sorted(sandbox.groups)


async def test_remove_of_non_members_asks_nothing(
    layer: CommandLayer, sandbox_server: SandboxServerThread
) -> None:
    outcome = await layer.execute("/remove sales 5511955551234", ADMIN)
    assert isinstance(outcome, Reply)
    assert not outcome.ok
    assert "+5511955551234" in outcome.text
    assert [r for r in sandbox_server.sandbox.requests if r.endpoint == "remove"] == []


async def test_remove_question_names_the_non_members(
    layer: CommandLayer, sandbox_server: SandboxServerThread
) -> None:
    pending = await ask(layer, f"/remove sales {MEMBER} 5511955551234")
    assert "not members: +5511955551234" in pending.question
    reply = await layer.confirm(pending.token, ADMIN)
    assert reply.ok, reply.text
    assert f"+{MEMBER}: removed" in reply.text
    assert "+5511955551234: was not a member" in reply.text


# -- confirming -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CONFIRMABLES, ids=IDS)
@pytest.mark.parametrize("confirmer", [ADMIN, OTHER_ADMIN_SAME_CHAT], ids=["same", "co-admin"])
async def test_confirm_applies_once_and_a_second_press_fails(
    layer: CommandLayer,
    sandbox_server: SandboxServerThread,
    store: Store,
    case: Confirmable,
    confirmer: Principal,
) -> None:
    sandbox = sandbox_server.sandbox
    before = world(sandbox)
    pending = await ask(layer, case.command)

    reply = await layer.confirm(pending.token, confirmer)
    assert reply.ok, reply.text
    assert not reply.silent
    case.applied(sandbox, before, reply)
    after = world(sandbox)

    again = await layer.confirm(pending.token, confirmer)
    assert not again.ok
    assert "already used or has expired" in again.text
    assert world(sandbox) == after
    cancel = await layer.cancel(pending.token, confirmer)
    assert not cancel.ok
    assert "already used or has expired" in cancel.text
    assert world(sandbox) == after

    assert outcomes(store) == [
        (ADMIN.who, case.command, "awaiting confirmation"),
        (confirmer.who, case.command, "confirmed: ok"),
    ]


@pytest.mark.parametrize("case", CONFIRMABLES, ids=IDS)
async def test_simultaneous_presses_apply_once(
    layer: CommandLayer, sandbox_server: SandboxServerThread, case: Confirmable
) -> None:
    sandbox = sandbox_server.sandbox
    before = world(sandbox)
    pending = await ask(layer, case.command)
    first, second = await asyncio.gather(
        layer.confirm(pending.token, ADMIN), layer.confirm(pending.token, ADMIN)
    )
    assert sorted([first.ok, second.ok]) == [False, True]
    case.applied(sandbox, before, first if first.ok else second)


@pytest.mark.parametrize("case", CONFIRMABLES, ids=IDS)
async def test_cancel_changes_nothing_and_says_so(
    layer: CommandLayer, sandbox_server: SandboxServerThread, store: Store, case: Confirmable
) -> None:
    sandbox = sandbox_server.sandbox
    pending = await ask(layer, case.command)
    before = world(sandbox)
    sandbox.reset_stats()

    reply = await layer.cancel(pending.token, ADMIN)
    assert reply.ok
    assert "Cancelled" in reply.text
    assert "Nothing was changed" in reply.text
    assert sandbox.requests == []
    assert world(sandbox) == before

    late = await layer.confirm(pending.token, ADMIN)
    assert not late.ok
    assert "already used or has expired" in late.text
    assert world(sandbox) == before
    assert outcomes(store) == [
        (ADMIN.who, case.command, "awaiting confirmation"),
        (ADMIN.who, case.command, "cancelled"),
    ]


@pytest.mark.parametrize("case", CONFIRMABLES, ids=IDS)
@pytest.mark.parametrize(
    "intruder",
    [VIEWER, ADMIN_OF_ANOTHER_CHAT, STRANGER],
    ids=["viewer", "admin-of-another-chat", "stranger"],
)
@pytest.mark.parametrize("press", ["confirm", "cancel"])
async def test_press_by_someone_without_rights_is_refused_and_leaves_it_usable(
    layer: CommandLayer,
    sandbox_server: SandboxServerThread,
    store: Store,
    case: Confirmable,
    intruder: Principal,
    press: str,
) -> None:
    sandbox = sandbox_server.sandbox
    before = world(sandbox)
    pending = await ask(layer, case.command)

    refused = await getattr(layer, press)(pending.token, intruder)
    assert not refused.ok
    assert "Not allowed" in refused.text
    assert world(sandbox) == before

    reply = await layer.confirm(pending.token, ADMIN)
    assert reply.ok, reply.text
    case.applied(sandbox, before, reply)
    assert outcomes(store) == [
        (ADMIN.who, case.command, "awaiting confirmation"),
        (intruder.who, case.command, "refused: confirm not allowed"),
        (ADMIN.who, case.command, "confirmed: ok"),
    ]
    refusal = store.recent_audit(2)[1]
    assert refusal.chat == intruder.chat


@pytest.mark.parametrize("token", ["", "nosuch", "x" * 500])
@pytest.mark.parametrize("press", ["confirm", "cancel"])
async def test_unknown_token(
    layer: CommandLayer, sandbox_server: SandboxServerThread, token: str, press: str
) -> None:
    await ask(layer, f"/remove sales {MEMBER}")
    before = world(sandbox_server.sandbox)
    reply = await getattr(layer, press)(token, ADMIN)
    assert not reply.ok
    assert "already used or has expired" in reply.text
    assert world(sandbox_server.sandbox) == before


async def test_each_pending_has_its_own_token(
    layer: CommandLayer, sandbox_server: SandboxServerThread
) -> None:
    sandbox = sandbox_server.sandbox
    remove = await ask(layer, f"/remove sales {MEMBER}")
    reset = await ask(layer, "/invite sales reset")
    assert remove.token != reset.token
    link = sandbox.groups[SALES].invite_link

    assert (await layer.cancel(reset.token, ADMIN)).ok
    assert (await layer.confirm(remove.token, ADMIN)).ok
    assert MEMBER not in sandbox.groups[SALES].participants
    assert sandbox.groups[SALES].invite_link == link


# -- expiry ---------------------------------------------------------------------------------


def test_confirmations_last_five_minutes() -> None:
    assert CONFIRM_TTL == 300


@pytest.mark.parametrize("case", CONFIRMABLES, ids=IDS)
@pytest.mark.parametrize("elapsed", [0.0, 60.0, 299.0, 299.9])
async def test_confirm_within_five_minutes_works(
    timed_layer: CommandLayer,
    fake_monotonic: FakeMonotonic,
    sandbox_server: SandboxServerThread,
    store: Store,
    case: Confirmable,
    elapsed: float,
) -> None:
    sandbox = sandbox_server.sandbox
    before = world(sandbox)
    pending = await ask(timed_layer, case.command)
    fake_monotonic.advance(elapsed)
    reply = await timed_layer.confirm(pending.token, ADMIN)
    assert reply.ok, reply.text
    case.applied(sandbox, before, reply)
    assert outcomes(store)[-1] == (ADMIN.who, case.command, "confirmed: ok")


@pytest.mark.parametrize("case", CONFIRMABLES, ids=IDS)
@pytest.mark.parametrize("elapsed", [300.1, 301.0, 3600.0])
@pytest.mark.parametrize("press", ["confirm", "cancel"])
async def test_press_after_five_minutes_has_expired(
    timed_layer: CommandLayer,
    fake_monotonic: FakeMonotonic,
    sandbox_server: SandboxServerThread,
    store: Store,
    case: Confirmable,
    elapsed: float,
    press: str,
) -> None:
    sandbox = sandbox_server.sandbox
    pending = await ask(timed_layer, case.command)
    before = world(sandbox)
    sandbox.reset_stats()
    fake_monotonic.advance(elapsed)

    reply = await getattr(timed_layer, press)(pending.token, ADMIN)
    assert not reply.ok
    assert "expired" in reply.text
    assert "Nothing was changed" in reply.text
    assert [r for r in sandbox.requests if r.endpoint not in ("list_groups", "get_group")] == []
    assert world(sandbox) == before

    # Gone for good: winding the clock back does not revive it.
    fake_monotonic.now -= elapsed
    again = await timed_layer.confirm(pending.token, ADMIN)
    assert not again.ok
    assert world(sandbox) == before
    assert outcomes(store) == [
        (ADMIN.who, case.command, "awaiting confirmation"),
        (ADMIN.who, case.command, "expired"),
    ]


async def test_expiry_is_per_pending(
    timed_layer: CommandLayer, fake_monotonic: FakeMonotonic, sandbox_server: SandboxServerThread
) -> None:
    sandbox = sandbox_server.sandbox
    old = await ask(timed_layer, "/invite sales reset")
    fake_monotonic.advance(200)
    fresh = await ask(timed_layer, f"/remove sales {MEMBER}")
    fake_monotonic.advance(150)  # old: 350 s, fresh: 150 s
    link = sandbox.groups[SALES].invite_link
    assert "expired" in (await timed_layer.confirm(old.token, ADMIN)).text
    assert sandbox.groups[SALES].invite_link == link
    assert (await timed_layer.confirm(fresh.token, ADMIN)).ok
    assert MEMBER not in sandbox.groups[SALES].participants


# -- API failures inside a confirmed action -----------------------------------------------------


@pytest.mark.parametrize(
    ("command", "endpoint"),
    [(f"/remove sales {MEMBER}", "remove"), ("/invite sales reset", "invite")],
    ids=["remove", "invite-reset"],
)
async def test_api_failure_in_confirmed_action_is_a_human_sentence(
    layer: CommandLayer,
    sandbox_server: SandboxServerThread,
    store: Store,
    command: str,
    endpoint: str,
) -> None:
    sandbox = sandbox_server.sandbox
    pending = await ask(layer, command)
    before = world(sandbox)
    sandbox.inject(endpoint, status=409, code="WHATSAPP_INSTANCE_NOT_CONNECTED")

    reply = await layer.confirm(pending.token, ADMIN)
    assert not reply.ok
    assert NOT_CONNECTED in reply.text
    assert "re-pair it, then retry" in reply.text
    assert "Traceback" not in reply.text
    assert world(sandbox) == before
    assert [r.status for r in sandbox.requests if r.endpoint == endpoint][-1] == 409
    assert outcomes(store)[-1] == (ADMIN.who, command, "confirmed: failed")
    [row] = store.recent_audit(1)
    assert "WHATSAPP_INSTANCE_NOT_CONNECTED" in row.detail

    # One-shot even when it failed: pressing again does not retry behind the admin's back.
    sandbox.clear_faults()
    again = await layer.confirm(pending.token, ADMIN)
    assert "already used or has expired" in again.text
    assert world(sandbox) == before


async def test_partial_send_failure_lists_failures_first(
    layer: CommandLayer, sandbox_server: SandboxServerThread, store: Store
) -> None:
    sandbox = sandbox_server.sandbox
    pending = await ask(layer, "/send all-sales Meeting at 3pm")
    sandbox.inject("send", status=409, code="WHATSAPP_INSTANCE_NOT_CONNECTED", times=1)

    reply = await layer.confirm(pending.token, ADMIN)
    assert not reply.ok
    lines = reply.text.splitlines()
    assert lines[0] == "Queued 1 of 2."
    assert "failed" in lines[1]
    assert NOT_CONNECTED in lines[1]
    assert "queued (message" in lines[2]
    [message] = sandbox.sent_messages
    assert message.text == "Meeting at 3pm"
    assert message.id in lines[2]
    assert outcomes(store)[-1] == (ADMIN.who, "/send all-sales Meeting at 3pm", "confirmed: failed")


async def test_disconnected_number_while_waiting(
    layer: CommandLayer, sandbox_server: SandboxServerThread
) -> None:
    sandbox = sandbox_server.sandbox
    pending = await ask(layer, f"/remove sales {MEMBER}")
    sandbox.mode = "disconnected"
    reply = await layer.confirm(pending.token, ADMIN)
    assert not reply.ok
    assert NOT_CONNECTED in reply.text
    sandbox.mode = "normal"
    assert MEMBER in sandbox.groups[SALES].participants


@pytest.mark.parametrize(
    ("fault", "reset_happened"),
    [({"drop": True}, True), ({"status": 503, "drop": True}, False)],
    ids=["applied-then-dropped", "dropped-unprocessed"],
)
async def test_invite_reset_without_an_answer_reads_the_link_back(
    layer: CommandLayer,
    sandbox_server: SandboxServerThread,
    store: Store,
    fault: dict[str, Any],
    reset_happened: bool,
) -> None:
    sandbox = sandbox_server.sandbox
    old = sandbox.groups[SALES].invite_link
    pending = await ask(layer, "/invite sales reset")
    sandbox.reset_stats()
    sandbox.inject("invite", **fault)

    reply = await layer.confirm(pending.token, ADMIN)
    now = sandbox.groups[SALES].invite_link
    assert (now != old) == reset_happened
    assert reply.ok == reset_happened
    assert now in reply.text
    assert ("was reset" if reset_happened else "was NOT reset") in reply.text
    assert store.last_invite_link(SALES) == now
    resets = [r for r in sandbox.requests if (r.body or {}).get("reset")]
    assert len(resets) == 1  # never reset twice behind the admin's back


async def test_send_without_an_answer_is_unknown_and_not_resent(
    layer: CommandLayer, sandbox_server: SandboxServerThread
) -> None:
    sandbox = sandbox_server.sandbox
    pending = await ask(layer, "/send all-sales Meeting at 3pm")
    sandbox.inject("send", drop=True, times=1)  # the first send is applied, then dropped
    reply = await layer.confirm(pending.token, ADMIN)
    assert not reply.ok
    assert "unknown" in reply.text.splitlines()[1]
    texts = [(m.group_id, m.text) for m in sandbox.sent_messages]
    assert sorted(texts) == sorted([(SALES, "Meeting at 3pm"), (RIO, "Meeting at 3pm")])
    assert sum(1 for r in sandbox.requests if r.endpoint == "send") == 2
