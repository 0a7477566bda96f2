"""Message status in the sandbox: it moves with the (injected) clock; doom and pins."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot.sandbox import Sandbox, SandboxServerThread

SALES = "120363123456789012@g.us"
RIO = "120363000000000001@g.us"
KEY = {"x-api-key": "ps_test"}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(clock: Clock) -> Sandbox:
    return Sandbox(clock=clock, seed=7)


@pytest.fixture
def client(sandbox_server: SandboxServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox_server.url, headers=KEY, timeout=5) as http:
        yield http


def send(client: httpx.Client, **destination: str) -> dict[str, Any]:
    payload = {"text": "hi", **(destination or {"groupId": SALES})}
    response = client.post("/v1/messages/send", json=payload)
    assert response.status_code == 202
    body: dict[str, Any] = response.json()
    return body


def status(client: httpx.Client, message_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/messages/{message_id}")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [(0, "QUEUED"), (0.99, "QUEUED"), (1, "SENT"), (2.9, "SENT"), (3, "DELIVERED"),
     (19.9, "DELIVERED"), (20, "READ"), (10_000, "READ")],
)  # fmt: skip
def test_status_moves_with_time(
    client: httpx.Client, clock: Clock, elapsed: float, expected: str
) -> None:
    sent = send(client)
    clock.now += elapsed
    body = status(client, sent["id"])
    assert body["status"] == expected
    assert (body["id"], body["correlationId"], body["groupId"]) == (
        sent["id"],
        sent["correlationId"],
        SALES,
    )
    assert body["createdAt"] == sent["createdAt"]
    assert "errorCode" not in body


def test_status_by_correlation_id(client: httpx.Client, clock: Clock) -> None:
    sent = send(client)
    clock.now += 5
    assert status(client, sent["correlationId"])["id"] == sent["id"]


def test_updated_at_follows_the_steps(client: httpx.Client, clock: Clock) -> None:
    sent = send(client)
    assert status(client, sent["id"])["updatedAt"] == sent["createdAt"]
    clock.now += 25
    assert status(client, sent["id"])["updatedAt"] > sent["createdAt"]


def test_unknown_message_is_404(client: httpx.Client) -> None:
    response = client.get("/v1/messages/never-sent")
    assert response.status_code == 404
    assert response.json()["code"] == "MESSAGE_NOT_FOUND"


def test_custom_step_times(clock: Clock) -> None:
    sandbox = Sandbox(clock=clock, sent_after=0, delivered_after=0.5, read_after=0.5)
    message = sandbox.send(SALES, "hi")
    assert sandbox.message_status(message.id)[1].status == "SENT"
    clock.now += 0.5
    assert sandbox.message_status(message.id)[1].status == "READ"


def test_step_times_must_be_in_order() -> None:
    with pytest.raises(ValueError, match="status times"):
        Sandbox(sent_after=5, delivered_after=3)


@pytest.mark.parametrize("target", [SALES, "+5511955550001"])
def test_doomed_target_fails_after_sent(
    client: httpx.Client, sandbox: Sandbox, clock: Clock, target: str
) -> None:
    key = "groupId" if target.endswith("@g.us") else "destinationNumber"
    before = send(client, **{key: target})
    sandbox.doom(target)
    doomed = send(client, **{key: target})
    other = send(client, groupId=RIO)
    clock.now += 1
    assert status(client, doomed["id"])["status"] == "SENT"
    clock.now += 30
    failed = status(client, doomed["id"])
    assert (failed["status"], failed["errorCode"]) == ("FAILED", "RECIPIENT_UNREACHABLE")
    assert failed["errorMessage"]
    assert status(client, before["id"])["status"] == "READ"  # sent before the doom
    assert status(client, other["id"])["status"] == "READ"


def test_doom_with_a_code_and_lifting_it(
    sandbox_server: SandboxServerThread, client: httpx.Client, clock: Clock
) -> None:
    url = sandbox_server.url
    doom = {"target": SALES, "code": "BLOCKED"}
    assert httpx.post(f"{url}/_sandbox/doom", json=doom, timeout=5).status_code == 200
    doomed = send(client)
    httpx.post(f"{url}/_sandbox/doom", json={"target": SALES, "code": None}, timeout=5)
    spared = send(client)
    clock.now += 30
    assert status(client, doomed["id"])["errorCode"] == "BLOCKED"
    assert status(client, spared["id"])["status"] == "READ"


def test_set_status_pins_it(sandbox: Sandbox, client: httpx.Client, clock: Clock) -> None:
    sent = send(client)
    sandbox.set_status(sent["id"], "DELIVERED")
    clock.now += 100
    assert status(client, sent["id"])["status"] == "DELIVERED"
    sandbox.set_status(sent["correlationId"], "FAILED")
    failed = status(client, sent["id"])
    assert (failed["status"], failed["errorCode"]) == ("FAILED", "RECIPIENT_UNREACHABLE")


def test_set_status_over_the_control_api(
    sandbox_server: SandboxServerThread, client: httpx.Client
) -> None:
    sent = send(client)
    payload = {"id": sent["id"], "status": "CANCELED"}
    answer = httpx.post(f"{sandbox_server.url}/_sandbox/messages/status", json=payload, timeout=5)
    assert answer.json() == {"id": sent["id"], "status": "CANCELED", "code": None}
    assert status(client, sent["id"])["status"] == "CANCELED"
    state = httpx.get(f"{sandbox_server.url}/_sandbox/state", timeout=5).json()
    assert [(m["id"], m["status"]) for m in state["sent_messages"]] == [(sent["id"], "CANCELED")]


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/_sandbox/messages/status", {"id": "nope", "status": "READ"}),
        ("/_sandbox/messages/status", {"status": "READ"}),
        ("/_sandbox/messages/status", {"id": "x", "status": "LOST"}),
        ("/_sandbox/doom", {}),
        ("/_sandbox/doom", {"target": " "}),
        ("/_sandbox/doom", {"target": SALES, "code": 3}),
        ("/_sandbox/window", {"target": ""}),
        ("/_sandbox/window", {"target": SALES, "open": "yes"}),
    ],
)
def test_control_routes_refuse_bad_arguments(
    sandbox_server: SandboxServerThread, path: str, payload: dict[str, Any]
) -> None:
    answer = httpx.post(f"{sandbox_server.url}{path}", json=payload, timeout=5)
    assert answer.status_code == 400
    assert answer.json()["code"] == "VALIDATION_ERROR"


def test_failure_share_fails_that_share(clock: Clock) -> None:
    sandbox = Sandbox(clock=clock, seed=1, failure_share=0.05, groups=200)
    messages = [sandbox.send(gid, "hi") for gid in sandbox.groups]
    clock.now += 60
    failed = [m for m in messages if sandbox.message_status(m.id)[1].status == "FAILED"]
    assert 2 <= len(failed) <= 25
    codes = {sandbox.message_status(m.id)[1].error_code for m in failed}
    assert codes == {"RECIPIENT_UNREACHABLE"}
    again = Sandbox(clock=clock, seed=1, failure_share=0.05, groups=200)
    assert [again.send(gid, "hi").failure_code for gid in again.groups] == [
        m.failure_code for m in messages
    ]


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_failure_share_is_a_share(share: float) -> None:
    with pytest.raises(ValueError, match="failure_share"):
        Sandbox(failure_share=share)


def test_status_reads_take_injected_faults(client: httpx.Client, sandbox: Sandbox) -> None:
    sent = send(client)
    sandbox.inject("message_status", status=500)
    assert client.get(f"/v1/messages/{sent['id']}").status_code == 500
    assert client.get(f"/v1/messages/{sent['id']}").status_code == 200
