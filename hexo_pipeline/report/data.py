"""What the study report reads: the marts of the published DuckDB file (opened read-only).

Every number the report shows is a mart value (the rpt_* marts compute the weekly roll-ups, the
attention list, group spreads and differences; fct_subject_day_completeness, rpt_quarantine and
rpt_build_checks what is missing, quarantined or failed): this module selects rows for one study, nothing
more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

UNKNOWN_STUDY = "study"
GAPS_SHOWN = 200  # completeness gaps listed per family and status (newest first); all are counted

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
    quarantine: pd.DataFrame = field(default_factory=pd.DataFrame)  # rpt_quarantine
    gaps: pd.DataFrame = field(default_factory=pd.DataFrame)  # fct_subject_day_completeness, gaps (GAPS_SHOWN)
    gap_counts: pd.DataFrame = field(default_factory=pd.DataFrame)  # family, status, subject_days (all gaps)
    checks: pd.DataFrame = field(default_factory=pd.DataFrame)  # rpt_build_checks: warned, failed, errored
    checks_passed: int = 0

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
    """Every frame the report draws, for the subjects of one study. (`data_dir` is no longer read: the
    quarantine is a mart, rpt_quarantine.)"""
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
    # Files of no known subject (an inbox file) are every study's concern.
    quarantine = _frame(
        con,
        "select * from marts.rpt_quarantine as t where t.subject_id is null or coalesce(t.study, ?) = ? "
        "order by t.area, t.file",
        [UNKNOWN_STUDY, study],
    )
    gap_where = (
        "from marts.fct_subject_day_completeness as t join marts.dim_subject as s using (subject_id) "
        "where t.is_gap and coalesce(s.study, ?) = ?"
    )
    # Quarantined files and missing signals first (a re-run fixes them), then days without records.
    gaps = _frame(
        con,
        "select t.*, coalesce(s.subject_code, s.username) as subject_label, s.current_group_name as group_name "
        f"{gap_where} qualify row_number() over (partition by t.family, t.status order by t.local_date desc, "
        f"t.username) <= {GAPS_SHOWN} order by t.family = 'records', t.status <> 'quarantined', t.family, "
        "t.local_date desc, t.username",
        [UNKNOWN_STUDY, study],
    )
    gap_counts = _frame(
        con,
        f"select t.family, t.status, count(*) as subject_days {gap_where} group by all order by all",
        [UNKNOWN_STUDY, study],
    )
    checks = _frame(
        con,
        "select * from marts.rpt_build_checks where status not in ('pass', 'skipped') order by status, check_name",
        [],
    )
    checks_passed = con.execute("select count(*) from marts.rpt_build_checks where status = 'pass'").fetchall()[0][0]
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
        quarantine,
        gaps,
        gap_counts,
        checks,
        int(checks_passed),
    )


def connect(path: str | Path) -> duckdb.DuckDBPyConnection:
    """Read-only: the report never blocks the publisher, and never sees a build in progress."""
    return duckdb.connect(str(path), read_only=True)
