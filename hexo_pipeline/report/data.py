"""What the study report reads: the marts of the published DuckDB file, opened read-only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

UNKNOWN_STUDY = "study"


@dataclass
class StudyData:
    study: str
    study_name: str | None
    built_at: str | None
    subjects: pd.DataFrame  # dim_subject
    adherence: pd.DataFrame  # rpt_study_adherence
    days: pd.DataFrame  # fct_subject_day
    group_days: pd.DataFrame  # agg_group_day (recomputed for the study's subjects)
    groups: pd.DataFrame  # per-group overview
    positions: pd.DataFrame  # sleep position seconds per group

    @property
    def has_events(self) -> bool:
        return bool(self.days["events_scheduled"].sum()) if len(self.days) else False


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> pd.DataFrame:
    return con.sql(sql, params=params).to_arrow_table().to_pandas()


def studies(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(f"select distinct coalesce(study, '{UNKNOWN_STUDY}') from marts.dim_subject order by 1").fetchall()
    return [r[0] for r in rows]


def load_study(con: duckdb.DuckDBPyConnection, study: str) -> StudyData:
    """Every frame the report draws, for the subjects of one study."""
    where = "coalesce(s.study, ?) = ?"
    params = [UNKNOWN_STUDY, study]
    subjects = _frame(con, f"select * from marts.dim_subject as s where {where} order by username", params)
    adherence = _frame(
        con, f"select a.* from marts.rpt_study_adherence as a join marts.dim_subject as s using (subject_id) "
        f"where {where} order by a.group_name, a.username", params)
    days = _frame(
        con, f"select d.*, s.subject_code from marts.fct_subject_day as d join marts.dim_subject as s using (subject_id) "
        f"where {where} order by d.username, d.local_date", params)
    group_days = _frame(
        con, f"select g.* from marts.agg_group_day as g "
        f"where g.group_name in (select distinct s.current_group_name from marts.dim_subject as s where {where}) "
        f"order by g.group_name, g.local_date", params)
    groups = _frame(con, f"""
        select
            a.group_name,
            count(*) as subjects,
            cast(sum(a.days_enrolled) as bigint) as days_enrolled,
            cast(sum(a.days_with_data) as bigint) as days_with_data,
            cast(sum(a.valid_days) as bigint) as valid_days,
            100.0 * sum(a.valid_days) / nullif(sum(a.days_enrolled), 0) as completeness_pct,
            sum(a.wear_hours_total) / nullif(sum(a.days_enrolled), 0) as wear_hours_per_day,
            cast(sum(a.events_done) as bigint) as events_done,
            cast(sum(a.events_scheduled) as bigint) as events_scheduled,
            100.0 * sum(a.events_done) / nullif(sum(a.events_scheduled), 0) as adherence_pct,
            avg(a.hr_mean_bpm) as hr_mean_bpm,
            avg(a.rmssd_ms) as rmssd_ms,
            avg(a.br_mean_rpm) as br_mean_rpm,
            avg(a.steps_per_worn_day) as steps_per_worn_day,
            avg(a.sleep_hours_per_night) as sleep_hours_per_night
        from marts.rpt_study_adherence as a
        join marts.dim_subject as s using (subject_id)
        where {where}
        group by a.group_name
        order by a.group_name""", params)
    positions = _frame(con, f"""
        select
            d.group_name,
            sum(d.sleep_back_s) as back,
            sum(d.sleep_belly_s) as belly,
            sum(d.sleep_left_s) as left,
            sum(d.sleep_right_s) as right,
            sum(d.sleep_standing_s) as standing
        from marts.fct_subject_day as d
        join marts.dim_subject as s using (subject_id)
        where {where}
        group by d.group_name
        order by d.group_name""", params)
    built_at = None
    try:
        # fetchall: every result is read to the end before the next query (DuckDB 2.0 connections).
        rows = con.execute("select value from meta.build_info where key = 'built_at'").fetchall()
        built_at = rows[0][0] if rows else None
    except duckdb.Error:
        pass
    names = subjects["study_name"].dropna().unique() if len(subjects) else []
    return StudyData(study, names[0] if len(names) else None, built_at, subjects, adherence, days, group_days, groups,
                     positions)


def connect(path: str | Path) -> duckdb.DuckDBPyConnection:
    """Read-only: the report never blocks the publisher, and never sees a build in progress."""
    return duckdb.connect(str(path), read_only=True)
