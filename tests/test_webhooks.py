"""The provider's webhooks over real HTTP on 127.0.0.1: secret, answers, and what they change.

The runtime's endpoint (`Runtime.start_http`, port 0) over the sandbox and a
real SQLite file; the delivery tests run a real broadcast in the scheduler
harness and post the statuses of its messages to a receiver over the same
store and tracker.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from scheduler_kit import START, FakeClock, Harness, HarnessFactory, broadcast, harness_factory

from bot.config import Settings
from bot.config_service import HttpSettings
from bot.http import HttpEndpoint
from bot.http.webhooks import WebhookReceiver
from bot.runtime import Runtime
from bot.sandbox import Sandbox
from bot.services import ConnectionState
from bot.whatsapp.client import WhatsAppClient
from jobs.tracker import DeliveryTracker

SECRET = "hook-secret-0123456789abcdef"
NEW_GROUP = "120363999999999999@g.us"
ESC = "\x1b[31m"  # an ANSI colour escape: must never reach a log line raw


class Told:
    """A notifier that keeps what the notify chats were told."""

    def __init__(self) -> None:
        self.reports: list[str] = []
        self.told: list[tuple[str, str]] = []

    async def notify(self, text: str) -> None:
        self.reports.append(text)

    async def tell(self, chat: str, text: str) -> None:
        self.told.append((chat, text))

    async def progress(self, chat: str, key: str, text: str, final: bool) -> None:
        pass


def with_http(settings: Settings, tmp_path: Path, secret: str = SECRET) -> Settings:
    http = HttpSettings(listen="127.0.0.1:8080", webhook_secret=SecretStr(secret), max_body=1024)
    storage = settings.storage.model_copy(update={"path": tmp_path / "grouppilot.db"})
    return settings.model_copy(update={"http": http, "storage": storage})


@pytest.fixture
async def runtime(settings: Settings, tmp_path: Path, sandbox: Sandbox) -> AsyncIterator[Runtime]:
    async with Runtime(with_http(settings, tmp_path), sandbox=sandbox) as opened:
        yield opened


@pytest.fixture
async def http(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    endpoint = await runtime.start_http(port=0)
    base = f"http://127.0.0.1:{endpoint.bound_port}"
    async with httpx.AsyncClient(base_url=base, timeout=5.0) as client:
        yield client


def server_log(caplog: pytest.LogCaptureFixture) -> str:
    """What the bot's side logged (the test's own httpx client logs its URLs)."""
    return "\n".join(
        record.getMessage()
        for record in caplog.records
        if not record.name.startswith(("httpx", "httpcore"))
    )


def event(name: str, **data: Any) -> dict[str, Any]:
    return {"event": name, "data": data}


# -- who may post ------------------------------------------------------------------


@pytest.mark.parametrize("how", ["path", "header"])
async def test_a_signed_webhook_is_applied(
    how: str, http: httpx.AsyncClient, runtime: Runtime
) -> None:
    await runtime.directory.groups()  # the cached list the webhook refreshes
    body = event("message.group", groupId=NEW_GROUP, groupName="Night shift")
    if how == "path":
        answer = await http.post(f"/webhooks/pilot/{SECRET}", json=body)
    else:
        answer = await http.post("/webhooks/pilot", json=body, headers={"x-webhook-secret": SECRET})
    assert (answer.status_code, answer.json()) == (200, {"status": "applied"})


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/webhooks/pilot", {}),
        ("/webhooks/pilot", {"x-webhook-secret": "hook-secret-0123456789abcdeX"}),
        ("/webhooks/pilot/hook-secret-0123456789abcdeX", {}),
        ("/webhooks/pilot/short", {}),
        ("/webhooks/pilot/%E2%9C%93", {}),  # not ASCII
    ],
)
async def test_unsigned_or_wrong_secret_is_401_and_logged_without_body_or_secret(
    path: str,
    headers: dict[str, str],
    http: httpx.AsyncClient,
    runtime: Runtime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    marker = "do-not-log-this-body"
    answer = await http.post(path, json=event("number.disconnected", note=marker), headers=headers)
    assert answer.status_code == 401
    assert answer.json()["status"] == "unauthorized"
    assert runtime.connection.connected is None  # nothing changed
    logged = server_log(caplog)
    assert "webhook refused" in logged
    for secret_like in (marker, SECRET, "abcdeX", "short", "\u2713"):
        assert secret_like not in logged


async def test_without_a_secret_there_are_no_webhook_routes(
    settings: Settings, tmp_path: Path, sandbox: Sandbox
) -> None:
    async with Runtime(with_http(settings, tmp_path, secret=""), sandbox=sandbox) as runtime:
        endpoint = await runtime.start_http(port=0)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{endpoint.bound_port}") as http:
            for path in ("/webhooks/pilot", "/webhooks/pilot/anything-at-all-here"):
                answer = await http.post(path, json=event("number.disconnected"))
                assert answer.status_code == 404
            assert (await http.get("/healthz")).status_code == 200


# -- what the body may be -----------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[" * 1020,  # nested deeper than the JSON decoder goes
        b"\xff\xfe",
        b"[1, 2]",
        b'"message.read"',
        b"{}",
        b'{"event": 5}',
        b'{"event": "message.read", "data": []}',
        b'{"event": "message.read", "data": {}}',
        b'{"event": "message.group", "data": {"groupId": "not a group"}}',
    ],
)
async def test_malformed_bodies_are_400(
    body: bytes, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    answer = await http.post(
        f"/webhooks/pilot/{SECRET}", content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["status"] == "bad_request"
    assert answer.json()["detail"]


async def test_an_oversized_body_is_413_with_a_clean_log(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    filler = "x" * 4096  # max_body is 1024 here
    answer = await http.post(
        f"/webhooks/pilot/{SECRET}", json=event("message.group", groupName=filler)
    )
    assert answer.status_code == 413
    logged = server_log(caplog)
    assert "over http.max_body (1024 bytes)" in logged
    assert filler[:100] not in logged
    assert SECRET not in logged
    assert not [r for r in caplog.records if r.exc_info]  # no traceback


async def test_unknown_events_are_202_and_escaped_in_the_log(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    name = f"chat.new\n{ESC}FAKE LOG LINE"
    answer = await http.post(f"/webhooks/pilot/{SECRET}", json=event(name))
    assert (answer.status_code, answer.json()) == (202, {"status": "ignored"})
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.http.webhooks"]
    assert lines
    assert all("\n" not in line and "\x1b" not in line for line in lines)
    assert any("\\x1b[31mFAKE LOG LINE" in line for line in lines)


# -- message.group ---------------------------------------------------------------------


async def test_message_group_teaches_the_directory_a_group_and_its_new_name(
    http: httpx.AsyncClient, runtime: Runtime, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await runtime.directory.groups()
    asked = len(sandbox.requests)
    name = f"Night\nshift {ESC}"
    answer = await http.post(
        f"/webhooks/pilot/{SECRET}", json=event("message.group", groupId=NEW_GROUP, groupName=name)
    )
    assert answer.json() == {"status": "applied"}
    ref = await runtime.directory.resolve_group("night")
    assert (ref.id, ref.name) == (NEW_GROUP, name)
    again = await http.post(
        f"/webhooks/pilot/{SECRET}", json=event("message.group", groupId=NEW_GROUP, groupName=name)
    )
    assert again.json() == {"status": "unchanged"}
    renamed = await http.post(
        f"/webhooks/pilot/{SECRET}",
        json=event("message.group", groupId=NEW_GROUP, groupName="Day shift"),
    )
    assert renamed.json() == {"status": "applied"}
    assert (await runtime.directory.resolve_group("day shift")).id == NEW_GROUP
    assert len(sandbox.requests) == asked  # learned without asking the API
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.http.webhooks"]
    assert all("\n" not in line and "\x1b" not in line for line in lines)


# -- number.connected / number.disconnected ------------------------------------------------


async def test_a_disconnect_reconnect_cycle_tells_the_notify_chats_exactly_twice(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    told = Told()
    await runtime.start_scheduler(told)
    names = [
        "number.connected",  # the expected state at start: no news
        "number.disconnected",
        "number.disconnected",
        "number.disconnected",
        "number.connected",
        "number.connected",
    ]
    outcomes = []
    for name in names:
        answer = await http.post(f"/webhooks/pilot/{SECRET}", json=event(name))
        assert answer.status_code == 200
        outcomes.append(answer.json()["status"])
    assert outcomes == ["unchanged", "applied", "unchanged", "unchanged", "applied", "unchanged"]
    assert len(told.reports) == 2
    assert "WHATSAPP_INSTANCE_NOT_CONNECTED" in told.reports[0]
    assert "webhook" in told.reports[0]
    assert "connected again" in told.reports[1]
    assert runtime.connection.connected is True


# -- message.sent / delivered / read / failed ----------------------------------------------


class SharedClock:
    """The sandbox reads the harness's fake clock (statuses follow it)."""

    def __init__(self) -> None:
        self.clock = FakeClock(START)

    def seconds(self) -> float:
        return (self.clock() - START).total_seconds()


