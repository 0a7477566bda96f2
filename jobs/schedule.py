"""When jobs run: cron, ``every`` and ``at`` schedules in a job's IANA zone.

Shared by ``grouppilot check`` (next run times) and the scheduler. Every
schedule answers :meth:`Schedule.next_after` (the first run strictly after a
moment, as an aware datetime in the job's zone, or ``None`` when there is none
left).

Cron expressions have the 5 standard fields ``minute hour day month weekday``.
Weekdays are names (``mon``..``sun``) or numbers in the standard cron meaning
(0 and 7 = Sunday, 1 = Monday); as in standard cron, when both the day and the
weekday field are restricted (neither starts with ``*``), a day matching
either one runs. Field matching is done by APScheduler's ``CronTrigger``, but
on local wall-clock time, because APScheduler 3.11's zone-aware trigger gets
DST wrong for the rules of docs/scheduling.md (checked against 3.11.3):

- a local time skipped by a spring-forward change: APScheduler returns the
  non-existent wall time, which is an hour *after* the change (02:30 in
  Europe/Berlin on 2026-03-29 fires at 03:30 CEST), and a day whose midnight
  does not exist (America/Sao_Paulo, 2018-11-04) is skipped entirely for a
  ``0 0 * * *`` job;
- a local time repeated by a fall-back change fires twice.

Here a non-existent local time runs once, right when the clocks change
(02:30 -> 03:00 CEST; several skipped times collapse into that one run), and a
repeated local time runs once, at its first occurrence. ``every`` intervals are
elapsed time from the start (``1d`` is 24 hours, also across DST); an ``at``
time without an offset is read in the job's zone with the same DST rule.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bot.durations import format_duration
from bot.usertext import ascii_int, excerpt, one_line, shorten
from bot.zones import load_zone

__all__ = [
    "AtSchedule",
    "CronSchedule",
    "EverySchedule",
    "Schedule",
    "load_zone",
    "parse_at",
    "resolve_local",
]

_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # index = cron number
_WEEKDAY_ITEM = re.compile(r"^(?:(\*)|([0-7]|[a-z]{3})(?:-([0-7]|[a-z]{3}))?)(?:/([0-9]+))?$")
_ONE_SECOND = timedelta(seconds=1)


def resolve_local(wall: datetime, zone: ZoneInfo) -> datetime:
    """Turn a naive local wall time into an aware instant (DST rules: docs/scheduling.md).

    A time that exists once maps to itself; a repeated time (fall back) to its
    first occurrence; a time that does not exist (spring forward) to the
    moment of the change, i.e. the first local time after the gap.
    """
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall:
        return first  # repeated wall time: fold=0 is the earlier instant
    # Non-existent: the change happened between the two candidate instants.
    # (Compare in UTC: datetimes sharing a tzinfo compare by wall time.)
    low, high = sorted((first.astimezone(UTC), second.astimezone(UTC)))
    before = low.astimezone(zone).utcoffset()
    while high - low > _ONE_SECOND:
        middle = low + (high - low) // 2
        if middle.astimezone(zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0).astimezone(zone)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"moment must be timezone-aware, got naive {moment.isoformat()}")


class Schedule(ABC):
    """The run times of one job, in its zone, all before ``ends`` when it is set."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        # No run at or after this instant (a job's `until`: the end of that day in its
        # zone, see jobs.policies). Kept here, not in a wrapper, so code that asks what
        # kind of schedule a job has (catch-up, `every` anchors) still sees it.
        self.ends: datetime | None = None

    def next_after(self, moment: datetime) -> datetime | None:
        """First run strictly after ``moment`` (aware), in the job's zone; None if none."""
        found = self._next_after(moment)
        if found is None or (self.ends is not None and found >= self.ends):
            return None
        return found

    @abstractmethod
    def _next_after(self, moment: datetime) -> datetime | None:
        """First run strictly after ``moment``, ignoring ``ends``."""

    def cut_by_end(self) -> bool:
        """True when ``ends`` cuts off runs the schedule would otherwise have (a job ended)."""
        if self.ends is None:
            return False
        return self._next_after(self.ends - timedelta(microseconds=1)) is not None

    @abstractmethod
    def describe(self) -> str:
        """Short text for users, e.g. ``cron "0 9 * * mon-fri"`` or ``every 15m``."""

    def next_times(self, after: datetime, count: int) -> list[datetime]:
        """Up to ``count`` run times strictly after ``after``, in order."""
        times: list[datetime] = []
        moment = after
        while len(times) < count:
            upcoming = self.next_after(moment)
            if upcoming is None:
                break
            times.append(upcoming)
            moment = upcoming
        return times

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()} in {self.zone.key}>"


def _weekday_number(token: str, *, end: bool) -> int:
    number = ascii_int(token)
    if number is not None:
        return number
    if token not in _WEEKDAYS:
        raise ValueError(f"unknown weekday {excerpt(token)} (use mon..sun or 0-7)")
    number = _WEEKDAYS.index(token)
    return 7 if end and number == 0 else number  # "sat-sun", "mon-sun" read naturally


