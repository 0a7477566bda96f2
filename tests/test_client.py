"""The real WhatsApp client over real HTTP on 127.0.0.1 against the sandbox."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from bot.sandbox import Sandbox
from bot.sandbox.stats import most_in_window
from bot.whatsapp import (
    ApiError,
    AuthError,
    ConnectFailed,
    InstanceNotFound,
    InvalidGroupId,
    InvalidResponse,
    NotConnected,
    NotEligible,
    NotFound,
    OutcomeUnknown,
    PaymentRequired,
    PhoneNumber,
    RateLimited,
    RetryPolicy,
    Unsupported,
    UpstreamError,
    WhatsAppClient,
)

SALES = "120363123456789012@g.us"
SECRET = "ps_live_SECRET_abc123"


@pytest.fixture
async def client(sandbox_server) -> AsyncIterator[WhatsAppClient]:
    async with WhatsAppClient(
        base_url=sandbox_server.url,
        api_key=SECRET,
        timeout=2.0,
        max_rps=1000,
        concurrency=8,
        retry=RetryPolicy.fast(),
    ) as c:
        yield c


def calls(sandbox: Sandbox, endpoint: str) -> int:
    return sum(1 for r in sandbox.requests if r.endpoint == endpoint)


# -- happy paths ----------------------------------------------------------------


async def test_list_groups_returns_demo_groups(client: WhatsAppClient) -> None:
    groups = await client.list_groups()
    by_id = {g.id: g.name for g in groups}
    assert by_id[SALES] == "Sales Team"
    assert len(groups) >= 4


async def test_get_group_reads_participants_with_roles(client: WhatsAppClient) -> None:
    group = await client.get_group(SALES)
    assert group.subject == "Sales Team"
    assert group.role_of(PhoneNumber("5511987654321")) == "superadmin"
    assert group.role_of(PhoneNumber("5511911112222")) == "admin"
    assert group.role_of(PhoneNumber("5511933334444")) == "member"
    assert group.role_of(PhoneNumber("5599999999999")) is None


async def test_group_id_is_percent_encoded_in_the_path(client, sandbox_server) -> None:
    await client.get_group(SALES)
    (record,) = [r for r in sandbox_server.sandbox.requests if r.endpoint == "get_group"]
    assert "%40g.us" in record.path
    assert "@" not in record.path


async def test_create_group_sends_e164_digits(client, sandbox_server) -> None:
    numbers = [
        PhoneNumber.parse("+55 11 97777-1111", "BR"),
        PhoneNumber.parse("(11) 96666-2222", "BR"),
    ]
    group = await client.create_group("Launch", numbers)
    assert group.id.endswith("@g.us")
    assert group.subject == "Launch"
    assert {"5511977771111", "5511966662222"} <= group.numbers
    (record,) = [r for r in sandbox_server.sandbox.requests if r.endpoint == "create_group"]
    assert record.body == {
        "subject": "Launch",
        "participants": ["5511977771111", "5511966662222"],
    }
    assert (await client.get_group(group.id)).subject == "Launch"


async def test_add_then_read_back_reports_privacy_blocked(client: WhatsAppClient) -> None:
    added, blocked = PhoneNumber("5511955551234"), PhoneNumber("5511955550000")
    await client.add_participants(SALES, [added, blocked])
    group = await client.get_group(SALES)
    assert group.role_of(added) == "member"
    assert group.role_of(blocked) is None  # privacy-blocked: 2xx but not added


async def test_promote_demote_remove(client: WhatsAppClient) -> None:
    member = PhoneNumber("5511933334444")
    await client.promote(SALES, [member])
    assert (await client.get_group(SALES)).role_of(member) == "admin"
    await client.demote(SALES, [member])
    assert (await client.get_group(SALES)).role_of(member) == "member"
    await client.remove_participants(SALES, [member])
    assert (await client.get_group(SALES)).role_of(member) is None


async def test_invite_link_and_reset(client: WhatsAppClient) -> None:
    first = await client.invite_link(SALES)
    again = await client.invite_link(SALES)
    assert first.link == again.link
    assert first.link.startswith("https://chat.whatsapp.com/")
    fresh = await client.invite_link(SALES, reset=True)
    assert fresh.link != first.link
    assert (await client.invite_link(SALES)).link == fresh.link


async def test_send_then_pin_and_unpin(client, sandbox_server) -> None:
    sent = await client.send_text(SALES, "Hello team")
    assert sent.id
    assert sent.status == "QUEUED"
    await client.pin(SALES, sent.id)
    assert sent.id in sandbox_server.sandbox.groups[SALES].pinned
    await client.unpin(SALES, sent.id)
    assert sent.id not in sandbox_server.sandbox.groups[SALES].pinned


# -- input checked before any request ------------------------------------------------


@pytest.mark.parametrize("number", ["14155550100", "+1 415 555 0100"])
async def test_numbers_must_be_read_before_the_client(client, sandbox_server, number) -> None:
    """The client never reads text as a number: that is PhoneNumber.parse's job, done once."""
    with pytest.raises(TypeError):
        await client.add_participants(SALES, [number])
    assert sandbox_server.sandbox.requests == []


