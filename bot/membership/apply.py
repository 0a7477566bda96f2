"""Carrying out a :class:`~bot.membership.model.Plan`: in the safe order, recorded, resumable.

The :class:`Applier` goes through the plan's groups one after the other and,
within a group, through :data:`~bot.membership.model.ORDER`: create, add,
promote, demote, remove (nobody is removed before everyone meant to be in is
in). All the numbers of one kind in one group go in one request (the API
takes a list), and the group is then read back: membership is judged by what
the group holds, never by the request's answer alone, as ``/add`` does.

Every step is a ``plan_steps`` row (:mod:`bot.membership.history`),
committed ``doing`` before its request and with its outcome after, and an
audit log entry (chat ``apply``). After a crash, :meth:`Applier.resume`
turns the steps left ``doing`` into ``unknown``: they are never repeated;
the next plan is computed from the live groups, which shows what they did.
An open run whose process is alive (``grouppilot apply`` beside the bot's
``/apply``) is running, not crashed: it is left alone and a second apply is
refused until it ends.

Safety, checked before the first request (the whole apply is refused, and
nothing changes, when one fails):

- the removal guard: no group may lose more than ``max_removal_share`` of
  its live members (``removals > share × members`` refuses: a group of 3
  at 0.25 may lose nobody, a group of 8 two), unless ``allow_removals`` is
  at least the number of removals of the whole plan (the admin names the
  count they have read);
- the key's owner is never removed or demoted;
- only groups the plan declares are touched (never one listed as undeclared).

A group's superadmin (its creator) is never removed or demoted either: such
a step fails on its own (the plan leaves them out; this is a second check).

A create is not safe to repeat (the API would make a second group): when it
gets no answer the step is ``unknown``, that group's other steps are not
done, and the report says to look at ``/groups`` before applying again.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from bot.membership import history
from bot.membership.model import Change, ChangeKind, GroupPlan, Plan
from bot.services import explain, utc_now, utc_text
from bot.store import Store
from bot.whatsapp.client import WhatsAppClient
from bot.whatsapp.errors import ApiError, OutcomeUnknown, PilotError
from bot.whatsapp.identifiers import PhoneNumber
from bot.whatsapp.models import Group

__all__ = ["Applier", "ApplyReport", "StepResult", "removal_refusal"]


Outcome = Literal["done", "failed", "unknown"]
_NOT_ADDED = "not added: likely their privacy settings, or the number is not on WhatsApp"
# The runs this process is carrying out now: an open run of this pid that is
# not here was left by an earlier process with the same pid (a container's
# pid 1 restarted), so it is a crash leftover.
_RUNNING_HERE: set[int] = set()
_INTERRUPTED = "interrupted mid-request: outcome unknown; the group is read again, not repeated"


@dataclass(frozen=True)
class StepResult:
    """What one step came to: ``number`` is empty for a create."""

    key: str
    kind: ChangeKind
    number: str
    outcome: Outcome | Literal["skipped"]
    detail: str = ""

    @property
    def line(self) -> str:
        who = f"+{self.number}" if self.number else ""
        target = f" {who}" if who else ""
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.key}: {self.kind}{target} {self.outcome}{detail}"


@dataclass
class ApplyReport:
    """Everything an apply did, for the CLI and ``/apply`` to show."""

    run_id: int = 0
    refused: str = ""  # the guard's sentence: nothing was done
    steps: list[StepResult] = field(default_factory=list)
    created: dict[str, str] = field(default_factory=dict)  # key -> new group id
    invite: dict[str, list[str]] = field(default_factory=dict)  # key -> numbers not added
    unknown_creates: list[str] = field(default_factory=list)  # keys

    @property
    def ok(self) -> bool:
        return not self.refused and all(step.outcome == "done" for step in self.steps)

    def lines(self) -> list[str]:
        """The report: per step, then what the admin should do next."""
        if self.refused:
            return [self.refused]
        out = [step.line for step in self.steps]
        for key, gid in self.created.items():
            out.append(f'Created {key}: add `id = "{gid}"` to [groups.{key}] in the groups file.')
        for key, numbers in self.invite.items():
            listed = " ".join(f"+{n}" for n in numbers)
            where = self.created.get(key, key)  # a new group has no alias yet: its id
            out.append(f"{key}: send them the invite link: /invite {where} send {listed}")
        for key in self.unknown_creates:
            out.append(
                f"{key}: the create got no answer and may have happened: check /groups "
                "before applying again (add its id to the file if it exists)."
            )
        return out


def removal_refusal(plan: Plan, max_share: float, allow_removals: int = 0) -> str:
    """The sentence refusing the plan's removals, or "" when the guard lets it through."""
    total = sum(group.removals for group in plan.groups)
    if total == 0 or allow_removals >= total:
        return ""
    over = [g for g in plan.groups if g.removals > max_share * g.live_members]
    if not over:
        return ""
    named = "; ".join(
        f"{g.key} would lose {g.removals} of {g.live_members} members"
        f" ({_percent(g.removals, g.live_members)})"
        for g in over
    )
    given = f" (--allow-removals {allow_removals} is fewer)" if allow_removals else ""
    return (
        f"Refused: {named}, more than membership.max_removal_share ({max_share:.0%}). "
        f"Nothing was changed. The plan removes {_people(total)} in all: to go ahead, "
        f"apply with --allow-removals {total}{given}."
    )


