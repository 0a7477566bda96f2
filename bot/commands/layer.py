"""The command layer every front end shares: parse -> authorize -> confirm? -> execute -> reply.

`CommandLayer.execute` never raises: bad input, refusals, API failures and
our own bugs all become a `Reply` ("internal error, logged as <id>" for the
last, with the traceback in the log). Every command, allowed or refused, is
written to the audit log. A command that needs confirmation returns a
`Pending`; its action runs once, on `confirm` by someone with admin rights
in the same chat, within five minutes.

Commands may run side by side. A front end that does so calls `admit` (or
`admit_confirmation`) the moment a command arrives, before awaiting anything,
and passes the `Ticket` to `execute` (or `confirm`): the command then waits
only for earlier commands that change what it reads or changes
(`bot.commands.ordering`). Refusals and usage errors never wait. A command
cancelled once started (the bot is stopping) is audited as interrupted, and
`interrupted_text` says what the chat should be told. A command that would
change something but arrives older than `max_command_age` (sent while the bot
was down) is not run: the sender is told so.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot import metrics
from bot.commands.catalog import build_registry
from bot.commands.claims import claim_of
from bot.commands.context import (
    Action,
    Attachment,
    CommandOptions,
    Confirmation,
    Context,
    SendFollower,
)
from bot.commands.ordering import Claim, CommandOrder, Ticket
from bot.commands.parsing import ParseError, split_args, split_command
from bot.commands.registry import CommandSpec, Registry
from bot.commands.types import Outcome, Pending, Principal, Reply, Rights
from bot.logs import log_context
from bot.services import GroupDirectory, Refusal, explain, utc_now
from bot.storage_errors import fault_text, is_storage_fault
from bot.store import Store
from bot.whatsapp.client import WhatsAppClient
from bot.whatsapp.errors import PilotError
from jobs.scheduler import JobScheduler

log = logging.getLogger(__name__)

# A full disk, a read-only or damaged file: the command may have got part way.
_STORAGE_FAULT = (
    "The bot's database failed ({cause}), so this command may not have been completed or "
    "recorded: free disk space or fix the database file, then check (/jobs, /log) before "
    "repeating it."
)
CONFIRM_TTL = 300.0  # seconds a Confirm button stays valid
MAX_COMMAND_AGE = timedelta(minutes=10)  # older changes (sent while down) are not run
_MAX_PENDING = 1000

# The audit's outcome -> the `outcome` label of grouppilot_commands (a small set).
_OUTCOME_LABELS = {
    "ok": "ok",
    "failed": "failed",
    "denied: no rights": "denied",
    "refused: viewer": "refused",
    "refused: confirm not allowed": "refused",
    "unparseable": "usage",
    "usage": "usage",
    "unknown command": "unknown",
    "not run: too old": "too_old",
    "awaiting confirmation": "awaiting_confirmation",
    "confirmed: ok": "confirmed",
    "confirmed: failed": "confirmed_failed",
    "cancelled": "cancelled",
    "expired": "expired",
    "interrupted": "interrupted",
}


@dataclass
class _PendingAction:
    pending: Pending
    principal: Principal
    action: Action
    expires: float
    claim: Claim  # what the action changes (the command's claim)
    declined: str  # what Cancel or expiry says stands


class CommandLayer:
    """Runs admin commands for any front end."""

    def __init__(
        self,
        *,
        options: CommandOptions,
        client: WhatsAppClient,
        store: Store,
        directory: GroupDirectory,
        scheduler: JobScheduler | None = None,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        registry: Registry | None = None,
        max_command_age: timedelta = MAX_COMMAND_AGE,
        follower: SendFollower | None = None,
    ) -> None:
        """Complete on return: `bot.runtime` builds the parts and hands them in.

        `scheduler` is None where commands run without one (some tests): job
        commands then say so.
        """
        self.options = options
        self.client = client
        self.store = store
        self.directory = directory
        self.scheduler = scheduler
        self.clock = clock
        self.monotonic = monotonic
        self.registry = registry or build_registry()
        self.started_at = clock()
        self.max_command_age = max_command_age
        self.follower = follower
        self.order = CommandOrder()
        self._pending: dict[str, _PendingAction] = {}

    # -- entry points -------------------------------------------------------------

    def admit(self, text: str) -> Ticket:
        """The place in line of the command `text`, arriving now (call before any await)."""
        return self.order.admit(claim_of(text, self.registry, self.directory), text)

    def admit_confirmation(self, token: str) -> Ticket:
        """The place in line of a Confirm press for `token`, arriving now."""
        entry = self._pending.get(token)
        if entry is None:  # unknown or used: it will be refused without waiting
            return self.order.admit(Claim(), "")
        claim = Claim(entry.claim.keys, changes=True)
        return self.order.admit(claim, entry.pending.command)

    async def execute(
        self,
        text: str,
        principal: Principal,
        *,
        ticket: Ticket | None = None,
        sent_at: datetime | None = None,
        attachment: Attachment | None = None,
    ) -> Outcome:
        """Run one command typed by `principal`, in its turn (`ticket`, else admitted now).

        `sent_at` is when the command was sent, if the front end knows (a
        command that would change something is not run when it is too old).
        `attachment` is a file posted with the command (a photo captioned
        `/send …`); commands that take none ignore it.
        """
        ticket = ticket if ticket is not None else self.admit(text)
        try:
            return await self._execute(text, principal, ticket, sent_at, attachment)
        finally:
            ticket.release()

    async def _execute(
        self,
        text: str,
        principal: Principal,
        ticket: Ticket,
        sent_at: datetime | None,
        attachment: Attachment | None,
    ) -> Outcome:
        if principal.rights <= Rights.NONE:
            return self._finish(principal, text, Reply.nothing(), "denied: no rights")
        try:
            line = split_command(text)
        except ParseError as exc:
            return self._finish(principal, text, Reply.failed(str(exc)), "unparseable")
        spec = self.registry.get(line.name)
        if spec is None:
            reply = Reply.failed(self.registry.unknown_text(line.name, principal.rights))
            return self._finish(principal, text, reply, "unknown command")
        if principal.rights < spec.rights:
            reply = Reply.failed(f"/{spec.name} needs admin rights; you have read-only access.")
            return self._finish(principal, text, reply, "refused: viewer")
        stale = self._too_old(sent_at) if spec.changes else None
        if stale is not None:
            return self._finish(principal, text, Reply.failed(stale), "not run: too old")
        try:
            args = split_args(line.rest, free_text_after=spec.free_text_after)
        except ParseError as exc:
            return self._finish(principal, text, Reply.failed(str(exc)), "unparseable")
        problem = spec.arity_problem(args)
        if problem is not None:
            reply = Reply.failed(f"{problem.capitalize()}. Usage: {spec.usage_line}")
            return self._finish(principal, text, reply, "usage")
        return await self._run(spec, args, principal, text, ticket, attachment)

    async def confirm(
        self, token: str, principal: Principal, *, ticket: Ticket | None = None
    ) -> Reply:
        """Carry out a pending action (once), if `principal` may, in its turn."""
        ticket = ticket if ticket is not None else self.admit_confirmation(token)
        try:
            return await self._confirm(token, principal, ticket)
        finally:
            ticket.release()

    async def _confirm(self, token: str, principal: Principal, ticket: Ticket) -> Reply:
        entry, refusal = self._claim(token, principal)
        if entry is None:
            assert refusal is not None
            return refusal
        command = entry.pending.command
        result = await self._in_turn(ticket, principal, command, entry.action)
        # An action is a finished deed: it never asks again.
        reply = result if isinstance(result, Reply) else Reply.failed("Nothing was done.")
        self._audit(principal, command, "confirmed: " + ("ok" if reply.ok else "failed"), reply)
        return reply

    async def cancel(self, token: str, principal: Principal) -> Reply:
        """Drop a pending action; nothing was changed."""
        entry, refusal = self._claim(token, principal)
        if entry is None:
            assert refusal is not None
            return refusal
        reply = Reply(f"Cancelled. {entry.declined}")
        self._audit(principal, entry.pending.command, "cancelled", reply)
        return reply

    def commands_for(self, rights: Rights) -> list[CommandSpec]:
        """The commands someone with `rights` may run (Telegram's command menu)."""
        return self.registry.allowed(rights)

    def interrupted_text(self, command: str, *, changes: bool | None = None) -> str:
        """What to tell a chat whose `command` was cut off by a stop (or a crash).

        `changes`: whether it could have changed anything (default: what the
        command's definition says).
        """
        if changes is None:
            changes = claim_of(command, self.registry, self.directory).changes
        shown = command if len(command) <= 200 else command[:199] + "…"
        if changes:
            return (
                f"Interrupted: the bot stopped while running {shown}. It may have been "
                "partly done: check (/log, /group) before sending it again."
            )
        return (
            f"Interrupted: the bot stopped while running {shown}. Nothing was changed; "
            "send it again once the bot is back."
        )

    # -- internals ----------------------------------------------------------------

    async def _run(
        self,
        spec: CommandSpec,
        args: list[str],
        principal: Principal,
        text: str,
        ticket: Ticket,
        attachment: Attachment | None,
    ) -> Outcome:
        context = Context(
            options=self.options,
            client=self.client,
            store=self.store,
            directory=self.directory,
            principal=principal,
            clock=self.clock,
            started_at=self.started_at,
            command_text=text,
            registry=self.registry,
            scheduler=self.scheduler,
            attachment=attachment,
            follower=self.follower,
        )
        result = await self._in_turn(ticket, principal, text, lambda: spec.handler(context, args))
        if isinstance(result, Confirmation):
            pending = self._remember(result, principal, text, ticket.claim)
            self._audit(principal, text, "awaiting confirmation", None)
            return pending
        outcome = "ok" if result.ok else "failed"
        return self._finish(principal, text, result, outcome)

    async def _in_turn(
        self,
        ticket: Ticket,
        principal: Principal,
        command: str,
        call: Callable[[], Awaitable[Reply | Confirmation]],
    ) -> Reply | Confirmation:
        """Wait for `ticket`'s turn, then run `call`; a cut-off run is audited as interrupted."""
        await self.order.turn(ticket)
        try:
            with log_context(command=self._metric_name(command)):  # on every line logged inside
                return await self._guarded(call, command)
        except asyncio.CancelledError:
            self._audit(principal, command, "interrupted", None)
            raise

    def _too_old(self, sent_at: datetime | None) -> str | None:
        """Why a change sent at `sent_at` is not run now, or None when it is recent enough."""
        if sent_at is None:
            return None
        age = self.clock() - sent_at
        if age <= self.max_command_age:
            return None
        minutes = int(age.total_seconds() // 60)
        return (
            f"Not run: this command was sent {minutes} minutes ago, while the bot was "
            "stopped, and changes are not made that late. Send it again if it is still needed."
        )

    async def _guarded(
        self, call: Callable[[], Awaitable[Reply | Confirmation]], command: str
    ) -> Reply | Confirmation:
        try:
            result = await call()
        except PilotError as exc:
            return Reply.failed(explain(exc))
        except Refusal as exc:  # the one place a refusal becomes a reply
            return Reply.failed(str(exc))
        except Exception as exc:
            if is_storage_fault(exc):
                log.error("the database failed while running %r: %s", command, fault_text(exc))
                return Reply.failed(_STORAGE_FAULT.format(cause=fault_text(exc)))
            incident = secrets.token_hex(4)
            log.exception("internal error %s while running %r", incident, command)
            return Reply.failed(f"Internal error, logged as {incident}. Nothing else was affected.")
        return result

    def _remember(
        self, confirmation: Confirmation, principal: Principal, text: str, claim: Claim
    ) -> Pending:
        now = self.monotonic()
        self._pending = {t: e for t, e in self._pending.items() if e.expires > now}
        if len(self._pending) >= _MAX_PENDING:  # bounded: the oldest question goes
            self._pending.pop(next(iter(self._pending)))
        token = secrets.token_urlsafe(9)
        pending = Pending(token=token, question=confirmation.question, command=text)
        self._pending[token] = _PendingAction(
            pending, principal, confirmation.action, now + CONFIRM_TTL, claim, confirmation.declined
        )
        return pending

    def _claim(
        self, token: str, principal: Principal
    ) -> tuple[_PendingAction | None, Reply | None]:
        entry = self._pending.get(token)
        if entry is None:
            return None, Reply.failed("That confirmation was already used or has expired.")
        if principal.rights < Rights.ADMIN or principal.chat != entry.principal.chat:
            self._audit(principal, entry.pending.command, "refused: confirm not allowed", None)
            return None, Reply.failed("Not allowed: only an admin of this chat can confirm.")
        del self._pending[token]  # one-shot, whatever happens next
        if self.monotonic() > entry.expires:
            reply = Reply.failed(f"That confirmation has expired. {entry.declined}")
            self._audit(principal, entry.pending.command, "expired", reply)
            return None, reply
        return entry, None

    def _finish(self, principal: Principal, text: str, reply: Reply, outcome: str) -> Reply:
        self._audit(principal, text, outcome, reply)
        return reply

    def _audit(self, principal: Principal, command: str, outcome: str, reply: Reply | None) -> None:
        metrics.COMMANDS.labels(
            self._metric_name(command), _OUTCOME_LABELS.get(outcome, "other")
        ).inc()
        detail = "" if reply is None or reply.ok else reply.text[:500]
        try:
            self.store.audit(
                chat=principal.chat,
                who=principal.who,
                command=command[:1000],
                outcome=outcome,
                detail=detail,
            )
        except Exception:  # the audit log must never take a command down with it
            log.exception("could not write the audit log for %r", command)

    def _metric_name(self, command: str) -> str:
        """The command's name in the catalog, or "unknown" (label values stay bounded)."""
        try:
            spec = self.registry.get(split_command(command).name)
        except ParseError:
            return "unknown"
        return spec.name if spec is not None else "unknown"
