"""/templates against the sandbox's demo templates: sendable or why not, and the variables.

The list does not carry the variables, so each template is read (at most
`MAX_READS` of them); every test checks the requests the sandbox received.
"""

from __future__ import annotations

import pytest
from conftest import STRANGER, VIEWER

from bot.commands import templates
from bot.commands.layer import CommandLayer
from bot.commands.types import Reply
from bot.sandbox import Sandbox

BOAS_VINDAS = "- boas_vindas — sendable — variables: nome, grupo, cupom"
LEMBRETE = "- lembrete — sendable — variables: none"
PROMO = "- promo_rejeitada — not sendable (Meta status REJECTED) — variables: codigo"


async def run(layer: CommandLayer, text: str = "/templates") -> Reply:
    outcome = await layer.execute(text, VIEWER)
    assert isinstance(outcome, Reply)
    return outcome


def endpoints(sandbox: Sandbox) -> list[tuple[str | None, str]]:
    return [(r.endpoint, r.path) for r in sandbox.requests]


async def test_a_viewer_sees_every_template_its_state_and_variables(
    layer: CommandLayer, sandbox: Sandbox
) -> None:
    reply = await run(layer)
    assert reply.ok, reply.text
    assert reply.text.splitlines() == [
        "3 templates:",
        BOAS_VINDAS,
        LEMBRETE,
        PROMO,
        "Send one with /send <target> template <id> name=value …",
    ]
    assert endpoints(sandbox) == [
        ("list_templates", "/v1/templates"),
        ("get_template", "/v1/templates/boas_vindas"),
        ("get_template", "/v1/templates/lembrete"),
        ("get_template", "/v1/templates/promo_rejeitada"),
    ]


async def test_reads_are_bounded_and_the_rest_counted(
    layer: CommandLayer, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(templates, "MAX_READS", 1)
    reply = await run(layer)
    lines = reply.text.splitlines()
    assert lines[1:4] == [
        BOAS_VINDAS,
        "- lembrete — sendable",
        "- promo_rejeitada — not sendable (Meta status REJECTED)",
    ]
    assert "(2 more templates' variables were not read: at most 1 are read" in lines[4]
    assert [e for e, _ in endpoints(sandbox)] == ["list_templates", "get_template"]


async def test_a_failed_read_still_lists_the_template(
    layer: CommandLayer, sandbox: Sandbox
) -> None:
    sandbox.inject("get_template", status=404, code="TEMPLATE_NOT_FOUND", times=1)
    reply = await run(layer)
    assert reply.ok
    lines = reply.text.splitlines()
    assert lines[1].startswith("- boas_vindas — sendable — variables not read: ")
    assert "TEMPLATE_NOT_FOUND" in lines[1]
    assert lines[2:4] == [LEMBRETE, PROMO]


async def test_a_failed_list_is_one_sentence(layer: CommandLayer, sandbox: Sandbox) -> None:
    sandbox.inject("list_templates", status=409, code="WHATSAPP_INSTANCE_NOT_CONNECTED")
    reply = await run(layer)
    assert not reply.ok
    assert reply.text.startswith("The WhatsApp number is not connected")
    assert len(reply.text.splitlines()) == 1


async def test_a_stranger_gets_nothing_and_no_request(
    layer: CommandLayer, sandbox: Sandbox
) -> None:
    outcome = await layer.execute("/templates", STRANGER)
    assert outcome == Reply.nothing()
    assert sandbox.requests == []


async def test_help_lists_templates_for_viewers(layer: CommandLayer) -> None:
    reply = await run(layer, "/help")
    assert "/templates — saved message templates" in reply.text
    send_help = await layer.execute("/help send", VIEWER)
    assert isinstance(send_help, Reply)
    assert "needs admin rights" in send_help.text
