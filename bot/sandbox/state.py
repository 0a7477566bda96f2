"""In-memory state of the sandbox: groups, members, invite links, messages, pins.

`Sandbox` is the emulator's model. Its operations are synchronous and run under
one `threading.Lock`, so that a test thread can read the state while a server
thread (see `server.py`) mutates it. The read helpers return copies.
Wire formats, routing and waiting live in `api.py`; faults in `faults.py`;
the demo groups in `groups.py`; sent messages and their status in
`messages.py`; the checks of a send in `sending.py`; templates in
`templates.py`.
"""

from __future__ import annotations

import copy
import random
import string
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final

from bot.sandbox.errors import ApiError
from bot.sandbox.faults import Fault, FaultBook
from bot.sandbox.groups import (
    DEMO_GROUPS,
    MAX_MEMBERS_PER_GROUP,
    OWNER,
    Group,
    generated_group_id,
    generated_members,
    is_privacy_blocked,
)
from bot.sandbox.messages import (
    Content,
    MessageLog,
    SentMessage,
    StatusView,
    Timeline,
    iso_timestamp,
    normalized_target,
    snapshot_entry,
)
from bot.sandbox.stats import MAX_RECORDS, RequestRecord

__all__ = [
    "OWNER",
    "ApiError",
    "Group",
    "RequestRecord",
    "Sandbox",
    "SentMessage",
    "generated_group_id",
    "is_privacy_blocked",
    "iso_timestamp",
]

MODES: Final[tuple[str, ...]] = ("normal", "disconnected", "meta-not-eligible", "evolution", "meta")
META_MAX_PARTICIPANTS: Final = 8  # owner included
MAX_GROUPS: Final = 10_000
_LINK_ALPHABET: Final = string.ascii_letters + string.digits


