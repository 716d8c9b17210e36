"""The incremental models over the summary datasets: an incremental build after lake changes equals a full one.

One synthetic lake with its summaries (written as ingestion writes them). A partition holds step minutes but no
RR windows (int_events__chunks reads both datasets: such a partition must neither be dropped nor reread on
every run); then one partition is re-ingested (new received_at, new values) and another one removed. The
incremental build (seeded with the published file, reading only the changed partitions) must give the
marts a full refresh gives.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from hexo_pipeline.ingest.summaries import SUMMARY_SCHEMAS
from hexo_pipeline.lake import Lake
from hexo_pipeline.lake.compaction import compact_lake
from hexo_pipeline.study_settings import StudySettings
from hexo_pipeline.warehouse import Warehouse
from hexo_pipeline.warehouse.synthetic import write_synthetic_lake

pytestmark = pytest.mark.slow  # dbt builds, three or four per test

TZ = "America/Montreal"
START = date(2026, 3, 6)
DAYS = 2


def _marts(published) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(published), read_only=True)
    try:
        return {
            table: con.execute(f"select * from marts.{table} order by all").fetchall()
            for table in ("fct_subject_day", "fct_record", "fct_range", "fct_subject_day_completeness")
        }
    finally:
        con.close()


def _chunk_steps(state, subject: str, day: str) -> int | None:
    """From the build's state database: intermediate models are not published (marts only)."""
    con = duckdb.connect(str(state), read_only=True)
    try:
        return con.execute(
            "select sum(steps) from intermediate.int_events__chunks where username = ? and lake_date = ?",
            [subject, day],
        ).fetchone()[0]
    finally:
        con.close()


# The models incremental on lake partitions, compared row for row between an incremental and a full build.
INCREMENTAL_MODELS = (
    "intermediate.int_vitals__chunks",
    "intermediate.int_vitals__hours",
    "intermediate.int_events__chunks",
    "intermediate.int_astroskin__chunks",
    "intermediate.int_events__sleep_positions",
    # the staging tables of the small subject-day datasets (macros/incremental.sql, lake_source_rows)
    "staging.stg_lake__records",
    "staging.stg_lake__ranges",
    "staging.stg_lake__range_metrics",
    "staging.stg_lake__tracks",
    "staging.stg_lake__activities",
    "staging.stg_lake__fit_monitoring",
    "staging.stg_lake__ingest_failures",
    "staging.stg_lake__calendar_events",
    "staging.stg_lake__survey_responses",
    # the subject-scoped models (macros/subjects.sql)
    "intermediate.int_hrv__records",
    "intermediate.int_hrv__record_days",
    "intermediate.int_subject_days__vitals",
    "intermediate.int_subject_days__hrv",
    "intermediate.int_subject_days__astroskin",
    "intermediate.int_sleep__positions",
    "marts.fct_record",
    "marts.fct_subject_day",
    "marts.fct_subject_day_completeness",
    # what reads them
    "intermediate.int_records",
    "intermediate.int_ranges",
    "intermediate.int_calendar_events",
    "intermediate.int_survey_responses",
)


def _state_tables(state) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(state), read_only=True)
    try:
        return {table: con.execute(f"select * from {table} order by all").fetchall() for table in INCREMENTAL_MODELS}
    finally:
        con.close()


def _assert_same(got: dict[str, list[tuple]], want: dict[str, list[tuple]]) -> None:
    for table in want:
        assert len(got[table]) == len(want[table]), table
        for a, b in zip(got[table], want[table]):
            assert _close(a, b), (table, a, b)


def _partition(path) -> tuple[str, str]:
    return path.parent.parent.name.removeprefix("subject="), path.parent.name.removeprefix("date=")


STUDY = StudySettings(start=START, end=START + timedelta(days=DAYS), timezone=TZ)


