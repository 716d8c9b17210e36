"""HexoTimestamps: Unix time x 256 (ticks of 1/256 s since 1970-01-01 00:00 UTC).

The vendor doc says "since 12:00:00pm"; that is a typo (hexoskin_api_notes.md §2, verified on a real
export). Only request parameters and data use ticks: the X-HEXOTIMESTAMP auth header is plain seconds.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, tzinfo

TICKS_PER_SECOND = 256


def to_ticks(value: datetime | float | int) -> int:
    """A timezone-aware datetime or Unix seconds -> HexoTimestamp (rounded to the nearest tick)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime: give a timezone-aware datetime (HexoTimestamps are UTC)")
        seconds = value.timestamp()
    else:
        seconds = float(value)
    return int(round(seconds * TICKS_PER_SECOND))


def from_ticks(ticks: int | float) -> datetime:
    """HexoTimestamp -> timezone-aware UTC datetime (microsecond precision, exact for tick multiples)."""
    whole, frac = divmod(int(ticks), TICKS_PER_SECOND)
    micro = round(frac * 1_000_000 / TICKS_PER_SECOND)
    return datetime.fromtimestamp(whole, tz=UTC).replace(microsecond=micro)


def ticks_to_seconds(ticks: int | float) -> float:
    return ticks / TICKS_PER_SECOND


def seconds_to_ticks(seconds: float) -> int:
    return int(round(seconds * TICKS_PER_SECOND))


def day_bounds_ticks(day: date, tz: tzinfo) -> tuple[int, int]:
    """[start, end) of a local calendar day in `tz`, as HexoTimestamps (handles DST days of 23/25 h)."""
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(date.fromordinal(day.toordinal() + 1), time.min, tzinfo=tz)
    return to_ticks(start), to_ticks(end)


def iso(ticks: int | float) -> str:
    """The API's `start_date` style: ISO 8601 with +00:00."""
    return from_ticks(ticks).isoformat()
