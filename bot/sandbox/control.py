"""The control API of the sandbox's HTTP server (`/_sandbox/...`; see `server.py`).

Tests and demos use it to steer a served sandbox from another process: arm
faults, switch modes, doom targets, pin message statuses, open 24 h windows,
switch the media plan, and read the state. No api key; not recorded.
"""

from __future__ import annotations

import json
from typing import Any, Final

from bot.sandbox.api import SandboxReply, error_reply, json_reply
from bot.sandbox.state import Sandbox

_FAULT_FIELDS: Final[dict[str, tuple[type, ...]]] = {
    "endpoint": (str,),
    "status": (int, type(None)),
    "code": (str, type(None)),
    "delay": (int, float),
    "drop": (bool,),
    "invalid_json": (bool,),
    "retry_after": (int, float, type(None)),
    "times": (int, type(None)),
}


def control(sandbox: Sandbox, method: str, target: str, body: bytes) -> SandboxReply:
    """Answer a `/_sandbox/...` request."""
    path = target.split("?", 1)[0].rstrip("/")
    routes = {
        ("POST", "/_sandbox/faults"): _control_inject,
        ("DELETE", "/_sandbox/faults"): _control_clear,
        ("POST", "/_sandbox/mode"): _control_mode,
        ("GET", "/_sandbox/state"): _control_state,
        ("DELETE", "/_sandbox/stats"): _control_reset_stats,
        ("POST", "/_sandbox/doom"): _control_doom,
        ("POST", "/_sandbox/messages/status"): _control_status,
        ("POST", "/_sandbox/window"): _control_window,
        ("POST", "/_sandbox/media-plan"): _control_media_plan,
    }
    action = routes.get((method.upper(), path))
    if action is None:
        known = {p for _, p in routes}
        if path in known:
            return error_reply(405, f"Method {method} not allowed", "METHOD_NOT_ALLOWED")
        return error_reply(404, f"No control route {path}", "NOT_FOUND")
    try:
        payload = json.loads(body) if body.strip() else {}
    except ValueError:
        return error_reply(400, "Request body is not valid JSON", "WHATSAPP_INVALID_JSON")
    if not isinstance(payload, dict):
        return error_reply(400, "request body must be a JSON object", "VALIDATION_ERROR")
    try:
        return action(sandbox, payload)
    except (TypeError, ValueError) as exc:
        return error_reply(400, str(exc), "VALIDATION_ERROR")


def _control_inject(sandbox: Sandbox, payload: dict[str, Any]) -> SandboxReply:
    for key, value in payload.items():
        allowed = _FAULT_FIELDS.get(key)
        if allowed is None:
            raise ValueError(f"unknown fault field {key!r}")
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            raise TypeError(f"fault field {key!r} has the wrong type")
    if "endpoint" not in payload:
        raise ValueError("endpoint is required")
    sandbox.inject(**payload)
    return json_reply(201, {"faults": sandbox.faults.describe()})


def _control_clear(sandbox: Sandbox, _payload: dict[str, Any]) -> SandboxReply:
    sandbox.clear_faults()
    return json_reply(200, {"faults": []})


def _control_mode(sandbox: Sandbox, payload: dict[str, Any]) -> SandboxReply:
    mode = payload.get("mode")
    if not isinstance(mode, str):
        raise TypeError("mode must be a string")
    sandbox.mode = mode
    return json_reply(200, {"mode": sandbox.mode})


def _control_state(sandbox: Sandbox, _payload: dict[str, Any]) -> SandboxReply:
    return json_reply(200, sandbox.snapshot())


def _control_reset_stats(sandbox: Sandbox, _payload: dict[str, Any]) -> SandboxReply:
    sandbox.reset_stats()
    return json_reply(200, {"request_count": 0, "max_in_flight": sandbox.max_in_flight})


def _field(payload: dict[str, Any], key: str, kinds: tuple[type, ...], default: Any = ...) -> Any:
    """`payload[key]` of one of `kinds` (bool is never taken for int), or TypeError."""
    if key not in payload:
        if default is ...:
            raise TypeError(f"{key} is required")
        return default
    value = payload[key]
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise TypeError(f"{key} has the wrong type")
    return value


def _control_doom(sandbox: Sandbox, payload: dict[str, Any]) -> SandboxReply:
    target = _field(payload, "target", (str,))
    code = _field(payload, "code", (str, type(None)), "RECIPIENT_UNREACHABLE")
    sandbox.doom(target, code)
    return json_reply(200, {"target": target, "code": code})


def _control_status(sandbox: Sandbox, payload: dict[str, Any]) -> SandboxReply:
    message_id = _field(payload, "id", (str,))
    status = _field(payload, "status", (str,))
    code = _field(payload, "code", (str, type(None)), None)
    sandbox.set_status(message_id, status, code)
    message, view = sandbox.message_status(message_id)
    return json_reply(200, {"id": message.id, "status": view.status, "code": view.error_code})


def _control_window(sandbox: Sandbox, payload: dict[str, Any]) -> SandboxReply:
    target = _field(payload, "target", (str,))
    is_open = _field(payload, "open", (bool,), True)
    sandbox.open_window(target, is_open=is_open)
    return json_reply(200, {"target": target, "open": is_open})


def _control_media_plan(sandbox: Sandbox, payload: dict[str, Any]) -> SandboxReply:
    sandbox.media_plan = _field(payload, "enabled", (bool,))
    return json_reply(200, {"enabled": sandbox.media_plan})
