"""The ``drift`` job kind: plan the groups file on a schedule and tell the notify chats.

Nothing is changed by it: a run reads the groups file (``membership.file``)
and the live groups, as ``grouppilot plan`` does, and records one ledger row
per declared group it checks:

- ``sent`` (reports count them ``in sync``): the live group matches the file;
- ``failed`` with code ``DRIFT``: the group differs; the row's detail counts
  the changes (``1 to add, 1 to remove``) and its result holds the plan's
  lines for that group;
- ``failed`` with code ``NOT_A_GROUP``: the file names an id that is not a
  group of this number (or a subject several groups share).

So a run with drift ends ``partial`` (some groups in sync) or ``failed``
(none), and ``notify = "failures"`` reports only the runs that found drift
(or could not check). With ``announce = true`` (the default) the plan of the
drifted groups goes out with the report whatever ``notify`` says, as an
invite reset's new links do; it is cut at a chat-sized length.

``targets`` are keys (or ids) of the groups file, or ``["all"]`` for every
declared group; they are read from the file when a run starts (the config
cannot check them: the file may change between runs). A missing or bad
groups file fails the run with its sentence; an API failure fails every row
with its code, like a broadcast's number-wide failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import ClassVar, Final

from bot.jobconfig import JobConfig
from bot.membership.model import DeclaredGroup, GroupsFile
from bot.membership.plan import compute_plan, counts_text, group_lines
from bot.membership.planning import NoPlan, capped, read_source
from bot.services import ALL, ResolveError, explain
from bot.usertext import excerpt
from bot.whatsapp.errors import PilotError
from jobs.context import RunContext, RunRefused, error_code
from jobs.kind_rules import KindName
from jobs.kinds.base import JobKind
from jobs.records import Delivery, Run

__all__ = ["DRIFT", "Drift", "row_id"]

DRIFT: Final = "DRIFT"
NOT_A_GROUP: Final = "NOT_A_GROUP"
NO_GROUPS_FILE: Final = "NO_GROUPS_FILE"


def row_id(group: DeclaredGroup) -> str:
    """The ledger's group id for a declared group: its id, or ``new:<key>`` without one."""
    return group.id if group.id is not None else f"new:{group.key}"


class Drift(JobKind):
    """Compares the live groups with the groups file; changes nothing."""

    name: ClassVar[KindName] = "drift"
    action: ClassVar[str] = "check-drift"
    verb: ClassVar[str] = "check against the groups file"
    done: ClassVar[str] = "in sync"

    def tail_problem(self, text: str | None) -> str | None:
        if text:
            return f"check-drift takes only a target; remove {excerpt(text)}"
        return None

    def option(self, job: JobConfig) -> str:
        return f"announce {'yes' if job.announce else 'no'}"

    def dry_run(self, job: JobConfig, group: tuple[str, str], when: datetime) -> str:
        return "would be compared with the groups file (nothing is changed)"

    async def run_groups(self, ctx: RunContext, job: JobConfig) -> list[tuple[str, str]] | None:
        declared, _ = await _read(ctx, ResolveError)
        if ALL in job.targets:
            chosen = list(declared.groups)
        else:
            chosen = []
            for target in job.targets:
                found = next((g for g in declared.groups if target in (g.key, g.id)), None)
                if found is None:
                    raise ResolveError(
                        f"{excerpt(target)} is not a group of the groups file {declared.path}"
                    )
                chosen.append(found)
        rows = {row_id(group): group.key for group in chosen}  # each group once, in order
        return list(rows.items())

    async def deliver(self, ctx: RunContext, run: Run, job: JobConfig) -> None:
        pending = ctx.ledger.deliveries(run.id, "pending")
        if not pending:
            return
        declared, owner = await _read(ctx, None)
        by_row = {row_id(group): group for group in declared.groups}
        checked = tuple(by_row[row.group_id] for row in pending if row.group_id in by_row)
        try:
            plan = await compute_plan(ctx.client, replace(declared, groups=checked), owner=owner)
        except PilotError as exc:
            ctx.ledger.fail_pending(run.id, code=error_code(exc), detail=explain(exc))
            return
        plans = {group.key: group for group in plan.groups}
        for row in pending:
            # Reads only were made: a crash before this leaves the row pending, checked again.
            ctx.ledger.mark_sending(run.id, row.group_id)
            group = by_row.get(row.group_id)
            if group is None:
                detail = "no longer in the groups file: not checked"
                ctx.done(run.id, row.group_id, "failed", code="NOT_DECLARED", detail=detail)
                continue
            planned = plans[group.key]
            problems = [note[2:] for note in planned.notes if note.startswith("! ")]
            if planned.changes:
                lines = "\n".join(group_lines(planned)[1:])
                detail = counts_text(planned.changes)
                ctx.done(run.id, row.group_id, "failed", code=DRIFT, detail=detail, result=lines)
            elif problems:
                ctx.done(run.id, row.group_id, "failed", code=NOT_A_GROUP, detail=problems[0])
            else:
                ctx.done(run.id, row.group_id, "sent", detail="in sync")

    def announcement(self, run: Run, job: JobConfig, deliveries: Sequence[Delivery]) -> str | None:
        """The plan of the drifted groups (None when every group checked is in sync)."""
        if not job.announce:
            return None
        drifted = [d for d in deliveries if d.state == "failed" and d.code == DRIFT]
        if not drifted:
            return None
        lines = [
            f"{run.job}: drift in {len(drifted)} of {len(deliveries)} groups "
            "(nothing was changed; /plan shows it, grouppilot apply makes the groups match)"
        ]
        for delivery in drifted:
            lines.append(f"{delivery.label}: {delivery.detail}")
            lines += delivery.result.splitlines()
        return capped("\n".join(lines))


async def _read(ctx: RunContext, error: type[ResolveError] | None) -> tuple[GroupsFile, str]:
    """The groups file and the owner's digits; a problem is ``error`` (None: RunRefused)."""
    try:
        if ctx.plan_source is None:
            raise NoPlan("No groups file: set membership.file in the config.")
        return await asyncio.to_thread(read_source, ctx.plan_source)
    except NoPlan as exc:
        if error is not None:
            raise error(str(exc)) from None
        raise RunRefused(NO_GROUPS_FILE, str(exc)) from None
