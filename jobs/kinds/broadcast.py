"""The ``broadcast`` job kind: send a job's content to every group of a run's ledger.

The content is the job's one mode: a ``text``, a ``template`` with its
``variables``, or ``media`` (a URL and ``media_type``) with a ``caption``;
placeholders in the text, the variables and the caption are filled per group
(:func:`bot.jobconfig.render_text` with the group's name and the run's
scheduled time in the job's zone). ``/schedule <name> <when> send <target>
<text…>`` makes a text one; ``/run`` checks a template online
(:meth:`Broadcast.preflight`), names the groups, shows the first one's
message rendered and asks before a manual run (``--dry-run``: every group's
message, nothing sent); ``/job`` shows its ``pin`` option.

A template job reads its template once, before the first send of a run
(only when rows are pending), and checks every group's variables against
it: a template that is unknown or not sendable, or a variable missing,
unknown or empty for any group, refuses the whole run
(:class:`jobs.context.RunRefused`) and nothing is sent. The provider would
otherwise refuse each group's send in turn.

For each ``pending`` delivery of the run, in order: commit the row as
``sending``, send through the one shared client (its rate and concurrency
caps hold across commands and jobs), then commit ``sent`` (the API queued
it; reports say ``queued``), with the message id, also kept as the group's
last send for ``/pin <group> last``, ``failed`` (with the code) or
``unknown`` (no answer: it may have gone out; never resent). With
``pin = true`` each sent message is pinned; a failed pin is noted on the row
and reported, the message still counts as sent.

With a ``gap`` one sender works through the list and pauses a random time
up to ``gap`` between two sends; without one, up to ``RunContext.parallel``
senders share the list (the client's caps still bound them). Before each
send the scheduler's stop flag is checked: a shutdown leaves the remaining
rows ``pending``, to be resumed on the next start. A number-wide failure
stops the run and marks the remaining rows failed with its code; a run that
starts while the number is known disconnected (:mod:`jobs.connection`) is
refused before its first send: every row fails with
``WHATSAPP_INSTANCE_NOT_CONNECTED`` and the report says why. A send that goes
through tells the connection state the number is connected. Any other
error of one sender (the database refusing a write, a bug) stops every
sender before its next send; the requests in flight finish, and the error
is raised for the run to handle once they have.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from bot.jobconfig import JobConfig, render_text
from bot.logs import log_context
from bot.placeholders import check_text
from bot.services import TemplateRefused, checked_template, explain, variables_problem
from bot.whatsapp.client import WhatsAppClient
from bot.whatsapp.content import Content, Media, TemplateMessage, Text
from bot.whatsapp.errors import InvalidInput, OutcomeUnknown, PilotError
from jobs.context import RunContext, RunRefused, error_code, is_number_wide
from jobs.kind_rules import KindName
from jobs.kinds.base import JobKind, RunPreview, named_groups
from jobs.outage import LateOutcome
from jobs.records import Delivery, Run
from jobs.schedule import load_zone

__all__ = ["Broadcast", "deliver_broadcast"]

PREVIEW = 200  # characters of the text /run shows before asking
TEMPLATE_REFUSED = "TEMPLATE_REFUSED"  # the code of every row of a run refused before any send
NOT_CONNECTED = "WHATSAPP_INSTANCE_NOT_CONNECTED"  # every row of a run refused while disconnected

Compose = Callable[[Delivery], Content]


class Broadcast(JobKind):
    """Sends the job's text, template or media (rendered per group), pinned when ``pin = true``."""

    name: ClassVar[KindName] = "broadcast"
    action: ClassVar[str] = "send"
    verb: ClassVar[str] = "send to"
    done: ClassVar[str] = "queued"  # the API answers QUEUED: delivery is only known later

    def tail_problem(self, text: str | None) -> str | None:
        if not (text or "").strip():
            return "give the text to send after the target"
        return None

    def option(self, job: JobConfig) -> str:
        return f"pin {'yes' if job.pin else 'no'}"

    def run_question(self, job: JobConfig, preview: RunPreview) -> str | None:
        """The groups it sends to, and the first one's message as it would get it."""
        head = f"Run {preview.name} now (a manual run)?"
        if not preview.groups:
            return f"{head} Its targets ({', '.join(job.targets)}) have no group now."
        first = preview.groups[0]
        return (
            f"{head} It sends to {named_groups(preview.groups)}.\n"
            f"Example, as {first[1] or first[0]} gets it:\n{self.dry_run(job, first, preview.when)}"
        )

    def dry_run(self, job: JobConfig, group: tuple[str, str], when: datetime) -> str:
        """The group's message: text, template and variables, or media and caption, filled."""
        try:
            return _shown_content(job, group=group[1] or group[0], when=when)
        except ValueError as exc:  # a placeholder this group's values cannot fill
            return f"(not sendable: {exc})"

    async def preflight(self, client: WhatsAppClient, job: JobConfig) -> str | None:
        """A template job's template, read and checked online (variables on sample values)."""
        if job.template is None:
            return None
        try:
            variables = {name: check_text(value) for name, value in (job.variables or {}).items()}
        except ValueError as exc:  # validated in the config; a stored job may predate a rule
            return f"Template {job.template}: {exc}. Nothing was sent."
        try:
            await checked_template(client, job.template, variables)
        except TemplateRefused as exc:
            return str(exc)
        except PilotError as exc:
            return f"Template {job.template}: {explain(exc)} Nothing was sent."
        return None

    async def deliver(self, ctx: RunContext, run: Run, job: JobConfig) -> None:
        await deliver_broadcast(ctx, run, job)