@pytest.fixture
def shared() -> SharedClock:
    return SharedClock()


@pytest.fixture
def timed_sandbox(shared: SharedClock) -> Sandbox:
    return Sandbox(groups=6, clock=shared.seconds)


@pytest.fixture
async def make_harness(
    tmp_path: Path, timed_sandbox: Sandbox, shared: SharedClock
) -> AsyncIterator[HarnessFactory]:
    from bot.sandbox import SandboxTransport
    from bot.whatsapp import RetryPolicy

    async with (
        WhatsAppClient(
            base_url="http://sandbox",
            api_key="ps_test_key",
            max_rps=1000,
            retry=RetryPolicy.fast(),
            transport=SandboxTransport(timed_sandbox),
        ) as client,
        harness_factory(tmp_path, timed_sandbox, client) as factory,
    ):

        def make(*args: object, **kwargs: object) -> Harness:
            harness = factory(*args, **kwargs)  # type: ignore[arg-type]
            shared.clock = harness.clock
            return harness

        yield make


async def test_delivery_webhooks_land_on_the_right_ledger_rows_and_never_go_back(
    make_harness: HarnessFactory, timed_sandbox: Sandbox
) -> None:
    ids = [gid for gid, _ in timed_sandbox.list_groups()][:4]
    harness = make_harness([broadcast(targets=ids, gap="0s", jitter="0s")])
    await harness.start()
    await harness.advance_to(START.replace(hour=9) + timedelta(days=1))
    (run,) = harness.runs("morning")
    sent = dict(
        harness.store.db.execute(
            "SELECT group_id, result FROM deliveries WHERE run_id = ?", (run.id,)
        ).fetchall()
    )
    a, b, c, d = (sent[gid] for gid in ids)
    timed_sandbox.set_status(a, "SENT")  # the polls say SENT for good
    told = Told()
    tracker = DeliveryTracker(
        store=harness.store,
        client=harness.client,
        horizon=timedelta(minutes=30),
        clock=harness.clock,
        sleep=harness.sleep,
    )
    await tracker.start(told)
    await tracker.stop()  # the test drives the polls itself
    receiver = WebhookReceiver(
        secret=SECRET,
        directory=harness.layer.directory,
        tracker=tracker,
        connection=ConnectionState(),
        notify=told.notify,
        max_body=64 * 1024,
    )
    endpoint = HttpEndpoint(host="127.0.0.1", port=0, routes=receiver.routes())
    await endpoint.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{endpoint.bound_port}") as http:

            async def post(name: str, **data: Any) -> str:
                answer = await http.post(f"/webhooks/pilot/{SECRET}", json=event(name, **data))
                assert answer.status_code == 200, answer.text
                return str(answer.json()["status"])

            assert await post("message.sent", internalMessageId=a) == "applied"
            assert await post("message.delivered", internalMessageId=a) == "applied"
            assert await post("message.read", id=b) == "applied"
            assert await post("message.delivered", messageId=d) == "applied"
            assert told.reports == []  # c is still open: no follow-up yet
            failed = await post("message.failed", internalMessageId=c, error={"code": "BLOCKED"})
            assert failed == "applied"
            assert await post("message.delivered", id=b) == "unchanged"  # late: READ stays
            assert await post("message.read", id="no-such-message") == "unchanged"
        rows = {
            gid: (status, code)
            for gid, status, code in harness.store.db.execute(
                "SELECT group_id, status, status_code FROM deliveries WHERE run_id = ?", (run.id,)
            )
        }
        expected = {
            ids[0]: ("DELIVERED", ""),
            ids[1]: ("READ", ""),
            ids[2]: ("FAILED", "BLOCKED"),
            ids[3]: ("DELIVERED", ""),
        }
        assert rows == expected
        tracked = {m.group_id: m.status for m in tracker.tracking.messages(f"run:{run.id}")}
        assert tracked == {gid: status for gid, (status, _) in expected.items()}
        # every message settled: the run's follow-up went once, naming the failure
        assert len(told.reports) == 1
        assert "BLOCKED" in told.reports[0]
        # a later poll answering SENT does not move a DELIVERED message back
        harness.clock.advance(minutes=1)
        assert await tracker.run_due() >= 1
        status = harness.store.db.execute(
            "SELECT status FROM deliveries WHERE run_id = ? AND group_id = ?", (run.id, ids[0])
        ).fetchone()
        assert status == ("DELIVERED",)
        assert len(told.reports) == 1
    finally:
        await endpoint.stop()


