"""The ``invite_reset`` job kind: a fresh invite link for every group of a run.

``/schedule <name> <when> reset-invite <target>`` makes one; ``/run`` names
the groups whose links die and asks first, like ``/invite … reset``;
``/job`` shows its ``announce`` option. Its reports count ``reset`` groups,
and with ``announce = true`` the new links are announced with the report
whatever ``notify`` says (:meth:`InviteReset.announcement`).

Per ``pending`` delivery, one group at a time (a random ``gap`` between two):
commit ``sending``, reset the link through the shared client, store the new
link (:meth:`bot.store.Store.record_invite_link`) and commit ``sent`` with
the link as the row's result. A reset kills the previous link, so it is
never repeated after an ambiguous failure: on ``OutcomeUnknown`` the current
link is *read* (a safe call) and stored instead, and the row is

- ``sent`` when that link differs from the last one we knew (the reset happened),
- ``failed`` (``NOT_RESET``) when it is still the link we knew,
- ``unknown`` when we knew no link before (either way, the link read is valid).

Rows a crash left in ``sending`` become ``unknown`` on start; when such a run
is resumed, their current link is read (never reset) so that the report and
the announcement show a working link. If the database refuses to record a
new link, it is kept in memory until it can be written
(:meth:`jobs.context.RunContext.record_outcome`) and the run stops.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar, Literal

from bot.jobconfig import JobConfig
from bot.services import explain, explain_unconfirmed_reset
from bot.usertext import excerpt
from bot.whatsapp.errors import OutcomeUnknown, PilotError
from jobs.context import INTERRUPTED, RunContext, error_code, is_number_wide
from jobs.kind_rules import KindName
from jobs.kinds.base import JobKind, RunPreview, named_groups
from jobs.outage import LateOutcome
from jobs.records import Delivery, Run

__all__ = ["InviteReset", "deliver_invite_reset"]


class InviteReset(JobKind):
    """Resets each group's invite link; announces the new links when ``announce = true``."""

    name: ClassVar[KindName] = "invite_reset"
    action: ClassVar[str] = "reset-invite"
    verb: ClassVar[str] = "reset the invite links of"
    done: ClassVar[str] = "reset"

    def tail_problem(self, text: str | None) -> str | None:
        if text:
            return f"reset-invite takes only a target; remove {excerpt(text)}"
        return None

    def option(self, job: JobConfig) -> str:
        return f"announce {'yes' if job.announce else 'no'}"

    def run_question(self, job: JobConfig, preview: RunPreview) -> str | None:
        """Like ``/invite … reset``: a reset kills live links, so name the groups and ask."""
        head = f"Run {preview.name} now (a manual run)?"
        if not preview.groups:
            return f"{head} Its targets ({', '.join(job.targets)}) have no group now."
        return (
            f"{head} It resets the invite links of {named_groups(preview.groups)}. "
            "Their current links will stop working."
        )

    def dry_run(self, job: JobConfig, group: tuple[str, str], when: datetime) -> str:
        return "the invite link would be reset (the current one stops working)"

    async def deliver(self, ctx: RunContext, run: Run, job: JobConfig) -> None:
        await deliver_invite_reset(ctx, run, job)

    def announcement(self, run: Run, job: JobConfig, deliveries: Sequence[Delivery]) -> str | None:
        """The new invite links of the run (None when there is none to show)."""
        if not job.announce:
            return None
        lines = []
        for delivery in deliveries:
            if not delivery.result:
                continue
            if delivery.state == "sent":
                lines.append(f"{delivery.label}: {delivery.result}")
            elif delivery.state == "unknown":
                note = "current link; the reset had no answer"
                lines.append(f"{delivery.label}: {delivery.result} ({note})")
        if not lines:
            return None
        return "\n".join([f"{run.job}: new invite links", *lines])


async def deliver_invite_reset(ctx: RunContext, run: Run, job: JobConfig) -> None:
    """Reset every ``pending`` row's link (returns early when stopping)."""
    await _read_interrupted(ctx, run)
    for index, row in enumerate(ctx.ledger.deliveries(run.id, "pending")):
        if ctx.stopping():
            return
        if index:
            await ctx.pause(job.gap)
            if ctx.stopping():
                return
        error = await _reset_one(ctx, run, row)
        if error is not None and is_number_wide(error):
            ctx.ledger.fail_pending(
                run.id,
                code=error_code(error),
                detail=f"not tried after a number-wide failure: {explain(error)}",
            )
            return


async def _read_interrupted(ctx: RunContext, run: Run) -> None:
    for row in ctx.ledger.deliveries(run.id, "unknown"):
        if row.code != INTERRUPTED or row.result:
            continue
        try:
            link = (await ctx.client.invite_link(row.group_id)).link
        except PilotError:
            continue  # the report still names the group as unknown
        ctx.store.record_invite_link(row.group_id, link)
        detail = "interrupted by a crash; not reset again. This is the current link"
        ctx.ledger.set_result(run.id, row.group_id, result=link, detail=detail)


async def _reset_one(ctx: RunContext, run: Run, row: Delivery) -> PilotError | None:
    previous = ctx.store.last_invite_link(row.group_id)
    ctx.ledger.mark_sending(run.id, row.group_id)  # refused: raises, nothing is reset
    try:
        fresh = await ctx.client.invite_link(row.group_id, reset=True)
    except OutcomeUnknown as exc:
        await _after_no_answer(ctx, run, row, previous, exc)
        return exc
    except PilotError as exc:
        ctx.done(run.id, row.group_id, "failed", code=error_code(exc), detail=explain(exc))
        return exc
    # the old link is dead now: if this is refused, the new one is kept in memory meanwhile
    ctx.record_outcome(
        LateOutcome(run.id, row.group_id, "sent", result=fresh.link, link=fresh.link)
    )
    return None


async def _after_no_answer(
    ctx: RunContext, run: Run, row: Delivery, previous: str | None, exc: OutcomeUnknown
) -> None:
    """The reset may or may not have happened: read the link, never reset again."""
    try:
        current = (await ctx.client.invite_link(row.group_id)).link
    except PilotError as read_error:
        detail = explain_unconfirmed_reset(read_error, check=f"/invite {row.group_id}")
        ctx.done(run.id, row.group_id, "unknown", code=error_code(exc), detail=detail)
        return
    state: Literal["sent", "failed", "unknown"]
    if previous is not None and current != previous:
        state, code = "sent", ""
        detail = "no answer to the reset, but the link has changed: it was reset"
    elif previous is not None:
        state, code = "failed", "NOT_RESET"
        detail = "no answer to the reset and the link is unchanged: not reset (not retried)"
    else:
        state, code = "unknown", error_code(exc)
        detail = "no answer to the reset; the link read afterwards is the current one"
    ctx.record_outcome(
        LateOutcome(run.id, row.group_id, state, code, detail, result=current, link=current)
    )
