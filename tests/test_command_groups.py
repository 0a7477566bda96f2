"""/groups, /group, /invite, /pin, /send, /alias, /aliases, /log, /status via the layer."""

from __future__ import annotations

import pytest
from conftest import ADMIN, VIEWER
from conftest import run_confirmed as run

from bot.commands.types import Pending
from bot.runtime import build_commands
from bot.sandbox import Sandbox

SALES = "120363123456789012@g.us"
RIO = "120363000000000001@g.us"


def list_calls(sandbox: Sandbox) -> int:
    return sum(1 for r in sandbox.requests if r.endpoint == "list_groups")


@pytest.mark.parametrize(
    ("command", "shown", "hidden"),
    [
        ("/groups", ["Sales Team", "Sales Rio", "Support", "VIP Customers"], []),
        ("/groups sales", ["Sales Team", "Sales Rio"], ["Support", "VIP"]),
        ("/groups VIP", ["VIP Customers"], ["Sales"]),
    ],
)
async def test_groups_lists_and_filters(layer, command, shown, hidden) -> None:
    reply = await run(layer, command)
    assert reply.ok
    for name in shown:
        assert name in reply.text
    for name in hidden:
        assert name not in reply.text
    assert SALES in reply.text or "Sales" not in shown


async def test_groups_always_asks_the_api(layer, sandbox) -> None:
    await run(layer, "/groups")
    await run(layer, "/groups")
    assert list_calls(sandbox) == 2


async def test_group_names_use_the_cache_until_the_bot_changes_something(layer, sandbox) -> None:
    await run(layer, "/group 'Sales Team'")
    await run(layer, "/group support")  # alias: no list needed for resolution
    await run(layer, "/group vip customers")
    assert list_calls(sandbox) == 1
    await run(layer, "/create 'New Team'")  # a new group: the bot drops the cached names
    await run(layer, "/group 'vip customers'")
    assert list_calls(sandbox) == 2


async def test_cache_expires_after_a_minute(settings, client, store, sandbox) -> None:
    now = [1000.0]
    layer = build_commands(settings, client=client, store=store, monotonic=lambda: now[0])
    await run(layer, "/group 'Sales Rio'")
    now[0] += 59
    await run(layer, "/group 'Sales Rio'")
    assert list_calls(sandbox) == 1
    now[0] += 2
    await run(layer, "/group 'Sales Rio'")
    assert list_calls(sandbox) == 2


@pytest.mark.parametrize(
    "word",
    ["sales", "SALES", SALES, "120363123456789012", "'Sales Team'", "'sales team'", "team"],
)
async def test_group_resolution(layer, word) -> None:
    reply = await run(layer, f"/group {word}")
    assert reply.ok, reply.text
    assert reply.text.splitlines()[0] == f"Sales Team ({SALES})"


async def test_group_shows_roles(layer) -> None:
    reply = await run(layer, "/group sales")
    assert "+5511987654321 superadmin" in reply.text
    assert "+5511911112222 admin" in reply.text
    assert "+5511933334444 member" in reply.text


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("all-sales", "names a list of groups"),
        ("all", "names a list of groups"),
        ("nothing-like-it", "No group, alias or target called 'nothing-like-it'"),
        ("Sales Tema", "Did you mean: Sales Team"),
    ],
)
async def test_group_resolution_failures(layer, word, message) -> None:
    reply = await run(layer, f"/group '{word}'")
    assert not reply.ok
    assert message in reply.text


async def test_unknown_group_id_is_the_apis_not_found(layer) -> None:
    reply = await run(layer, "/group 999999999999999999@g.us")
    assert not reply.ok
    assert "GROUP_NOT_FOUND" in reply.text


async def test_invite_reads_and_records_link(layer, sandbox, store) -> None:
    reply = await run(layer, "/invite sales")
    link = sandbox.groups[SALES].invite_link
    assert reply.ok
    assert link in reply.text
    assert store.last_invite_link(SALES) == link


async def test_invite_reset_after_confirm(layer, sandbox, store) -> None:
    old = sandbox.groups[SALES].invite_link
    reply = await run(layer, "/invite sales reset")
    new = sandbox.groups[SALES].invite_link
    assert new != old
    assert new in reply.text
    assert store.last_invite_link(SALES) == new


async def test_invite_reset_without_answer_reads_instead_of_resetting_again(layer, sandbox):
    old = sandbox.groups[SALES].invite_link
    pending = await layer.execute("/invite sales reset", ADMIN)
    assert isinstance(pending, Pending)
    sandbox.inject("invite", drop=True)  # the reset happens, the answer is lost
    reply = await layer.confirm(pending.token, ADMIN)
    resets = [r for r in sandbox.requests if r.endpoint == "invite" and r.body == {"reset": True}]
    assert len(resets) == 1
    new = sandbox.groups[SALES].invite_link
    assert new != old
    assert new in reply.text
    assert "was reset" in reply.text