class Sandbox:
    """Stateful emulator of the WhatsApp groups API of one number (`OWNER`)."""

    def __init__(
        self,
        *,
        groups: int = 4,
        mode: str = "normal",
        latency_ms: float = 0,
        api_key: str | None = None,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        media_plan: bool = True,
        failure_share: float = 0.0,
        sent_after: float = 1.0,
        delivered_after: float = 3.0,
        read_after: float = 20.0,
        members_per_group: int = 0,
    ) -> None:
        if not 0 <= groups <= MAX_GROUPS:
            raise ValueError(f"groups must be between 0 and {MAX_GROUPS}")
        if not 0 <= members_per_group <= MAX_MEMBERS_PER_GROUP:
            raise ValueError(f"members_per_group must be between 0 and {MAX_MEMBERS_PER_GROUP}")
        if latency_ms < 0:
            raise ValueError("latency_ms must not be negative")
        if not 0.0 <= failure_share <= 1.0:
            raise ValueError("failure_share must be between 0 and 1")
        self.lock = threading.Lock()
        self._mode = self._checked_mode(mode)
        self.latency_ms = float(latency_ms)
        self.api_key = api_key
        self.owner = OWNER
        self.faults = FaultBook()
        self._rng = random.Random(seed)  # noqa: S311 - emulator ids, not secrets
        self._groups: dict[str, Group] = {}
        self.clock = clock
        self.media_plan = media_plan  # False: media sends answer 402
        self.failure_share = failure_share  # share of sends (seeded rng) that end FAILED
        self._log = MessageLog(Timeline(sent_after, delivered_after, read_after))
        self._open_windows: set[str] = set()  # mode "meta": open 24 h windows
        self._requests: deque[RequestRecord] = deque(maxlen=MAX_RECORDS)
        self._request_count = 0
        self._in_flight = 0
        self._max_in_flight = 0
        for gid, name, members in DEMO_GROUPS:
            self._groups[gid] = Group(gid, name, dict(members), self._new_link())
        people = generated_members(members_per_group, groups, seed=seed)
        for index in range(len(DEMO_GROUPS) + 1, groups + 1):
            gid = generated_group_id(index)
            self._groups[gid] = Group(
                gid, f"Group {index:03d}", {OWNER: "superadmin", **next(people)}, self._new_link()
            )

    # ----------------------------------------------------------- settings
    @staticmethod
    def _checked_mode(mode: str) -> str:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r} (known: {', '.join(MODES)})")
        return mode

    @property
    def mode(self) -> str:
        """Current mode: one of `MODES`."""
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        self._mode = self._checked_mode(value)

    def inject(
        self,
        endpoint: str,
        *,
        status: int | None = None,
        code: str | None = None,
        delay: float = 0.0,
        drop: bool = False,
        invalid_json: bool = False,
        retry_after: float | None = None,
        times: int | None = 1,
    ) -> None:
        """Arm a fault for the next `times` calls of `endpoint` (see `faults.py`)."""
        fault = Fault(endpoint, status, code, delay, drop, invalid_json, retry_after)
        self.faults.add(fault, times)

    def clear_faults(self) -> None:
        """Disarm every fault."""
        self.faults.clear()

    # ------------------------------------------------------- read helpers
    @property
    def groups(self) -> dict[str, Group]:
        """A copy of every group, by id."""
        with self.lock:
            return copy.deepcopy(self._groups)

    @property
    def sent_messages(self) -> list[SentMessage]:
        """Every accepted send, oldest first."""
        with self.lock:
            return list(self._log.messages)

    @property
    def requests(self) -> list[RequestRecord]:
        """Copies of the recorded requests (the last `MAX_RECORDS`), in arrival order."""
        with self.lock:
            return [replace(r) for r in self._requests]

    @property
    def max_in_flight(self) -> int:
        """Most requests processed at once since start or `reset_stats()`."""
        with self.lock:
            return self._max_in_flight

    @property
    def in_flight(self) -> int:
        """Requests being processed right now."""
        with self.lock:
            return self._in_flight

    def reset_stats(self) -> None:
        """Forget recorded requests; `max_in_flight` restarts from the current load."""
        with self.lock:
            self._requests.clear()
            self._request_count = 0
            self._max_in_flight = self._in_flight

    def snapshot(self) -> dict[str, Any]:
        """Everything a remote observer needs, JSON-ready."""
        with self.lock:
            return {
                "mode": self._mode,
                "latency_ms": self.latency_ms,
                "groups": [
                    {
                        "id": g.id,
                        "name": g.name,
                        "participants": dict(g.participants),
                        "invite_link": g.invite_link,
                        "pinned": sorted(g.pinned),
                    }
                    for g in self._groups.values()
                ],
                "media_plan": self.media_plan,
                "open_windows": sorted(self._open_windows),
                "sent_messages": [
                    snapshot_entry(m, self._log.status(m, self.clock())) for m in self._log.messages
                ],
                "request_count": self._request_count,
                "in_flight": self._in_flight,
                "max_in_flight": self._max_in_flight,
                "faults": self.faults.describe(),
            }

    # ----------------------------------------------------- request tracking
    @contextmanager
    def track(self, method: str, path: str) -> Iterator[RequestRecord]:
        """Count one request in flight from now until the block ends."""
        record = RequestRecord(method=method, path=path, started=time.monotonic())
        with self.lock:
            self._requests.append(record)
            self._request_count += 1
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            yield record
        finally:
            with self.lock:
                record.finished = time.monotonic()
                self._in_flight -= 1

    def annotate(self, record: RequestRecord, **values: Any) -> None:
        """Set fields of a tracked record (endpoint, body, status) under the lock."""
        with self.lock:
            for name, value in values.items():
                setattr(record, name, value)

    # --------------------------------------------------------- operations
    def _new_link(self) -> str:
        code = "".join(self._rng.choice(_LINK_ALPHABET) for _ in range(22))
        return f"https://chat.whatsapp.com/{code}"

    def _new_uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _group(self, gid: str) -> Group:
        group = self._groups.get(gid)
        if group is None:
            raise ApiError(404, "GROUP_NOT_FOUND", f"Group {gid} not found")
        return group

    def list_groups(self) -> list[tuple[str, str]]:
        """(id, name) of every group."""
        with self.lock:
            return [(g.id, g.name) for g in self._groups.values()]

    def get_group(self, gid: str) -> Group:
        """A copy of one group."""
        with self.lock:
            return copy.deepcopy(self._group(gid))

    def create_group(self, subject: str, numbers: list[str]) -> Group:
        """Create a group owned by `OWNER`; privacy-blocked numbers stay out."""
        with self.lock:
            gid = ""
            for _ in range(100):
                gid = f"120363{self._rng.randrange(10**12):012d}@g.us"
                if gid not in self._groups:
                    break
            else:  # pragma: no cover - 10**12 ids, a few thousand groups
                raise ApiError(500, "WHATSAPP_UPSTREAM_ERROR", "No free group id")
            members: dict[str, str | None] = {OWNER: "superadmin"}
            if self._mode == "meta":
                others = set(numbers) - {OWNER}
                if len(others) > META_MAX_PARTICIPANTS - 1:
                    raise ApiError(
                        400,
                        "META_GROUP_PARTICIPANT_LIMIT",
                        f"A Meta group has at most {META_MAX_PARTICIPANTS} participants",
                    )
                numbers = []  # invite-only: people join through the invite link
            for number in numbers:
                if number not in members and not is_privacy_blocked(number):
                    members[number] = None
            group = Group(gid, subject, members, self._new_link())
            self._groups[gid] = group
            return copy.deepcopy(group)

    def add_participants(self, gid: str, numbers: list[str]) -> list[tuple[str, str]]:
        """Per number: "200" added, "409" already a member, "403" privacy-blocked."""
        with self.lock:
            group = self._group(gid)
            results: list[tuple[str, str]] = []
            for number in numbers:
                if number in group.participants:
                    results.append((number, "409"))
                elif is_privacy_blocked(number):
                    results.append((number, "403"))
                else:
                    group.participants[number] = None
                    results.append((number, "200"))
            return results

    def remove_participants(self, gid: str, numbers: list[str]) -> list[tuple[str, str]]:
        """Per number: "200" removed, "404" not a member, "403" the owner (kept)."""
        with self.lock:
            group = self._group(gid)
            results: list[tuple[str, str]] = []
            for number in numbers:
                if number not in group.participants:
                    results.append((number, "404"))
                elif number == OWNER:
                    results.append((number, "403"))
                else:
                    del group.participants[number]
                    results.append((number, "200"))
            return results

    def set_roles(self, gid: str, numbers: list[str], *, admin: bool) -> list[tuple[str, str]]:
        """Promote (admin=True) or demote; superadmins stay ("403" on demote)."""
        with self.lock:
            group = self._group(gid)
            results: list[tuple[str, str]] = []
            for number in numbers:
                if number not in group.participants:
                    results.append((number, "404"))
                elif group.participants[number] == "superadmin":
                    results.append((number, "200" if admin else "403"))
                else:
                    group.participants[number] = "admin" if admin else None
                    results.append((number, "200"))
            return results

    def invite_link(self, gid: str, *, reset: bool) -> str:
        """The group's invite link; `reset` revokes it and issues a new one."""
        with self.lock:
            group = self._group(gid)
            if reset:
                group.invite_link = self._new_link()
            return group.invite_link

    def pin(self, gid: str, message_id: str, *, pin: bool) -> None:
        """Pin or unpin a message this number sent to the group."""
        with self.lock:
            group = self._group(gid)
            sent = next((m for m in self._log.messages if m.id == message_id), None)
            if sent is None or sent.group_id != gid:
                raise ApiError(
                    404, "MESSAGE_NOT_FOUND", f"Message {message_id} not found in group {gid}"
                )
            if pin:
                group.pinned.add(message_id)
            else:
                group.pinned.discard(message_id)

    def send(self, gid: str, text: str) -> SentMessage:
        """Queue a text message to a group."""
        return self.accept(Content(kind="text", text=text), group_id=gid)

    def accept(
        self, content: Content, *, group_id: str | None = None, number: str | None = None
    ) -> SentMessage:
        """Queue a message to a group or (digits of) a number, after the number's own checks."""
        with self.lock:
            if group_id is not None:
                self._group(group_id)
            target = group_id if group_id is not None else normalized_target(number or "")
            if content.kind == "media" and not self.media_plan:
                raise ApiError(
                    402, "SUBSCRIPTION_REQUIRED_FOR_MEDIA", "Media sends need the media plan"
                )
            free_form = content.kind != "template"
            if self._mode == "meta" and free_form and target not in self._open_windows:
                raise ApiError(
                    400,
                    "META_OUTSIDE_24H_WINDOW",
                    "free-form messages need an open 24 h window; send a template",
                )
            failure = self._log.doom_code(target)
            if (
                failure is None
                and self.failure_share > 0
                and self._rng.random() < self.failure_share
            ):
                failure = "RECIPIENT_UNREACHABLE"
            message = content.message(
                id=self._new_uuid(),
                correlation_id=self._new_uuid(),
                group_id=group_id,
                number=None if group_id is not None else target,
                at=datetime.now(UTC),
                sent_clock=self.clock(),
                failure_code=failure,
            )
            self._log.add(message)
            return message

    # ------------------------------------------------- status and controls
    def message_status(self, message_id: str) -> tuple[SentMessage, StatusView]:
        """A message (by id or correlation id) and its status now; 404 when unknown."""
        with self.lock:
            message = self._log.find(message_id)
            return message, self._log.status(message, self.clock())

    def doom(self, target: str, code: str | None = "RECIPIENT_UNREACHABLE") -> None:
        """Messages sent to a group id or number from now on end FAILED (`code=None` lifts it)."""
        with self.lock:
            self._log.doom(target, code)

    def set_status(self, message_id: str, status: str, code: str | None = None) -> None:
        """Pin a message's status (id or correlation id); ValueError when unknown."""
        with self.lock:
            self._log.pin(message_id, status, code, self.clock())

    def open_window(self, target: str, *, is_open: bool = True) -> None:
        """Open (or close) the 24 h window of a group id or number (mode `meta`)."""
        key = normalized_target(target)
        if not key:
            raise ValueError("open_window needs a group id or a number")
        with self.lock:
            if is_open:
                self._open_windows.add(key)
            else:
                self._open_windows.discard(key)
