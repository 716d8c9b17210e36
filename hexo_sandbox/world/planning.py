"""Study planning -> a subject's calendar events (pure logic: no I/O, no clock, no Flask).

The vendor reference (Studies: "Planning" and "Calendar") gives a property table and a few JSON examples
but no algorithm. It says the schema is "mainly inspired by" schema.org `Schedule`, whose `repeatCount`
is iCalendar's RRULE COUNT, so this module follows that reading wherever the table is silent:

Where an item's schedule starts (its *anchor*)
- `start_date` (YYYY-MM-DD) when given: an absolute date, the same for every subject, not clipped to the
  subject's onboarding date.
- otherwise the subject's onboarding date + `days_offset` days (0 = the onboarding day itself).
- `days_offset` > 0 together with `start_date` is rejected: the offset counts from the subject's start
  date, so the pair has no single meaning.

Periods and event days
- `repeat_frequency` (ISO 8601 duration of whole years/months/weeks/days: P1D, P10D, P1W, P1M, P1Y...)
  is the length of a *period*. Period k covers [anchor + k*F, anchor + (k+1)*F). Months are added to
  the anchor (not to the previous period) with month-end clamping, so Jan 31 + P1M = Feb 28/29 and
  Jan 31 + 2*P1M = Mar 31: no drift.
- Inside a period the event days are the days that pass every selector given (their intersection,
  like RRULE's BYxxx rules):
    by_week_day   0-6, Monday = 0 (Python's `date.weekday()`)
    by_month_day  1-31; a month without that day (31 in April) has no event that month, as RRULE does
    by_period_day 1-N, 1 = the period's first day; a day past the end of a shorter period (31 in a
                  30-day P1M period) is skipped the same way
  With no selector, the event day is the period's first day.
- An item yields at most one event per day. "Twice a day" (the reference's calendar example) is two
  items with the same name, e.g. a morning and an evening window; see the tests.

When an item stops (every limit given applies; the first one reached wins)
- `repeat_period`: number of periods; 0 or absent = until the end below.
- `repeat_count`: total number of events of the item (RRULE COUNT); may come as a string ("10");
  0 or absent = no count limit (mirrors repeat_period's 0).
- the end: the item's `end_date` and the study end, both inclusive; the earlier wins.
- 5 years: the reference caps the total duration at 5 years ("P1M with repeat_period 60 is acceptable,
  61 exceeds"). `parse_planning` checks repeat_period x F and repeat_count x F against 5 Gregorian
  mean years (365.2425 days; so P1M x 60 = P1Y x 5 is exactly the limit, P1D x 1826 fits, x 1827 does
  not). When computing a calendar, no item goes past anchor + 5 years: an open-ended item stops there,
  and a repeat_count that needs longer (only possible with selectors, e.g. by_month_day [31]) is a
  PlanningError.

Calendar
- `calendar_events(..., until=d)` keeps the events strictly before `d`: the reference's `end` filter
  gets "all the scheduled events before a given date". It filters; it does not renumber occurrences.
- Events are ordered by date, then item order, then occurrence. `Event.key` ("<item index>:<date>") is
  unique per calendar and stable as long as the planning's item order is unchanged, so the server can
  join its `done` flags on it.

Spelling: underscore names are preferred (as the reference says); the camelCase spellings its examples
use (repeatCount, byMonthDay, byPeriodDay...) are accepted too. Unknown keys are rejected so that a typo
("repeat_frequence") fails loudly instead of silently scheduling something else.
"""

from __future__ import annotations

import calendar
import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time, timedelta
from fractions import Fraction
from typing import Any

__all__ = ["Event", "Frequency", "PlanningError", "PlanningItem", "calendar_events", "parse_planning"]

# Gregorian mean year (146097 days per 400 years): an anchor-free yardstick for the 5-year limit.
_MEAN_YEAR_DAYS = Fraction(146097, 400)
_LIMIT_YEARS = 5
_LIMIT_DAYS = _LIMIT_YEARS * _MEAN_YEAR_DAYS