def test_incremental_build_after_lake_changes_equals_a_full_build(tmp_path, build_warehouse):
    write_synthetic_lake(tmp_path, subjects=2, days=DAYS, start=START, tz=TZ, seed=5)
    lake_root = tmp_path / "lake"
    lake = Lake(lake_root)
    steps_files = sorted(lake_root.glob("steps_minutes/*/*/*.parquet"))
    steps_only = steps_files[0]  # a partition with steps and no RR window
    subject, day = _partition(steps_only)
    lake.write_partition("hrv_windows", subject, date.fromisoformat(day), None)

    first = build_warehouse(tmp_path, STUDY)
    assert not first.seeded
    assert (tmp_path / "warehouse" / "last_build" / "partial_parse.msgpack").exists(), "kept for the next dbt parse"
    steps = _chunk_steps(Warehouse(tmp_path).state, subject, day)
    assert steps > 0
    unchanged = build_warehouse(tmp_path, STUDY)
    assert unchanged.seeded
    assert _chunk_steps(Warehouse(tmp_path).state, subject, day) == steps, "a steps-only partition must stay loaded"

    # re-ingest the steps-only partition (twice the steps, a later receipt) and remove another partition
    table = pq.read_table(steps_only)
    later = pa.array([datetime.now(UTC) + timedelta(hours=1)] * table.num_rows, table.schema.field("received_at").type)
    table = table.set_column(table.schema.get_field_index("steps"), "steps", pc.multiply(table["steps"], 2))
    table = table.set_column(table.schema.get_field_index("received_at"), "received_at", later)
    lake.write_partition("steps_minutes", subject, date.fromisoformat(day), table)
    removed = next(p for p in steps_files if _partition(p) != (subject, day))
    for dataset in SUMMARY_SCHEMAS:
        lake.write_partition(dataset, _partition(removed)[0], date.fromisoformat(_partition(removed)[1]), None)
    # the small datasets too (staging tables, incremental): records re-fetched later, ranges of a day removed
    records = lake.read_partition("records", subject, date.fromisoformat(day))
    records = records.drop_columns([c for c in ("subject", "date") if c in records.column_names])
    records = records.set_column(
        records.schema.get_field_index("received_at"),
        "received_at",
        pa.array([later[0].as_py()] * records.num_rows, records.schema.field("received_at").type),
    )
    lake.write_partition("records", subject, date.fromisoformat(day), records)
    lake.write_partition("ranges", _partition(removed)[0], date.fromisoformat(_partition(removed)[1]), None)

    incremental = build_warehouse(tmp_path, STUDY)
    assert incremental.seeded
    assert _chunk_steps(Warehouse(tmp_path).state, subject, day) == 2 * steps
    assert _chunk_steps(Warehouse(tmp_path).state, *_partition(removed)) is None
    con = duckdb.connect(str(Warehouse(tmp_path).state), read_only=True)
    try:
        assert con.execute(
            "select distinct lake_received_at from staging.stg_lake__records where username = ? and lake_date = ?",
            [subject, day],
        ).fetchall() == [(later[0].as_py(),)], "the re-fetched records replace the loaded ones"
        assert not con.execute(
            "select count(*) from staging.stg_lake__ranges where username = ? and lake_date = ?", _partition(removed)
        ).fetchone()[0], "a removed partition leaves the staging table"
    finally:
        con.close()
    got = _marts(incremental.published)
    got_state = _state_tables(Warehouse(tmp_path).state)
    full = build_warehouse(tmp_path, STUDY, full_refresh=True)
    assert not full.seeded
    _assert_same(got, _marts(full.published))
    _assert_same(got_state, _state_tables(Warehouse(tmp_path).state))


@pytest.mark.timeout(900)  # three dbt builds
def test_incremental_build_over_compacted_months_equals_a_full_build(tmp_path, build_warehouse):
    write_synthetic_lake(tmp_path, subjects=2, days=3, start=START, tz=TZ, seed=7)
    lake = Lake(tmp_path / "lake")
    compact_lake(lake, before="2026-04")
    assert not list((tmp_path / "lake").glob("vitals_minutes/*/date=*/*.parquet")), "the summaries are compacted"
    study = StudySettings(start=START, end=START + timedelta(days=3), timezone=TZ)
    first = build_warehouse(tmp_path, study)
    assert not first.seeded

    # a late re-ingestion of one day inside the compacted month (new values, a later receipt), one day removed
    late, gone = (date.fromisoformat(d) for d in ("2026-03-07", "2026-03-08"))
    subject = sorted(p.name.removeprefix("subject=") for p in (tmp_path / "lake" / "vitals_minutes").iterdir())[0]
    later = datetime.now(UTC) + timedelta(hours=1)
    for dataset in SUMMARY_SCHEMAS:
        table = lake.read_partition(dataset, subject, late)
        if table is None or table.num_rows == 0:
            continue
        table = table.drop_columns([c for c in ("subject", "date", "month") if c in table.column_names])
        table = table.set_column(
            table.schema.get_field_index("received_at"),
            "received_at",
            pa.array([later] * table.num_rows, table.schema.field("received_at").type),
        )
        if dataset == "steps_minutes":
            table = table.set_column(table.schema.get_field_index("steps"), "steps", pc.multiply(table["steps"], 2))
        lake.write_partition(dataset, subject, late, table)
        lake.write_partition(dataset, subject, gone, None)
    compact_lake(lake, before="2026-04")  # folds the late day back: its current file is the month file again
    assert (tmp_path / "lake" / "vitals_minutes" / f"subject={subject}" / "month=2026-03").is_dir()
    assert not list((tmp_path / "lake").glob("vitals_minutes/*/date=*/*.parquet"))

    incremental = build_warehouse(tmp_path, study)
    assert incremental.seeded
    got, got_state = _marts(incremental.published), _state_tables(Warehouse(tmp_path).state)
    assert _chunk_steps(Warehouse(tmp_path).state, subject, gone.isoformat()) is None
    full = build_warehouse(tmp_path, study, full_refresh=True)
    assert not full.seeded
    _assert_same(got, _marts(full.published))
    _assert_same(got_state, _state_tables(Warehouse(tmp_path).state))


def _close(a: tuple, b: tuple) -> bool:
    for x, y in zip(a, b):
        if isinstance(x, float) and isinstance(y, float):
            if abs(x - y) > 1e-9 * max(abs(x), abs(y), 1e-12):
                return False
        elif x != y:
            return False
    return True
