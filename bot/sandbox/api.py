"""Request dispatch of the sandbox: routing, auth, modes, faults, wire shapes.

`handle()` turns one HTTP request into a `SandboxReply` (or `Drop`: close the
connection without answering). It is shared by the HTTP server (`server.py`)
and the in-process httpx transport (`transport.py`). State changes happen
synchronously under the sandbox lock; waiting (latency, injected delays) is
done afterwards, outside the lock, with `asyncio.sleep`.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote

from bot.sandbox import sending
from bot.sandbox.errors import ApiError
from bot.sandbox.faults import Fault
from bot.sandbox.groups import OWNER
from bot.sandbox.messages import iso_timestamp, status_answer
from bot.sandbox.sending import checked_string as _string
from bot.sandbox.sending import group_id as _group_id
from bot.sandbox.sending import invalid as _invalid
from bot.sandbox.state import RequestRecord, Sandbox
from bot.sandbox.templates import DEMO_TEMPLATES, find_template

JSON_TYPE: Final = "application/json"
INVALID_JSON_BODY: Final = b"<html>upstream exploded</html>"
NUMBER_RE: Final = re.compile(r"^[1-9][0-9]{7,14}$")
MAX_NUMBERS: Final = 1024
MAX_SUBJECT: Final = 100
META_REFUSED: Final = frozenset(("promote", "demote", "pin"))
GROUP_ENDPOINTS: Final = frozenset(
    (
        "list_groups",
        "get_group",
        "create_group",
        "add",
        "remove",
        "promote",
        "demote",
        "invite",
        "pin",
    )
)
_GROUP_ROUTES: Final[dict[tuple[str, ...], dict[str, str]]] = {
    (): {"GET": "get_group"},
    ("participants",): {"POST": "add", "DELETE": "remove"},
    ("participants", "promote"): {"POST": "promote"},
    ("participants", "demote"): {"POST": "demote"},
    ("invite",): {"POST": "invite"},
    ("pin",): {"POST": "pin"},
}


@dataclass(frozen=True)
class SandboxReply:
    """A complete HTTP answer."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON (tests and tools)."""
        return json.loads(self.body)


@dataclass(frozen=True)
class Drop:
    """Signal: close the connection without writing any response."""


def json_reply(
    status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()
) -> SandboxReply:
    """A JSON answer with the given status."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    return SandboxReply(status, (("content-type", JSON_TYPE), *headers), body)


def error_reply(
    status: int, message: str, code: str | None, headers: tuple[tuple[str, str], ...] = ()
) -> SandboxReply:
    """The flat error envelope; without a code when `code` is None."""
    payload: dict[str, str] = {"error": message}
    if code is not None:
        payload["code"] = code
    return json_reply(status, payload, headers)


async def handle(
    sandbox: Sandbox,
    method: str,
    raw_path: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    record: RequestRecord | None = None,
) -> SandboxReply | Drop:
    """Answer one request. `headers` must be looked up by lower-case name."""
    method = method.upper()
    fault: Fault | None = None
    if record is not None:
        sandbox.annotate(record, body=sending.abbreviated(_json_or_none(body)))
    key = headers.get("x-api-key", "")
    try:
        try:
            endpoint, gid = _route(method, raw_path)
        except ApiError:
            if raw_path == "/v1" or raw_path.startswith(("/v1/", "/v1?")):
                _authenticate(sandbox, key)  # every /v1 request needs a key: 401 before 404
            raise
        if record is not None:
            sandbox.annotate(record, endpoint=endpoint)
        _authenticate(sandbox, key)
        fault = sandbox.faults.take(endpoint)
        if fault is not None and not fault.applies_operation:
            assert fault.status is not None
            reply = error_reply(fault.status, "Injected fault", fault.code)
        else:
            reply = _execute(sandbox, endpoint, gid, method, body)
    except ApiError as exc:
        reply = error_reply(exc.status, exc.message, exc.code, exc.headers)
    return await _finish(sandbox, reply, fault, record)


async def _finish(
    sandbox: Sandbox, reply: SandboxReply, fault: Fault | None, record: RequestRecord | None
) -> SandboxReply | Drop:
    """Apply the fault's body/header changes, then wait, then answer or drop."""
    delay = sandbox.latency_ms / 1000.0
    if fault is not None:
        if fault.invalid_json:
            reply = SandboxReply(
                fault.status or 200, (("content-type", "text/html"),), INVALID_JSON_BODY
            )
        if fault.retry_after is not None:
            reply = SandboxReply(
                reply.status,
                (*reply.headers, ("retry-after", f"{fault.retry_after:g}")),
                reply.body,
            )
        delay += fault.delay
    if delay > 0:
        await asyncio.sleep(delay)
    if fault is not None and fault.drop:
        return Drop()
    if record is not None:
        sandbox.annotate(record, status=reply.status)
    return reply


