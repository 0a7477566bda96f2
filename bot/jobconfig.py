"""What a job definition is: one ``[[jobs]]`` entry, or a job made by ``/schedule``.

:class:`JobConfig` validates a job's own keys (name, kind, exactly one
schedule, zone, targets, text placeholders, durations, the rules between its
keys) and reports every problem at once as pydantic errors. Checks that need
the rest of the configuration (targets naming aliases, duplicate names, the
scheduler's default zone) live in :mod:`bot.config`. What each kind allows or
needs (a broadcast's text, no pin for an invite reset) is the kind's rule in
:mod:`jobs.kind_rules`.

A broadcast's content is one of three modes (the rule is
:data:`jobs.kind_rules.CONTENT_MODES`): ``text``; ``template`` (an id, shape
checked offline) with ``variables`` (name -> string); or ``media`` (an
http(s) URL) with ``media_type`` and an optional ``caption``. Variables and
captions take the same placeholders as ``text`` and are validated the same way.

The ``text`` placeholders (``{group}``, ``{date}``, ``{time}``, ``{weekday}``)
live in :mod:`bot.placeholders`: validation renders the text on sample values
with the same :func:`render_text` that runs use, so a text that validates also
renders (and no format spec can ask for a gigabyte).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from bot.durations import format_duration, parse_duration
from bot.placeholders import PLACEHOLDERS, check_text, render_text
from bot.usertext import excerpt, message_text_problem
from bot.whatsapp.content import MAX_CAPTION, MediaType, TemplateMessage, media_problem
from bot.whatsapp.errors import InvalidInput
from bot.zones import load_zone
from jobs.kind_rules import CONFIG_RULES, KindName
from jobs.schedule import AtSchedule, CronSchedule, EverySchedule, Schedule, parse_at

__all__ = [
    "NAME",
    "NAME_RULE",
    "PLACEHOLDERS",
    "Duration",
    "JobConfig",
    "build_schedule",
    "render_text",
]

# Job, alias and target names: one rule for the config and for chat.
NAME = re.compile(r"^[a-z0-9_-]{1,40}$")
NAME_RULE = "use 1-40 of a-z, 0-9, '-' and '_'"

# Bounds of a job's times and durations: generous for real use, and each keeps the scheduler's
# arithmetic (run time + window, + jitter, sleeps) far from datetime's limits.
MAX_EVERY = timedelta(days=366)
MAX_GAP = timedelta(hours=1)  # between two sends of one run
MAX_JITTER = timedelta(days=1)
MAX_CATCH_UP_WINDOW = timedelta(days=7)
AT_YEARS = (2000, 2999)


def _not_too_long(value: Any, what: str, limit: int = 100) -> None:
    """Refuse a schedule text longer than any real one before parsing (and quoting) it."""
    if isinstance(value, str) and len(value) > limit:
        raise ValueError(f"{what} too long: {excerpt(value)}")


def _duration(value: Any) -> timedelta:
    _not_too_long(value, "duration")
    if isinstance(value, str):
        value = parse_duration(value)
    if not isinstance(value, timedelta):
        raise ValueError(f'expected a duration such as "15m" or "1h30m", got {excerpt(value)}')
    if value < timedelta(0):
        raise ValueError("must not be negative")
    return value


def _at(value: Any) -> datetime:
    _not_too_long(value, "time")
    when = parse_at(value)
    # Far from datetime's limits: 9999-12-31T23:59-12:00 is past year 9999 in UTC.
    if not AT_YEARS[0] <= when.year <= AT_YEARS[1]:
        raise ValueError(f"at {when.isoformat()}: the year must be {AT_YEARS[0]} to {AT_YEARS[1]}")
    return when


def _date(value: Any) -> date:
    """A calendar date: a TOML date or ``YYYY-MM-DD`` text (chat and JSON)."""
    if isinstance(value, datetime):
        raise ValueError(f"expected a date such as 2026-12-25, got a time: {excerpt(value)}")
    if isinstance(value, date):
        when = value
    elif isinstance(value, str):
        _not_too_long(value, "date", limit=40)
        try:
            when = date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"expected a date such as 2026-12-25, got {excerpt(value)}") from None
    else:
        raise ValueError(f"expected a date such as 2026-12-25, got {excerpt(value)}")
    if not AT_YEARS[0] <= when.year <= AT_YEARS[1]:
        raise ValueError(f"{when.isoformat()}: the year must be {AT_YEARS[0]} to {AT_YEARS[1]}")
    return when


MAX_SKIP_DATES = 1000


def _dates(value: Any) -> list[date]:
    if not isinstance(value, list):
        raise ValueError("expected a list of dates such as [2026-12-25, 2027-01-01]")
    if len(value) > MAX_SKIP_DATES:
        raise ValueError(f"at most {MAX_SKIP_DATES} dates")
    return sorted({_date(item) for item in value})


def _optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else check(value)


def _at_most(limit: timedelta) -> Callable[[timedelta], timedelta]:
    def check(value: timedelta) -> timedelta:
        if value > limit:
            shown = format_duration(value)
            raise ValueError(f"at most {format_duration(limit)} (got {shown})")
        return value

    return check


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class JobConfig(BaseModel):
    """One scheduled job (``[[jobs]]`` or ``/schedule``); durations are timedeltas."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    name: str
    kind: KindName
    cron: str | None = None
    every: Annotated[timedelta | None, BeforeValidator(_optional(_duration))] = None
    at: Annotated[datetime | None, BeforeValidator(_optional(_at))] = None
    timezone: str = "UTC"
    targets: list[str]
    text: str | None = None
    template: str | None = None
    variables: dict[str, str] | None = None
    media: str | None = None
    media_type: MediaType | None = None
    caption: str | None = None
    pin: bool = False
    gap: Annotated[Duration, AfterValidator(_at_most(MAX_GAP))] = timedelta(0)
    jitter: Annotated[Duration, AfterValidator(_at_most(MAX_JITTER))] = timedelta(0)
    catch_up: Literal["once", "skip"] = "once"
    catch_up_window: Annotated[Duration, AfterValidator(_at_most(MAX_CATCH_UP_WINDOW))] = timedelta(
        hours=6
    )
    overlap: Literal["skip", "queue"] = "skip"
    notify: Literal["always", "failures", "never"] = "always"
    announce: bool = True
    enabled: bool = True
    # Policies (every kind): pause after N failed runs in a row; no run after `until`
    # (a date, the last day runs may happen, in the job's zone); none on `skip_dates`.
    pause_on_failure: int | None = Field(default=None, ge=1, le=1000)
    until: Annotated[date | None, BeforeValidator(_optional(_date))] = None
    skip_dates: Annotated[list[date], BeforeValidator(_dates)] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not NAME.fullmatch(value):
            raise ValueError(f"{excerpt(value)}: {NAME_RULE} (e.g. morning-sales)")
        return value

    @field_validator("cron")
    @classmethod
    def _check_cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        _not_too_long(value, "cron expression", limit=400)  # room for long lists
        schedule = CronSchedule(value, load_zone("UTC"))
        if schedule.next_after(datetime.now(UTC)) is None:
            raise ValueError(f"cron {schedule.expression!r} never matches a date")
        return schedule.expression

    @field_validator("every")
    @classmethod
    def _check_every(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("must be more than 0 (e.g. 15m)")
        if value is not None:
            _at_most(MAX_EVERY)(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        load_zone(value.strip())
        return value.strip()

    @field_validator("targets")
    @classmethod
    def _check_targets(cls, value: list[str]) -> list[str]:
        cleaned = [target.strip() for target in value]
        if not cleaned or not all(cleaned):
            raise ValueError('list aliases, group ids, target names or "all" (none may be empty)')
        return cleaned

    @field_validator("text")
    @classmethod
    def _check_text(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # The controls are checked on the text as written, what it shows on a sample
        # rendering ("{group:.0}" shows nothing).
        problem = message_text_problem(value) or message_text_problem(check_text(value))
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("template")
    @classmethod
    def _check_template(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:  # the id's shape only: whether it exists is /run's online check
            return TemplateMessage(value.strip()).template_id
        except InvalidInput as exc:
            raise ValueError(str(exc)) from None

    @field_validator("variables")
    @classmethod
    def _check_variables(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        problems = [
            f"variable {excerpt(name)}: {problem}"
            for name, text in value.items()
            if (problem := _variable_problem(text)) is not None
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("media")
    @classmethod
    def _check_media(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if value.lower().startswith("data:"):
            raise ValueError("a job's media is an http(s) URL of the file, not a data URI")
        problem = media_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("caption")
    @classmethod
    def _check_caption(cls, value: str | None) -> str | None:
        if value is None or not value:
            return value
        sample = check_text(value)
        problem = _control_problem(value) or _control_problem(sample)
        if problem is not None:
            raise ValueError(problem)
        if len(sample) > MAX_CAPTION:
            raise ValueError(
                f"at most {MAX_CAPTION} characters once its placeholders are filled "
                f"(a sample rendering has {len(sample)})"
            )
        return value

    @model_validator(mode="wrap")
    @classmethod
    def _check_whole_job(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        rules = _job_rules(data) if isinstance(data, Mapping) else []
        if not rules:
            return handler(data)
        line_errors: list[InitErrorDetails] = []
        try:
            handler(data)
        except ValidationError as exc:
            line_errors.extend(
                _as_line_error(err["loc"], err["msg"], err["input"], err["type"])
                for err in exc.errors()
            )
        line_errors.extend(_as_line_error(loc, reason, data, "job_rule") for loc, reason in rules)
        raise ValidationError.from_exception_data(cls.__name__, line_errors)


def _variable_problem(text: str) -> str | None:
    """Why a template variable's value cannot be sent (None: it can), like a ``text``."""
    try:
        problem = message_text_problem(text) or message_text_problem(check_text(text))
    except ValueError as exc:
        return str(exc)
    return problem


def _control_problem(text: str) -> str | None:
    """A caption may be blank (no caption), but never hold control characters."""
    problem = message_text_problem(text)
    return problem if problem is not None and "control character" in problem else None


def _as_line_error(
    loc: tuple[str | int, ...], reason: str, value: Any, kind: str
) -> InitErrorDetails:
    error = PydanticCustomError(kind, "{reason}", {"reason": reason})
    return InitErrorDetails(type=error, loc=loc, input=value)


def _job_rules(data: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """Rules between a job's own keys, checked on the raw input (next to the field checks)."""
    rules: list[tuple[tuple[str | int, ...], str]] = []
    schedules = [key for key in ("cron", "every", "at") if data.get(key) is not None]
    if not schedules:
        rules.append(((), "needs a schedule: set one of cron, every or at"))
    elif len(schedules) > 1:
        rules.append(((), f"set only one of cron, every, at (found {' and '.join(schedules)})"))
    kind = data.get("kind")
    kind_rules = CONFIG_RULES.get(kind) if isinstance(kind, str) else None
    if kind_rules is not None:  # an unknown kind is the field check's to refuse
        rules.extend(kind_rules(data))
    return rules


def build_schedule(job: JobConfig, *, start: datetime) -> Schedule:
    """The schedule of ``job``; ``start`` (aware) is when the bot starts or the job is made.

    Only ``every`` schedules depend on ``start``. Raises ``ValueError`` when the
    job has no valid schedule.
    """
    zone = load_zone(job.timezone)
    if job.cron is not None:
        return CronSchedule(job.cron, zone)
    if job.every is not None:
        return EverySchedule(job.every, start=start, zone=zone)
    if job.at is not None:
        return AtSchedule(job.at, zone)
    raise ValueError(f"job {job.name!r} has no schedule: set one of cron, every or at")
