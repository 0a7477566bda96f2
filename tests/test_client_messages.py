"""The client's sends (every content mode and destination), message status and templates.

The real client over real HTTP on 127.0.0.1 against the sandbox; each test
checks what the server received.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.sandbox import Sandbox
from bot.services import TemplateRefused, checked_template, explain
from bot.whatsapp import (
    InvalidInput,
    NotFound,
    OutcomeUnknown,
    PaymentRequired,
    PhoneNumber,
    RetryPolicy,
    UpstreamError,
    WhatsAppClient,
)
from bot.whatsapp.content import Media, TemplateMessage, Text, data_uri
from bot.whatsapp.errors import OutsideWindow

SALES = "120363123456789012@g.us"
ANA = PhoneNumber("5511955550001")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(clock: Clock) -> Sandbox:
    return Sandbox(clock=clock)


@pytest.fixture
async def client(sandbox_server) -> AsyncIterator[WhatsAppClient]:
    async with WhatsAppClient(
        base_url=sandbox_server.url,
        api_key="ps_test_key",
        timeout=2.0,
        max_rps=1000,
        concurrency=4,
        retry=RetryPolicy.fast(),
    ) as opened:
        yield opened


def sends(sandbox: Sandbox) -> list[dict[str, object]]:
    return [r.body for r in sandbox.requests if r.endpoint == "send"]


async def test_text_to_a_group(client: WhatsAppClient, sandbox: Sandbox) -> None:
    sent = await client.send(Text("Hello"), group_id=SALES)
    assert sent.status == "QUEUED"
    assert sends(sandbox) == [{"groupId": SALES, "text": "Hello"}]


async def test_template_to_a_group(client: WhatsAppClient, sandbox: Sandbox) -> None:
    variables = {"nome": "Ana", "grupo": "Vendas", "cupom": "X1"}
    await client.send(TemplateMessage("boas_vindas", variables), group_id=SALES)
    assert sends(sandbox) == [
        {"groupId": SALES, "templateId": "boas_vindas", "variables": variables}
    ]
    (message,) = sandbox.sent_messages
    assert (message.kind, message.template_id) == ("template", "boas_vindas")


async def test_media_by_link_and_by_data_uri(client: WhatsAppClient, sandbox: Sandbox) -> None:
    await client.send(Media("https://example.com/a.png", "image", caption="Look"), group_id=SALES)
    await client.send(
        Media(data_uri(b"%PDF-1.4 x", "application/pdf"), "document", file_name="a.pdf"),
        group_id=SALES,
    )
    first, second = sandbox.sent_messages
    assert (first.media_type, first.media_url, first.caption) == (
        "image",
        "https://example.com/a.png",
        "Look",
    )
    assert (second.media_mime, second.media_size, second.file_name) == (
        "application/pdf",
        10,
        "a.pdf",
    )


async def test_direct_message_goes_to_the_number_with_a_plus(
    client: WhatsAppClient, sandbox: Sandbox
) -> None:
    await client.send(Text("Join us"), number=ANA)
    assert sends(sandbox) == [{"destinationNumber": "+5511955550001", "text": "Join us"}]


@pytest.mark.parametrize(
    ("group_id", "number"),
    [(None, None), (SALES, ANA)],
)
async def test_exactly_one_destination(
    client: WhatsAppClient, sandbox: Sandbox, group_id: str | None, number: PhoneNumber | None
) -> None:
    with pytest.raises(InvalidInput, match="exactly one group or one number"):
        await client.send(Text("x"), group_id=group_id, number=number)
    assert sandbox.requests == []


async def test_a_send_is_never_retried(client: WhatsAppClient, sandbox: Sandbox) -> None:
    sandbox.inject("send", status=503, code="WHATSAPP_UPSTREAM_ERROR")
    with pytest.raises(UpstreamError):
        await client.send(Media("https://example.com/a.png", "image"), group_id=SALES)
    sandbox.inject("send", drop=True)
    with pytest.raises(OutcomeUnknown):
        await client.send(TemplateMessage("lembrete"), group_id=SALES)
    assert len(sends(sandbox)) == 2


async def test_status_follows_the_message(
    client: WhatsAppClient, sandbox: Sandbox, clock: Clock
) -> None:
    sent = await client.send(Text("Hi"), group_id=SALES)
    assert (await client.message_status(sent.id)).status == "QUEUED"
    clock.now += 5
    assert (await client.message_status(sent.id, background=True)).status == "DELIVERED"
    clock.now += 60
    read = await client.message_status(sent.id)
    assert read.status == "READ" and read.final


async def test_a_doomed_message_fails_with_its_code(
    client: WhatsAppClient, sandbox: Sandbox, clock: Clock
) -> None:
    sandbox.doom(SALES, "RECIPIENT_UNREACHABLE")
    sent = await client.send(Text("Hi"), group_id=SALES)
    clock.now += 60
    status = await client.message_status(sent.id)
    assert (status.status, status.error_code, status.final) == (
        "FAILED",
        "RECIPIENT_UNREACHABLE",
        True,
    )


async def test_status_reads_are_retried(client: WhatsAppClient, sandbox: Sandbox) -> None:
    sent = await client.send(Text("Hi"), group_id=SALES)
    sandbox.inject("message_status", status=503, code="WHATSAPP_UPSTREAM_ERROR")
    assert (await client.message_status(sent.id)).status == "QUEUED"


async def test_unknown_message(client: WhatsAppClient) -> None:
    with pytest.raises(NotFound) as caught:
        await client.message_status("no-such-id")
    assert "message" in explain(caught.value)


async def test_templates_list_and_detail(client: WhatsAppClient) -> None:
    listed = {t.id: t for t in await client.list_templates()}
    assert listed["boas_vindas"].sendable
    assert "REJECTED" in listed["promo_rejeitada"].why_not_sendable
    template = await client.get_template("boas_vindas")
    assert template.variable_names == ("nome", "grupo", "cupom")
    assert "{{cupom}}" in template.buttons[0].text


async def test_unknown_template_hint_names_templates(client: WhatsAppClient) -> None:
    with pytest.raises(NotFound) as caught:
        await client.get_template("nope")
    assert "/templates" in explain(caught.value)


async def test_checked_template_refuses_before_any_send(
    client: WhatsAppClient, sandbox: Sandbox
) -> None:
    with pytest.raises(TemplateRefused, match="missing variables grupo, cupom"):
        await checked_template(client, "boas_vindas", {"nome": "Ana"})
    with pytest.raises(TemplateRefused, match="REJECTED"):
        await checked_template(client, "promo_rejeitada", {"codigo": "1"})
    assert sends(sandbox) == []


async def test_no_media_plan_says_what_to_do(client: WhatsAppClient, sandbox: Sandbox) -> None:
    sandbox.media_plan = False
    with pytest.raises(PaymentRequired) as caught:
        await client.send(Media("https://example.com/a.png", "image"), group_id=SALES)
    assert "SUBSCRIPTION_REQUIRED_FOR_MEDIA" in explain(caught.value)
    assert "upgrade the plan" in explain(caught.value)


async def test_meta_free_text_outside_the_window_says_send_a_template(
    client: WhatsAppClient, sandbox: Sandbox
) -> None:
    sandbox.mode = "meta"
    with pytest.raises(OutsideWindow) as caught:
        await client.send(Text("Hi"), group_id=SALES)
    assert "META_OUTSIDE_24H_WINDOW" in explain(caught.value)
    assert "template" in explain(caught.value)
    await client.send(TemplateMessage("lembrete"), group_id=SALES)  # templates always work