# ------------------------------------------------------------------ routing
def _route(method: str, raw_path: str) -> tuple[str, str | None]:
    """(endpoint name, decoded path id (group, message, template) or None), or 404/405."""
    path = raw_path.split("?", 1)[0]
    parts = path.strip("/").split("/")
    table: dict[str, str] | None = None
    gid: str | None = None
    if parts == ["v1", "messages", "send"]:
        table = {"POST": "send"}
    elif parts[:2] == ["v1", "messages"] and len(parts) == 3:
        gid = unquote(parts[2])
        table = {"GET": "message_status"}
    elif parts == ["v1", "templates"]:
        table = {"GET": "list_templates"}
    elif parts[:2] == ["v1", "templates"] and len(parts) == 3:
        gid = unquote(parts[2])
        table = {"GET": "get_template"}
    elif parts == ["v1", "groups"]:
        table = {"GET": "list_groups", "POST": "create_group"}
    elif parts[:2] == ["v1", "groups"]:
        gid = unquote(parts[2])
        table = _GROUP_ROUTES.get(tuple(parts[3:]))
    if table is None:
        raise ApiError(404, "NOT_FOUND", f"No route for {path}")
    endpoint = table.get(method)
    if endpoint is None:
        allow = ", ".join(sorted(table))
        raise ApiError(
            405, "METHOD_NOT_ALLOWED", f"Method {method} not allowed", (("allow", allow),)
        )
    return endpoint, gid


def _authenticate(sandbox: Sandbox, key: str) -> None:
    if not key.strip():
        raise ApiError(401, "UNAUTHORIZED", "Missing x-api-key header")
    if key.startswith("tenant_"):
        raise ApiError(403, "TENANT_SCOPE_NOT_ALLOWED", "A number-scoped key (ps_...) is required")
    if sandbox.api_key is not None and key != sandbox.api_key:
        raise ApiError(401, "INVALID_API_KEY", "Invalid API key")


def _check_mode(sandbox: Sandbox, endpoint: str, payload: dict[str, Any]) -> None:
    mode = sandbox.mode
    if mode == "disconnected":
        raise ApiError(
            409, "WHATSAPP_INSTANCE_NOT_CONNECTED", "The WhatsApp session is not connected"
        )
    if mode == "meta-not-eligible" and (
        endpoint in GROUP_ENDPOINTS or (endpoint == "send" and "groupId" in payload)
    ):
        raise ApiError(
            400, "META_GROUPS_NOT_ELIGIBLE", "This Meta number is not eligible for groups"
        )
    if mode == "meta" and endpoint == "add":
        raise ApiError(
            400,
            "META_GROUP_INVITE_ONLY",
            "participants cannot be added on Meta; send the invite link",
        )
    if mode == "meta" and endpoint in META_REFUSED:
        raise ApiError(400, "NOT_SUPPORTED_FOR_META", f"{endpoint} is not supported on Meta")
    if mode == "evolution" and endpoint == "pin":
        raise ApiError(400, "NOT_SUPPORTED_ON_EVOLUTION", "Pinning is not supported on Evolution")


# --------------------------------------------------------------- validation
def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body) if body.strip() else None
    except ValueError:
        return None