@pytest.mark.parametrize(
    "read_fault",
    [
        {"status": 503, "code": "WHATSAPP_UPSTREAM_ERROR"},
        {"status": 409, "code": "WHATSAPP_INSTANCE_NOT_CONNECTED"},
        {"drop": True},
    ],
    ids=["read-upstream-error", "read-not-connected", "read-no-answer"],
)
async def test_invite_reset_without_answer_and_failed_read_says_it_may_have_happened(
    layer, sandbox, store, read_fault
) -> None:
    old = sandbox.groups[SALES].invite_link
    pending = await layer.execute("/invite 'Sales Team' reset", ADMIN)
    assert isinstance(pending, Pending)
    sandbox.inject("invite", drop=True)  # the reset happens, the answer is lost
    sandbox.inject("invite", times=None, **read_fault)  # and every read after it fails
    reply = await layer.confirm(pending.token, ADMIN)

    assert sandbox.groups[SALES].invite_link != old  # the reset did happen
    resets = [r for r in sandbox.requests if r.endpoint == "invite" and r.body == {"reset": True}]
    assert len(resets) == 1
    assert not reply.ok
    assert "may have happened" in reply.text
    assert "/invite 'Sales Team'" in reply.text  # how to check, as the admin wrote the group
    assert "do not reset again" in reply.text.lower()
    assert "retry" not in reply.text.lower()  # a retry would kill the link just issued
    assert store.last_invite_link(SALES) == old  # the new link is not known


async def test_invite_bad_second_word(layer) -> None:
    reply = await run(layer, "/invite sales please")
    assert not reply.ok
    assert "Usage: /invite <group> [reset]" in reply.text


async def test_send_then_pin_last_and_unpin(layer, sandbox, store) -> None:
    reply = await run(layer, "/send sales Hello team")
    assert reply.ok
    (message,) = sandbox.sent_messages
    assert message.text == "Hello team"
    assert store.last_sent(SALES) == message.id
    assert (await run(layer, "/pin sales last")).ok
    assert message.id in sandbox.groups[SALES].pinned
    assert (await run(layer, f"/unpin sales {message.id}")).ok
    assert message.id not in sandbox.groups[SALES].pinned


async def test_pin_last_without_a_send_says_so(layer, sandbox) -> None:
    reply = await run(layer, "/pin support last")
    assert not reply.ok
    assert "has not sent anything" in reply.text
    assert not [r for r in sandbox.requests if r.endpoint == "pin"]


async def test_pin_refused_on_evolution(layer, sandbox) -> None:
    await run(layer, "/send sales hi")
    sandbox.mode = "evolution"
    reply = await run(layer, "/pin sales last")
    assert not reply.ok
    assert "NOT_SUPPORTED_ON_EVOLUTION" in reply.text


async def test_send_to_target_reports_every_group_failures_first(layer, sandbox) -> None:
    sandbox.inject("send", status=409, code="WHATSAPP_INSTANCE_NOT_CONNECTED")
    reply = await run(layer, "/send all-sales Big news")
    assert not reply.ok
    lines = reply.text.splitlines()
    assert lines[0] == "Queued 1 of 2."
    assert "failed" in lines[1]
    assert "WHATSAPP_INSTANCE_NOT_CONNECTED" in lines[1]
    assert "queued (message" in lines[2]
    assert len(sandbox.sent_messages) == 1


async def test_send_all_goes_to_every_group(layer, sandbox) -> None:
    reply = await run(layer, "/send all Maintenance tonight")
    assert reply.ok, reply.text
    assert {m.group_id for m in sandbox.sent_messages} == set(sandbox.groups)


async def test_send_unknown_outcome_is_reported_and_not_resent(layer, sandbox) -> None:
    sandbox.inject("send", drop=True)
    reply = await run(layer, "/send sales hello?")
    assert not reply.ok
    assert "unknown" in reply.text
    assert sum(1 for r in sandbox.requests if r.endpoint == "send") == 1


async def test_alias_lifecycle(layer, store) -> None:
    reply = await run(layer, "/alias launch 'Sales Rio'")
    assert reply.ok, reply.text
    assert store.aliases()["launch"] == RIO
    assert (await run(layer, "/group launch")).text.startswith(f"Sales Rio ({RIO})")
    assert "launch -> " + RIO in (await run(layer, "/aliases")).text
    assert (await run(layer, "/unalias launch")).ok
    assert "launch" not in store.aliases()
    assert not (await run(layer, "/unalias launch")).ok


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("/alias sales 'Sales Rio'", "config alias"),
        ("/alias all 'Sales Rio'", "reserved"),
        ("/alias all-sales 'Sales Rio'", "target name"),
        ("/alias 'two words' sales", "cannot be an alias"),
        ("/alias fine nosuchgroup", "No group, alias or target"),
        ("/unalias sales", "config alias"),
    ],
)
async def test_alias_refusals_change_nothing(layer, store, command, message) -> None:
    reply = await run(layer, command)
    assert not reply.ok
    assert message in reply.text
    assert store.aliases() == {}


async def test_log_shows_recent_entries(layer) -> None:
    await run(layer, "/groups")
    await layer.execute("/add sales 5511977771111", VIEWER)
    reply = await run(layer, "/log 2")
    lines = reply.text.splitlines()
    assert len(lines) == 2
    assert "/add sales 5511977771111 -> refused" in lines[0]
    assert "/groups -> ok" in lines[1]


async def test_status_reports_api_state(layer, sandbox) -> None:
    reply = await run(layer, "/status")
    assert reply.ok
    assert "sandbox" in reply.text
    assert "reachable" in reply.text
    sandbox.mode = "disconnected"
    reply = await run(layer, "/status")
    assert not reply.ok
    assert "WHATSAPP_INSTANCE_NOT_CONNECTED" in reply.text


async def test_group_counts_its_participants_in_good_english(layer) -> None:
    sales = await run(layer, "/group sales")
    assert sales.text.splitlines()[1].endswith(" participants:")
    vip = await run(layer, "/group vip")  # the demo VIP group has only its owner
    assert vip.text.splitlines()[1] == "1 participant:"