async def test_a_status_for_an_untracked_send_updates_its_ledger_row(
    make_harness: HarnessFactory, timed_sandbox: Sandbox
) -> None:
    """With tracking off the ledger row is found by the message id it recorded."""
    ids = [gid for gid, _ in timed_sandbox.list_groups()][:2]
    harness = make_harness([broadcast(targets=ids, gap="0s", jitter="0s")])
    await harness.start()
    await harness.advance_to(START.replace(hour=9) + timedelta(days=1))
    (run,) = harness.runs("morning")
    harness.store.db.execute("DELETE FROM tracked_messages")  # as if tracking were off
    [(message_id,)] = harness.store.db.execute(
        "SELECT result FROM deliveries WHERE run_id = ? AND group_id = ?", (run.id, ids[1])
    ).fetchall()
    tracker = DeliveryTracker(
        store=harness.store, client=harness.client, horizon=timedelta(0), clock=harness.clock
    )
    assert await tracker.apply_status(message_id, "READ")
    assert not await tracker.apply_status(message_id, "DELIVERED")
    rows = dict(
        harness.store.db.execute(
            "SELECT group_id, status FROM deliveries WHERE run_id = ?", (run.id,)
        ).fetchall()
    )
    assert rows == {ids[0]: "QUEUED", ids[1]: "READ"}


