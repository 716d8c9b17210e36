"""What the study report reads: the marts of the published DuckDB file (opened read-only), and the
list of quarantined files under data/quarantine/.

Every number the report shows is a mart value (the rpt_* marts compute the weekly roll-ups, the
attention list, group spreads and differences): this module selects rows for one study, nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from ..lake.quarantine import quarantined

UNKNOWN_STUDY = "study"

# fct_subject_day columns the report draws (the heatmap and the per-subject small multiples).
DAY_COLUMNS = (
    "subject_id",
    "username",
    "local_date",
    "group_name",
    "has_data",
    "is_valid_day",
    "worn_s",
    "ratio_valid_minutes",
    "events_scheduled",
    "events_done",
    "hr_mean_bpm",
    "resting_hr_bpm",
    "rmssd_ms",
    "sdnn_ms",
    "br_mean_rpm",
)


@dataclass
class StudyData:
    study: str
    study_name: str | None
    built_at: str | None
    subjects: pd.DataFrame  # dim_subject
    adherence: pd.DataFrame  # rpt_study_adherence (whole study, per subject)
    days: pd.DataFrame  # fct_subject_day (DAY_COLUMNS) + subject_label
    attention: pd.DataFrame  # rpt_attention
    subject_weeks: pd.DataFrame  # rpt_subject_week
    group_weeks: pd.DataFrame  # rpt_group_week
    comparison: pd.DataFrame  # rpt_group_comparison_week
    issues: pd.DataFrame  # rpt_data_issues
    quarantine: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["area", "file", "reason"]))

    @property
    def has_events(self) -> bool:
        return bool(len(self.days)) and bool(self.days["events_scheduled"].sum())

    @property
    def has_surveys(self) -> bool:
        return bool(len(self.subject_weeks)) and bool(self.subject_weeks["survey_compliance_pct"].notna().any())


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> pd.DataFrame:
    return con.sql(sql, params=params).to_arrow_table().to_pandas()


def studies(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        f"select distinct coalesce(study, '{UNKNOWN_STUDY}') from marts.dim_subject order by 1"
    ).fetchall()
    return [r[0] for r in rows]


def _study_rows(con, table: str, study: str, order: str, columns: str = "t.*") -> pd.DataFrame:
    return _frame(
        con,
        f"select {columns} from marts.{table} as t join marts.dim_subject as s using (subject_id) "
        f"where coalesce(s.study, ?) = ? order by {order}",
        [UNKNOWN_STUDY, study],
    )


def _study_groups(con, table: str, study: str, order: str) -> pd.DataFrame:
    return _frame(
        con,
        f"select t.* from marts.{table} as t where t.group_name in (select distinct s.current_group_name "
        f"from marts.dim_subject as s where coalesce(s.study, ?) = ?) order by {order}",
        [UNKNOWN_STUDY, study],
    )


def load_study(con: duckdb.DuckDBPyConnection, study: str, data_dir: Path | None = None) -> StudyData:
    """Every frame the report draws, for the subjects of one study (and the quarantine of `data_dir`)."""
    subjects = _frame(
        con,
        "select * from marts.dim_subject as s where coalesce(s.study, ?) = ? order by username",
        [UNKNOWN_STUDY, study],
    )
    adherence = _study_rows(con, "rpt_study_adherence", study, "t.group_name, t.username")
    day_cols = ", ".join(f"t.{c}" for c in DAY_COLUMNS)
    days = _study_rows(
        con,
        "fct_subject_day",
        study,
        "t.username, t.local_date",
        f"{day_cols}, coalesce(s.subject_code, s.username) as subject_label",
    )
    attention = _study_rows(con, "rpt_attention", study, "t.group_name, t.subject_label")
    subject_weeks = _study_rows(con, "rpt_subject_week", study, "t.subject_label, t.week_start")
    group_weeks = _study_groups(con, "rpt_group_week", study, "t.group_name, t.metric, t.week_start")
    comparison = _study_groups(con, "rpt_group_comparison_week", study, "t.metric, t.group_name, t.week_start")
    issues = _study_rows(con, "rpt_data_issues", study, "t.issue_kind, t.local_date, t.subject_label")
    built_at = None
    try:
        # fetchall: every result is read to the end before the next query (DuckDB 2.0 connections).
        rows = con.execute("select value from meta.build_info where key = 'built_at'").fetchall()
        built_at = rows[0][0] if rows else None
    except duckdb.Error:
        pass
    names = subjects["study_name"].dropna().unique() if len(subjects) else []
    return StudyData(
        study,
        names[0] if len(names) else None,
        built_at,
        subjects,
        adherence,
        days,
        attention,
        subject_weeks,
        group_weeks,
        comparison,
        issues,
        quarantine_files(data_dir),
    )


def quarantine_files(data_dir: Path | None) -> pd.DataFrame:
    """Files under data_dir/quarantine/<area>/ with the first line of their reason."""
    rows = []
    base = Path(data_dir) / "quarantine" if data_dir else None
    if base is not None and base.is_dir():
        for area in sorted(p.name for p in base.iterdir() if p.is_dir()):
            rows += [{"area": area, "file": f, "reason": r} for f, r in quarantined(data_dir, area).items()]
    return pd.DataFrame(rows, columns=["area", "file", "reason"])


def connect(path: str | Path) -> duckdb.DuckDBPyConnection:
    """Read-only: the report never blocks the publisher, and never sees a build in progress."""
    return duckdb.connect(str(path), read_only=True)
