"""Sent messages of the sandbox: the record of each accepted send and its status.

A message's status follows from the time since its send on the sandbox's
clock (injectable, so tests move time instead of sleeping):
QUEUED -> SENT (`sent_after`) -> DELIVERED (`delivered_after`) -> READ
(`read_after`). A doomed message goes QUEUED -> SENT -> FAILED at
`delivered_after` instead. `set_status` pins a status for good.

`MessageLog` holds no lock of its own: `Sandbox` calls it under its lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from bot.sandbox.errors import ApiError

STATUSES: Final[tuple[str, ...]] = ("QUEUED", "SENT", "DELIVERED", "READ", "FAILED", "CANCELED")
DEFAULT_FAILURE_CODE: Final = "RECIPIENT_UNREACHABLE"
FAILURE_TEXT: Final[dict[str, str]] = {
    "RECIPIENT_UNREACHABLE": "The recipient could not be reached",
}


@dataclass(frozen=True)
class SentMessage:
    """A message accepted by `POST /v1/messages/send`.

    `group_id` is None for a direct send (then `destination_number` is set,
    digits without "+"); `text` is None unless `kind` is "text". For a media
    data URI only its mime type and decoded size are kept, never the bytes
    (`media_url` is then None).
    """

    id: str
    group_id: str | None
    text: str | None
    at: datetime
    correlation_id: str
    destination_number: str | None = None
    kind: str = "text"  # "text" | "template" | "media"
    template_id: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    media_type: str | None = None
    media_url: str | None = None
    media_mime: str | None = None
    media_size: int | None = None
    caption: str | None = None
    file_name: str | None = None
    sent_clock: float = 0.0  # the sandbox clock at the send
    failure_code: str | None = None  # set when the message is doomed to end FAILED

    @property
    def target(self) -> str:
        """Where it went: the group id or the number's digits."""
        return self.group_id if self.group_id is not None else self.destination_number or ""


@dataclass(frozen=True)
class Content:
    """What a send carries: exactly one content mode, already validated."""

    kind: str  # "text" | "template" | "media"
    text: str | None = None
    template_id: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    media_type: str | None = None
    media_url: str | None = None
    media_mime: str | None = None
    media_size: int | None = None
    caption: str | None = None
    file_name: str | None = None

    def message(
        self,
        *,
        id: str,
        correlation_id: str,
        group_id: str | None,
        number: str | None,
        at: datetime,
        sent_clock: float,
        failure_code: str | None,
    ) -> SentMessage:
        """The record of this content accepted for a destination."""
        return SentMessage(
            id=id,
            group_id=group_id,
            text=self.text,
            at=at,
            correlation_id=correlation_id,
            destination_number=number,
            kind=self.kind,
            template_id=self.template_id,
            variables=dict(self.variables),
            media_type=self.media_type,
            media_url=self.media_url,
            media_mime=self.media_mime,
            media_size=self.media_size,
            caption=self.caption,
            file_name=self.file_name,
            sent_clock=sent_clock,
            failure_code=failure_code,
        )


@dataclass(frozen=True)
class Timeline:
    """Seconds after the send at which a message reaches each step."""

    sent_after: float = 1.0
    delivered_after: float = 3.0
    read_after: float = 20.0

    def __post_init__(self) -> None:
        if not 0 <= self.sent_after <= self.delivered_after <= self.read_after:
            raise ValueError("status times must satisfy 0 <= sent <= delivered <= read")


@dataclass(frozen=True)
class StatusView:
    """A message's status at one moment."""

    status: str
    updated_after: float  # seconds after the send when this status was reached
    error_code: str | None = None


@dataclass
class _Pinned:
    status: str
    code: str | None
    at_clock: float


def normalized_target(target: str) -> str:
    """A group id as is; a number without its leading "+"."""
    return target.strip().removeprefix("+")


