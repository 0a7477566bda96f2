"""/aliases names each alias's group: from the group list, one call at most, ids without it."""

from __future__ import annotations

import pytest
from conftest import ADMIN, VIEWER
from conftest import run_confirmed as run

from bot.commands import aliases
from bot.commands.layer import CommandLayer
from bot.sandbox import Sandbox

SALES = "120363123456789012@g.us"
RIO = "120363000000000001@g.us"


def list_calls(sandbox: Sandbox) -> int:
    return sum(1 for r in sandbox.requests if r.endpoint == "list_groups")


async def test_each_alias_shows_its_group_name(layer: CommandLayer, sandbox: Sandbox) -> None:
    await run(layer, f"/alias launch {RIO}")
    before = list_calls(sandbox)
    reply = await run(layer, "/aliases", VIEWER)
    assert reply.ok
    lines = reply.text.splitlines()
    assert f"  sales -> {SALES} (Sales Team)" in lines
    assert f"  rio -> {RIO} (Sales Rio)" in lines
    assert f"  launch -> {RIO} (Sales Rio)" in lines  # set by chat
    assert list_calls(sandbox) - before <= 1


async def test_the_cached_list_is_used_without_a_call(
    layer: CommandLayer, sandbox: Sandbox
) -> None:
    await run(layer, "/group 'Sales Rio'")  # a name: resolved from the (cached) list
    before = list_calls(sandbox)
    reply = await run(layer, "/aliases", VIEWER)
    assert f"  sales -> {SALES} (Sales Team)" in reply.text.splitlines()
    assert list_calls(sandbox) == before


async def test_an_alias_to_a_group_the_number_lacks_says_so(
    layer: CommandLayer, sandbox: Sandbox
) -> None:
    gone = "120363999999999999@g.us"
    await run(layer, f"/alias old {gone}")
    reply = await run(layer, "/aliases", VIEWER)
    assert f"  old -> {gone} (not a group of this number)" in reply.text.splitlines()


@pytest.mark.parametrize(
    ("fault", "why"),
    [
        ({"status": 503, "code": "UPSTREAM_ERROR", "times": None}, "WhatsApp itself failed"),
        ({"delay": 30.0, "times": None}, "the group list did not come within 0.2 s"),
    ],
    ids=["api-error", "slow-api"],
)
async def test_without_the_list_ids_are_shown_and_names_said_unavailable(
    layer: CommandLayer,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    fault: dict[str, object],
    why: str,
) -> None:
    monkeypatch.setattr(aliases, "NAMES_WAIT", 0.2)  # the bound, shortened for the test
    sandbox.inject("list_groups", **fault)  # type: ignore[arg-type]
    reply = await run(layer, "/aliases", ADMIN)
    assert reply.ok
    lines = reply.text.splitlines()
    assert f"  sales -> {SALES}" in lines
    [note] = [line for line in lines if line.startswith("(Group names are unavailable: ")]
    assert why in note
    assert "Target 'all': every group of the number." in lines
