"""The study's settings: calendar, uuid and valid-day thresholds, as one typed object.

`StudySettings.from_environment()` is the one place that reads the HEXO_STUDY_* / HEXO_VALID_* variables.
Dagster code gets the same values through `StudyResource` (hexo_pipeline/defs/resources.py), dbt through
`--vars` (`dbt_vars`), so no other module reads the environment for them. `lake_url()` reads where the
lake lives (HEXO_LAKE_URL, docs/deploy_lake_s3.md) the same way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_STUDY_START = date(2026, 10, 5)  # the sandbox's demo study
DEFAULT_STUDY_TZ = "America/Montreal"
DEFAULT_VALID_DAY_MIN_MINUTES = 600  # ActiWearCheck/ABCD: a valid day has >= 10 h of wear
DEFAULT_VALID_HOUR_MIN_MINUTES = 30  # RAPIDS: a valid hour has >= 30 worn minutes

# StudySettings field -> environment variable.
ENVIRONMENT = {
    "start": "HEXO_STUDY_START",
    "timezone": "HEXO_STUDY_TZ",
    "end": "HEXO_STUDY_END",
    "uuid": "HEXO_STUDY_UUID",
    "valid_day_min_minutes": "HEXO_VALID_DAY_MIN_MINUTES",
    "valid_hour_min_minutes": "HEXO_VALID_HOUR_MIN_MINUTES",
}


# Where the Parquet lake lives when not in $HEXO_DATA_DIR/lake: s3://bucket/prefix (hexo_pipeline/lake/storage.py).
LAKE_URL_VARIABLE = "HEXO_LAKE_URL"


def lake_url() -> str | None:
    """The lake's object-storage URL (`s3://bucket/prefix`), None for the local folder (the default)."""
    return os.environ.get(LAKE_URL_VARIABLE) or None


class InvalidStudySetting(ValueError):
    """A study setting that cannot be used; the message names its environment variable."""


@dataclass(frozen=True)
class StudySettings:
    """`start` None means "not set": the day partitions then start at the demo study's first day, and
    dbt treats the study start as unknown (every day with data counts)."""

    start: date | None = None
    timezone: str = DEFAULT_STUDY_TZ
    end: date | None = None  # exclusive
    uuid: str | None = None  # subjects' usernames start with "<uuid>_" (seed doc)
    valid_day_min_minutes: int = DEFAULT_VALID_DAY_MIN_MINUTES
    valid_hour_min_minutes: int = DEFAULT_VALID_HOUR_MIN_MINUTES

    @classmethod
    def from_environment(cls) -> StudySettings:
        """The settings of this process's environment (unset variables keep the defaults)."""
        env = {field: os.environ[var] for field, var in ENVIRONMENT.items() if os.environ.get(var)}
        return cls.from_strings(**env)

    @classmethod
    def from_strings(cls, **values: str | int | None) -> StudySettings:
        """Settings from text values (environment variables, resource config); None or "" = unset."""
        given = {k: v for k, v in values.items() if v not in (None, "")}

        def parsed(field: str, parse, default):
            if field not in given:
                return default
            try:
                return parse(str(given[field]))
            except (ValueError, ZoneInfoNotFoundError):
                raise InvalidStudySetting(f"{ENVIRONMENT[field]}={given[field]!r} is not {_EXPECTED[field]}") from None

        return cls(
            start=parsed("start", date.fromisoformat, None),
            timezone=parsed("timezone", _time_zone, DEFAULT_STUDY_TZ),
            end=parsed("end", date.fromisoformat, None),
            uuid=str(given["uuid"]) if "uuid" in given else None,
            valid_day_min_minutes=parsed("valid_day_min_minutes", int, DEFAULT_VALID_DAY_MIN_MINUTES),
            valid_hour_min_minutes=parsed("valid_hour_min_minutes", int, DEFAULT_VALID_HOUR_MIN_MINUTES),
        )

    @property
    def first_day(self) -> date:
        """First day of the day partitions."""
        return self.start or DEFAULT_STUDY_START

    def dbt_vars(self, lake_root: Path | str) -> dict[str, str | int]:
        """The `--vars` of a dbt invocation (dbt_project/macros/settings.sql reads them)."""
        return {
            "lake_root": str(lake_root),
            "study_timezone": self.timezone,
            "study_start": self.start.isoformat() if self.start else "",
            "study_end": self.end.isoformat() if self.end else "",
            "valid_day_min_minutes": self.valid_day_min_minutes,
            "valid_hour_min_minutes": self.valid_hour_min_minutes,
        }


_EXPECTED = {
    "start": "a date (YYYY-MM-DD)",
    "end": "a date (YYYY-MM-DD)",
    "timezone": "an IANA time zone (e.g. America/Montreal)",
    "valid_day_min_minutes": "a whole number of minutes",
    "valid_hour_min_minutes": "a whole number of minutes",
}


def _time_zone(name: str) -> str:
    ZoneInfo(name)  # raises ZoneInfoNotFoundError (or ValueError for a malformed key)
    return name


def environment_variables_set() -> dict[str, str]:
    """StudySettings field -> variable name, for the variables set in this environment (the Dagster
    resource wires only those as `EnvVar`s: an unset `EnvVar` fails a run)."""
    return {field: var for field, var in ENVIRONMENT.items() if os.environ.get(var)}