def _weekday_expression(field: str) -> str:
    """Translate a standard cron weekday field into an APScheduler one (names only)."""
    days: set[int] = set()
    for item in field.lower().split(","):
        match = _WEEKDAY_ITEM.match(item)
        step = ascii_int(match[4]) if match and match[4] else 1
        if match is None or step is None:
            raise ValueError(f"weekday: cannot read {excerpt(item)}")
        star, first, last, step_text = match.groups()
        if step < 1:
            raise ValueError(f"weekday: step must be at least 1 in {excerpt(item)}")
        if star:
            low, high = 0, 6
        else:
            low = _weekday_number(first, end=False)
            # "a/n" runs from a to the end of the week, as in "a-sat/n".
            high = _weekday_number(last, end=True) if last is not None else 6 if step_text else low
            if low > high:
                raise ValueError(f"weekday: range {excerpt(item)} runs backwards")
        days.update(day % 7 for day in range(low, high + 1, step))
    if len(days) == 7:
        return "*"
    # APScheduler numbers Monday as 0, so hand it names, which mean what they say.
    return ",".join(_WEEKDAYS[day] for day in sorted(days))


class CronSchedule(Schedule):
    """A 5-field cron expression evaluated on the job zone's wall clock."""

    def __init__(self, expression: str, zone: ZoneInfo) -> None:
        super().__init__(zone)
        fields = expression.split()
        shown = f"cron {excerpt(' '.join(fields))}"
        if len(fields) != 5:
            raise ValueError(
                f"{shown} needs 5 fields (minute hour day month weekday), got {len(fields)}"
            )
        if not all(field.isascii() for field in fields):
            # APScheduler reads any script's digits ("٣" as 3): only 0-9 here.
            raise ValueError(f"{shown}: use the digits 0-9, names such as mon, and * , - /")
        self.expression = " ".join(fields)
        minute, hour, day, month, weekday = fields
        try:
            weekdays = _weekday_expression(weekday)
        except ValueError as exc:
            raise ValueError(f"{shown}: {exc}") from None
        values = {"minute": minute, "hour": hour, "day": day, "month": month}
        for name, value in values.items():
            try:
                CronTrigger(timezone=UTC, **{name: value})
            except ValueError as exc:
                raise ValueError(f"{shown}: {name}: {shorten(one_line(str(exc)), 80)}") from None
        # Standard cron: both day fields restricted -> either may match.
        if not day.startswith("*") and not weekday.startswith("*"):
            variants = [{"day": day, "day_of_week": "*"}, {"day": "*", "day_of_week": weekdays}]
        else:
            variants = [{"day": day, "day_of_week": weekdays}]
        self._triggers = [
            CronTrigger(minute=minute, hour=hour, month=month, timezone=UTC, **variant)
            for variant in variants
        ]

    def _next_wall(self, wall: datetime) -> datetime | None:
        """Earliest matching wall time at or after ``wall`` (naive, whole seconds)."""
        found: list[datetime] = []
        for trigger in self._triggers:
            fire = trigger.get_next_fire_time(None, wall.replace(tzinfo=UTC))
            if fire is not None:
                found.append(fire.replace(tzinfo=None))
        return min(found, default=None)

    def _next_after(self, moment: datetime) -> datetime | None:
        _require_aware(moment)
        # Wall times before the moment's own wall time can only map to instants
        # at or before it (the local -> instant mapping is monotonic).
        wall: datetime | None = moment.astimezone(self.zone).replace(tzinfo=None)
        while wall is not None:
            wall = self._next_wall(wall)
            if wall is None:
                return None
            instant = resolve_local(wall, self.zone).astimezone(UTC)
            if instant > moment.astimezone(UTC):
                return instant.astimezone(self.zone)
            try:
                wall += _ONE_SECOND
            except OverflowError:
                return None
        return None

    def describe(self) -> str:
        return f'cron "{self.expression}"'


class EverySchedule(Schedule):
    """A fixed elapsed interval; the first run is one interval after ``start``.

    ``start`` is the rhythm's anchor: the scheduler gives the job's last
    scheduled run on record (so a restart keeps the rhythm), or when the job
    was first seen (see :func:`jobs.policies.every_anchor`).
    """

    def __init__(self, interval: timedelta, *, start: datetime, zone: ZoneInfo) -> None:
        super().__init__(zone)
        if interval <= timedelta(0):
            shown = format_duration(interval)
            raise ValueError(f"every: interval must be more than 0, got {shown}")
        _require_aware(start)
        self.interval = interval
        self.start = start.astimezone(UTC)

    def _next_after(self, moment: datetime) -> datetime | None:
        _require_aware(moment)
        elapsed = moment.astimezone(UTC) - self.start
        steps = 1 if elapsed < self.interval else elapsed // self.interval + 1
        try:
            return (self.start + steps * self.interval).astimezone(self.zone)
        except OverflowError:
            return None

    def describe(self) -> str:
        return f"every {format_duration(self.interval)}"


def parse_at(value: str | datetime) -> datetime:
    """Read an ``at`` value: ISO 8601 date and time, with or without an offset.

    Returns the datetime as written (naive when it has no offset); raises
    ``ValueError`` for anything else, including a date without a time.
    """
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(f"at: expected an ISO 8601 date and time, got {excerpt(value)}")
    text = value.strip()
    example = "e.g. 2026-12-01T09:00 or 2026-12-01T09:00:00-03:00"
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        raise ValueError(f"at {excerpt(value)} has no time of day: {example}")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"at {excerpt(value)} is not an ISO 8601 date and time: {example}"
        ) from None


class AtSchedule(Schedule):
    """One run at a fixed time; a time without an offset is local to the zone."""

    def __init__(self, when: str | datetime, zone: ZoneInfo) -> None:
        super().__init__(zone)
        parsed = parse_at(when)
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            parsed = resolve_local(parsed, zone)
        self.when = parsed.astimezone(zone)

    def _next_after(self, moment: datetime) -> datetime | None:
        _require_aware(moment)
        return self.when if self.when.astimezone(UTC) > moment.astimezone(UTC) else None

    def describe(self) -> str:
        return f"at {self.when.isoformat()}"