# Hand-written rather than isodate: isodate is only a transitive dependency (via dbt), and it accepts
# time and fractional parts (PT1H, P1.5D) that a day-resolution calendar has to reject anyway.
_DURATION = re.compile(r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{2}:\d{2}(?::\d{2})?")

_SCHEDULE_FIELDS = (
    "repeat_frequency",
    "repeat_period",
    "repeat_count",
    "days_offset",
    "resource_uri",
    "start_time",
    "end_time",
    "by_month_day",
    "by_week_day",
    "by_period_day",
    "start_date",
    "end_date",
)
_ITEM_FIELDS = ("name", "description", "event_schedule")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


_CANONICAL = {**{f: f for f in _SCHEDULE_FIELDS}, **{_camel(f): f for f in _SCHEDULE_FIELDS}}


class PlanningError(ValueError):
    """The planning is invalid; the message names the item and the field. The server answers HTTP 400."""


@dataclass(frozen=True)
class Frequency:
    """An ISO 8601 duration in whole years, months, weeks and days."""

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0

    @classmethod
    def parse(cls, text: str) -> Frequency:
        match = _DURATION.fullmatch(text)
        if not match or not any(match.groups()):
            hint = (
                " (time parts such as PT1H are not supported: the calendar has day resolution)" if "T" in text else ""
            )
            raise ValueError(f"{text!r} is not an ISO 8601 duration like P1D, P2W, P1M or P1Y{hint}")
        freq = cls(*(int(g or 0) for g in match.groups()))
        if freq.max_days == 0:
            raise ValueError(f"{text!r} is a zero duration")
        return freq

    @property
    def mean_days(self) -> Fraction:
        return (12 * self.years + self.months) * _MEAN_YEAR_DAYS / 12 + 7 * self.weeks + self.days

    @property
    def max_days(self) -> int:
        """The longest a period can be, in days (bounds by_period_day)."""
        return 366 * self.years + 31 * self.months + 7 * self.weeks + self.days

    def after(self, start: date, k: int) -> date:
        """start + k periods: calendar months first (clamped to the month's end), then days."""
        try:
            return _add_months(start, k * (12 * self.years + self.months)) + timedelta(
                days=k * (7 * self.weeks + self.days)
            )
        except OverflowError:
            raise PlanningError(f"the schedule runs past the year {date.max.year}") from None

    def __str__(self) -> str:
        parts = zip((self.years, self.months, self.weeks, self.days), "YMWD")
        return "P" + "".join(f"{n}{unit}" for n, unit in parts if n)


@dataclass(frozen=True)
class PlanningItem:
    """One validated, normalised planning item (see the module docstring for the meaning of each field)."""

    name: str
    frequency: Frequency
    description: str | None = None
    repeat_period: int = 0  # 0 = until the end
    repeat_count: int = 0  # 0 = no count limit
    days_offset: int = 0
    resource_uri: str | None = None
    start_time: time | None = None
    end_time: time | None = None
    by_week_day: frozenset[int] = frozenset()
    by_month_day: frozenset[int] = frozenset()
    by_period_day: frozenset[int] = frozenset()
    start_date: date | None = None
    end_date: date | None = None


@dataclass(frozen=True)
class Event:
    name: str
    date: date
    resource_uri: str | None
    start_time: time | None
    end_time: time | None
    item_index: int
    occurrence_index: int  # 0-based rank among the item's events, before any `until` filter

    @property
    def key(self) -> str:
        """Unique per calendar (an item has at most one event per day); stable while item order is kept."""
        return f"{self.item_index}:{self.date.isoformat()}"


def parse_planning(planning: Sequence[Mapping[str, Any]] | None) -> tuple[PlanningItem, ...]:
    """Validate and normalise a study's `planning` property (None = no planning). Raises PlanningError."""
    if planning is None:
        return ()
    if isinstance(planning, (str, bytes, Mapping)) or not isinstance(planning, Sequence):
        raise PlanningError(f"planning must be a list of items, got {type(planning).__name__}")
    return tuple(_parse_item(i, raw) for i, raw in enumerate(planning))


def calendar_events(
    planning: Sequence[Mapping[str, Any]] | None,
    onboarding: date,
    study_end: date | None,
    *,
    until: date | None = None,
) -> list[Event]:
    """A subject's calendar: every planned event, ordered by date then item order.

    `onboarding` is the subject's start date; `study_end` (inclusive) bounds open-ended items;
    `until` keeps only the events strictly before that date (the /api/calendar/ `end` filter).
    """
    events = [
        event
        for index, item in enumerate(parse_planning(planning))
        for event in _item_events(item, index, onboarding, study_end)
        if until is None or event.date < until
    ]
    events.sort(key=lambda e: (e.date, e.item_index, e.occurrence_index))
    return events


# --- generation -------------------------------------------------------------------------------------


def _item_events(item: PlanningItem, index: int, onboarding: date, study_end: date | None) -> list[Event]:
    path = f"planning[{index}]"
    anchor = item.start_date or _shift(onboarding, item.days_offset, path)
    horizon = _add_months(anchor, 12 * _LIMIT_YEARS, path)  # exclusive
    ends = [d for d in (item.end_date, study_end) if d is not None]
    stop = min([horizon] + [d + timedelta(days=1) for d in ends])  # exclusive

    events: list[Event] = []
    periods = range(item.repeat_period) if item.repeat_period else itertools.count()
    for k in periods:
        start = item.frequency.after(anchor, k)
        if start >= stop:
            break
        end = min(item.frequency.after(anchor, k + 1), stop)
        for day in _event_days(item, start, end):
            events.append(Event(item.name, day, item.resource_uri, item.start_time, item.end_time, index, len(events)))
            if len(events) == item.repeat_count:
                return events
    else:
        return events  # repeat_period ran out: a legitimate stop, even if repeat_count was not reached
    cut_by_an_end = any(stop == d + timedelta(days=1) for d in ends)
    if item.repeat_count and not cut_by_an_end:  # so the 5-year horizon cut it
        raise PlanningError(
            f"{path}.event_schedule: repeat_count {item.repeat_count} with repeat_frequency "
            f"{item.frequency} and these day selectors needs more than {_LIMIT_YEARS} years "
            f"(only {len(events)} events fit)"
        )
    return events


def _event_days(item: PlanningItem, start: date, end: date) -> Iterator[date]:
    """The event days of the period [start, end) (end may be cut short by the item's stop date)."""
    if not (item.by_week_day or item.by_month_day or item.by_period_day):
        yield start
        return
    for offset in range((end - start).days):  # one period, cut at the stop date: never more than ~5 years of days
        day = start + timedelta(days=offset)
        if item.by_week_day and day.weekday() not in item.by_week_day:
            continue
        if item.by_month_day and day.day not in item.by_month_day:
            continue
        if item.by_period_day and offset + 1 not in item.by_period_day:
            continue
        yield day


def _add_months(start: date, months: int, path: str = "planning") -> date:
    year, month0 = divmod(start.month - 1 + months, 12)
    year += start.year
    if not date.min.year <= year <= date.max.year:
        raise PlanningError(f"{path}: the schedule runs past the year {date.max.year}")
    return date(year, month0 + 1, min(start.day, calendar.monthrange(year, month0 + 1)[1]))


def _shift(start: date, days: int, path: str) -> date:
    try:
        return start + timedelta(days=days)
    except OverflowError:
        raise PlanningError(
            f"{path}.event_schedule.days_offset: {days} days runs past the year {date.max.year}"
        ) from None


# --- validation -------------------------------------------------------------------------------------


def _parse_item(index: int, raw: Any) -> PlanningItem:
    path = f"planning[{index}]"
    if not isinstance(raw, Mapping):
        raise PlanningError(f"{path} must be an object with name and event_schedule")
    unknown = sorted(set(raw) - set(_ITEM_FIELDS))
    if unknown:
        raise PlanningError(f"{path}: unknown field(s) {unknown}; allowed: {list(_ITEM_FIELDS)}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise PlanningError(f"{path}.name is required and must be a non-empty string")
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        raise PlanningError(f"{path}.description must be a string")
    schedule = raw.get("event_schedule")
    if not isinstance(schedule, Mapping):
        raise PlanningError(f"{path}.event_schedule is required and must be an object")

    fields = _canonical_fields(schedule, f"{path}.event_schedule")

    def field(name: str) -> tuple[str, Any]:
        """(the key as the client spelled it, for messages; the value) - value None when absent."""
        return fields.get(name, (f"{path}.event_schedule.{name}", None))

    where, text = field("repeat_frequency")
    if text is None:
        raise PlanningError(f"{where} is required (an ISO 8601 duration such as P1D)")
    if not isinstance(text, str):
        raise PlanningError(f"{where} must be an ISO 8601 duration string such as P1D, got {text!r}")
    try:
        frequency = Frequency.parse(text)
    except ValueError as exc:
        raise PlanningError(f"{where}: {exc}") from None

    item = PlanningItem(
        name=name,
        frequency=frequency,
        description=description,
        repeat_period=_int(*field("repeat_period"), default=0),
        repeat_count=_int(*field("repeat_count"), default=0),
        days_offset=_int(*field("days_offset"), default=0),
        resource_uri=_resource_uri(*field("resource_uri")),
        start_time=_time(*field("start_time")),
        end_time=_time(*field("end_time")),
        by_week_day=_int_set(*field("by_week_day"), low=0, high=6),
        by_month_day=_int_set(*field("by_month_day"), low=1, high=31),
        by_period_day=_int_set(*field("by_period_day"), low=1, high=frequency.max_days),
        start_date=_date(*field("start_date")),
        end_date=_date(*field("end_date")),
    )

    if item.start_time and item.end_time and item.end_time < item.start_time:
        raise PlanningError(
            f"{field('end_time')[0]} {item.end_time:%H:%M} is before start_time {item.start_time:%H:%M}"
        )
    if item.start_date and item.end_date and item.end_date < item.start_date:
        raise PlanningError(f"{field('end_date')[0]} {item.end_date} is before start_date {item.start_date}")
    if item.start_date and item.days_offset:
        raise PlanningError(
            f"{field('days_offset')[0]}: days_offset counts from the subject's start date "
            f"and cannot be combined with start_date"
        )
    for limit, count in (("repeat_period", item.repeat_period), ("repeat_count", item.repeat_count)):
        if count * frequency.mean_days > _LIMIT_DAYS:
            raise PlanningError(
                f"{field(limit)[0]}: {count} x repeat_frequency {frequency} exceeds the "
                f"{_LIMIT_YEARS}-year limit on a planning's total duration"
            )
    return item


def _canonical_fields(schedule: Mapping[str, Any], path: str) -> dict[str, tuple[str, Any]]:
    """canonical name -> (path of the key as spelled, value); both spellings may appear if they agree."""
    out: dict[str, tuple[str, Any]] = {}
    for key, value in schedule.items():
        canonical = _CANONICAL.get(key)
        if canonical is None:
            raise PlanningError(f"{path}: unknown field {key!r}; allowed: {list(_SCHEDULE_FIELDS)}")
        if canonical in out and out[canonical][1] != value:
            raise PlanningError(f"{path}: {canonical} and {_camel(canonical)} are both given, with different values")
        out[canonical] = (f"{path}.{key}", value)
    return out


def _int(where: str, value: Any, *, default: int) -> int:
    return default if value is None else _non_negative_int(where, value)


def _non_negative_int(where: str, value: Any) -> int:
    # Digit strings are accepted because the reference's own example sends "repeatCount": "10".
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PlanningError(f"{where} must be a non-negative integer, got {value!r}")
    return value


def _int_set(where: str, value: Any, *, low: int, high: int) -> frozenset[int]:
    if value is None:
        return frozenset()
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence) or not value:
        raise PlanningError(f"{where} must be a non-empty list of integers between {low} and {high}")
    numbers = frozenset(_non_negative_int(where, v) for v in value)
    out_of_range = sorted(n for n in numbers if not low <= n <= high)
    if out_of_range:
        raise PlanningError(f"{where}: {out_of_range} out of range; each must be between {low} and {high}")
    return numbers


def _date(where: str, value: Any) -> date | None:
    if value is None:
        return None
    try:
        if isinstance(value, str) and _DATE.fullmatch(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise PlanningError(f"{where} must be a date YYYY-MM-DD, got {value!r}")


def _time(where: str, value: Any) -> time | None:
    if value is None:
        return None
    try:
        if isinstance(value, str) and _TIME.fullmatch(value):
            return time.fromisoformat(value)
    except ValueError:
        pass
    raise PlanningError(f"{where} must be a time HH:MM, got {value!r}")


def _resource_uri(where: str, value: Any) -> str | None:
    # Loose on purpose: the reference lists activitytype, trainingroutine, survey and kpi, but its own
    # examples also use /api/activity/4/.
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith("/api/"):
        raise PlanningError(f"{where} must be an API URI such as /api/survey/3/, got {value!r}")
    return value
