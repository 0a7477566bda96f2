"""/send's content modes against the sandbox: text, template with variables, media, a file.

The real command layer and client reach the sandbox in process; every test
checks the requests the sandbox received (a refused command sends nothing,
not even part of a broadcast).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import ADMIN
from test_exec import grouppilot_exec, served_config

from bot.commands.context import Attachment
from bot.commands.layer import CommandLayer
from bot.commands.types import Pending, Reply
from bot.config import Settings
from bot.runtime import build_commands
from bot.sandbox import Sandbox, SandboxServerThread
from bot.store import Store
from bot.whatsapp.client import WhatsAppClient

SALES = "120363123456789012@g.us"
RIO = "120363000000000001@g.us"
SALES_LABEL = f"Sales Team ({SALES})"
RIO_LABEL = f"Sales Rio ({RIO})"
NOW = datetime(2026, 12, 4, 12, 30, tzinfo=UTC)  # a Friday; 12:30 UTC is 09:30 in São Paulo
PIXEL = bytes(range(256)) * 2  # a small "photo": its data URI is kept whole in the records


def sends(sandbox: Sandbox) -> list[dict[str, Any]]:
    """The bodies of every send request the sandbox received, in order."""
    return [r.body for r in sandbox.requests if r.endpoint == "send"]


def endpoints(sandbox: Sandbox) -> list[str]:
    return [str(r.endpoint) for r in sandbox.requests if r.endpoint != "list_groups"]


async def run(layer: CommandLayer, text: str, **kwargs: Any) -> Reply:
    outcome = await layer.execute(text, ADMIN, **kwargs)
    assert isinstance(outcome, Reply), outcome
    return outcome


@pytest.fixture
def layer(settings: Settings, client: WhatsAppClient, store: Store) -> CommandLayer:
    """The command layer on a fixed clock, jobs in São Paulo time."""
    zoned = settings.model_copy(deep=True)
    zoned.scheduler.timezone = "America/Sao_Paulo"
    return build_commands(zoned, client=client, store=store, clock=lambda: NOW)


# -- text -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "text"),
    [
        ("/send sales Meeting at 3pm", "Meeting at 3pm"),
        ("/send sales text me later", "text me later"),  # "text" before other words: the text
        ("/send sales text template review at 3pm", "template review at 3pm"),
        ("/send sales text media day tomorrow", "media day tomorrow"),
        ("/send sales text text", "text"),
        ("/send sales Template changes: see the wiki", "Template changes: see the wiki"),
        ("/send sales Media coverage today", "Media coverage today"),
    ],
)
async def test_text_is_sent_as_typed_and_reported_queued(
    layer: CommandLayer, sandbox: Sandbox, store: Store, command: str, text: str
) -> None:
    reply = await run(layer, command)
    assert reply.ok, reply.text
    assert sends(sandbox) == [{"groupId": SALES, "text": text}]
    [message] = sandbox.sent_messages
    assert reply.text == f"Queued to {SALES_LABEL} (message {message.id})."
    assert store.last_sent(SALES) == message.id


async def test_send_without_content_says_the_usage(layer: CommandLayer, sandbox: Sandbox) -> None:
    reply = await run(layer, "/send sales")
    assert not reply.ok
    assert reply.text.startswith("Missing arguments. Usage: /send <target> <text…> | template")
    assert sandbox.requests == []


# -- templates --------------------------------------------------------------------------


async def test_template_reads_once_fills_placeholders_and_sends(
    layer: CommandLayer, sandbox: Sandbox
) -> None:
    reply = await run(
        layer,
        '/send sales template boas_vindas nome="Ana Maria" grupo={group} cupom={weekday}-{time}',
    )
    assert reply.ok, reply.text
    assert endpoints(sandbox) == ["get_template", "send"]
    assert sends(sandbox) == [
        {
            "groupId": SALES,
            "templateId": "boas_vindas",
            "variables": {"nome": "Ana Maria", "grupo": "Sales Team", "cupom": "Friday-09:30"},
        }
    ]
    [message] = sandbox.sent_messages
    assert reply.text == f"Queued to {SALES_LABEL} (message {message.id})."


async def test_template_without_variables(layer: CommandLayer, sandbox: Sandbox) -> None:
    reply = await run(layer, "/send sales template lembrete")
    assert reply.ok, reply.text
    assert sends(sandbox) == [{"groupId": SALES, "templateId": "lembrete", "variables": {}}]


async def test_template_to_several_groups_asks_naming_it_then_fills_each_group(
    layer: CommandLayer, sandbox: Sandbox
) -> None:
    outcome = await layer.execute(
        "/send all-sales template boas_vindas nome=Ana grupo={group} cupom=X10", ADMIN
    )
    assert isinstance(outcome, Pending)
    assert f"Send to 2 groups ({SALES_LABEL}, {RIO_LABEL}):" in outcome.question
    assert "template boas_vindas with nome=Ana, grupo={group}, cupom=X10" in outcome.question
    assert [e for e in endpoints(sandbox) if e == "send"] == []  # asked, nothing sent yet

    reply = await layer.confirm(outcome.token, ADMIN)
    assert reply.ok, reply.text
    assert endpoints(sandbox).count("get_template") == 1  # read once, before asking
    assert [(s["groupId"], s["variables"]["grupo"]) for s in sends(sandbox)] == [
        (SALES, "Sales Team"),
        (RIO, "Sales Rio"),
    ]
    lines = reply.text.splitlines()
    assert lines[0] == "Queued 2 of 2."
    assert lines[1].startswith(f"{SALES_LABEL}: queued (message ")


BAD_TEMPLATE_COMMANDS = [
    ("nome=Ana grupo=x cupom", "'cupom' is not name=value"),
    ("nome=Ana nome=Bia grupo=x cupom=1", "Variable nome is given twice"),
    ("nome= grupo=x cupom=1", "Variable nome is empty"),
    ('nome="  " grupo=x cupom=1', "Variable nome is empty"),
    ("=Ana grupo=x cupom=1", "has no variable name"),
    ("nome=Ana grupo=x", "missing variable cupom"),
    ("nome=Ana grupo=x cupom=1 extra=2", "unknown variable extra"),
    ("nome=Ana grupo={groop} cupom=1", "Variable grupo: unknown placeholder {groop}"),
    ('nome="Ana grupo=x cupom=1', "check the quotes"),
]


@pytest.mark.parametrize(("words", "sentence"), BAD_TEMPLATE_COMMANDS)
@pytest.mark.parametrize("target", ["sales", "all-sales"])
async def test_wrong_variables_send_nothing(
    layer: CommandLayer, sandbox: Sandbox, words: str, sentence: str, target: str
) -> None:
    reply = await run(layer, f"/send {target} template boas_vindas {words}")
    assert not reply.ok
    assert sentence in reply.text
    assert len(reply.text.splitlines()) == 1
    assert sends(sandbox) == []
    assert sandbox.sent_messages == []


@pytest.mark.parametrize(
    ("words", "sentence"),
    [
        (
            "promo_rejeitada codigo=X",
            "Template promo_rejeitada is not sendable (Meta status REJECTED)",
        ),
        ("no_such_template", "does not know that template (TEMPLATE_NOT_FOUND)"),
        ("", "Give the template's id after template"),
        ("bad/id", "is not a template id"),
    ],
)
async def test_templates_that_cannot_be_sent_send_nothing(
    layer: CommandLayer, sandbox: Sandbox, words: str, sentence: str
) -> None:
    reply = await run(layer, f"/send all-sales template {words}".rstrip())
    assert not reply.ok
    assert sentence in reply.text
    assert sends(sandbox) == []


# -- media ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (
            "https://example.com/files/offer.pdf Our offer, this week",
            {
                "media": "https://example.com/files/offer.pdf",
                "mediaType": "document",
                "caption": "Our offer, this week",
                "fileName": "offer.pdf",
            },
        ),
        (
            "https://example.com/p/photo.JPG",
            {"media": "https://example.com/p/photo.JPG", "mediaType": "image"},
        ),
        (
            "https://example.com/clip.mp4 Watch",
            {"media": "https://example.com/clip.mp4", "mediaType": "video", "caption": "Watch"},
        ),
        (
            "image https://example.com/render?id=7 Look!",
            {"media": "https://example.com/render?id=7", "mediaType": "image", "caption": "Look!"},
        ),
        (
            "https://example.com/download",
            {
                "media": "https://example.com/download",
                "mediaType": "document",
                "fileName": "download",
            },
        ),
    ],
)
async def test_media_by_link(
    layer: CommandLayer, sandbox: Sandbox, words: str, expected: dict[str, Any]
) -> None:
    reply = await run(layer, f"/send sales media {words}")
    assert reply.ok, reply.text
    assert sends(sandbox) == [{"groupId": SALES, **expected}]
    assert reply.text.startswith(f"Queued to {SALES_LABEL} (message ")


async def test_media_to_several_groups_names_type_link_and_caption(
    layer: CommandLayer, sandbox: Sandbox
) -> None:
    outcome = await layer.execute("/send all-sales media https://example.com/a.png New logo", ADMIN)
    assert isinstance(outcome, Pending)
    assert "image https://example.com/a.png, caption: New logo" in outcome.question
    assert sends(sandbox) == []


@pytest.mark.parametrize(
    ("words", "sentence"),
    [
        ("", "Give the file's link after media"),
        ("image", "Give the file's link after media"),
        ("ftp://example.com/a.pdf", "is not a media link"),
        ("offer.pdf", "is not a media link"),
        ("https://example.com/a.png " + "x" * 1025, "a caption has at most 1024 characters"),
    ],
)
async def test_bad_media_sends_nothing(
    layer: CommandLayer, sandbox: Sandbox, words: str, sentence: str
) -> None:
    reply = await run(layer, f"/send sales media {words}".rstrip())
    assert not reply.ok
    assert sentence.lower() in reply.text.lower()
    assert sandbox.requests == [] or sends(sandbox) == []


async def test_media_without_the_media_plan_says_so(
    settings: Settings, client: WhatsAppClient, store: Store, sandbox: Sandbox
) -> None:
    sandbox.media_plan = False
    layer = build_commands(settings, client=client, store=store)
    reply = await run(layer, "/send sales media https://example.com/a.png")
    assert not reply.ok
    assert (
        "The Pilot Status plan does not include media (SUBSCRIPTION_REQUIRED_FOR_MEDIA)"
        in reply.text
    )
    assert sandbox.sent_messages == []


async def test_meta_number_outside_the_window_is_told_to_send_a_template(
    layer: CommandLayer, sandbox: Sandbox
) -> None:
    sandbox.mode = "meta"
    reply = await run(layer, "/send sales Hello team")
    assert not reply.ok
    assert "META_OUTSIDE_24H_WINDOW" in reply.text
    assert "send a template instead (/templates lists them)" in reply.text
    assert sandbox.sent_messages == []

    reply = await run(layer, "/send sales template lembrete")
    assert reply.ok, reply.text
    [message] = sandbox.sent_messages
    assert message.template_id == "lembrete"


# -- a file posted with the command (Telegram) -----------------------------------------

PHOTO = Attachment(
    media="data:image/jpeg;base64," + base64.b64encode(PIXEL).decode(), media_type="image"
)


@pytest.mark.parametrize(
    ("command", "caption"),
    [
        ("/send sales Look!", "Look!"),
        ("/send sales", None),
        ("/send sales text media day", "media day"),
    ],
)
async def test_a_posted_file_is_sent_as_media_with_the_rest_as_caption(
    layer: CommandLayer, sandbox: Sandbox, command: str, caption: str | None
) -> None:
    reply = await run(layer, command, attachment=PHOTO)
    assert reply.ok, reply.text
    expected: dict[str, Any] = {"groupId": SALES, "media": PHOTO.media, "mediaType": "image"}
    if caption is not None:
        expected["caption"] = caption
    assert sends(sandbox) == [expected]


@pytest.mark.parametrize("words", ["template lembrete", "media https://example.com/a.png"])
async def test_a_posted_file_takes_no_other_content_mode(
    layer: CommandLayer, sandbox: Sandbox, words: str
) -> None:
    reply = await run(layer, f"/send sales {words}", attachment=PHOTO)
    assert not reply.ok
    assert "A file posted with /send is sent as it is" in reply.text
    assert sandbox.requests == []


async def test_a_posted_file_to_several_groups_asks_without_the_data(
    layer: CommandLayer, sandbox: Sandbox
) -> None:
    document = Attachment(media=PHOTO.media, media_type="document", file_name="offer.pdf")
    outcome = await layer.execute("/send all-sales Our offer", ADMIN, attachment=document)
    assert isinstance(outcome, Pending)
    assert "document posted here (offer.pdf), caption: Our offer" in outcome.question
    assert "base64" not in outcome.question


# -- the same modes from `grouppilot exec` (a real subprocess over HTTP) -------------------


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (
            "/send sales media https://example.com/files/offer.pdf Our offer",
            {
                "media": "https://example.com/files/offer.pdf",
                "mediaType": "document",
                "caption": "Our offer",
                "fileName": "offer.pdf",
            },
        ),
        (
            "/send sales template boas_vindas nome=Ana grupo={group} cupom=X10",
            {
                "templateId": "boas_vindas",
                "variables": {"nome": "Ana", "grupo": "Sales Team", "cupom": "X10"},
            },
        ),
    ],
)
def test_exec_sends_media_and_templates(
    tmp_path: Path, sandbox_server: SandboxServerThread, command: str, expected: dict[str, Any]
) -> None:
    done = grouppilot_exec(served_config(tmp_path, sandbox_server), command)
    assert done.returncode == 0, done.stderr
    sandbox = sandbox_server.sandbox
    [message] = sandbox.sent_messages
    assert done.stdout.strip() == f"Queued to {SALES_LABEL} (message {message.id})."
    assert sends(sandbox) == [{"groupId": SALES, **expected}]


def test_exec_wrong_variable_sends_nothing_and_exits_1(
    tmp_path: Path, sandbox_server: SandboxServerThread
) -> None:
    done = grouppilot_exec(
        served_config(tmp_path, sandbox_server), "/send sales template boas_vindas nome=Ana"
    )
    assert done.returncode == 1
    assert "missing variables grupo, cupom" in done.stdout + done.stderr
    assert sends(sandbox_server.sandbox) == []
