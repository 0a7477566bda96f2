"""Membership commands and `/group` make only the API calls their reply needs.

`/promote`, `/demote`: the change and one read-back. `/add`: one read before,
the change, one read-back. `/remove`: the read its question needs, then the
change and one read-back. The group list is read only to resolve a name,
and the names it gave are reused by later commands: a membership change
renames nothing. Under `max_rps = 5` every extra call is rate-cap budget.
"""

from __future__ import annotations

import pytest
from conftest import run_confirmed as run

from bot.commands.layer import CommandLayer
from bot.sandbox import Sandbox

SALES = "120363123456789012@g.us"
MEMBER = "5511933334444"  # a member (not admin) of Sales Team in the demo data
STRANGER = "5511977771111"  # in no demo group

# Each command once per way of naming the group; ids and aliases need no list.
COMMANDS = {
    "promote": (f"/promote {{group}} {MEMBER}", ["promote", "get_group"]),
    "demote": ("/demote {group} 5511911112222", ["demote", "get_group"]),
    "add": (f"/add {{group}} {STRANGER}", ["get_group", "add", "get_group"]),
    "remove": (f"/remove {{group}} {MEMBER}", ["get_group", "remove", "get_group"]),
    "group": ("/group {group}", ["get_group"]),  # named from its own read too
}


def endpoints(sandbox: Sandbox) -> list[str | None]:
    return [r.endpoint for r in sandbox.requests]


@pytest.mark.parametrize("group", ["sales", SALES, SALES.removesuffix("@g.us")])
@pytest.mark.parametrize("command", sorted(COMMANDS))
async def test_id_or_alias_costs_no_list_call(
    layer: CommandLayer, sandbox: Sandbox, command: str, group: str
) -> None:
    text, expected = COMMANDS[command]
    reply = await run(layer, text.format(group=group))
    assert reply.ok, reply.text
    assert reply.text.startswith(f"Sales Team ({SALES})"), reply.text  # named from the read
    assert endpoints(sandbox) == expected


@pytest.mark.parametrize("command", sorted(COMMANDS))
async def test_a_name_is_listed_once_and_then_reused(
    layer: CommandLayer, sandbox: Sandbox, command: str
) -> None:
    text, expected = COMMANDS[command]
    await run(layer, "/group 'Sales Rio'")  # lists the groups, fills the cache
    sandbox.reset_stats()
    first = await run(layer, text.format(group="'Sales Team'"))
    assert first.ok, first.text
    assert endpoints(sandbox) == expected  # the cached names resolve it
    sandbox.reset_stats()
    await run(layer, "/group 'Sales Team'")  # the change kept the names
    assert endpoints(sandbox) == ["get_group"]


async def test_promote_then_demote_by_name_lists_once(
    layer: CommandLayer, sandbox: Sandbox
) -> None:
    await run(layer, f"/promote 'sales team' {MEMBER}")
    await run(layer, f"/demote 'sales team' {MEMBER}")
    assert endpoints(sandbox) == [
        "list_groups",
        "promote",
        "get_group",
        "demote",
        "get_group",
    ]


async def test_create_drops_the_cached_names(layer: CommandLayer, sandbox: Sandbox) -> None:
    await run(layer, "/group 'Sales Rio'")
    created = await run(layer, "/create 'New Team'")
    assert created.ok, created.text
    reply = await run(layer, "/group 'new team'")  # the new group is found by name
    assert reply.ok, reply.text
    assert endpoints(sandbox).count("list_groups") == 2
