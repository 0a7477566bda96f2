"""Invite links by WhatsApp message: `/invite <group> send`, and the offer after /add and /create.

Real layer, real client over HTTP on 127.0.0.1 to the sandbox, real SQLite
store. What was sent is checked in the requests the sandbox received: one
`POST /v1/messages/send` per number with `destinationNumber` "+…" and the
configured text carrying the group's real link; the link is only ever read
(`reset` false), never reset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from conftest import ADMIN, VIEWER

from bot.commands.layer import CommandLayer
from bot.commands.types import Pending, Reply
from bot.config import Settings
from bot.runtime import build_commands
from bot.sandbox import Sandbox
from bot.store import Store
from bot.whatsapp import WhatsAppClient

SALES = "120363123456789012@g.us"
MEMBER = "5511933334444"  # already in Sales Team
NEWCOMER = "5511977771111"  # can be added
BLOCKED = "5511955550000"  # the sandbox refuses it: privacy settings (403)
INVITE_TEXT = "Join {group} on WhatsApp: {link}"


@pytest.fixture
def client(http_client: WhatsAppClient) -> WhatsAppClient:
    """Every test here speaks real HTTP to the served sandbox."""
    return http_client


@pytest.fixture
def layer(settings: Settings, client: WhatsAppClient, store: Store) -> CommandLayer:
    """The layer with a configured `messages.invite` text."""
    messages = settings.messages.model_copy(update={"invite": INVITE_TEXT})
    configured = settings.model_copy(update={"messages": messages})
    return build_commands(configured, client=client, store=store)


def sends(sandbox: Sandbox) -> list[dict[str, Any]]:
    """Bodies of every send request the sandbox received."""
    return [r.body for r in sandbox.requests if r.endpoint == "send"]


def invite_reads(sandbox: Sandbox) -> list[Any]:
    """Bodies of every invite-link request the sandbox received."""
    return [r.body for r in sandbox.requests if r.endpoint == "invite"]


def never_reset(sandbox: Sandbox) -> None:
    reads = invite_reads(sandbox)
    assert reads, "the link was never read"
    assert all(body == {"reset": False} for body in reads), reads


def group_by_name(sandbox: Sandbox, name: str) -> Any:
    return next(g for g in sandbox.groups.values() if g.name == name)


async def ask(layer: CommandLayer, text: str) -> Pending:
    outcome = await layer.execute(text, ADMIN)
    assert isinstance(outcome, Pending), outcome
    return outcome


# -- the offer after /add and /create --------------------------------------------------------


@dataclass(frozen=True)
class Offering:
    id: str
    command: str
    group_name: str
    report: tuple[str, ...]  # lines of the command's own report, in the question and after
    blocked: str  # how the report shows the privacy-blocked number


OFFERINGS = [
    Offering(
        "add",
        f"/add sales {NEWCOMER} {BLOCKED} {MEMBER}",
        "Sales Team",
        (
            "Sales Team (120363123456789012@g.us) (some not added):",
            f"+{NEWCOMER}: added",
            f"+{MEMBER}: already a member",
        ),
        f"+{BLOCKED}: not added (their privacy settings do not allow it); "
        "send them the invite link instead (/invite sales)",
    ),
    Offering(
        "create",
        f'/create "Launch team" {NEWCOMER} {BLOCKED}',
        "Launch team",
        (f"+{NEWCOMER}: added",),
        f"+{BLOCKED}: not added; send them the invite link instead (/invite ",  # no reason given
    ),
]


@pytest.mark.parametrize("case", OFFERINGS, ids=lambda c: c.id)
async def test_people_left_out_are_offered_the_link_and_confirm_sends_it(
    layer: CommandLayer, sandbox: Sandbox, case: Offering
) -> None:
    pending = await ask(layer, case.command)
    group = group_by_name(sandbox, case.group_name)
    text = INVITE_TEXT.format(group=case.group_name, link=group.invite_link)
    for line in case.report:
        assert line in pending.question.splitlines()
    blocked = next(x for x in pending.question.splitlines() if x.startswith(f"+{BLOCKED}"))
    assert blocked.startswith(case.blocked), blocked
    assert pending.question.endswith(
        f"Send them (+{BLOCKED}) the group's invite link by WhatsApp message? (text: {text})"
    )
    assert sends(sandbox) == []  # nothing sent before Confirm

    reply = await layer.confirm(pending.token, ADMIN)

    [sent] = sends(sandbox)
    assert sent == {"destinationNumber": f"+{BLOCKED}", "text": text}
    [message] = sandbox.sent_messages
    for line in case.report:
        assert line in reply.text.splitlines()  # the report stands in the answer too
    assert f"+{BLOCKED}: queued (message {message.id})" in reply.text.splitlines()
    assert "1 of 1 queued" in reply.text
    assert not reply.ok  # still: someone is not in the group
    assert NEWCOMER in group_by_name(sandbox, case.group_name).participants
    never_reset(sandbox)


@pytest.mark.parametrize("case", OFFERINGS, ids=lambda c: c.id)
async def test_cancel_sends_nothing_and_says_what_stands(
    layer: CommandLayer, sandbox: Sandbox, store: Store, case: Offering
) -> None:
    pending = await ask(layer, case.command)
    reply = await layer.cancel(pending.token, ADMIN)
    assert reply.text == "Cancelled. No invite link was sent; what the report above says stands."
    assert sends(sandbox) == []
    assert NEWCOMER in group_by_name(sandbox, case.group_name).participants  # the add stands
    never_reset(sandbox)


async def test_everyone_added_means_no_offer(layer: CommandLayer, sandbox: Sandbox) -> None:
    outcome = await layer.execute(f"/add sales {NEWCOMER}", ADMIN)
    assert isinstance(outcome, Reply)
    assert outcome.ok
    assert invite_reads(sandbox) == []
    assert sends(sandbox) == []


# -- /invite <group> send <number…> ---------------------------------------------------------


async def test_invite_send_asks_then_sends_to_each_number(
    layer: CommandLayer, sandbox: Sandbox, store: Store
) -> None:
    pending = await ask(layer, "/invite sales send +55 11 97777-1111 (11) 96666-2222")
    link = sandbox.groups[SALES].invite_link
    text = INVITE_TEXT.format(group="Sales Team", link=link)
    assert pending.question == (
        "Send the invite link of Sales Team (120363123456789012@g.us) by WhatsApp message "
        f"to +5511977771111, +5511966662222?\nText: {text}"
    )
    assert sends(sandbox) == []

    reply = await layer.confirm(pending.token, ADMIN)

    assert reply.ok, reply.text
    assert sends(sandbox) == [
        {"destinationNumber": "+5511977771111", "text": text},
        {"destinationNumber": "+5511966662222", "text": text},
    ]
    ids = [m.id for m in sandbox.sent_messages]
    assert reply.text.splitlines() == [
        "Invite link of Sales Team (120363123456789012@g.us) by WhatsApp message: 2 of 2 "
        "queued (queued: the provider took it; delivery is not confirmed).",
        f"+5511977771111: queued (message {ids[0]})",
        f"+5511966662222: queued (message {ids[1]})",
    ]
    assert sandbox.groups[SALES].invite_link == link
    never_reset(sandbox)
    assert store.last_invite_link(SALES) == link


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("/invite sales send 5511977771111 12ab", "'12ab' is not a phone number"),
        ("/invite sales send call-me", "'call-me' is not a phone number"),
        ("/invite sales send", "Give the numbers to send the invite link to."),
        ("/invite sales reset now", "Usage: /invite <group> [reset] or /invite <group> send"),
    ],
)
async def test_bad_input_refuses_the_whole_command_before_any_call(
    layer: CommandLayer, sandbox: Sandbox, command: str, says: str
) -> None:
    outcome = await layer.execute(command, ADMIN)
    assert isinstance(outcome, Reply)
    assert not outcome.ok
    assert says in outcome.text
    assert sandbox.requests == []


@pytest.mark.parametrize(
    ("fault", "line"),
    [
        ({"status": 400, "code": "VALIDATION_ERROR"}, "failed — "),
        ({"drop": True}, "unknown — No answer from the WhatsApp API during send"),
    ],
    ids=["refused", "no-answer"],
)
async def test_one_failed_send_is_reported_and_the_others_still_go(
    layer: CommandLayer, sandbox: Sandbox, fault: dict[str, Any], line: str
) -> None:
    pending = await ask(layer, "/invite sales send 5511977771111 5511966662222")
    sandbox.inject("send", **fault)  # the first send only

    reply = await layer.confirm(pending.token, ADMIN)

    assert not reply.ok
    lines = reply.text.splitlines()
    assert "1 of 2 queued" in lines[0]
    assert lines[1].startswith(f"+5511977771111: {line}"), lines[1]
    assert lines[2].startswith("+5511966662222: queued (message ")
    # each number was tried exactly once: a send is never retried
    assert [s["destinationNumber"] for s in sends(sandbox)] == ["+5511977771111", "+5511966662222"]


async def test_a_link_that_cannot_be_read_sends_nothing(
    layer: CommandLayer, sandbox: Sandbox
) -> None:
    pending = await ask(layer, "/invite sales send 5511977771111")
    sandbox.inject("invite", status=403, code="FORBIDDEN", times=None)
    reply = await layer.confirm(pending.token, ADMIN)
    assert not reply.ok
    assert sends(sandbox) == []


async def test_viewer_may_not_send_invites(layer: CommandLayer, sandbox: Sandbox) -> None:
    outcome = await layer.execute("/invite sales send 5511977771111", VIEWER)
    assert isinstance(outcome, Reply)
    assert outcome.text == "/invite needs admin rights; you have read-only access."
    assert sandbox.requests == []


async def test_viewer_cannot_confirm_an_offer(layer: CommandLayer, sandbox: Sandbox) -> None:
    pending = await ask(layer, f"/add sales {BLOCKED}")
    reply = await layer.confirm(pending.token, VIEWER)
    assert not reply.ok
    assert sends(sandbox) == []


# -- a Meta number: adds are invite-only ---------------------------------------------------------


async def test_meta_add_offers_the_link_to_everyone_not_yet_a_member(
    layer: CommandLayer, sandbox: Sandbox
) -> None:
    sandbox.mode = "meta"
    sandbox.open_window("+5511977771111")  # the other one never wrote to this number
    pending = await ask(layer, f"/add sales 5511977771111 5511966662222 {MEMBER}")
    question = pending.question.splitlines()
    assert question[0].startswith("Sales Team (120363123456789012@g.us): nobody was added.")
    assert "META_GROUP_INVITE_ONLY" in question[0]
    assert "/invite <group> send <number…>" in question[0]
    assert f"+{MEMBER}: already a member" in question
    assert question[-1].startswith(
        "Send them (+5511977771111, +5511966662222) the group's invite link by WhatsApp message?"
    )

    reply = await layer.confirm(pending.token, ADMIN)

    lines = reply.text.splitlines()
    assert any(x.startswith("+5511977771111: queued (message ") for x in lines)
    closed = next(x for x in lines if x.startswith("+5511966662222: "))
    assert closed.startswith("+5511966662222: failed — ")
    assert "META_OUTSIDE_24H_WINDOW" in closed
    assert [s["destinationNumber"] for s in sends(sandbox)] == ["+5511977771111", "+5511966662222"]
    assert "5511977771111" not in sandbox.groups[SALES].participants
    never_reset(sandbox)


async def test_meta_create_offers_the_link_to_everyone(
    layer: CommandLayer, sandbox: Sandbox
) -> None:
    sandbox.mode = "meta"
    pending = await ask(layer, "/create Meta-team 5511977771111 5511966662222")
    assert pending.question.splitlines()[-1].startswith(
        "Send them (+5511977771111, +5511966662222) the group's invite link by WhatsApp message?"
    )
    assert sends(sandbox) == []
