"""The incremental models over the summary datasets: an incremental build after lake changes equals a full one.

One synthetic lake with its summaries (written as ingestion writes them). A partition holds step minutes but no
RR windows (int_events__chunks reads both datasets: such a partition must neither be dropped nor reread on
every run); then one partition is re-ingested (new received_at, new values) and another one removed. The
incremental build (seeded with the published file, reading only the changed partitions) must give the
marts a full refresh gives.
"""

from __future__ import annotations

import json
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


def _view_results(data_dir) -> dict[str, str]:
    """The last published build's result message per view model (`unchanged`: not created again)."""
    results = json.loads((data_dir / "warehouse" / "last_build" / "run_results.json").read_text())["results"]
    return {r["unique_id"].split(".")[-1]: r["message"] for r in results if r["unique_id"].split(".")[-1] in VIEWS}


VIEWS = ("stg_lake__vitals_minutes", "stg_lake__hrv_windows", "int_vitals__minutes")


def test_views_are_created_again_only_when_their_sql_changed(tmp_path, build_warehouse):
    """An incremental build leaves a view whose SQL is unchanged (creating one over the lake binds every file of
    its dataset); a view whose compiled SQL changed with the lake (its days compacted into months: it reads the
    month files now, no daily file is left) is created again, and reads the lake."""
    write_synthetic_lake(tmp_path, subjects=2, days=DAYS, start=START, tz=TZ, seed=11)
    lake = Lake(tmp_path / "lake")
    build_warehouse(tmp_path, STUDY)
    rows = _view_rows(tmp_path)
    assert rows > 0

    subject, day = _partition(sorted((tmp_path / "lake").glob("records/*/*/*.parquet"))[0])
    records = lake.read_partition("records", subject, date.fromisoformat(day))
    records = records.drop_columns([c for c in ("subject", "date") if c in records.column_names])
    later = datetime.now(UTC) + timedelta(hours=1)
    records = records.set_column(
        records.schema.get_field_index("received_at"),
        "received_at",
        pa.array([later] * records.num_rows, records.schema.field("received_at").type),
    )
    lake.write_partition("records", subject, date.fromisoformat(day), records)  # a change, not to the summaries
    assert build_warehouse(tmp_path, STUDY).seeded
    assert set(_view_results(tmp_path).values()) == {"unchanged"}

    compact_lake(lake, before="2026-04")
    assert not list((tmp_path / "lake").glob("vitals_minutes/*/date=*/*.parquet"))
    assert build_warehouse(tmp_path, STUDY).seeded
    results = _view_results(tmp_path)
    assert results["stg_lake__vitals_minutes"] != "unchanged", results
    assert _view_rows(tmp_path) == rows, "the view created again reads the compacted months"


def _view_rows(data_dir) -> int:
    con = duckdb.connect(str(Warehouse(data_dir).state), read_only=True)
    try:
        return con.execute("select count(*) from staging.stg_lake__vitals_minutes").fetchone()[0]
    finally:
        con.close()


def test_a_subject_whose_time_zone_changed_is_loaded_again(tmp_path, build_warehouse):
    """Local days and hours are computed in the subject's time zone: when the API gives a subject another
    one, the incremental models reload that subject's partitions (only those), and equal a full build."""
    write_synthetic_lake(tmp_path, subjects=2, days=DAYS, start=START, tz=TZ, seed=7)
    lake = Lake(tmp_path / "lake")
    build_warehouse(tmp_path, STUDY)

    subjects = lake.read_study_table("subjects")
    moved = subjects["username"][0].as_py()
    zones = pa.array(
        [("Asia/Tokyo" if name == moved else None) for name in subjects["username"].to_pylist()], pa.string()
    )
    if "timezone" in subjects.column_names:  # a subject without one keeps the study's
        subjects = subjects.drop_columns(["timezone"])
    lake.write_study_table("subjects", subjects.append_column("timezone", zones))
    incremental = build_warehouse(tmp_path, STUDY)
    assert incremental.seeded
    con = duckdb.connect(str(Warehouse(tmp_path).state), read_only=True)
    try:
        for table in ("int_vitals__chunks", "int_vitals__hours", "int_events__chunks"):
            assert (
                dict(
                    con.execute(
                        f"select username, any_value(local_timezone) from intermediate.{table} group by 1"
                    ).fetchall()
                )[moved]
                == "Asia/Tokyo"
            ), table
    finally:
        con.close()
    got, got_state = _marts(incremental.published), _state_tables(Warehouse(tmp_path).state)
    full = build_warehouse(tmp_path, STUDY, full_refresh=True)
    _assert_same(got, _marts(full.published))
    _assert_same(got_state, _state_tables(Warehouse(tmp_path).state))


def test_a_late_partition_rebuilds_its_subject_only(tmp_path, build_warehouse):
    """The subject-scoped models (macros/subjects.sql) rebuild the subjects whose inputs changed: a marker
    written into another subject's rows of the state survives the build, the changed subject's rows move."""
    write_synthetic_lake(tmp_path, subjects=3, days=DAYS, start=START, tz=TZ, seed=11)
    lake = Lake(tmp_path / "lake")
    build_warehouse(tmp_path, STUDY)
    state = Warehouse(tmp_path).state
    steps_file = sorted((tmp_path / "lake").glob("steps_minutes/*/*/*.parquet"))[0]
    changed, day = _partition(steps_file)
    scoped = ("marts.fct_subject_day", "marts.fct_record", "intermediate.int_subject_days__hrv")
    con = duckdb.connect(str(state))
    try:
        for table in scoped:
            con.execute(f"update {table} set username = username || '~' where username <> ?", [changed])
        before = con.execute(
            "select steps from marts.fct_subject_day where username = ? and local_date = ?", [changed, day]
        ).fetchone()[0]
    finally:
        con.close()

    table = pq.read_table(steps_file)
    later = pa.array([datetime.now(UTC) + timedelta(hours=1)] * table.num_rows, table.schema.field("received_at").type)
    table = table.set_column(table.schema.get_field_index("steps"), "steps", pc.multiply(table["steps"], 2))
    table = table.set_column(table.schema.get_field_index("received_at"), "received_at", later)
    lake.write_partition("steps_minutes", changed, date.fromisoformat(day), table)
    assert build_warehouse(tmp_path, STUDY).seeded

    con = duckdb.connect(str(state), read_only=True)
    try:
        for table_name in scoped:
            names = {n for (n,) in con.execute(f"select distinct username from {table_name}").fetchall()}
            others = {n for n in names if n != changed}
            assert others and all(n.endswith("~") for n in others), (table_name, names)  # untouched
        after = con.execute(
            "select steps from marts.fct_subject_day where username = ? and local_date = ?", [changed, day]
        ).fetchone()[0]
    finally:
        con.close()
    assert after > before, "the changed subject was rebuilt"
