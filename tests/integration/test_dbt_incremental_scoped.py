"""Incremental builds that keep what did not change: the views over the lake are created again only when their
SQL changed, a subject whose time zone changed is loaded again (and equals a full build), and a late partition
rebuilds its own subject only. (Split from test_dbt_incremental.py so that xdist's `loadfile` scheduler runs the
two files' dbt builds on two workers.)"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from test_dbt_incremental import DAYS, START, STUDY, TZ, _assert_same, _marts, _partition, _state_tables

from hexo_pipeline.lake import Lake
from hexo_pipeline.lake.compaction import compact_lake
from hexo_pipeline.warehouse import Warehouse
from hexo_pipeline.warehouse.synthetic import write_synthetic_lake

pytestmark = pytest.mark.slow  # dbt builds, three or four per test


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
