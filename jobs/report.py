"""What the scheduler says about runs: reports to ``notify_chats`` and history lines.

A run's report reads like this (docs/scheduling.md)::

    morning-sales (09:00 America/Sao_Paulo): queued 48, failed 2, unknown 0
    - Sales Rio (120363000000000001@g.us): failed WHATSAPP_UPSTREAM_ERROR
    - Support (120363000000000002@g.us): unknown OUTCOME_UNKNOWN (may have gone out; not resent)

Failed groups come first, then unknown ones, then queued messages whose pin
failed; at most :data:`MAX_LINES` groups are listed. The kind names the
groups done (:attr:`jobs.kinds.JobKind.done`: a broadcast counts ``queued``,
since the API only queued its messages; an invite reset counts ``reset``).
A run that is not the plain scheduled one says so in the parentheses
(``catch-up``, ``manual``, with the date). ``notify`` decides whether a
report goes out at all (:func:`should_report`); what a kind
announces whatever ``notify`` says (an invite reset's new links) is the
kind's own (:meth:`jobs.kinds.JobKind.announcement`).

The delivery tracker (:mod:`jobs.tracker`) adds two follow-ups: a run whose
messages later failed (:func:`run_followup`) and a ``/send``'s outcome
(:func:`send_followup`), with counts like ``queued 1 · delivered 3 · failed 1``
(:func:`delivery_counts`, zeros left out).

``/job`` and ``grouppilot check`` show a broadcast's content the same way
(:func:`content_lines`): its text, its template and variables, or its media
and caption.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.durations import rounded_duration
from bot.jobconfig import JobConfig
from jobs.kinds import KINDS
from jobs.records import ADHOC_JOB, Delivery, Run
from jobs.schedule import load_zone

__all__ = [
    "MAX_LINES",
    "content_lines",
    "delivery_counts",
    "history_line",
    "local_time",
    "progress_text",
    "run_followup",
    "run_report",
    "run_title",
    "send_followup",
    "should_report",
]

MAX_LINES = 50


def _zone(name: str) -> ZoneInfo:
    try:
        return load_zone(name)
    except ValueError:
        return ZoneInfo("UTC")


def local_time(moment: datetime, zone: str, *, date: bool = True) -> str:
    """``2026-12-01 09:00 -03:00`` (or ``09:00`` with ``date=False``) in ``zone``."""
    local = moment.astimezone(_zone(zone))
    return local.strftime("%Y-%m-%d %H:%M %z" if date else "%H:%M").replace("+0000", "UTC")


def run_title(run: Run) -> str:
    """``morning (09:00 UTC)``; other than the plain scheduled run, with the date and trigger.

    An ad-hoc run (a ``/send``) is known by its id:
    ``run #123 (/send by user:1, 2026-12-01 09:00 UTC)``.
    """
    local = run.scheduled.astimezone(_zone(run.zone))
    if run.adhoc:
        by = f" by {run.requested_by}" if run.requested_by else ""
        return f"run #{run.id} ({ADHOC_JOB}{by}, {local:%Y-%m-%d %H:%M} {run.zone})"
    if run.trigger == "schedule":
        return f"{run.job} ({local:%H:%M} {run.zone})"
    label = "catch-up run" if run.trigger == "catch-up" else "manual run"
    if run.trigger == "manual" and run.requested_by:
        label += f" by {run.requested_by}"
    return f"{run.job} ({local:%Y-%m-%d %H:%M} {run.zone}, {label})"


def _counts(run: Run) -> str:
    kind = KINDS.get(run.kind)
    done = kind.done if kind is not None else "queued"  # a kind no longer known: a broadcast's word
    return f"{done} {run.sent}, failed {run.failed}, unknown {run.unknown}"


def _group_lines(job: str, deliveries: Sequence[Delivery]) -> list[str]:
    failed = [d for d in deliveries if d.state == "failed"]
    unknown = [d for d in deliveries if d.state == "unknown"]
    pins = [d for d in deliveries if d.state == "sent" and d.pin not in ("", "pinned")]
    lines = [f"- {d.label}: failed {d.code or 'ERROR'}" for d in failed]
    lines += [
        f"- {d.label}: unknown {d.code or 'OUTCOME_UNKNOWN'} (may have gone out; not resent)"
        for d in unknown
    ]
    lines += [f"- {d.label}: queued, but the pin failed ({d.pin})" for d in pins]
    if len(lines) > MAX_LINES:
        more = len(lines) - MAX_LINES
        where = f" (see /job {job})" if job else ""  # an ad-hoc run has no job to show
        lines = [*lines[:MAX_LINES], f"… and {more} more{where}"]
    return lines


def run_report(run: Run, deliveries: Sequence[Delivery]) -> str:
    """The report of a finished run, a skipped one or a missed one."""
    title = run_title(run)
    if run.outcome in ("skipped", "missed"):
        return f"{title}: {run.outcome}: {run.skip_reason}"
    if run.outcome == "failed" and run.total == 0:
        return f"{title}: failed: {run.detail or 'nothing was done'}"
    lines = [f"{title}: {_counts(run)}"]
    if run.detail:
        lines.append(f"({run.detail})")
    lines += _group_lines("" if run.adhoc else run.job, deliveries)
    return "\n".join(lines)


def progress_text(run: Run, counts: dict[str, int]) -> str:
    """An ad-hoc run under way: ``run #123 (…): 120 of 300 done (queued 118, failed 2, …)``."""
    total = sum(counts.values())
    done = counts["sent"] + counts["failed"] + counts["unknown"]
    kind = KINDS.get(run.kind)
    word = kind.done if kind is not None else "queued"
    return (
        f"{run_title(run)}: {done} of {total} done ({word} {counts['sent']}, "
        f"failed {counts['failed']}, unknown {counts['unknown']})…"
    )


