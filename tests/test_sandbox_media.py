"""Media and direct sends of the sandbox: content modes, destinations, the media plan."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot.sandbox import Sandbox, SandboxServerThread

SALES = "120363123456789012@g.us"
KEY = {"x-api-key": "ps_test"}
LIMIT = 16 * 1024 * 1024
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG" + b"\0" * 96).decode()


@pytest.fixture
def client(sandbox_server: SandboxServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox_server.url, headers=KEY, timeout=30) as http:
        yield http


def data_uri(size: int, mime: str = "application/pdf") -> str:
    return f"data:{mime};base64," + base64.b64encode(b"\1" * size).decode()


def test_media_url_send_is_recorded(client: httpx.Client, sandbox: Sandbox) -> None:
    payload = {
        "groupId": SALES,
        "media": "https://example.com/catalog.pdf",
        "mediaType": "document",
        "caption": "Catálogo",
        "fileName": "catalog.pdf",
    }
    response = client.post("/v1/messages/send", json=payload)
    assert response.status_code == 202
    [message] = sandbox.sent_messages
    assert (message.kind, message.media_type, message.media_url) == (
        "media",
        "document",
        "https://example.com/catalog.pdf",
    )
    assert (message.caption, message.file_name, message.text) == ("Catálogo", "catalog.pdf", None)


def test_data_uri_keeps_mime_and_size_not_bytes(client: httpx.Client, sandbox: Sandbox) -> None:
    payload = {"groupId": SALES, "media": PNG, "mediaType": "image"}
    assert client.post("/v1/messages/send", json=payload).status_code == 202
    [message] = sandbox.sent_messages
    assert (message.media_mime, message.media_size, message.media_url) == ("image/png", 100, None)
    assert message.caption is None


def test_a_16_mib_data_uri_passes_over_http(client: httpx.Client, sandbox: Sandbox) -> None:
    payload = {"groupId": SALES, "media": data_uri(LIMIT), "mediaType": "document"}
    response = client.post("/v1/messages/send", json=payload)
    assert response.status_code == 202
    [message] = sandbox.sent_messages
    assert message.media_size == LIMIT
    [record] = sandbox.requests
    assert len(json.dumps(record.body)) < 1000  # the record keeps a summary, not the data


def test_one_byte_over_16_mib_is_413(client: httpx.Client, sandbox: Sandbox) -> None:
    payload = {"groupId": SALES, "media": data_uri(LIMIT + 1), "mediaType": "document"}
    response = client.post("/v1/messages/send", json=payload)
    assert response.status_code == 413
    assert response.json()["code"] == "MEDIA_TOO_LARGE"
    assert sandbox.sent_messages == []


def test_other_endpoints_keep_the_1_mib_limit(client: httpx.Client) -> None:
    response = client.post("/v1/groups", content=b"x" * (2 * 1024 * 1024))
    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"


def test_direct_send_to_a_number(client: httpx.Client, sandbox: Sandbox) -> None:
    payload = {"destinationNumber": "+5511955550001", "text": "Your invite link"}
    response = client.post("/v1/messages/send", json=payload)
    assert response.status_code == 202
    [message] = sandbox.sent_messages
    assert (message.group_id, message.destination_number, message.text) == (
        None,
        "5511955550001",
        "Your invite link",
    )
    status = client.get(f"/v1/messages/{message.id}").json()
    assert status["destinationNumber"] == "+5511955550001"
    assert "groupId" not in status


def test_without_media_plan_media_is_402_and_text_still_works(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    sandbox.media_plan = False
    media = {"groupId": SALES, "media": PNG, "mediaType": "image"}
    response = client.post("/v1/messages/send", json=media)
    assert response.status_code == 402
    assert response.json()["code"] == "SUBSCRIPTION_REQUIRED_FOR_MEDIA"
    assert (
        client.post("/v1/messages/send", json={"groupId": SALES, "text": "hi"}).status_code == 202
    )
    assert [m.kind for m in sandbox.sent_messages] == ["text"]


def test_media_plan_control_route(sandbox_server: SandboxServerThread, sandbox: Sandbox) -> None:
    url = sandbox_server.url
    answer = httpx.post(f"{url}/_sandbox/media-plan", json={"enabled": False}, timeout=5)
    assert answer.json() == {"enabled": False}
    assert sandbox.media_plan is False
    assert httpx.get(f"{url}/_sandbox/state", timeout=5).json()["media_plan"] is False
    bad = httpx.post(f"{url}/_sandbox/media-plan", json={"enabled": "no"}, timeout=5)
    assert bad.status_code == 400


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"text": "x"}, 400, "VALIDATION_ERROR"),
        ({"groupId": SALES, "destinationNumber": "+5511955550001", "text": "x"}, 400,
         "VALIDATION_ERROR"),
        ({"newsletterId": "1@newsletter", "text": "x"}, 400, "VALIDATION_ERROR"),
        ({"destinationNumber": "5511955550001", "text": "x"}, 400, "VALIDATION_ERROR"),
        ({"destinationNumber": "+1234567", "text": "x"}, 400, "VALIDATION_ERROR"),
        ({"destinationNumber": "+1234567890123456", "text": "x"}, 400, "VALIDATION_ERROR"),
        ({"groupId": SALES}, 400, "VALIDATION_ERROR"),
        ({"groupId": SALES, "text": "x", "media": PNG, "mediaType": "image"}, 400,
         "VALIDATION_ERROR"),
        ({"groupId": SALES, "templateId": "lembrete", "media": PNG, "mediaType": "image"}, 400,
         "VALIDATION_ERROR"),
        ({"groupId": SALES, "text": "x", "caption": "c"}, 400, "VALIDATION_ERROR"),
        ({"groupId": SALES, "media": PNG}, 400, "VALIDATION_ERROR"),
        ({"groupId": SALES, "media": PNG, "mediaType": "sticker"}, 400, "VALIDATION_ERROR"),
        ({"groupId": SALES, "media": "ftp://x/y", "mediaType": "image"}, 400, "VALIDATION_ERROR"),
        ({"groupId": SALES, "media": "not a url", "mediaType": "image"}, 400, "VALIDATION_ERROR"),
        ({"groupId": SALES, "media": "data:image/png;base64,@@@=", "mediaType": "image"}, 400,
         "VALIDATION_ERROR"),
        ({"groupId": SALES, "media": PNG, "mediaType": "image", "caption": "c" * 1025}, 400,
         "VALIDATION_ERROR"),
        ({"groupId": SALES, "media": PNG, "mediaType": "image", "fileName": "f" * 256}, 400,
         "VALIDATION_ERROR"),
        ({"groupId": SALES, "text": "x" * 65_537}, 400, "VALIDATION_ERROR"),
        ({"groupId": "120363000000000009@g.us", "media": PNG, "mediaType": "image"}, 404,
         "GROUP_NOT_FOUND"),
    ],
)  # fmt: skip
def test_send_errors_send_nothing(
    client: httpx.Client, sandbox: Sandbox, payload: dict[str, Any], status: int, code: str
) -> None:
    response = client.post("/v1/messages/send", json=payload)
    assert response.status_code == status
    assert response.json()["code"] == code
    assert sandbox.sent_messages == []


def test_newsletters_are_refused_by_name(client: httpx.Client) -> None:
    response = client.post("/v1/messages/send", json={"newsletterId": "1@newsletter", "text": "x"})
    assert response.json()["error"] == "newsletters are not emulated"


@pytest.mark.parametrize("media_type", ["image", "document", "video", "audio"])
def test_every_media_type_is_accepted(client: httpx.Client, media_type: str) -> None:
    payload = {"destinationNumber": "+5511955550001", "media": PNG, "mediaType": media_type}
    assert client.post("/v1/messages/send", json=payload).status_code == 202


def test_cli_no_media_plan_and_failure_share(unused_tcp_port: int) -> None:
    args = ["--port", str(unused_tcp_port), "--no-media-plan", "--failure-share", "1"]
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "sandbox", *args, "--mode", "meta"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("sandbox listening on")
        url = f"http://127.0.0.1:{unused_tcp_port}"
        state: dict[str, Any] = {}
        for _ in range(50):
            state = httpx.get(f"{url}/_sandbox/state", timeout=5).json()
            if state:
                break
            time.sleep(0.05)
        assert (state["mode"], state["media_plan"]) == ("meta", False)
    finally:
        process.terminate()
        process.wait(5)


def test_cli_refuses_a_failure_share_out_of_range() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "sandbox", "--failure-share", "2"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
    assert result.stderr.strip() == "grouppilot sandbox: failure_share must be between 0 and 1"
