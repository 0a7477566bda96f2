"""Which command waits for which when commands run side by side (issue 8, item 7).

The command layer's line (`bot.commands.ordering`) with the claims the
catalog gives each command (`bot.commands.claims`): a command waits only for
earlier unfinished commands that change what it reads or changes.
"""

from __future__ import annotations

import asyncio

import pytest
from conftest import ADMIN

from bot.commands.layer import CommandLayer
from bot.commands.ordering import Ticket
from bot.commands.types import Pending
from bot.store import Store

SALES_ID = "120363123456789012@g.us"
X = "5511933334444"


async def starts_at_once(layer: CommandLayer, ticket: Ticket) -> bool:
    """Whether `ticket` starts without waiting (its turn is left pending otherwise)."""
    turn = asyncio.ensure_future(layer.order.turn(ticket))
    await asyncio.sleep(0)
    if turn.done():
        return True
    turn.cancel()
    return False


@pytest.mark.parametrize(
    ("first", "second", "waits"),
    [
        # commands that touch no group never wait and hold nothing up
        (f"/add sales {X}", "/help", False),
        (f"/add sales {X}", "/log", False),
        (f"/add sales {X}", "/jobs", False),
        (f"/add sales {X}", "/status", False),
        (f"/add sales {X}", "/aliases", False),
        (f"/add sales {X}", '/add "unclosed', False),  # refused at once
        # different groups run side by side
        (f"/add sales {X}", f"/add rio {X}", False),
        ("/send sales hello", "/pin support last", False),
        # one group: a change waits for earlier changes, a read for earlier changes...
        (f"/add sales {X}", f"/promote sales {X}", True),
        (f"/add sales {X}", "/group sales", True),
        (f"/add sales {X}", "/group SALES", True),
        # ...named by alias, id, digits or a target holding it
        (f"/add sales {X}", f"/promote {SALES_ID} {X}", True),
        (f"/add 120363123456789012 {X}", "/group sales", True),
        ("/send all-sales hello", "/pin sales last", True),
        ("/send all hello", "/pin vip last", True),
        ("/pin vip last", "/send all hello", True),
        # ...but reads never hold anything up
        ("/group sales", f"/add sales {X}", False),
        ("/group sales", "/group sales", False),
        ("/groups", '/create "Launch team"', False),
        # the group list, and words that become names later
        ('/create "Launch team"', "/groups", True),
        ('/create "Launch team"', f'/add "launch team" {X}', True),
        ('/alias launch "Sales Rio"', "/group launch", True),
        ("/unalias launch", f"/add launch {X}", True),
        # jobs
        ("/pause morning-sales", "/run morning-sales", True),
        ("/pause morning-sales", "/run nightly-invite-reset", False),
        ("/pause morning-sales", "/job morning-sales", False),
    ],
)
async def test_who_waits_for_whom(
    layer: CommandLayer, first: str, second: str, waits: bool
) -> None:
    earlier = layer.admit(first)
    later = layer.admit(second)
    assert await starts_at_once(layer, later) is not waits
    earlier.release()
    later.release()


async def test_a_runtime_alias_orders_with_its_group(layer: CommandLayer, store: Store) -> None:
    store.set_alias("launch", SALES_ID, by="test")
    earlier = layer.admit(f"/add launch {X}")
    assert not await starts_at_once(layer, layer.admit(f"/promote sales {X}"))
    earlier.release()


async def test_changes_to_one_group_start_one_by_one_in_arrival_order(
    layer: CommandLayer,
) -> None:
    tickets = [layer.admit(f"/{verb} sales {X}") for verb in ("add", "promote", "demote")]
    started: list[str] = []
    for ticket in tickets:
        ticket.on_start = lambda ticket=ticket: started.append(ticket.label)
    turns = [asyncio.ensure_future(layer.order.turn(t)) for t in tickets]
    await asyncio.sleep(0)
    assert started == [f"/add sales {X}"]
    tickets[0].release()
    await asyncio.sleep(0)
    assert started == [f"/add sales {X}", f"/promote sales {X}"]
    tickets[1].release()
    await asyncio.gather(*turns)
    assert started == [f"/{verb} sales {X}" for verb in ("add", "promote", "demote")]
    tickets[2].release()


async def test_a_command_cancelled_while_waiting_never_starts_and_frees_its_place(
    layer: CommandLayer,
) -> None:
    first, second, third = (layer.admit(f"/add sales {X}") for _ in range(3))
    assert await starts_at_once(layer, first)
    waiting = asyncio.ensure_future(layer.order.turn(second))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert not second.started and not second.waiting
    first.release()
    assert await starts_at_once(layer, third)
    third.release()


async def test_a_confirm_press_waits_like_the_change_it_makes(layer: CommandLayer) -> None:
    asked = await layer.execute(f"/remove sales {X}", ADMIN)
    assert isinstance(asked, Pending)
    press = layer.admit_confirmation(asked.token)
    assert press.claim.changes
    assert not await starts_at_once(layer, layer.admit("/group sales"))
    press.release()
    assert layer.admit_confirmation("unknown").claim.keys == frozenset()