async def test_client_sends_the_digits_unchanged(client, sandbox_server) -> None:
    numbers = [PhoneNumber("14155550100"), PhoneNumber("49301234567"), PhoneNumber("14155550100")]
    await client.add_participants(SALES, numbers)
    (record,) = [r for r in sandbox_server.sandbox.requests if r.endpoint == "add"]
    assert record.body == {"participants": ["14155550100", "49301234567"]}


@pytest.mark.parametrize(
    "bad", ["120363@s.whatsapp.net", "5511999999999@lid", "x@newsletter", "sales", "a b@g.us", ""]
)
async def test_bad_group_id_rejected_before_any_request(client, sandbox_server, bad) -> None:
    with pytest.raises(InvalidGroupId):
        await client.get_group(bad)
    assert sandbox_server.sandbox.requests == []


async def test_meta_style_pseudo_jid_is_accepted(client: WhatsAppClient) -> None:
    with pytest.raises(NotFound) as info:
        await client.get_group("AbC-12_xyz@g.us")
    assert info.value.code == "GROUP_NOT_FOUND"


# -- error families -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "family"),
    [
        (400, "META_GROUPS_NOT_ELIGIBLE", NotEligible),
        (409, "WHATSAPP_INSTANCE_NOT_CONNECTED", NotConnected),
        (404, "LINKED_WHATSAPP_INSTANCE_NOT_FOUND", InstanceNotFound),
        (401, "INVALID_API_KEY", AuthError),
        (403, "TENANT_SCOPE_NOT_ALLOWED", AuthError),
        (403, "NUMBER_SCOPE_NOT_ALLOWED", AuthError),
        (404, "GROUP_NOT_FOUND", NotFound),
        (429, "RATE_LIMITED", RateLimited),
        (502, "WHATSAPP_UPSTREAM_ERROR", UpstreamError),
        (500, None, UpstreamError),
        (400, "WHATSAPP_INVALID_JSON", InvalidResponse),
        (400, "NOT_SUPPORTED_FOR_META", Unsupported),
        (402, "SUBSCRIPTION_REQUIRED_FOR_MEDIA", PaymentRequired),
        (418, "SOMETHING_NEW", ApiError),
    ],
)
async def test_error_families(client, sandbox_server, status, code, family) -> None:
    sandbox_server.sandbox.inject("get_group", status=status, code=code, times=None)
    with pytest.raises(family) as info:
        await client.get_group(SALES)
    error = info.value
    assert type(error) is family
    assert error.status == status
    assert error.code == (code or f"HTTP_{status}")
    assert error.text == "Injected fault"
    assert error.operation == "get_group"


@pytest.mark.parametrize(
    ("mode", "family", "code"),
    [
        ("disconnected", NotConnected, "WHATSAPP_INSTANCE_NOT_CONNECTED"),
        ("meta-not-eligible", NotEligible, "META_GROUPS_NOT_ELIGIBLE"),
    ],
)
async def test_sandbox_modes_surface_as_families(client, sandbox_server, mode, family, code):
    sandbox_server.sandbox.mode = mode
    with pytest.raises(family) as info:
        await client.send_text(SALES, "hi")
    assert info.value.code == code


