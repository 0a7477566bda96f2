"""``POST /webhooks/pilot``: what the provider knows and tells us, as ``{event, data}``.

The sender proves itself with the shared secret ``http.webhook_secret``,
either in the URL (``/webhooks/pilot/<secret>``: any dashboard that takes a
URL can use it) or in the header ``x-webhook-secret`` on ``/webhooks/pilot``,
compared in constant time. Without a configured secret the routes do not
exist (404): an open webhook would let anyone mark messages read or the
number disconnected.

Answers: 401 for a missing or wrong secret (checked before the body is
read; logged without the body or the secret), 413 for a body over
``http.max_body`` (aiohttp's ``client_max_size``), 400 for a body that is not
a JSON object or an event whose data cannot be used, 202 for events we do
not handle (ignored), 200 once a known event is applied, 503 when the
database refuses the write (the provider sends it again).

Events:

- ``message.group``: a group's id and name; the directory's cached list
  learns or refreshes it (`GroupDirectory.learn`).
- ``message.sent|delivered|read|failed``: the send's status, by its id
  (``data.internalMessageId``, ``data.id`` or ``data.messageId``), onto the
  ledger row and the delivery tracker's message, never backwards
  (`DeliveryTracker.apply_status`); a failure's code comes from
  ``data.errorCode``, ``data.error.code`` or ``data.code``.
- ``number.connected|number.disconnected``: `ConnectionState.report`; a
  change goes to the notify chats once, however often the provider repeats it.

Everything the sender wrote that reaches a log line is quoted with
`bot.usertext.excerpt` (``repr`` style: line breaks and terminal escapes come
out as ``\\n`` and ``\\x1b``, long values cut).
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from bot.metrics import WEBHOOKS
from bot.services import ConnectionState, GroupDirectory
from bot.storage_errors import fault_text, is_storage_fault
from bot.usertext import excerpt
from jobs.tracker import DeliveryTracker

__all__ = ["SECRET_HEADER", "WebhookReceiver"]

log = logging.getLogger(__name__)

SECRET_HEADER = "x-webhook-secret"  # noqa: S105 (a header name, not a secret)
PATH = "/webhooks/pilot"
_STATUSES = {
    "message.sent": "SENT",
    "message.delivered": "DELIVERED",
    "message.read": "READ",
    "message.failed": "FAILED",
}
_CONNECTION = {"number.connected": True, "number.disconnected": False}
_MAX_ID_CHARS = 200  # a message id is far shorter; a longer one is not looked up
_MAX_CODE_CHARS = 80


class _BadEvent(ValueError):
    """A known event whose data cannot be used: its sentence is the 400's body."""


def _answer(status: int, outcome: str, detail: str = "") -> web.Response:
    body = {"status": outcome, **({"detail": detail} if detail else {})}
    return web.json_response(body, status=status)


def _text(data: Mapping[str, Any], *keys: str, limit: int) -> str:
    """The first of `keys` holding a non-empty string (or number) no longer than `limit`."""
    for key in keys:
        value = data.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value.strip():
            if len(value) > limit:
                raise _BadEvent(f"data.{key} is longer than {limit} characters")
            return value.strip()
    return ""