async def test_a_send_follow_up_goes_once_when_webhooks_settle_its_messages(
    make_harness: HarnessFactory, timed_sandbox: Sandbox
) -> None:
    harness = make_harness([])
    ids = [gid for gid, _ in timed_sandbox.list_groups()][:2]
    messages = [await harness.client.send_text(gid, "hi") for gid in ids]
    told = Told()
    tracker = DeliveryTracker(
        store=harness.store,
        client=harness.client,
        horizon=timedelta(minutes=30),
        clock=harness.clock,
        sleep=harness.sleep,
    )
    await tracker.start(told)
    tracker.follow_sends(
        "telegram:-1001", "/send x hi", [(m.id, g, g) for m, g in zip(messages, ids, strict=True)]
    )
    await tracker.stop()
    receiver = WebhookReceiver(
        secret=SECRET,
        directory=harness.layer.directory,
        tracker=tracker,
        connection=ConnectionState(),
        notify=told.notify,
        max_body=64 * 1024,
    )
    endpoint = HttpEndpoint(host="127.0.0.1", port=0, routes=receiver.routes())
    await endpoint.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{endpoint.bound_port}") as http:
            for name, message in [("message.read", messages[0]), ("message.failed", messages[1])]:
                answer = await http.post(
                    "/webhooks/pilot",
                    json=event(name, internalMessageId=message.id, errorCode="BLOCKED"),
                    headers={"x-webhook-secret": SECRET},
                )
                assert answer.json() == {"status": "applied"}
    finally:
        await endpoint.stop()
    [(chat, text)] = told.told  # the /send's own chat, once
    assert chat == "telegram:-1001"
    assert "BLOCKED" in text
    assert told.reports == []
    assert tracker.tracking.unreported() == []