async def test_pin_refused_on_evolution(client, sandbox_server) -> None:
    sent = await client.send_text(SALES, "pin me")
    sandbox_server.sandbox.mode = "evolution"
    with pytest.raises(Unsupported):
        await client.pin(SALES, sent.id)


async def test_missing_key_is_an_auth_error(sandbox_server) -> None:
    async with WhatsAppClient(
        base_url=sandbox_server.url, api_key="", retry=RetryPolicy.fast()
    ) as anonymous:
        with pytest.raises(AuthError) as info:
            await anonymous.list_groups()
    assert info.value.status == 401


async def test_invalid_json_success_body(client, sandbox_server) -> None:
    sandbox_server.sandbox.inject("list_groups", invalid_json=True, times=None)
    with pytest.raises(InvalidResponse) as info:
        await client.list_groups()
    assert info.value.status == 200


@pytest.mark.parametrize("operation", ["send", "create_group", "invite_reset"])
async def test_unreadable_success_of_unsafe_operation_is_an_unknown_outcome(
    client, sandbox_server, operation
) -> None:
    sandbox = sandbox_server.sandbox
    endpoint = "invite" if operation == "invite_reset" else operation
    sandbox.inject(endpoint, invalid_json=True, times=None)  # applied, answer garbled
    with pytest.raises(OutcomeUnknown) as info:
        if operation == "send":
            await client.send_text(SALES, "once")
        elif operation == "create_group":
            await client.create_group("Once")
        else:
            await client.invite_link(SALES, reset=True)
    assert "accepted" in str(info.value)
    assert calls(sandbox, endpoint) == 1


async def test_unknown_code_keeps_its_code(client, sandbox_server) -> None:
    sandbox_server.sandbox.inject("send", status=400, code="BRAND_NEW_CODE")
    with pytest.raises(ApiError) as info:
        await client.send_text(SALES, "x")
    assert info.value.code == "BRAND_NEW_CODE"
    assert "BRAND_NEW_CODE" in str(info.value)


# -- retry policy -----------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 503, "code": "WHATSAPP_UPSTREAM_ERROR"},
        {"status": 429, "code": "RATE_LIMITED"},
        {"drop": True},
        {"delay": 0.5},
    ],
    ids=["5xx", "429", "dropped", "read-timeout"],
)
async def test_reads_are_retried_and_succeed(sandbox_server, fault) -> None:
    async with WhatsAppClient(
        base_url=sandbox_server.url, api_key=SECRET, timeout=0.2, retry=RetryPolicy.fast()
    ) as client:
        sandbox_server.sandbox.inject("get_group", times=2, **fault)
        group = await client.get_group(SALES)
    assert group.subject == "Sales Team"
    assert calls(sandbox_server.sandbox, "get_group") == 3


async def test_retries_are_bounded(client, sandbox_server) -> None:
    sandbox_server.sandbox.inject("list_groups", status=500, times=None)
    with pytest.raises(UpstreamError):
        await client.list_groups()
    assert calls(sandbox_server.sandbox, "list_groups") == RetryPolicy.fast().attempts


@pytest.mark.parametrize(
    "fault",
    [{"status": 503, "code": "WHATSAPP_UPSTREAM_ERROR"}, {"drop": True}, {"delay": 0.5}],
    ids=["5xx", "dropped", "read-timeout"],
)
@pytest.mark.parametrize("operation", ["send", "create_group", "invite_reset"])
async def test_unsafe_operations_are_never_sent_twice(sandbox_server, fault, operation) -> None:
    sandbox = sandbox_server.sandbox
    endpoint = "invite" if operation == "invite_reset" else operation
    async with WhatsAppClient(
        base_url=sandbox_server.url, api_key=SECRET, timeout=0.2, retry=RetryPolicy.fast()
    ) as client:
        link_before = (await client.invite_link(SALES)).link
        sandbox.reset_stats()
        sandbox.inject(endpoint, times=None, **fault)
        expected = UpstreamError if "status" in fault else OutcomeUnknown
        with pytest.raises(expected):
            if operation == "send":
                await client.send_text(SALES, "only once")
            elif operation == "create_group":
                await client.create_group("Only once", [PhoneNumber("5511977771111")])
            else:
                await client.invite_link(SALES, reset=True)
    assert calls(sandbox, endpoint) == 1
    if operation == "invite_reset" and "status" not in fault:
        # The reset did happen server-side: exactly one new link, not two.
        assert sandbox.groups[SALES].invite_link != link_before