def _payload(method: str, body: bytes) -> dict[str, Any]:
    if method == "GET" or not body.strip():
        return {}
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise ApiError(400, "WHATSAPP_INVALID_JSON", "Request body is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise _invalid("request body must be a JSON object")
    return payload


def _numbers(payload: dict[str, Any], *, required: bool = True) -> list[str]:
    value = payload.get("participants")
    if value is None and not required:
        return []
    if not isinstance(value, list) or (required and not value) or len(value) > MAX_NUMBERS:
        raise _invalid(f"participants must be a non-empty list of at most {MAX_NUMBERS} numbers")
    for item in value:
        if not isinstance(item, str) or not NUMBER_RE.fullmatch(item):
            raise _invalid(f"invalid participant {item!r}: E.164 digits without '+' expected")
    return list(value)


# --------------------------------------------------------------- endpoints
def _execute(
    sandbox: Sandbox, endpoint: str, path_id: str | None, method: str, body: bytes
) -> SandboxReply:
    payload = _payload(method, body)
    _check_mode(sandbox, endpoint, payload)
    if endpoint in GROUP_ENDPOINTS:
        path_id = _group_id(path_id) if path_id is not None else ""
    return _HANDLERS[endpoint](sandbox, path_id or "", payload)


def _list_groups(sandbox: Sandbox, _gid: str, _payload: dict[str, Any]) -> SandboxReply:
    groups = [{"id": gid, "name": name} for gid, name in sandbox.list_groups()]
    return json_reply(200, {"groups": groups})


def _get_group(sandbox: Sandbox, gid: str, _payload: dict[str, Any]) -> SandboxReply:
    group = sandbox.get_group(gid)
    participants = [
        {"id": f"{number}@s.whatsapp.net", "role": role}
        for number, role in group.participants.items()
    ]
    return json_reply(200, {"id": group.id, "subject": group.name, "participants": participants})


def _create_group(sandbox: Sandbox, _gid: str, payload: dict[str, Any]) -> SandboxReply:
    subject = _string(payload, "subject", MAX_SUBJECT)
    group = sandbox.create_group(subject, _numbers(payload, required=False))
    participants: list[dict[str, str]] = []
    for number, role in group.participants.items():
        participants.append({"wa_id": number, "role": role} if role else {"wa_id": number})
    return json_reply(201, {"id": group.id, "subject": group.name, "participants": participants})


def _per_person(results: list[tuple[str, str]]) -> SandboxReply:
    return json_reply(
        200, {"participants": [{"wa_id": n, "status": status} for n, status in results]}
    )


def _add(sandbox: Sandbox, gid: str, payload: dict[str, Any]) -> SandboxReply:
    return _per_person(sandbox.add_participants(gid, _numbers(payload)))


def _remove(sandbox: Sandbox, gid: str, payload: dict[str, Any]) -> SandboxReply:
    return _per_person(sandbox.remove_participants(gid, _numbers(payload)))


def _promote(sandbox: Sandbox, gid: str, payload: dict[str, Any]) -> SandboxReply:
    return _per_person(sandbox.set_roles(gid, _numbers(payload), admin=True))


def _demote(sandbox: Sandbox, gid: str, payload: dict[str, Any]) -> SandboxReply:
    return _per_person(sandbox.set_roles(gid, _numbers(payload), admin=False))


def _invite(sandbox: Sandbox, gid: str, payload: dict[str, Any]) -> SandboxReply:
    reset = payload.get("reset", False)
    if reset is None:
        reset = False
    if not isinstance(reset, bool):
        raise _invalid("reset must be a boolean")
    return json_reply(200, {"link": sandbox.invite_link(gid, reset=reset)})


def _pin(sandbox: Sandbox, gid: str, payload: dict[str, Any]) -> SandboxReply:
    message_id = _string(payload, "messageId", 256)
    action = payload.get("action")
    if action not in ("pin", "unpin"):
        raise _invalid('action must be "pin" or "unpin"')
    sandbox.pin(gid, message_id, pin=action == "pin")
    return json_reply(200, {"messageId": message_id, "action": action})


def _send(sandbox: Sandbox, _gid: str, payload: dict[str, Any]) -> SandboxReply:
    group_id, number = sending.destination(payload)
    message = sandbox.accept(sending.content(payload), group_id=group_id, number=number)
    answer = {
        "id": message.id,
        "correlationId": message.correlation_id,
        "status": "QUEUED",
        "createdAt": iso_timestamp(message.at),
        "origin": "api",
        "sourceNumber": f"+{OWNER}",
    }
    return json_reply(202, answer)


def _message_status(sandbox: Sandbox, message_id: str, _payload: dict[str, Any]) -> SandboxReply:
    message, view = sandbox.message_status(message_id)
    return json_reply(200, status_answer(message, view))


def _list_templates(_sandbox: Sandbox, _id: str, _payload: dict[str, Any]) -> SandboxReply:
    return json_reply(200, {"templates": [t.summary() for t in DEMO_TEMPLATES]})


def _get_template(_sandbox: Sandbox, template_id: str, _payload: dict[str, Any]) -> SandboxReply:
    return json_reply(200, find_template(template_id).detail())


_HANDLERS: Final[dict[str, Callable[[Sandbox, str, dict[str, Any]], SandboxReply]]] = {
    "list_groups": _list_groups,
    "get_group": _get_group,
    "create_group": _create_group,
    "add": _add,
    "remove": _remove,
    "promote": _promote,
    "demote": _demote,
    "invite": _invite,
    "pin": _pin,
    "send": _send,
    "message_status": _message_status,
    "list_templates": _list_templates,
    "get_template": _get_template,
}