def should_report(run: Run, notify: str) -> bool:
    """``always``: every run; ``failures``: a run with failures, unknowns, or missed; else none."""
    if notify == "never":
        return False
    if notify == "always":
        return True
    if run.outcome == "missed":
        return True
    return run.outcome in ("failed", "partial") or run.failed + run.unknown > 0


def history_line(run: Run) -> str:
    """One run of ``/job``: its number, when, trigger, outcome, counts or reason, how long.

    The number is what ``/cancel`` takes.
    """
    when = local_time(run.scheduled, run.zone)
    head = f"#{run.id} {when} {run.trigger}: {run.outcome}"
    if run.outcome in ("skipped", "missed"):
        return f"{head} ({run.skip_reason})"
    if run.outcome == "failed" and run.total == 0:
        return f"{head} ({run.detail})" if run.detail else head
    text = f"{head}, {_counts(run)}"
    if run.duration is not None:
        text += f" in {rounded_duration(run.duration)}"
    if run.requested_by:
        text += f", by {run.requested_by}"
    return text


_COUNTED = ("queued", "sent", "delivered", "read", "failed")


def delivery_counts(counts: dict[str, int]) -> str:
    """``queued 1 · sent 2 · delivered 3 · read 4 · failed 1``, zeros left out."""
    return " · ".join(f"{word} {counts[word]}" for word in _COUNTED if counts.get(word))


def _failed_lines(job: str, failed: Sequence[tuple[str, str]]) -> list[str]:
    lines = [f"- {label}: failed {code}" for label, code in failed]
    if len(lines) > MAX_LINES:
        more = len(lines) - MAX_LINES
        lines = [
            *lines[:MAX_LINES],
            f"… and {more} more (see /job {job})" if job else f"… and {more} more",
        ]
    return lines


def run_followup(run: Run, failed: Sequence[tuple[str, str]]) -> str:
    """A run whose messages failed after being queued: which groups, with which code."""
    noun = "message" if len(failed) == 1 else "messages"
    lines = [f"{run_title(run)}: {len(failed)} {noun} failed after being queued"]
    return "\n".join(lines + _failed_lines(run.job, failed))


def send_followup(command: str, counts: dict[str, int], failed: Sequence[tuple[str, str]]) -> str:
    """The outcome of one ``/send``: its counts and the groups whose message failed."""
    shown = command if len(command) <= 60 else command[:59] + "…"
    lines = [f"Delivery of {shown}: {delivery_counts(counts) or 'nothing to report'}"]
    return "\n".join(lines + _failed_lines("", failed))


def content_lines(job: JobConfig) -> list[tuple[str, str]]:
    """A job's content as ``(label, value)`` lines; none for a kind without content.

    ``text``; or ``template`` and ``variables`` (``none`` when it has none);
    or ``media`` (its type and URL) and ``caption`` when there is one.
    """
    if job.template is not None:
        pairs = ", ".join(f"{name}={value}" for name, value in (job.variables or {}).items())
        return [("template", job.template), ("variables", pairs or "none")]
    if job.media is not None:
        lines = [("media", f"{job.media_type} {job.media}")]
        return lines + ([("caption", job.caption)] if job.caption else [])
    return [("text", job.text)] if job.text is not None else []