async def test_unsafe_operation_retried_when_it_never_left(unused_tcp_port) -> None:
    async with WhatsAppClient(
        base_url=f"http://127.0.0.1:{unused_tcp_port}", api_key=SECRET, retry=RetryPolicy.fast(3)
    ) as client:
        with pytest.raises(ConnectFailed):
            await client.send_text(SALES, "nobody listens")


async def test_retry_after_is_honoured(sandbox_server) -> None:
    sandbox = sandbox_server.sandbox
    policy = RetryPolicy(attempts=3, timeout=5, wait_initial=0.001, wait_max=0.01, wait_jitter=0)
    async with WhatsAppClient(base_url=sandbox_server.url, api_key=SECRET, retry=policy) as client:
        sandbox.inject("list_groups", status=429, code="RATE_LIMITED", retry_after=0.3)
        await client.list_groups()
    first, second = (r for r in sandbox.requests if r.endpoint == "list_groups")
    assert second.started - first.finished >= 0.29


async def test_retry_after_longer_than_allowed_gives_up(client, sandbox_server) -> None:
    sandbox_server.sandbox.inject("list_groups", status=429, retry_after=120, times=None)
    with pytest.raises(RateLimited) as info:
        await client.list_groups()
    assert info.value.retry_after == 120
    assert calls(sandbox_server.sandbox, "list_groups") == 1


# -- shared caps --------------------------------------------------------------------


async def test_concurrency_cap_measured_at_the_server(sandbox_server) -> None:
    sandbox = sandbox_server.sandbox
    sandbox.inject("get_group", delay=0.05, times=None)
    async with WhatsAppClient(
        base_url=sandbox_server.url, api_key=SECRET, max_rps=1000, concurrency=3
    ) as client:
        await asyncio.gather(*(client.get_group(SALES) for _ in range(12)))
    assert sandbox.max_in_flight == 3


@pytest.mark.parametrize("latency", [0.0, 0.03])
async def test_rate_cap_measured_at_the_server(sandbox_server, latency) -> None:
    sandbox = sandbox_server.sandbox
    sandbox.latency_ms = latency * 1000
    async with WhatsAppClient(
        base_url=sandbox_server.url, api_key=SECRET, max_rps=10, concurrency=10
    ) as client:
        # Sends and reads share one cap.
        await asyncio.gather(
            *(client.get_group(SALES) for _ in range(8)),
            *(client.send_text(SALES, f"m{i}") for i in range(7)),
        )
    arrivals = sorted(r.started for r in sandbox.requests)
    assert len(arrivals) == 15
    # No one-second window holds more than 10 arrivals: a request keeps its place
    # until a second after it ended, so this holds whatever the timing jitter.
    assert most_in_window(arrivals) == 10
    # ...and the cap did not slow things more than needed.
    assert arrivals[-1] - arrivals[0] < 1.5 + 2 * latency


# -- secrets --------------------------------------------------------------------


async def test_api_key_never_in_logs_or_errors(sandbox_server, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    sandbox_server.sandbox.inject("send", drop=True)
    sandbox_server.sandbox.inject("list_groups", status=503, times=None)
    async with WhatsAppClient(
        base_url=sandbox_server.url, api_key=SECRET, retry=RetryPolicy.fast()
    ) as client:
        errors: list[Exception] = []
        for call in (lambda: client.send_text(SALES, "x"), client.list_groups):
            try:
                await call()
            except Exception as exc:
                errors.append(exc)
        assert SECRET not in repr(client)
    assert len(errors) == 2
    for error in errors:
        assert SECRET not in str(error)
        assert SECRET not in repr(error)
    assert caplog.records, "the failing calls should have logged something"
    assert SECRET not in caplog.text
    assert all(SECRET not in str(r.args) for r in caplog.records)
