"""Tests of the sandbox emulator over real HTTP on 127.0.0.1 and in process."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from bot.sandbox import Sandbox, SandboxServerThread, SandboxTransport

SALES = "120363123456789012@g.us"
RIO = "120363000000000001@g.us"
SALES_PATH = f"/v1/groups/{quote(SALES, safe='')}"
OWNER = "5511987654321"
ADMIN = "5511911112222"
MEMBER = "5511933334444"
NEWCOMER = "5511955550001"
BLOCKED = "5511955550000"
KEY = {"x-api-key": "ps_test"}
LINK_RE = re.compile(r"^https://chat\.whatsapp\.com/[A-Za-z0-9]{22}$")
DROP_ERRORS = (httpx.RemoteProtocolError, httpx.ReadError)


@pytest.fixture
def client(sandbox_server: SandboxServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox_server.url, headers=KEY, timeout=5) as http:
        yield http


def send(client: httpx.Client, text: str = "hello", group: str = SALES) -> httpx.Response:
    return client.post("/v1/messages/send", json={"groupId": group, "text": text})


def members(sandbox: Sandbox, group: str = SALES) -> dict[str, str | None]:
    return sandbox.groups[group].participants


# ---------------------------------------------------------------- happy paths
def test_list_groups_has_the_demo_groups(
    client: httpx.Client, sandbox_server: SandboxServerThread, sandbox: Sandbox
) -> None:
    assert sandbox_server.sandbox is sandbox
    assert sandbox_server.url.startswith("http://127.0.0.1:")
    response = client.get("/v1/groups")
    assert response.status_code == 200
    assert response.json() == {
        "groups": [
            {"id": SALES, "name": "Sales Team"},
            {"id": RIO, "name": "Sales Rio"},
            {"id": "120363000000000002@g.us", "name": "Support"},
            {"id": "120363000000000003@g.us", "name": "VIP Customers"},
        ]
    }


@pytest.mark.parametrize(("count", "expected"), [(0, 4), (4, 4), (6, 6), (12, 12)])
def test_generated_groups_fill_up_to_count(count: int, expected: int) -> None:
    sandbox = Sandbox(groups=count)
    groups = sandbox.groups
    assert len(groups) == expected
    if count >= 5:
        assert groups["120363900000000005@g.us"].name == "Group 005"
        assert groups["120363900000000005@g.us"].participants == {OWNER: "superadmin"}


@pytest.mark.parametrize("bad", [-1, 10_001])
def test_group_count_is_bounded(bad: int) -> None:
    with pytest.raises(ValueError):
        Sandbox(groups=bad)


@pytest.mark.parametrize("path", [SALES_PATH, f"/v1/groups/{SALES}", f"{SALES_PATH}/"])
def test_get_group_decodes_the_path(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.json() == {
        "id": SALES,
        "subject": "Sales Team",
        "participants": [
            {"id": f"{OWNER}@s.whatsapp.net", "role": "superadmin"},
            {"id": f"{ADMIN}@s.whatsapp.net", "role": "admin"},
            {"id": f"{MEMBER}@s.whatsapp.net", "role": None},
        ],
    }


def test_create_group_leaves_privacy_blocked_numbers_out(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    body = {"subject": "Launch", "participants": [NEWCOMER, BLOCKED, NEWCOMER]}
    response = client.post("/v1/groups", json=body)
    assert response.status_code == 201
    created = response.json()
    assert re.fullmatch(r"120363\d{12}@g\.us", created["id"])
    assert created["subject"] == "Launch"
    assert created["participants"] == [
        {"wa_id": OWNER, "role": "superadmin"},
        {"wa_id": NEWCOMER},
    ]
    group = sandbox.groups[created["id"]]
    assert group.participants == {OWNER: "superadmin", NEWCOMER: None}
    assert LINK_RE.fullmatch(group.invite_link)
    listed = client.get("/v1/groups").json()["groups"]
    assert {"id": created["id"], "name": "Launch"} in listed


def test_create_group_without_participants(client: httpx.Client) -> None:
    response = client.post("/v1/groups", json={"subject": "Solo"})
    assert response.status_code == 201
    assert response.json()["participants"] == [{"wa_id": OWNER, "role": "superadmin"}]


@pytest.mark.parametrize(
    ("number", "status", "member_after"),
    [(NEWCOMER, "200", True), (MEMBER, "409", True), (BLOCKED, "403", False)],
)
def test_add_reports_per_person(
    client: httpx.Client, sandbox: Sandbox, number: str, status: str, member_after: bool
) -> None:
    response = client.post(f"{SALES_PATH}/participants", json={"participants": [number]})
    assert response.status_code == 200
    assert response.json() == {"participants": [{"wa_id": number, "status": status}]}
    assert (number in members(sandbox)) is member_after


@pytest.mark.parametrize(
    ("number", "status", "member_after"),
    [(MEMBER, "200", False), (NEWCOMER, "404", False), (OWNER, "403", True)],
)
def test_remove_reports_per_person(
    client: httpx.Client, sandbox: Sandbox, number: str, status: str, member_after: bool
) -> None:
    response = client.request(
        "DELETE", f"{SALES_PATH}/participants", json={"participants": [number]}
    )
    assert response.status_code == 200
    assert response.json() == {"participants": [{"wa_id": number, "status": status}]}
    assert (number in members(sandbox)) is member_after


@pytest.mark.parametrize(
    ("action", "number", "status", "role_after"),
    [
        ("promote", MEMBER, "200", "admin"),
        ("promote", ADMIN, "200", "admin"),
        ("promote", OWNER, "200", "superadmin"),
        ("demote", ADMIN, "200", None),
        ("demote", MEMBER, "200", None),
        ("demote", OWNER, "403", "superadmin"),
    ],
)
def test_promote_and_demote(
    client: httpx.Client,
    sandbox: Sandbox,
    action: str,
    number: str,
    status: str,
    role_after: str | None,
) -> None:
    response = client.post(f"{SALES_PATH}/participants/{action}", json={"participants": [number]})
    assert response.status_code == 200
    assert response.json() == {"participants": [{"wa_id": number, "status": status}]}
    assert members(sandbox)[number] == role_after


@pytest.mark.parametrize("action", ["promote", "demote"])
def test_role_change_of_a_stranger_is_404_per_person(client: httpx.Client, action: str) -> None:
    response = client.post(f"{SALES_PATH}/participants/{action}", json={"participants": [NEWCOMER]})
    assert response.json() == {"participants": [{"wa_id": NEWCOMER, "status": "404"}]}


def test_invite_link_is_stable_until_reset(client: httpx.Client, sandbox: Sandbox) -> None:
    first = client.post(f"{SALES_PATH}/invite", json={}).json()["link"]
    again = client.post(f"{SALES_PATH}/invite").json()["link"]
    not_reset = client.post(f"{SALES_PATH}/invite", json={"reset": False}).json()["link"]
    assert LINK_RE.fullmatch(first)
    assert first == again == not_reset == sandbox.groups[SALES].invite_link
    reset = client.post(f"{SALES_PATH}/invite", json={"reset": True})
    assert reset.status_code == 200
    new = reset.json()["link"]
    assert LINK_RE.fullmatch(new)
    assert new != first
    assert sandbox.groups[SALES].invite_link == new


def test_send_is_queued_and_recorded(client: httpx.Client, sandbox: Sandbox) -> None:
    response = send(client, "Good morning")
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"id", "correlationId", "status", "createdAt", "origin", "sourceNumber"}
    assert body["status"] == "QUEUED"
    assert body["origin"] == "api"
    assert body["createdAt"].endswith("Z")
    [message] = sandbox.sent_messages
    assert (message.id, message.group_id, message.text) == (body["id"], SALES, "Good morning")


def test_pin_and_unpin_a_sent_message(client: httpx.Client, sandbox: Sandbox) -> None:
    message_id = send(client).json()["id"]
    pinned = client.post(f"{SALES_PATH}/pin", json={"messageId": message_id, "action": "pin"})
    assert pinned.status_code == 200
    assert pinned.json() == {"messageId": message_id, "action": "pin"}
    assert sandbox.groups[SALES].pinned == {message_id}
    unpinned = client.post(f"{SALES_PATH}/pin", json={"messageId": message_id, "action": "unpin"})
    assert unpinned.json() == {"messageId": message_id, "action": "unpin"}
    assert sandbox.groups[SALES].pinned == set()


def test_pin_needs_a_message_sent_to_that_group(client: httpx.Client) -> None:
    elsewhere = send(client, group=RIO).json()["id"]
    for message_id in (elsewhere, "never-sent"):
        response = client.post(f"{SALES_PATH}/pin", json={"messageId": message_id, "action": "pin"})
        assert response.status_code == 404
        assert response.json()["code"] == "MESSAGE_NOT_FOUND"


# --------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "code"),
    [
        ("GET", "/v1/groups", None, {}, 401, "UNAUTHORIZED"),
        ("GET", "/v1/groups", None, {"x-api-key": ""}, 401, "UNAUTHORIZED"),
        ("GET", "/v1/groups", None, {"x-api-key": "tenant_1"}, 403, "TENANT_SCOPE_NOT_ALLOWED"),
        ("GET", "/v1/nothing", None, {}, 401, "UNAUTHORIZED"),
        ("GET", "/elsewhere", None, {}, 404, "NOT_FOUND"),
        ("GET", "/v1/groups/999%40g.us", None, KEY, 404, "GROUP_NOT_FOUND"),
        ("GET", "/v1/groups/1%2F2%40g.us", None, KEY, 400, "INVALID_GROUP_ID"),
        ("GET", "/v1/groups/12345", None, KEY, 400, "INVALID_GROUP_ID"),
        ("GET", "/v1/groups/1%40lid", None, KEY, 400, "INVALID_GROUP_ID"),
        ("GET", "/v1/nothing", None, KEY, 404, "NOT_FOUND"),
        ("GET", f"{SALES_PATH}/elsewhere", None, KEY, 404, "NOT_FOUND"),
        ("DELETE", "/v1/groups", None, KEY, 405, "METHOD_NOT_ALLOWED"),
        ("GET", "/v1/messages/send", None, KEY, 405, "METHOD_NOT_ALLOWED"),
        ("POST", "/v1/groups", b"{nope", KEY, 400, "WHATSAPP_INVALID_JSON"),
        ("POST", "/v1/groups", [1], KEY, 400, "VALIDATION_ERROR"),
        ("POST", "/v1/groups", {"subject": " "}, KEY, 400, "VALIDATION_ERROR"),
        ("POST", "/v1/groups", {"subject": "x" * 101}, KEY, 400, "VALIDATION_ERROR"),
        ("POST", f"{SALES_PATH}/participants", {}, KEY, 400, "VALIDATION_ERROR"),
        ("POST", f"{SALES_PATH}/participants", {"participants": []}, KEY, 400, "VALIDATION_ERROR"),
        (
            "POST",
            f"{SALES_PATH}/participants",
            {"participants": ["+5511955550001"]},
            KEY,
            400,
            "VALIDATION_ERROR",
        ),
        ("POST", f"{SALES_PATH}/invite", {"reset": "yes"}, KEY, 400, "VALIDATION_ERROR"),
        (
            "POST",
            f"{SALES_PATH}/pin",
            {"messageId": "m", "action": "x"},
            KEY,
            400,
            "VALIDATION_ERROR",
        ),
        ("POST", "/v1/messages/send", {"groupId": SALES}, KEY, 400, "VALIDATION_ERROR"),
        (
            "POST",
            "/v1/messages/send",
            {"groupId": SALES, "destinationNumber": "+5511955550001", "text": "x"},
            KEY,
            400,
            "VALIDATION_ERROR",
        ),
        ("POST", "/v1/messages/send", {"groupId": "x", "text": "hi"}, KEY, 400, "INVALID_GROUP_ID"),
        (
            "POST",
            "/v1/messages/send",
            {"groupId": "120363000000000009@g.us", "text": "hi"},
            KEY,
            404,
            "GROUP_NOT_FOUND",
        ),
    ],
)
def test_error_envelopes(
    sandbox_server: SandboxServerThread,
    method: str,
    path: str,
    body: Any,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    content = body if isinstance(body, bytes) else None if body is None else json.dumps(body)
    with httpx.Client(base_url=sandbox_server.url, timeout=5) as http:
        response = http.request(method, path, content=content, headers=headers)
    assert response.status_code == status
    payload = response.json()
    assert payload["code"] == code
    assert isinstance(payload["error"], str)
    assert payload["error"]
    if status == 405:
        assert response.headers["allow"]


@pytest.mark.parametrize(
    ("key", "status", "code"),
    [("ps_right", 200, None), ("ps_wrong", 401, "INVALID_API_KEY")],
)
def test_configured_api_key(key: str, status: int, code: str | None) -> None:
    with (
        SandboxServerThread(Sandbox(api_key="ps_right")) as server,
        httpx.Client(base_url=server.url, timeout=5) as http,
    ):
        response = http.get("/v1/groups", headers={"x-api-key": key})
    assert response.status_code == status
    assert response.json().get("code") == code


# ---------------------------------------------------------------------- modes
CALLS: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("list_groups", "GET", "/v1/groups", None),
    ("get_group", "GET", SALES_PATH, None),
    ("create_group", "POST", "/v1/groups", {"subject": "New"}),
    ("add", "POST", f"{SALES_PATH}/participants", {"participants": [NEWCOMER]}),
    ("remove", "DELETE", f"{SALES_PATH}/participants", {"participants": [MEMBER]}),
    ("promote", "POST", f"{SALES_PATH}/participants/promote", {"participants": [MEMBER]}),
    ("demote", "POST", f"{SALES_PATH}/participants/demote", {"participants": [ADMIN]}),
    ("invite", "POST", f"{SALES_PATH}/invite", {"reset": True}),
    ("pin", "POST", f"{SALES_PATH}/pin", {"messageId": "m1", "action": "pin"}),
    ("send", "POST", "/v1/messages/send", {"groupId": SALES, "text": "hi"}),
]
NOT_CONNECTED = (409, "WHATSAPP_INSTANCE_NOT_CONNECTED")
NOT_ELIGIBLE = (400, "META_GROUPS_NOT_ELIGIBLE")


def _mode_cases() -> Iterator[Any]:
    for name, method, path, body in CALLS:
        yield pytest.param("disconnected", method, path, body, *NOT_CONNECTED, id=f"disc-{name}")
        yield pytest.param(
            "meta-not-eligible", method, path, body, *NOT_ELIGIBLE, id=f"meta-{name}"
        )
        evolution = (400, "NOT_SUPPORTED_ON_EVOLUTION") if name == "pin" else (None, None)
        yield pytest.param("evolution", method, path, body, *evolution, id=f"evo-{name}")


@pytest.mark.parametrize(("mode", "method", "path", "body", "status", "code"), list(_mode_cases()))
def test_modes(
    client: httpx.Client,
    sandbox: Sandbox,
    mode: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    status: int | None,
    code: str | None,
) -> None:
    before = sandbox.groups
    sandbox.mode = mode
    response = client.request(method, path, json=body)
    if status is None:
        assert response.status_code < 300
        return
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert sandbox.groups == before
    assert sandbox.sent_messages == []


def test_unknown_mode_is_refused(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError):
        Sandbox(mode="offline")
    with pytest.raises(ValueError):
        sandbox.mode = "offline"


# --------------------------------------------------------------------- faults
@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (
            500,
            "WHATSAPP_UPSTREAM_ERROR",
            {"error": "Injected fault", "code": "WHATSAPP_UPSTREAM_ERROR"},
        ),
        (503, None, {"error": "Injected fault"}),
        (429, "RATE_LIMITED", {"error": "Injected fault", "code": "RATE_LIMITED"}),
    ],
)
def test_status_fault_is_not_applied(
    client: httpx.Client, sandbox: Sandbox, status: int, code: str | None, expected: dict[str, str]
) -> None:
    sandbox.inject("send", status=status, code=code)
    response = send(client)
    assert response.status_code == status
    assert response.json() == expected
    assert "retry-after" not in response.headers
    assert sandbox.sent_messages == []
    assert send(client).status_code == 202


@pytest.mark.parametrize(("retry_after", "header"), [(2, "2"), (1.5, "1.5"), (0, "0")])
def test_retry_after_header(
    client: httpx.Client, sandbox: Sandbox, retry_after: float, header: str
) -> None:
    sandbox.inject("list_groups", status=429, retry_after=retry_after)
    response = client.get("/v1/groups")
    assert response.status_code == 429
    assert response.headers["retry-after"] == header


@pytest.mark.parametrize("times", [1, 2, 3])
def test_fault_times_then_healthy(client: httpx.Client, sandbox: Sandbox, times: int) -> None:
    sandbox.inject("list_groups", status=500, times=times)
    statuses = [client.get("/v1/groups").status_code for _ in range(times + 2)]
    assert statuses == [500] * times + [200, 200]


def test_fault_until_cleared(client: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.inject("get_group", status=502, times=None)
    assert [client.get(SALES_PATH).status_code for _ in range(5)] == [502] * 5
    assert client.get("/v1/groups").status_code == 200
    sandbox.clear_faults()
    assert client.get(SALES_PATH).status_code == 200


def test_wildcard_fault_hits_any_endpoint(client: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.inject("*", status=500, times=2)
    assert client.get(SALES_PATH).status_code == 500
    assert send(client).status_code == 500
    assert send(client).status_code == 202


def test_faults_apply_in_arming_order(client: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.inject("list_groups", status=500)
    sandbox.inject("*", status=503)
    assert [client.get("/v1/groups").status_code for _ in range(3)] == [500, 503, 200]


def test_delay_applies_then_client_times_out(client: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.inject("add", delay=0.4)
    with pytest.raises(httpx.ReadTimeout):
        client.post(f"{SALES_PATH}/participants", json={"participants": [NEWCOMER]}, timeout=0.1)
    assert members(sandbox)[NEWCOMER] is None


def test_delay_slows_the_answer(client: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.inject("list_groups", delay=0.2, status=500, code="X")
    started = time.monotonic()
    response = client.get("/v1/groups")
    assert time.monotonic() - started >= 0.19
    assert response.status_code == 500


@pytest.mark.parametrize(("status", "applied"), [(None, True), (500, False)])
def test_drop_closes_without_answer(
    client: httpx.Client, sandbox: Sandbox, status: int | None, applied: bool
) -> None:
    sandbox.inject("send", drop=True, status=status)
    with pytest.raises(DROP_ERRORS):
        send(client)
    assert len(sandbox.sent_messages) == (1 if applied else 0)
    assert send(client).status_code == 202
    assert [r.status for r in sandbox.requests] == [None, 202]


@pytest.mark.parametrize(("status", "expected"), [(None, 200), (502, 502)])
def test_invalid_json_is_applied(
    client: httpx.Client, sandbox: Sandbox, status: int | None, expected: int
) -> None:
    sandbox.inject("invite", invalid_json=True, status=status)
    before = sandbox.groups[SALES].invite_link
    response = client.post(f"{SALES_PATH}/invite", json={"reset": True})
    assert response.status_code == expected
    with pytest.raises(ValueError):
        response.json()
    assert sandbox.groups[SALES].invite_link != before


@pytest.mark.parametrize(
    "kwargs",
    [
        {"endpoint": "nope", "status": 500},
        {"endpoint": "send"},
        {"endpoint": "send", "code": "X"},
        {"endpoint": "send", "status": 42},
        {"endpoint": "send", "delay": -1},
        {"endpoint": "send", "status": 500, "times": 0},
    ],
)
def test_bad_faults_are_refused(sandbox: Sandbox, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        sandbox.inject(**kwargs)


def test_global_latency(sandbox_server: SandboxServerThread) -> None:
    sandbox_server.sandbox.latency_ms = 150
    with httpx.Client(base_url=sandbox_server.url, headers=KEY) as http:
        started = time.monotonic()
        assert http.get("/v1/groups").status_code == 200
    assert time.monotonic() - started >= 0.14


# ---------------------------------------------------------------- control API
def test_control_api(sandbox_server: SandboxServerThread, sandbox: Sandbox) -> None:
    with httpx.Client(base_url=sandbox_server.url, timeout=5) as http:
        armed = http.post(
            "/_sandbox/faults",
            json={"endpoint": "list_groups", "status": 500, "code": "X", "times": None},
        )
        assert armed.status_code == 201
        assert armed.json()["faults"][0]["times"] is None
        assert http.get("/v1/groups", headers=KEY).status_code == 500
        assert http.delete("/_sandbox/faults").status_code == 200
        assert http.get("/v1/groups", headers=KEY).status_code == 200

        assert http.post("/_sandbox/mode", json={"mode": "disconnected"}).json() == {
            "mode": "disconnected"
        }
        assert http.get("/v1/groups", headers=KEY).status_code == 409
        assert http.post("/_sandbox/mode", json={"mode": "normal"}).status_code == 200
        sent = http.post("/v1/messages/send", json={"groupId": SALES, "text": "x"}, headers=KEY)
        message_id = sent.json()["id"]

        state = http.get("/_sandbox/state").json()
    assert sandbox.mode == "normal"
    assert state["request_count"] == 4
    assert state["max_in_flight"] == 1
    assert state["sent_messages"][0]["id"] == message_id
    sales = next(g for g in state["groups"] if g["id"] == SALES)
    assert sales["participants"] == {OWNER: "superadmin", ADMIN: "admin", MEMBER: None}
    assert LINK_RE.fullmatch(sales["invite_link"])
    assert sales["pinned"] == []


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/_sandbox/faults", {"endpoint": "bogus", "status": 500}, 400),
        ("POST", "/_sandbox/faults", {"endpoint": "send", "status": "500"}, 400),
        ("POST", "/_sandbox/faults", {"endpoint": "send", "drop": 1}, 400),
        ("POST", "/_sandbox/faults", {"status": 500}, 400),
        ("POST", "/_sandbox/faults", {"endpoint": "send", "explode": True}, 400),
        ("POST", "/_sandbox/mode", {"mode": "offline"}, 400),
        ("POST", "/_sandbox/mode", {}, 400),
        ("GET", "/_sandbox/faults", None, 405),
        ("GET", "/_sandbox/nothing", None, 404),
    ],
)
def test_control_api_refusals(
    sandbox_server: SandboxServerThread,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    status: int,
) -> None:
    with httpx.Client(base_url=sandbox_server.url, timeout=5) as http:
        assert http.request(method, path, json=body).status_code == status
    assert sandbox_server.sandbox.faults.describe() == []
    assert sandbox_server.sandbox.mode == "normal"


def test_control_reset_stats(client: httpx.Client, sandbox: Sandbox) -> None:
    client.get("/v1/groups")
    assert client.delete("/_sandbox/stats").status_code == 200
    assert sandbox.requests == []


# ------------------------------------------------------ records and in-flight
def test_requests_are_recorded(client: httpx.Client, sandbox: Sandbox) -> None:
    send(client, "recorded")
    client.get("/v1/nothing")
    first, second = sandbox.requests
    assert (first.endpoint, first.method, first.path, first.status) == (
        "send",
        "POST",
        "/v1/messages/send",
        202,
    )
    assert first.body == first.json == {"groupId": SALES, "text": "recorded"}
    assert first.finished is not None
    assert first.started <= first.finished <= second.started
    assert (second.endpoint, second.status) == (None, 404)


def test_max_in_flight_counts_concurrent_requests(
    sandbox_server: SandboxServerThread, sandbox: Sandbox
) -> None:
    sandbox.inject("list_groups", delay=0.2, times=None)

    def call(_: int) -> int:
        with httpx.Client(base_url=sandbox_server.url, headers=KEY, timeout=5) as http:
            return http.get("/v1/groups").status_code

    with ThreadPoolExecutor(max_workers=5) as pool:
        assert list(pool.map(call, range(5))) == [200] * 5
    assert sandbox.max_in_flight == 5
    assert sandbox.in_flight == 0
    sandbox.reset_stats()
    sandbox.clear_faults()
    assert sandbox.max_in_flight == 0
    call(0)
    call(0)
    assert sandbox.max_in_flight == 1


async def test_max_in_flight_with_async_client(sandbox_server: SandboxServerThread) -> None:
    sandbox_server.sandbox.inject("get_group", delay=0.15, times=3)
    async with httpx.AsyncClient(base_url=sandbox_server.url, headers=KEY, timeout=5) as http:
        responses = await asyncio.gather(*(http.get(SALES_PATH) for _ in range(3)))
    assert [r.status_code for r in responses] == [200] * 3
    assert sandbox_server.sandbox.max_in_flight == 3


def test_keep_alive_serves_many_requests(client: httpx.Client) -> None:
    started = time.monotonic()
    for _ in range(50):
        assert client.get("/v1/groups").status_code == 200
    assert time.monotonic() - started < 2


def test_oversized_body_gets_413(client: httpx.Client, sandbox: Sandbox) -> None:
    response = client.post("/v1/groups", content=b"x" * (1024 * 1024 + 1))
    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert sandbox.requests == []


def test_malformed_http_gets_400(sandbox_server: SandboxServerThread) -> None:
    with socket.create_connection(("127.0.0.1", sandbox_server.port), timeout=2) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400")


def test_stopped_server_refuses_connections() -> None:
    server = SandboxServerThread().start()
    url = server.url
    server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/v1/groups", headers=KEY, timeout=1)


# ------------------------------------------------------------------ in process
async def test_in_process_transport(sandbox: Sandbox) -> None:
    transport = SandboxTransport(sandbox)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://sandbox", headers=KEY
    ) as http:
        assert (await http.get("/v1/groups")).json()["groups"][0]["id"] == SALES
        assert (await http.get(SALES_PATH)).json()["subject"] == "Sales Team"
        sent = await http.post("/v1/messages/send", json={"groupId": SALES, "text": "in"})
        assert sent.status_code == 202
        assert (await http.get("/v1/groups", headers={"x-api-key": ""})).status_code == 401

        sandbox.inject("send", drop=True)
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post("/v1/messages/send", json={"groupId": SALES, "text": "lost"})

        sandbox.inject("add", delay=0.3)
        with pytest.raises(httpx.ReadTimeout):
            await http.post(
                f"{SALES_PATH}/participants", json={"participants": [NEWCOMER]}, timeout=0.05
            )

        sandbox.inject("invite", status=503)
        assert (await http.post(f"{SALES_PATH}/invite")).status_code == 503
    assert [m.text for m in sandbox.sent_messages] == ["in", "lost"]
    assert NEWCOMER in members(sandbox)
    assert [r.status for r in sandbox.requests] == [200, 200, 202, 401, None, None, 503]
    assert sandbox.in_flight == 0


async def test_in_process_max_in_flight(sandbox: Sandbox) -> None:
    sandbox.inject("list_groups", delay=0.1, times=4)
    async with httpx.AsyncClient(
        transport=SandboxTransport(sandbox), base_url="http://sandbox", headers=KEY
    ) as http:
        await asyncio.gather(*(http.get("/v1/groups") for _ in range(4)))
    assert sandbox.max_in_flight == 4


# ----------------------------------------------------------------- CLI runner
def test_serve_forever_prints_and_stops_on_sigterm() -> None:
    code = "from bot.sandbox import serve_forever; serve_forever(port=0, groups=5)"
    with subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            match = re.fullmatch(r"sandbox listening on (http://127\.0\.0\.1:\d+)", line)
            assert match, line
            groups = httpx.get(f"{match.group(1)}/v1/groups", headers=KEY, timeout=2).json()
            assert len(groups["groups"]) == 5
            process.terminate()
            _, errors = process.communicate(timeout=5)
            assert process.returncode == 0
            assert errors == ""
        finally:
            process.kill()
