"""The async client of the Pilot Status WhatsApp Groups API.

One `WhatsAppClient` serves the whole bot: commands, jobs and reports all go
through its `RequestGate`, so `max_rps` and `concurrency` hold across them.
Every method checks its input first (group ids, subjects, texts), so a bad
token fails before any request. Phone numbers come in as `PhoneNumber`s, read
once where they were typed, and go out as their E.164 digits unchanged.
Failures are raised as the classes in `bot.whatsapp.errors`; retries follow
`bot.whatsapp.retry`.

The API key lives only in the default headers of the httpx client. It is
never logged (we log method, path, status and timing), never part of an
exception, and not shown by repr().
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import stamina
from pydantic import BaseModel, SecretStr, ValidationError

from bot import metrics
from bot.whatsapp.content import Content, Text
from bot.whatsapp.errors import (
    ApiError,
    ConnectFailed,
    InvalidInput,
    InvalidResponse,
    OutcomeUnknown,
    RateLimited,
    family_for,
)
from bot.whatsapp.identifiers import PhoneNumber, group_path
from bot.whatsapp.limits import RequestGate
from bot.whatsapp.models import (
    Group,
    GroupSummary,
    InviteLink,
    MessageStatus,
    OperationResult,
    SentMessage,
    Template,
    TemplateSummary,
)
from bot.whatsapp.retry import RetryPolicy, Safety, parse_retry_after, should_retry
from bot.whatsapp.transport import WireTransport

log = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)

SAFE, UNSAFE = Safety.SAFE, Safety.UNSAFE
_CONNECT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Status label values, made once (a str() per request is cheap, but this is cheaper).
_STATUS_LABELS = {code: str(code) for code in range(100, 600)}


class WhatsAppClient:
    """Typed access to every groups endpoint, the send, message status and templates."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | SecretStr,
        timeout: float = 15.0,
        max_rps: float = 5,
        concurrency: int = 4,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._gate = RequestGate(max_rps=max_rps, concurrency=concurrency)
        if transport is None:  # the wire: aiohttp, errors as httpcore raises them
            transport = WireTransport(max_connections=max(concurrency, 1))
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"x-api-key": key, "accept": "application/json"},
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=max(concurrency, 1)),
        )

    def __repr__(self) -> str:
        return f"WhatsAppClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> WhatsAppClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- groups --------------------------------------------------------------

    async def list_groups(self, *, background: bool = False) -> list[GroupSummary]:
        """`GET /v1/groups`: every group of the number bound to the key.

        `background=True` (the connection probe) lets every waiting command's
        request go first.
        """
        body = await self._call(
            "list_groups", "GET", "/v1/groups", safety=SAFE, background=background
        )
        raw_groups = body.get("groups")
        if not isinstance(raw_groups, list):
            raise _unreadable("list_groups", 200, "no 'groups' list in the answer", SAFE)
        return [_parse(GroupSummary, item, "list_groups", SAFE) for item in raw_groups]

    async def get_group(self, group_id: str) -> Group:
        """`GET /v1/groups/{id}`: subject and participants with roles."""
        path = f"/v1/groups/{group_path(group_id)}"
        body = await self._call("get_group", "GET", path, safety=SAFE)
        return _parse(Group, {"id": group_id, **body}, "get_group", SAFE)

    async def create_group(self, subject: str, numbers: Sequence[PhoneNumber] = ()) -> Group:
        """`POST /v1/groups`. Never retried once the request may have arrived."""
        subject = subject.strip()
        if not subject:
            raise InvalidInput("a group needs a subject", value=subject)
        participants = _participant_digits(numbers)
        payload: dict[str, Any] = {"subject": subject}
        if participants:
            payload["participants"] = participants
        body = await self._call("create_group", "POST", "/v1/groups", json=payload, safety=UNSAFE)
        return _parse(Group, body, "create_group", UNSAFE)

    async def add_participants(
        self, group_id: str, numbers: Sequence[PhoneNumber]
    ) -> OperationResult:
        return await self._participants("add", "POST", group_id, "", numbers)

    async def remove_participants(
        self, group_id: str, numbers: Sequence[PhoneNumber]
    ) -> OperationResult:
        return await self._participants("remove", "DELETE", group_id, "", numbers)

    async def promote(self, group_id: str, numbers: Sequence[PhoneNumber]) -> OperationResult:
        return await self._participants("promote", "POST", group_id, "/promote", numbers)

    async def demote(self, group_id: str, numbers: Sequence[PhoneNumber]) -> OperationResult:
        return await self._participants("demote", "POST", group_id, "/demote", numbers)

    async def invite_link(self, group_id: str, *, reset: bool = False) -> InviteLink:
        """`POST /v1/groups/{id}/invite`; `reset=True` revokes the old link.

        A reset is never retried after an ambiguous failure (it would kill the
        link the first attempt handed out): read the current link instead.
        """
        path = f"/v1/groups/{group_path(group_id)}/invite"
        operation = "invite_reset" if reset else "invite"
        body = await self._call(
            operation, "POST", path, json={"reset": reset}, safety=UNSAFE if reset else SAFE
        )
        return _parse(InviteLink, body, operation, UNSAFE if reset else SAFE)

    async def pin(self, group_id: str, message_id: str) -> OperationResult:
        return await self._pin(group_id, message_id, "pin")

    async def unpin(self, group_id: str, message_id: str) -> OperationResult:
        return await self._pin(group_id, message_id, "unpin")

    # -- messages ------------------------------------------------------------

    async def send_text(self, group_id: str, text: str) -> SentMessage:
        """`POST /v1/messages/send` of a text to a group (see `send`)."""
        return await self.send(Text(text), group_id=group_id)

    async def send(
        self,
        content: Content,
        *,
        group_id: str | None = None,
        number: PhoneNumber | None = None,
    ) -> SentMessage:
        """`POST /v1/messages/send`: one content, to one group or one number.

        The answer (202, `QUEUED`) only says the provider took it; `message_status`
        says what became of it. Never resent after it may have arrived: no
        idempotency key exists, so a retry could post it twice.
        """
        if (group_id is None) == (number is None):
            raise InvalidInput("a message goes to exactly one group or one number", value="")
        payload: dict[str, Any] = {}
        if group_id is not None:
            group_path(group_id)
            payload["groupId"] = group_id
        elif isinstance(number, PhoneNumber):
            payload["destinationNumber"] = str(number)
        else:
            raise TypeError(f"expected PhoneNumber, got {type(number).__name__}")
        payload.update(content.fields())
        body = await self._call("send", "POST", "/v1/messages/send", json=payload, safety=UNSAFE)
        return _parse(SentMessage, body, "send", UNSAFE)

    async def message_status(self, message_id: str, *, background: bool = False) -> MessageStatus:
        """`GET /v1/messages/{id}`: QUEUED, SENT, DELIVERED, READ, FAILED or CANCELED.

        `background=True` (the delivery tracker) lets every waiting command's
        request go first.
        """
        if not message_id.strip():
            raise InvalidInput("give a message id", value=message_id)
        path = f"/v1/messages/{quote(message_id.strip(), safe='')}"
        body = await self._call("message_status", "GET", path, safety=SAFE, background=background)
        return _parse(MessageStatus, {"id": message_id, **body}, "message_status", SAFE)

    # -- templates -----------------------------------------------------------

    async def list_templates(self) -> list[TemplateSummary]:
        """`GET /v1/templates`: every saved template, with `sendable` and `metaStatus`."""
        body = await self._call("list_templates", "GET", "/v1/templates", safety=SAFE)
        raw = body.get("templates")
        if not isinstance(raw, list):
            raise _unreadable("list_templates", 200, "no 'templates' list in the answer", SAFE)
        return [_parse(TemplateSummary, item, "list_templates", SAFE) for item in raw]

    async def get_template(self, template_id: str) -> Template:
        """`GET /v1/templates/{id}`: body, buttons and the `variables` they use."""
        if not template_id.strip():
            raise InvalidInput("give a template id", value=template_id)
        path = f"/v1/templates/{quote(template_id.strip(), safe='')}"
        body = await self._call("get_template", "GET", path, safety=SAFE)
        return _parse(Template, {"id": template_id, **body}, "get_template", SAFE)

    # -- plumbing ------------------------------------------------------------

    async def _participants(
        self,
        operation: str,
        method: str,
        group_id: str,
        suffix: str,
        numbers: Sequence[PhoneNumber],
    ) -> OperationResult:
        path = f"/v1/groups/{group_path(group_id)}/participants{suffix}"
        participants = _participant_digits(numbers)
        if not participants:
            raise InvalidInput("give at least one phone number", value="")
        body = await self._call(
            operation, method, path, json={"participants": participants}, safety=SAFE
        )
        return OperationResult(raw=body)

    async def _pin(self, group_id: str, message_id: str, action: str) -> OperationResult:
        path = f"/v1/groups/{group_path(group_id)}/pin"
        if not message_id.strip():
            raise InvalidInput("give a message id", value=message_id)
        body = await self._call(
            action, "POST", path, json={"messageId": message_id, "action": action}, safety=SAFE
        )
        return OperationResult(raw=body)

    async def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        safety: Safety,
        json: dict[str, Any] | None = None,
        background: bool = False,
    ) -> dict[str, Any]:
        """One API operation with its retry policy; the decoded JSON object."""
        policy = self.retry
        attempt_no = 0
        rate_limited_at: float | None = None  # when the last attempt got a 429
        async for attempt in stamina.retry_context(
            on=should_retry(safety, policy),
            attempts=policy.attempts,
            timeout=policy.timeout,
            wait_initial=policy.wait_initial,
            wait_max=policy.wait_max,
            wait_jitter=policy.wait_jitter,
        ):
            with attempt:
                attempt_no += 1
                if attempt_no > 1:
                    metrics.API_RETRIES.labels(operation).inc()
                    if rate_limited_at is not None:  # the wait stamina just did after a 429
                        metrics.RATE_LIMITED_WAIT.inc(time.monotonic() - rate_limited_at)
                        rate_limited_at = None
                try:
                    return await self._request_once(
                        operation,
                        method,
                        path,
                        json,
                        attempt_no,
                        safety=safety,
                        background=background,
                    )
                except RateLimited:
                    rate_limited_at = time.monotonic()
                    raise
        raise AssertionError("unreachable: stamina re-raises the last error")  # pragma: no cover

    async def _request_once(
        self,
        operation: str,
        method: str,
        path: str,
        payload: dict[str, Any] | None,
        attempt_no: int,
        *,
        safety: Safety,
        background: bool = False,
    ) -> dict[str, Any]:
        async with self._gate.slot(background=background):
            started = time.monotonic()
            try:
                response = await self._http.request(method, path, json=payload)
            except _CONNECT_ERRORS as exc:
                metrics.API_REQUESTS.labels(operation, "0").inc()
                log.warning("%s %s: cannot connect (%s)", method, path, type(exc).__name__)
                raise ConnectFailed(
                    f"cannot reach the WhatsApp API ({type(exc).__name__})", operation=operation
                ) from None
            except httpx.TransportError as exc:
                metrics.API_REQUESTS.labels(operation, "0").inc()
                log.warning("%s %s: no answer (%s)", method, path, type(exc).__name__)
                raise OutcomeUnknown(
                    f"no answer from the WhatsApp API ({type(exc).__name__}); "
                    "the request may have been carried out",
                    operation=operation,
                ) from None
        elapsed_ms = (time.monotonic() - started) * 1000
        status = response.status_code
        metrics.API_REQUESTS.labels(operation, _STATUS_LABELS.get(status, "other")).inc()
        if status == 429:
            metrics.RATE_LIMITED.labels(operation).inc()
        log.debug(
            "%s %s -> %s in %.0f ms (attempt %d)",
            method,
            path,
            response.status_code,
            elapsed_ms,
            attempt_no,
        )
        if response.is_success:
            return _decode_success(response, operation, safety)
        raise _error_from(response, operation)


