"""Which commands wait for which: concurrent commands that keep the order that matters.

A front end may run several commands at once (Telegram does), so that one
command stuck on a slow API holds up only the commands that depend on it.
Each command arrives with a `Claim` (`bot.commands.claims` builds it from the
typed text): the things it reads or changes, as keys (a group id, a group
word as typed, the list of groups, a job), and whether it changes them.

- A command waits, first come first served, for every earlier command that is
  still in line and *changes* something it reads or changes. So changes to
  one group run one at a time in the order they arrived, and a read sees the
  changes sent before it.
- Reads never hold anything up: two reads of one group run side by side, and
  a change does not wait for an earlier read (the read may then already show
  it, which is the truth at the time it answers).
- A command that claims nothing (``/help``, ``/log``, ``/jobs``...) never
  waits, and nothing waits for it.

`CommandOrder.admit` gives a command its `Ticket`, its place in line, and must
be called when the command arrives, before anything is awaited: the order of
``admit`` calls is the arrival order. ``turn`` waits until the ticket may
start; ``release`` leaves the line (idempotent). A ticket cancelled while it
waits leaves the line without having started.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ALL_GROUPS", "GROUP_LIST", "Claim", "CommandOrder", "Ticket"]

ALL_GROUPS = "*"  # every group: overlaps every group key (a send to `all`)
GROUP_LIST = "list"  # the list of groups itself (/groups reads it, /create changes it)
_GROUP_PREFIXES = ("group:", "word:")


def _is_group_key(key: str) -> bool:
    return key in (ALL_GROUPS, GROUP_LIST) or key.startswith(_GROUP_PREFIXES)


def _overlap(mine: frozenset[str], theirs: frozenset[str]) -> bool:
    if mine & theirs:
        return True
    if ALL_GROUPS in mine:
        return any(_is_group_key(key) for key in theirs)
    if ALL_GROUPS in theirs:
        return any(_is_group_key(key) for key in mine)
    return False


@dataclass(frozen=True)
class Claim:
    """What a command reads or changes (keys), and whether it changes them."""

    keys: frozenset[str] = frozenset()
    changes: bool = False

    def waits_for(self, earlier: Claim) -> bool:
        """Whether a command with this claim must wait for `earlier` to finish."""
        return earlier.changes and _overlap(self.keys, earlier.keys)


class _State(enum.Enum):
    WAITING = "waiting"  # in line, not started
    RUNNING = "running"
    RELEASED = "released"


class Ticket:
    """One command's place in line (see `CommandOrder`)."""

    def __init__(self, order: CommandOrder, number: int, claim: Claim, label: str) -> None:
        self.claim = claim
        self.label = label  # the command as typed, for logs and notices
        # Called once, in the command's own task, the moment it starts (front
        # ends note there that it must never run again, e.g. after a restart).
        self.on_start: Callable[[], None] | None = None
        self._order = order
        self._number = number
        self._state = _State.WAITING
        self._started = False
        self._go = asyncio.Event()

    @property
    def waiting(self) -> bool:
        """In line and not started: cancelling it now leaves nothing half done."""
        return self._state is _State.WAITING

    @property
    def started(self) -> bool:
        """It began its work (it may have changed something)."""
        return self._started

    def release(self) -> None:
        """Leave the line (finished, refused or cancelled); idempotent."""
        self._order._release(self)

    def __repr__(self) -> str:
        return f"Ticket({self._number}, {self.label!r}, {self._state.value})"


class CommandOrder:
    """The line of commands of one command layer (one event loop)."""

    def __init__(self) -> None:
        self._line: dict[int, Ticket] = {}  # in arrival order
        self._numbers = itertools.count(1)

    def admit(self, claim: Claim, label: str = "") -> Ticket:
        """A place in line for a command arriving now (synchronous: keeps arrival order)."""
        ticket = Ticket(self, next(self._numbers), claim, label)
        self._line[ticket._number] = ticket
        return ticket

    async def turn(self, ticket: Ticket) -> None:
        """Wait until every earlier command `ticket` depends on has finished, then start it."""
        if not ticket.waiting:
            raise RuntimeError(f"{ticket!r} cannot start: it is not waiting")
        if not self._may_start(ticket):
            try:
                await ticket._go.wait()
            except asyncio.CancelledError:
                self._release(ticket)
                raise
        ticket._state = _State.RUNNING
        ticket._started = True
        if ticket.on_start is not None:
            ticket.on_start()

    def waiting_count(self) -> int:
        """Commands in line that have not started (for logs and tests)."""
        return sum(1 for ticket in self._line.values() if ticket.waiting)

    # -- internals ----------------------------------------------------------------

    def _may_start(self, ticket: Ticket) -> bool:
        for earlier in self._line.values():
            if earlier is ticket:
                return True
            if ticket.claim.waits_for(earlier.claim):
                return False
        return True  # not in line: released meanwhile

    def _release(self, ticket: Ticket) -> None:
        if ticket._state is _State.RELEASED:
            return
        ticket._state = _State.RELEASED
        self._line.pop(ticket._number, None)
        # Earlier tickets only ever leave, so one that may start stays startable.
        for waiting in self._line.values():
            if waiting.waiting and not waiting._go.is_set() and self._may_start(waiting):
                waiting._go.set()