@dataclass
class _Abort:
    error: PilotError | None = None  # number-wide: the remaining rows fail with its code
    fault: Exception | None = None  # anything else: raised once every sender stopped

    @property
    def stop(self) -> bool:
        return self.error is not None or self.fault is not None


async def deliver_broadcast(ctx: RunContext, run: Run, job: JobConfig) -> None:
    """Send to every ``pending`` row of ``run`` (returns early when stopping).

    Raises :class:`RunRefused` before any send when a template job's
    template or variables are wrong (nothing of the run is sent).
    """
    when = run.scheduled.astimezone(load_zone(job.timezone))
    queue = deque(ctx.ledger.deliveries(run.id, "pending"))
    if not queue:
        return
    _refuse_while_disconnected(ctx)
    compose = await _composer(ctx, job, when, list(queue))
    senders = 1 if job.gap.total_seconds() > 0 else max(1, min(ctx.parallel, len(queue)))
    abort = _Abort()

    async def sender() -> None:
        first = True
        while queue and not ctx.stopping() and not abort.stop:
            if not first:
                await ctx.pause(job.gap)
                if ctx.stopping() or abort.stop or not queue:
                    return
            first = False
            row = queue.popleft()
            try:
                with log_context(group=row.group_id):  # on what the client logs for this send
                    await _send_one(ctx, run, job, row, compose, abort)
            except Exception as exc:
                abort.fault = abort.fault or exc
                return

    await asyncio.gather(*(sender() for _ in range(senders)))
    if abort.fault is not None:
        raise abort.fault
    if abort.error is not None:
        ctx.ledger.fail_pending(
            run.id,
            code=error_code(abort.error),
            detail=f"not tried after a number-wide failure: {explain(abort.error)}",
        )


async def _composer(
    ctx: RunContext, job: JobConfig, when: datetime, rows: Sequence[Delivery]
) -> Compose:
    """What each group gets: the job's one content mode, its placeholders filled per group."""
    if job.template is not None:
        template_id = job.template
        variables = await _checked_variables(ctx, job, template_id, when, rows)
        return lambda row: TemplateMessage(template_id, variables[row.group_id])
    if job.media is not None and job.media_type is not None:
        media, media_type, caption = job.media, job.media_type, job.caption or ""
        return lambda row: Media(
            media, media_type, caption=render_text(caption, group=_name(row), when=when)
        )
    if job.text is None:  # validated away for broadcasts; keep mypy and readers sure
        raise ValueError(f"broadcast job {job.name!r} has no content")
    text = job.text
    return lambda row: Text(render_text(text, group=_name(row), when=when))