class MessageLog:
    """Every accepted send, with doom marks and pinned statuses."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.messages: list[SentMessage] = []
        self._by_id: dict[str, SentMessage] = {}
        self._doomed: dict[str, str] = {}
        self._pinned: dict[str, _Pinned] = {}

    def add(self, message: SentMessage) -> None:
        """Record an accepted send."""
        self.messages.append(message)
        self._by_id[message.id] = message
        self._by_id[message.correlation_id] = message

    def find(self, message_id: str) -> SentMessage:
        """By id or correlation id, or 404 MESSAGE_NOT_FOUND."""
        message = self._by_id.get(message_id)
        if message is None:
            raise ApiError(404, "MESSAGE_NOT_FOUND", f"Message {message_id} not found")
        return message

    def doom_code(self, target: str) -> str | None:
        """The failure code messages to `target` get from now on, if doomed."""
        return self._doomed.get(normalized_target(target))

    def doom(self, target: str, code: str | None) -> None:
        """Messages sent to `target` from now on end FAILED with `code` (None: lift it)."""
        key = normalized_target(target)
        if not key:
            raise ValueError("doom needs a group id or a number")
        if code is None:
            self._doomed.pop(key, None)
        elif not code.strip():
            raise ValueError("code must be a non-empty string")
        else:
            self._doomed[key] = code

    def pin(self, message_id: str, status: str, code: str | None, now: float) -> None:
        """Pin a message's status from now on (FAILED without code: the default code)."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r} (known: {', '.join(STATUSES)})")
        try:
            message = self.find(message_id)
        except ApiError as exc:
            raise ValueError(exc.message) from None
        if status == "FAILED" and code is None:
            code = DEFAULT_FAILURE_CODE
        if status != "FAILED":
            code = None
        self._pinned[message.id] = _Pinned(status, code, now)

    def status(self, message: SentMessage, now: float) -> StatusView:
        """The message's status at clock `now`."""
        pinned = self._pinned.get(message.id)
        if pinned is not None:
            return StatusView(pinned.status, pinned.at_clock - message.sent_clock, pinned.code)
        step = self.timeline
        elapsed = now - message.sent_clock
        if elapsed < step.sent_after:
            return StatusView("QUEUED", 0.0)
        if elapsed < step.delivered_after:
            return StatusView("SENT", step.sent_after)
        if message.failure_code is not None:
            return StatusView("FAILED", step.delivered_after, message.failure_code)
        if elapsed < step.read_after:
            return StatusView("DELIVERED", step.delivered_after)
        return StatusView("READ", step.read_after)


def status_answer(message: SentMessage, view: StatusView) -> dict[str, Any]:
    """The answer of `GET /v1/messages/{id}`."""
    updated = message.at + timedelta(seconds=max(view.updated_after, 0.0))
    answer: dict[str, Any] = {"id": message.id, "correlationId": message.correlation_id}
    answer["status"] = view.status
    if message.group_id is not None:
        answer["groupId"] = message.group_id
    else:
        answer["destinationNumber"] = f"+{message.destination_number}"
    answer["createdAt"] = iso_timestamp(message.at)
    answer["updatedAt"] = iso_timestamp(updated)
    if view.status == "FAILED":
        code = view.error_code or DEFAULT_FAILURE_CODE
        answer["errorCode"] = code
        answer["errorMessage"] = FAILURE_TEXT.get(code, f"The message failed ({code})")
    return answer


def iso_timestamp(moment: datetime) -> str:
    """`2026-01-02T03:04:05.678Z` (UTC, milliseconds)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def snapshot_entry(message: SentMessage, view: StatusView) -> dict[str, Any]:
    """A sent message in `GET /_sandbox/state`, with its status now."""
    return {
        "id": message.id,
        "group_id": message.group_id,
        "text": message.text,
        "at": iso_timestamp(message.at),
        "correlation_id": message.correlation_id,
        "destination_number": message.destination_number,
        "kind": message.kind,
        "template_id": message.template_id,
        "variables": dict(message.variables),
        "media_type": message.media_type,
        "media_url": message.media_url,
        "media_mime": message.media_mime,
        "media_size": message.media_size,
        "caption": message.caption,
        "file_name": message.file_name,
        "status": view.status,
        "error_code": view.error_code,
    }
