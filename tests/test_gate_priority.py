"""Background requests (delivery status checks) let every waiting command go first."""

from __future__ import annotations

import asyncio

import pytest

from bot.whatsapp.limits import RequestGate


async def _use(gate: RequestGate, name: str, order: list[str], *, background: bool) -> None:
    async with gate.slot(background=background):
        order.append(name)
        await asyncio.sleep(0)


async def test_a_waiting_command_goes_before_a_waiting_background_check() -> None:
    gate = RequestGate(max_rps=1000, concurrency=1)
    order: list[str] = []
    release = asyncio.Event()

    async def hold() -> None:
        async with gate.slot():
            order.append("first")
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    status_check = asyncio.create_task(_use(gate, "status", order, background=True))
    await asyncio.sleep(0)
    command = asyncio.create_task(_use(gate, "command", order, background=False))
    await asyncio.sleep(0)
    release.set()
    await asyncio.wait_for(asyncio.gather(holder, status_check, command), timeout=2)
    assert order == ["first", "command", "status"]


async def test_a_background_check_runs_when_nothing_waits() -> None:
    gate = RequestGate(max_rps=1000, concurrency=2)
    order: list[str] = []
    await asyncio.wait_for(_use(gate, "status", order, background=True), timeout=1)
    assert order == ["status"]


async def test_a_cancelled_command_does_not_block_background_work_forever() -> None:
    gate = RequestGate(max_rps=1000, concurrency=1)
    release = asyncio.Event()

    async def hold() -> None:
        async with gate.slot():
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiting = asyncio.create_task(_use(gate, "gone", [], background=False))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    release.set()
    await holder
    order: list[str] = []
    await asyncio.wait_for(_use(gate, "status", order, background=True), timeout=1)
    assert order == ["status"]


async def test_background_work_leaves_half_the_rate_window_to_commands() -> None:
    now = [0.0]
    gate = RequestGate(max_rps=4, concurrency=4)
    gate._rate._clock = lambda: now[0]  # a window that never moves on its own
    order: list[str] = []
    for _ in range(2):
        await asyncio.wait_for(_use(gate, "status", order, background=True), timeout=1)
    blocked = asyncio.create_task(_use(gate, "status", order, background=True))
    for _ in range(2):  # the two places background work leaves free
        await asyncio.wait_for(_use(gate, "command", order, background=False), timeout=1)
    assert order == ["status", "status", "command", "command"]
    assert not blocked.done()
    now[0] = 1.5  # the window has moved on: background work goes on
    await asyncio.wait_for(blocked, timeout=1)
    assert order[-1] == "status"
