"""Mode `meta` of the sandbox: a Meta Cloud number with groups enabled."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from bot.sandbox import Sandbox, SandboxServerThread

SALES = "120363123456789012@g.us"
SALES_PATH = f"/v1/groups/{quote(SALES, safe='')}"
OWNER = "5511987654321"
KEY = {"x-api-key": "ps_test"}
NUMBER = "+5511955550001"
PNG = "data:image/png;base64,iVBORw0KGgo="


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(mode="meta")


@pytest.fixture
def client(sandbox_server: SandboxServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox_server.url, headers=KEY, timeout=5) as http:
        yield http


def numbers(count: int) -> list[str]:
    return [f"55119555{index:05d}" for index in range(1, count + 1)]


@pytest.mark.parametrize(
    ("method", "path", "body", "code"),
    [
        ("POST", f"{SALES_PATH}/participants", {"participants": numbers(1)},
         "META_GROUP_INVITE_ONLY"),
        ("POST", f"{SALES_PATH}/participants/promote", {"participants": ["5511933334444"]},
         "NOT_SUPPORTED_FOR_META"),
        ("POST", f"{SALES_PATH}/participants/demote", {"participants": ["5511911112222"]},
         "NOT_SUPPORTED_FOR_META"),
        ("POST", f"{SALES_PATH}/pin", {"messageId": "m", "action": "pin"},
         "NOT_SUPPORTED_FOR_META"),
        ("POST", "/v1/groups", {"subject": "Big", "participants": numbers(8)},
         "META_GROUP_PARTICIPANT_LIMIT"),
        ("POST", "/v1/messages/send", {"groupId": SALES, "text": "hi"},
         "META_OUTSIDE_24H_WINDOW"),
        ("POST", "/v1/messages/send", {"destinationNumber": NUMBER, "text": "hi"},
         "META_OUTSIDE_24H_WINDOW"),
        ("POST", "/v1/messages/send",
         {"groupId": SALES, "media": PNG, "mediaType": "image", "caption": "c"},
         "META_OUTSIDE_24H_WINDOW"),
    ],
)  # fmt: skip
def test_meta_refusals_change_nothing(
    client: httpx.Client, sandbox: Sandbox, method: str, path: str, body: Any, code: str
) -> None:
    before = sandbox.groups
    response = client.request(method, path, json=body)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert sandbox.groups == before
    assert sandbox.sent_messages == []


def test_invite_only_message_says_what_to_do(client: httpx.Client) -> None:
    response = client.post(f"{SALES_PATH}/participants", json={"participants": numbers(1)})
    assert response.json()["error"] == "participants cannot be added on Meta; send the invite link"


@pytest.mark.parametrize("asked", [0, 1, 7])
def test_create_keeps_only_the_owner(client: httpx.Client, sandbox: Sandbox, asked: int) -> None:
    response = client.post("/v1/groups", json={"subject": "New", "participants": numbers(asked)})
    assert response.status_code == 201
    assert response.json()["participants"] == [{"wa_id": OWNER, "role": "superadmin"}]
    assert sandbox.groups[response.json()["id"]].participants == {OWNER: "superadmin"}


@pytest.mark.parametrize("destination", [{"groupId": SALES}, {"destinationNumber": NUMBER}])
def test_templates_always_work(client: httpx.Client, destination: dict[str, str]) -> None:
    payload = {**destination, "templateId": "lembrete"}
    assert client.post("/v1/messages/send", json=payload).status_code == 202


@pytest.mark.parametrize(("target", "key"), [(SALES, "groupId"), (NUMBER, "destinationNumber")])
def test_an_open_window_allows_free_text(
    client: httpx.Client, sandbox: Sandbox, target: str, key: str
) -> None:
    sandbox.open_window(target)
    assert client.post("/v1/messages/send", json={key: target, "text": "hi"}).status_code == 202
    media = {key: target, "media": PNG, "mediaType": "image"}
    assert client.post("/v1/messages/send", json=media).status_code == 202
    sandbox.open_window(target, is_open=False)
    closed = client.post("/v1/messages/send", json={key: target, "text": "hi"})
    assert closed.json()["code"] == "META_OUTSIDE_24H_WINDOW"


def test_window_control_route(sandbox_server: SandboxServerThread, client: httpx.Client) -> None:
    url = sandbox_server.url
    answer = httpx.post(f"{url}/_sandbox/window", json={"target": "5511955550001"}, timeout=5)
    assert answer.json() == {"target": "5511955550001", "open": True}
    assert httpx.get(f"{url}/_sandbox/state", timeout=5).json()["open_windows"] == ["5511955550001"]
    # A window opened by digits also opens for the "+" form of the number.
    sent = client.post("/v1/messages/send", json={"destinationNumber": NUMBER, "text": "hi"})
    assert sent.status_code == 202


def test_meta_mode_over_the_control_api(sandbox_server: SandboxServerThread) -> None:
    answer = httpx.post(f"{sandbox_server.url}/_sandbox/mode", json={"mode": "meta"}, timeout=5)
    assert answer.json() == {"mode": "meta"}


def test_reads_invites_and_removals_still_work(client: httpx.Client) -> None:
    assert client.get(SALES_PATH).status_code == 200
    assert client.post(f"{SALES_PATH}/invite").status_code == 200
    removed = client.request(
        "DELETE", f"{SALES_PATH}/participants", json={"participants": ["5511933334444"]}
    )
    assert removed.json() == {"participants": [{"wa_id": "5511933334444", "status": "200"}]}