class WebhookReceiver:
    """The webhook routes over the parts they update; complete when constructed."""

    def __init__(
        self,
        *,
        secret: str,
        directory: GroupDirectory,
        tracker: DeliveryTracker,
        connection: ConnectionState,
        notify: Callable[[str], Awaitable[None]],
        max_body: int,
    ) -> None:
        """`max_body`: the endpoint's body limit, quoted in the 413's sentence."""
        self._secret = secret.encode()
        self._max_body = max_body
        self._directory = directory
        self._tracker = tracker
        self._connection = connection
        self._notify = notify

    def routes(self) -> list[web.RouteDef]:
        """Both forms of the URL; none at all without a secret (the paths answer 404)."""
        if not self._secret:
            return []
        return [web.post(PATH, self._by_header), web.post(PATH + "/{secret}", self._by_path)]

    # -- authentication -----------------------------------------------------------------

    async def _by_header(self, request: web.Request) -> web.Response:
        return await self._receive(request, request.headers.get(SECRET_HEADER, ""))

    async def _by_path(self, request: web.Request) -> web.Response:
        return await self._receive(request, request.match_info.get("secret", ""))

    def _signed(self, presented: str) -> bool:
        return hmac.compare_digest(presented.encode("utf-8", "replace"), self._secret)

    async def _receive(self, request: web.Request, presented: str) -> web.Response:
        if not self._signed(presented):
            # Neither the body (unread) nor what was presented: it may be a near-miss secret.
            log.warning(
                "webhook refused from %s: %s",
                request.remote or "?",
                "no secret" if not presented else "wrong secret",
            )
            WEBHOOKS.labels("other", "unauthorized").inc()
            return _answer(401, "unauthorized", "missing or wrong webhook secret")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            log.warning(
                "webhook refused: the body is over http.max_body (%d bytes)", self._max_body
            )
            WEBHOOKS.labels("other", "too_large").inc()
            return _answer(413, "too_large", f"the body is over {self._max_body} bytes")
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):  # bad JSON or UTF-8, huge numbers, deep nesting
            return self._bad("", "the body is not JSON")
        if not isinstance(payload, dict):
            return self._bad("", "the body is not a JSON object")
        event = payload.get("event")
        if not isinstance(event, str) or not event:
            return self._bad("", 'the body has no "event" string')
        data = payload.get("data", {})
        if not isinstance(data, dict):
            return self._bad(event, '"data" is not a JSON object')
        return await self._dispatch(event, data)

    def _bad(self, event: str, sentence: str) -> web.Response:
        label = self._label(event)
        log.warning("webhook %s refused: %s", excerpt(event) if event else "(no event)", sentence)
        WEBHOOKS.labels(label, "bad_request").inc()
        return _answer(400, "bad_request", sentence)

    @staticmethod
    def _label(event: str) -> str:
        """A metric label: the events we know, else "other" (never what a sender made up)."""
        return (
            event
            if event in _STATUSES or event in _CONNECTION or event == "message.group"
            else "other"
        )

    # -- events ---------------------------------------------------------------------------

    async def _dispatch(self, event: str, data: dict[str, Any]) -> web.Response:
        try:
            if event == "message.group":
                outcome = self._group(data)
            elif event in _STATUSES:
                outcome = await self._status(_STATUSES[event], data)
            elif event in _CONNECTION:
                outcome = await self._connection_event(_CONNECTION[event])
            else:
                log.info("webhook %s ignored: not an event grouppilot handles", excerpt(event))
                WEBHOOKS.labels("other", "ignored").inc()
                return _answer(202, "ignored")
        except _BadEvent as exc:
            return self._bad(event, str(exc))
        except Exception as exc:
            if not is_storage_fault(exc):
                raise
            log.warning("webhook %s not recorded: %s", event, fault_text(exc))
            WEBHOOKS.labels(event, "storage").inc()
            return _answer(503, "unavailable", "the database refused the write; send it again")
        WEBHOOKS.labels(event, outcome).inc()
        return _answer(200, outcome)

    def _group(self, data: dict[str, Any]) -> str:
        group_id = _text(data, "groupId", "id", limit=64)
        name = _text(data, "groupName", "name", "subject", limit=512)
        if not group_id:
            raise _BadEvent("data.groupId is missing")
        try:
            news = self._directory.learn(group_id, name)
        except ValueError:
            raise _BadEvent(f"data.groupId {excerpt(group_id)} is not a group id") from None
        if news:
            log.info("webhook: group %s is called %s", group_id, excerpt(name))
        return "applied" if news else "unchanged"

    async def _status(self, status: str, data: dict[str, Any]) -> str:
        message_id = _text(data, "internalMessageId", "id", "messageId", limit=_MAX_ID_CHARS)
        if not message_id:
            raise _BadEvent("data.internalMessageId (or id, messageId) is missing")
        code = ""
        if status == "FAILED":
            error = data.get("error")
            nested = error if isinstance(error, dict) else {}
            code = (
                _text(data, "errorCode", limit=_MAX_CODE_CHARS)
                or _text(nested, "code", limit=_MAX_CODE_CHARS)
                or _text(data, "code", limit=_MAX_CODE_CHARS)
            )
        changed = await self._tracker.apply_status(message_id, status, code)
        log.info(
            "webhook: message %s is %s%s%s",
            excerpt(message_id),
            status,
            f" ({excerpt(code)})" if code else "",
            "" if changed else " (nothing to update)",
        )
        return "applied" if changed else "unchanged"

    async def _connection_event(self, connected: bool) -> str:
        change = self._connection.report(connected, source="webhook")
        if change is None:
            return "unchanged"
        log.warning("webhook: %s", change.notice())
        await self._notify(change.notice())
        return "applied"