def _people(count: int) -> str:
    return "1 person" if count == 1 else f"{count} people"


def _percent(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "all"


class Applier:
    """Applies plans through the one client, recording each step in the store."""

    def __init__(
        self,
        store: Store,
        client: WhatsAppClient,
        *,
        clock: Callable[[], datetime] = utc_now,
        owner: str = "",
        max_removal_share: float = 0.25,
    ) -> None:
        self._store = store
        self._db = store.db
        self._client = client
        self._clock = clock
        self._owner = owner  # E.164 digits of the key's number ("" : not known)
        self._max_share = max_removal_share
        history.ensure_schema(self._db)

    def _now(self) -> str:
        return utc_text(self._clock())

    def resume(self, *, by: str = "") -> list[history.StepRow]:
        """End the runs a crash left open; the steps whose outcome is unknown.

        They are not repeated: the next plan, computed from the live groups,
        sees what they did.
        """
        unknown: list[history.StepRow] = []
        for run_id, pid in history.unfinished_runs(self._db):
            if _still_running(run_id, pid):
                continue
            rows = history.interrupt(self._db, run_id, self._now(), _INTERRUPTED)
            for row in rows:
                self._audit(by, row.kind, row.group_key, row.number, "unknown", _INTERRUPTED)
            unknown += rows
        return unknown

    def refusal(self, plan: Plan, allow_removals: int = 0) -> str:
        """Why the whole plan may not be applied ("" when it may)."""
        running = [
            pid for run_id, pid in history.unfinished_runs(self._db) if _still_running(run_id, pid)
        ]
        if running:
            return (
                f"Refused: another apply is running (process {running[0]}); "
                "apply again when it has finished. Nothing was changed."
            )
        guard = removal_refusal(plan, self._max_share, allow_removals)
        if guard:
            return guard
        undeclared = {gid for gid, _name in plan.undeclared}
        for group in plan.groups:
            if group.group_id is not None and group.group_id in undeclared:
                return (
                    f"Refused: {group.key} ({group.group_id}) is not declared. Nothing was changed."
                )
            for change in group.changes:
                if change.kind in ("remove", "demote") and self._owner == change.number:
                    return (
                        f"Refused: the plan would {change.kind} +{change.number}, the number "
                        f"that owns the API key, in {group.key}. Nothing was changed."
                    )
        return ""

    async def apply(self, plan: Plan, *, by: str, allow_removals: int = 0) -> ApplyReport:
        """Carry out ``plan`` (after the safety checks); the report."""
        refused = self.refusal(plan, allow_removals)
        if refused:
            history.record_refusal(self._db, by=by, now=self._now(), summary=refused)
            self._store.audit(
                chat="apply", who=by, command="apply", outcome="refused", detail=refused
            )
            return ApplyReport(refused=refused)
        groups = [g for g in plan.groups if g.changes]
        steps = [
            (g.key, g.group_id or "", change.kind, change.number)
            for g in groups
            for change in _ordered(g.changes)
        ]
        report = ApplyReport()
        run_id = history.start_run(self._db, by=by, now=self._now(), steps=steps, pid=os.getpid())
        report.run_id = run_id
        _RUNNING_HERE.add(run_id)
        try:
            position = 0
            for group in groups:
                changes = _ordered(group.changes)
                await _GroupRun(self, report, run_id, position, group, by).run(changes)
                position += len(changes)
        finally:
            _RUNNING_HERE.discard(run_id)
        done = sum(1 for s in report.steps if s.outcome == "done")
        outcome: history.RunOutcome = "ok" if report.ok else ("partial" if done else "failed")
        summary = f"{done} of {len(report.steps)} steps done"
        history.finish_run(self._db, run_id, outcome, summary, self._now())
        return report

    def _audit(self, by: str, kind: str, key: str, number: str, outcome: str, detail: str) -> None:
        who = f" +{number}" if number else ""
        self._store.audit(
            chat="apply",
            who=by,
            command=f"{kind} {key}{who}",
            outcome="ok" if outcome == "done" else outcome,
            detail=detail,
        )


def _still_running(run_id: int, pid: int) -> bool:
    """Whether an open run is being carried out now (here, or by another live process)."""
    if pid == os.getpid():
        return run_id in _RUNNING_HERE
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists (another user's process)
    return True


def _ordered(changes: Sequence[Change]) -> list[Change]:
    """The changes in the safe order (the plan gives them so; this makes sure)."""
    rank = {"create": 0, "add": 1, "promote": 2, "demote": 3, "remove": 4}
    return sorted(changes, key=lambda change: rank[change.kind])


class _GroupRun:
    """One group's steps: one request per kind, then the group read back."""

    def __init__(
        self,
        applier: Applier,
        report: ApplyReport,
        run_id: int,
        first: int,
        group: GroupPlan,
        by: str,
    ) -> None:
        self.a, self.report, self.run_id, self.first = applier, report, run_id, first
        self.group, self.by = group, by
        self.group_id = group.group_id or ""

    def _finish(
        self, position: int, change: Change, outcome: Outcome, detail: str, **kw: str
    ) -> None:
        a = self.a
        history.mark_outcome(a._db, self.run_id, position, outcome, detail, a._now(), **kw)
        a._audit(self.by, change.kind, self.group.key, change.number, outcome, detail)
        self.report.steps.append(
            StepResult(self.group.key, change.kind, change.number, outcome, detail)
        )

    def _skip(self, batch: Sequence[tuple[int, Change]], why: str) -> None:
        for _position, change in batch:
            self.report.steps.append(
                StepResult(self.group.key, change.kind, change.number, "skipped", why)
            )

    async def run(self, changes: list[Change]) -> None:
        indexed = list(enumerate(changes, start=self.first))
        kinds: list[ChangeKind] = ["create", "add", "promote", "demote", "remove"]
        for number, kind in enumerate(kinds):
            batch = [(p, c) for p, c in indexed if c.kind == kind]
            if not batch:
                continue
            if not await self._do(kind, batch):
                rest = [(p, c) for p, c in indexed if kinds.index(c.kind) > number]
                self._skip(rest, "not done: an earlier step of this group did not go through")
                return

    async def _do(self, kind: ChangeKind, batch: list[tuple[int, Change]]) -> bool:
        """One request for the batch; False when the group's other steps must not go on."""
        a = self.a
        if kind == "create":
            return await self._create(batch[0])
        if not self.group_id:
            self._skip(batch, "not done: the group has no id")
            return False
        if kind in ("remove", "demote"):
            batch = await self._without_superadmins(kind, batch)
            if not batch:
                return True
        history.mark_doing(a._db, self.run_id, [p for p, _ in batch], self.group_id, a._now())
        numbers = [PhoneNumber(c.number) for _, c in batch]
        error: PilotError | None = None
        try:
            if kind == "add":
                await a._client.add_participants(self.group_id, numbers)
            elif kind == "remove":
                await a._client.remove_participants(self.group_id, numbers)
            elif kind == "promote":
                await a._client.promote(self.group_id, numbers)
            else:
                await a._client.demote(self.group_id, numbers)
        except PilotError as exc:  # judged by the read below: some may have gone through
            error = exc
        try:
            after = await a._client.get_group(self.group_id)
        except PilotError as exc:
            why = f"outcome unknown: the group could not be read back ({explain(exc)})"
            for position, change in batch:
                self._finish(position, change, "unknown", why)
            return False
        all_done = True
        for position, change in batch:
            outcome, detail = _judge(kind, change.number, after, error)
            all_done &= outcome == "done"
            self._finish(position, change, outcome, detail)
            if kind == "add" and outcome == "failed" and error is None:
                self.report.invite.setdefault(self.group.key, []).append(change.number)
        return error is None or all_done

    async def _without_superadmins(
        self, kind: ChangeKind, batch: list[tuple[int, Change]]
    ) -> list[tuple[int, Change]]:
        """The batch without the group's superadmin (refused here, without a request).

        The plan leaves them out already; this reads the group to make sure.
        A read that fails leaves the batch as it is (the API keeps its creator anyway).
        """
        try:
            before = await self.a._client.get_group(self.group_id)
        except PilotError:
            return batch
        kept = []
        for position, change in batch:
            if before.role_of(PhoneNumber(change.number)) == "superadmin":
                history.mark_doing(
                    self.a._db, self.run_id, [position], self.group_id, self.a._now()
                )
                why = f"refused: the group's superadmin (its creator) is never {kind}d"
                self._finish(position, change, "failed", why)
            else:
                kept.append((position, change))
        return kept

    async def _create(self, step: tuple[int, Change]) -> bool:
        a, (position, change) = self.a, step
        subject = change.detail or self.group.subject
        history.mark_doing(a._db, self.run_id, [position], "", a._now())
        try:
            created = await a._client.create_group(subject, [])
        except OutcomeUnknown as exc:
            self.report.unknown_creates.append(self.group.key)
            self._finish(position, change, "unknown", f"{explain(exc)} Check /groups first.")
            return False
        except PilotError as exc:
            self._finish(position, change, "failed", explain(exc))
            return False
        self.group_id = created.id
        self.report.created[self.group.key] = created.id
        self._finish(position, change, "done", f"created {created.id}", group_id=created.id)
        return True


def _judge(
    kind: ChangeKind, number: str, after: Group, error: PilotError | None
) -> tuple[Outcome, str]:
    """One number's outcome, from the group as read after the request."""
    phone = PhoneNumber(number)
    role = after.role_of(phone)
    if kind == "add":
        ok, miss = role is not None, _NOT_ADDED
    elif kind == "remove":
        ok, miss = role is None, "still a member (the API did not remove them)"
        if role == "superadmin":
            miss = "the group's superadmin (its creator) cannot be removed"
    elif kind == "promote":
        ok, miss = role in ("admin", "superadmin"), f"still {role or 'not a member'}"
    else:
        ok, miss = role == "member", f"still {role or 'not a member'}"
        if role == "superadmin":
            miss = "the group's superadmin (its creator) cannot be demoted"
    if ok:
        return "done", ""
    if error is not None and not isinstance(error, ApiError):
        return "failed", f"{miss}; {explain(error)}"
    if error is not None:
        return "failed", explain(error)
    return "failed", miss
