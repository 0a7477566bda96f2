"""Content modes of a send, checked before any request: text, template, media."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.services import variables_problem
from bot.whatsapp.content import (
    MAX_CAPTION,
    MAX_MEDIA_BYTES,
    Media,
    TemplateMessage,
    Text,
    data_uri,
    media_problem,
    media_type_for_mime,
)
from bot.whatsapp.errors import InvalidInput
from bot.whatsapp.models import MessageStatus, Template


def test_each_mode_gives_exactly_its_fields() -> None:
    assert Text("Hi").fields() == {"text": "Hi"}
    assert TemplateMessage("boas_vindas", {"nome": "Ana"}).fields() == {
        "templateId": "boas_vindas",
        "variables": {"nome": "Ana"},
    }
    assert Media("https://example.com/a.png", "image", caption="Look").fields() == {
        "media": "https://example.com/a.png",
        "mediaType": "image",
        "caption": "Look",
    }


def test_template_variables_cannot_change_after_the_fact() -> None:
    given_values = {"nome": "Ana"}
    message = TemplateMessage("boas_vindas", given_values)
    given_values["nome"] = "Bia"
    assert message.fields()["variables"] == {"nome": "Ana"}


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda: Text("   "), "needs some text"),
        (lambda: TemplateMessage("bad id!"), "not a template id"),
        (lambda: TemplateMessage(""), "not a template id"),
        (lambda: Media("https://example.com/a.png", "sticker"), "not a media type"),  # type: ignore[arg-type]
        (lambda: Media("ftp://example.com/a.png", "image"), "not a media link"),
        (lambda: Media("example.com/a.png", "image"), "not a media link"),
        (lambda: Media("data:image/png;base64,@@@", "image"), "not valid base64"),
        (
            lambda: Media("https://example.com/a.png", "image", caption="x" * (MAX_CAPTION + 1)),
            "at most 1024",
        ),
    ],
)
def test_bad_content_is_refused_before_any_request(make: Any, needle: str) -> None:
    with pytest.raises(InvalidInput, match=needle):
        make()


def test_data_uri_round_trip_and_limit() -> None:
    uri = data_uri(b"\x89PNG", "image/png")
    assert uri == "data:image/png;base64," + base64.b64encode(b"\x89PNG").decode()
    assert media_problem(uri) is None
    with pytest.raises(InvalidInput, match="media limit"):
        data_uri(b"\0" * (MAX_MEDIA_BYTES + 1), "application/pdf")


def test_an_oversized_data_uri_is_refused_without_decoding() -> None:
    encoded = "A" * ((MAX_MEDIA_BYTES // 3) * 4 + 8)
    assert "media limit" in (media_problem(f"data:video/mp4;base64,{encoded}") or "")


@pytest.mark.parametrize(
    ("mime", "kind"),
    [
        ("image/jpeg", "image"),
        ("video/mp4", "video"),
        ("audio/ogg", "audio"),
        ("application/pdf", "document"),
        ("", "document"),
    ],
)
def test_media_type_for_mime(mime: str, kind: str) -> None:
    assert media_type_for_mime(mime) == kind


@given(st.binary(max_size=256), st.sampled_from(["image/png", "application/pdf"]))
def test_any_small_file_makes_a_valid_data_uri(data: bytes, mime: str) -> None:
    assert media_problem(data_uri(data, mime)) is None


TEMPLATE = Template.model_validate(
    {
        "id": "boas_vindas",
        "name": "boas_vindas",
        "sendable": True,
        "metaStatus": "APPROVED",
        "variables": ["nome", "grupo"],
    }
)


@pytest.mark.parametrize(
    ("variables", "needle"),
    [
        ({"nome": "Ana"}, "missing variable grupo"),
        ({"nome": "Ana", "grupo": "X", "extra": "1"}, "unknown variable extra"),
        ({"nome": " ", "grupo": "X"}, "empty variable nome"),
        ({}, "missing variables nome, grupo"),
    ],
)
def test_wrong_variables_are_named(variables: dict[str, str], needle: str) -> None:
    problem = variables_problem(TEMPLATE, variables)
    assert problem is not None
    assert needle in problem
    assert "Nothing was sent" in problem


def test_right_variables_pass() -> None:
    assert variables_problem(TEMPLATE, {"nome": "Ana", "grupo": "Vendas"}) is None


def test_a_template_that_is_not_sendable_says_why() -> None:
    rejected = TEMPLATE.model_copy(update={"sendable": False, "meta_status": "REJECTED"})
    problem = variables_problem(rejected, {"nome": "Ana", "grupo": "X"})
    assert problem is not None and "REJECTED" in problem


@pytest.mark.parametrize(
    ("answer", "status", "code", "final"),
    [
        ({"status": "queued"}, "QUEUED", "", False),
        ({"status": "DELIVERED"}, "DELIVERED", "", False),
        ({"status": "READ"}, "READ", "", True),
        (
            {"status": "FAILED", "errorCode": "RECIPIENT_UNREACHABLE"},
            "FAILED",
            "RECIPIENT_UNREACHABLE",
            True,
        ),
        ({"status": "FAILED", "code": {"code": "X"}}, "FAILED", "X", True),
        ({"status": "CANCELED", "errorCode": None}, "CANCELED", "", True),
    ],
)
def test_message_status_reads_every_spelling(
    answer: dict[str, Any], status: str, code: str, final: bool
) -> None:
    parsed = MessageStatus.model_validate({"id": "m1", **answer})
    assert (parsed.status, parsed.error_code, parsed.final) == (status, code, final)
