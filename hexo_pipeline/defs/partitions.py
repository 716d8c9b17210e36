"""Partitions: subject x local day of the study.

Subjects are a dynamic dimension, filled by `subjects_sensor` from the API (new subjects appear
without a code change; removed ones are kept). Days are daily partitions in the study's time zone
from the study start (`HEXO_STUDY_START`, `HEXO_STUDY_TZ`, optional exclusive `HEXO_STUDY_END`).
Multi-partition keys read "<day>|<subject>" (Dagster orders dimensions by name).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date

import dagster as dg

DEFAULT_STUDY_START = "2026-10-05"  # the sandbox's demo study
DEFAULT_STUDY_TZ = "America/Montreal"


@dataclass(frozen=True)
class StudySettings:
    start: date
    timezone: str
    end: date | None
    uuid: str | None  # subjects' usernames start with "<uuid>_" (seed doc)

    @classmethod
    def from_env(cls) -> "StudySettings":
        end = os.environ.get("HEXO_STUDY_END")
        return cls(
            start=date.fromisoformat(os.environ.get("HEXO_STUDY_START", DEFAULT_STUDY_START)),
            timezone=os.environ.get("HEXO_STUDY_TZ", DEFAULT_STUDY_TZ),
            end=date.fromisoformat(end) if end else None,
            uuid=os.environ.get("HEXO_STUDY_UUID") or None,
        )


STUDY = StudySettings.from_env()

subjects_partitions = dg.DynamicPartitionsDefinition(name="subjects")
days_partitions = dg.DailyPartitionsDefinition(
    start_date=STUDY.start.isoformat(),
    end_date=STUDY.end.isoformat() if STUDY.end else None,
    timezone=STUDY.timezone,
)
subject_day_partitions = dg.MultiPartitionsDefinition({"subject": subjects_partitions, "day": days_partitions})


def split_key(key: str | dg.MultiPartitionKey) -> tuple[str, date]:
    """A subject-day partition key -> (subject, day)."""
    if isinstance(key, dg.MultiPartitionKey):
        dims = key.keys_by_dimension
        return dims["subject"], date.fromisoformat(dims["day"])
    day, subject = key.split("|", 1)
    return subject, date.fromisoformat(day)


def subject_day_key(subject: str, day: date) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"subject": subject, "day": day.isoformat()})