def _participant_digits(numbers: Iterable[PhoneNumber]) -> list[str]:
    """The `participants` of a request: E.164 digits, in order, each once.

    Numbers arrive already read (`PhoneNumber.parse` where they were typed);
    the client never reads them again, since re-reading E.164 digits with a
    default country can turn `+1 415…` into a national number of another one.
    """
    digits: dict[str, None] = {}
    for number in numbers:
        if not isinstance(number, PhoneNumber):
            raise TypeError(f"expected PhoneNumber, got {type(number).__name__}")
        digits[number.digits] = None
    return list(digits)


def _decode_success(response: httpx.Response, operation: str, safety: Safety) -> dict[str, Any]:
    if not response.content.strip():
        return {}
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _unreadable(
            operation, response.status_code, "the answer is not JSON", safety
        ) from None
    if not isinstance(body, dict):
        raise _unreadable(
            operation, response.status_code, "the answer is not a JSON object", safety
        )
    return body


def _error_from(response: httpx.Response, operation: str) -> ApiError:
    """Build the exception for an error answer: flat envelope, nested, then status."""
    status = response.status_code
    text, code = "", ""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            code = str(error.get("code") or "")
            text = str(error.get("message") or error.get("error") or "")
        else:
            code = str(body.get("code") or "")
            text = str(error or body.get("message") or "")
    code = code or f"HTTP_{status}"
    text = text or response.reason_phrase or f"HTTP {status}"
    family = family_for(status, code)
    return family(
        text,
        status=status,
        code=code,
        operation=operation,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )


def _unreadable(
    operation: str, status: int, why: str, safety: Safety
) -> InvalidResponse | OutcomeUnknown:
    """The error for a success status whose answer we cannot read.

    An unsafe operation (create, send, reset) was accepted by the API, but we
    do not know its result (the new group, message or link): the caller must
    treat it like a lost answer, never repeat it.
    """
    if safety is UNSAFE:
        return OutcomeUnknown(
            f"the WhatsApp API accepted the request, but its answer could not be read "
            f"({why}); the {operation.replace('_', ' ')} probably happened",
            operation=operation,
        )
    return InvalidResponse(
        f"unreadable answer from the WhatsApp API: {why}",
        status=status,
        code="UNREADABLE_RESPONSE",
        operation=operation,
    )


def _parse(model: type[ModelT], data: object, operation: str, safety: Safety) -> ModelT:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in err["loc"]) for err in exc.errors())
        raise _unreadable(operation, 200, f"unexpected shape ({fields})", safety) from None
