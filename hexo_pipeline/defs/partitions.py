"""Partitions: subject x local day of the study.

Subjects are a dynamic dimension, filled by `subjects_sensor` from the API (new subjects appear
without a code change; removed ones are kept). Days are daily partitions in the study's time zone
from the study start (`HEXO_STUDY_START`, `HEXO_STUDY_TZ`, optional exclusive `HEXO_STUDY_END`): Dagster
needs them when the definitions load, so this module builds them once from `StudySettings`.
Multi-partition keys read "<day>|<subject>" (Dagster orders dimensions by name).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from ..study_settings import StudySettings

_calendar = StudySettings.from_environment()

subjects_partitions = dg.DynamicPartitionsDefinition(name="subjects")
days_partitions = dg.DailyPartitionsDefinition(
    start_date=_calendar.first_day.isoformat(),
    end_date=_calendar.end.isoformat() if _calendar.end else None,
    timezone=_calendar.timezone,
)
subject_day_partitions = dg.MultiPartitionsDefinition({"subject": subjects_partitions, "day": days_partitions})
# The study's time zone as the partitions have it (schedules run on study time).
STUDY_TIMEZONE: str = days_partitions.timezone


def split_key(key: str | dg.MultiPartitionKey) -> tuple[str, date]:
    """A subject-day partition key -> (subject, day)."""
    if isinstance(key, dg.MultiPartitionKey):
        dims = key.keys_by_dimension
        return dims["subject"], date.fromisoformat(dims["day"])
    day, subject = key.split("|", 1)
    return subject, date.fromisoformat(day)


def subject_day_key(subject: str, day: date) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"subject": subject, "day": day.isoformat()})


def local_day_keys(subject: str, start_ticks: int, end_ticks: int, study: StudySettings) -> list[dg.MultiPartitionKey]:
    """Subject-day keys a [start, end) span touches (in the study's time zone), within the study."""
    tz = ZoneInfo(study.timezone)
    d0 = datetime.fromtimestamp(start_ticks / 256, tz=UTC).astimezone(tz).date()
    d1 = datetime.fromtimestamp(max(start_ticks, end_ticks - 1) / 256, tz=UTC).astimezone(tz).date()
    keys = []
    day = d0
    while day <= d1:
        if day >= study.first_day and (study.end is None or day < study.end):
            keys.append(subject_day_key(subject, day))
        day += timedelta(days=1)
    return keys