async def _checked_variables(
    ctx: RunContext, job: JobConfig, template_id: str, when: datetime, rows: Sequence[Delivery]
) -> Mapping[str, dict[str, str]]:
    """Every group's variables, checked against the template read once; else RunRefused.

    The provider would check them on each send and fail every group one by
    one; checked here, a wrong variable fails the run before anything is sent.
    """
    variables: dict[str, dict[str, str]] = {}
    for row in rows:
        try:
            variables[row.group_id] = {
                name: render_text(value, group=_name(row), when=when)
                for name, value in (job.variables or {}).items()
            }
        except ValueError as exc:
            raise RunRefused(
                TEMPLATE_REFUSED, f"Template {template_id}: {exc}. Nothing was sent."
            ) from None
    first = variables[rows[0].group_id]
    try:
        template = await checked_template(ctx.client, template_id, first)
    except TemplateRefused as exc:
        raise RunRefused(TEMPLATE_REFUSED, str(exc)) from None
    except PilotError as exc:
        reason = f"Template {template_id}: {explain(exc)} Nothing was sent."
        raise RunRefused(error_code(exc), reason) from None
    for row in rows[1:]:
        problem = variables_problem(template, variables[row.group_id])
        if problem is not None:
            raise RunRefused(TEMPLATE_REFUSED, f"For {row.label}: {problem}")
    return variables


def _refuse_while_disconnected(ctx: RunContext) -> None:
    """RunRefused when the number is known disconnected: no group is tried, the run says why."""
    if ctx.connection is None or not ctx.connection.known_disconnected:
        return
    state = ctx.connection.state
    since = f" since {state.since:%Y-%m-%d %H:%M} UTC" if state.since is not None else ""
    raise RunRefused(
        NOT_CONNECTED,
        f"The WhatsApp number is not connected{since} (seen by the {state.source}): "
        "no group was tried. Re-pair the number, then run the job again.",
    )


def _shown_content(job: JobConfig, *, group: str, when: datetime) -> str:
    """One group's content as a run would send it: placeholders filled (ValueError if not)."""

    def filled(text: str) -> str:
        return render_text(text, group=group, when=when)

    if job.template is not None:
        pairs = ", ".join(
            f"{name}={filled(value)}" for name, value in (job.variables or {}).items()
        )
        return f"template {job.template}" + (f" with {pairs}" if pairs else " (no variables)")
    if job.media is not None:
        shown = f"{job.media_type} {job.media}"
        return shown + (f"\ncaption: {_preview(filled(job.caption))}" if job.caption else "")
    return _preview(filled(job.text or ""))


def _preview(text: str) -> str:
    return text if len(text) <= PREVIEW else text[:PREVIEW] + "…"


def _name(row: Delivery) -> str:
    return row.group_name or row.group_id


async def _send_one(
    ctx: RunContext, run: Run, job: JobConfig, row: Delivery, compose: Compose, abort: _Abort
) -> None:
    try:
        content = compose(row)
    except InvalidInput as exc:  # e.g. a caption too long once this group's name is in it
        ctx.ledger.mark_sending(run.id, row.group_id)
        ctx.done(run.id, row.group_id, "failed", code=error_code(exc), detail=explain(exc))
        return
    ctx.ledger.mark_sending(run.id, row.group_id)  # refused: raises, nothing is sent
    try:
        message = await ctx.client.send(content, group_id=row.group_id)
    except OutcomeUnknown as exc:
        ctx.done(run.id, row.group_id, "unknown", code=error_code(exc), detail=explain(exc))
        return
    except PilotError as exc:
        if is_number_wide(exc) and abort.error is None:
            abort.error = exc
        ctx.done(run.id, row.group_id, "failed", code=error_code(exc), detail=explain(exc))
        return
    ctx.record_outcome(
        LateOutcome(run.id, row.group_id, "sent", result=message.id, message=message.id)
    )
    if ctx.connection is not None:  # it sent: whatever was known, the number is connected
        await ctx.connection.seen(True, source="send")
    if job.pin:
        await _pin(ctx, run, row, message.id)


async def _pin(ctx: RunContext, run: Run, row: Delivery, message_id: str) -> None:
    try:
        await ctx.client.pin(row.group_id, message_id)
    except PilotError as exc:
        ctx.ledger.set_pin(run.id, row.group_id, error_code(exc))
        return
    ctx.ledger.set_pin(run.id, row.group_id, "pinned")
