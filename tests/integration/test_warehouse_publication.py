"""Publication of warehouse/hexo.duckdb: BI readers never break, incremental builds equal full builds.

A real second process opens the published file read-only and queries it in a loop (as a BI tool does)
while this process builds and publishes several times: a full build, an incremental build after a
subject-day was re-ingested and another removed, a build refused by the lake check, a dbt build that
fails, then an incremental build on the state the failed build left, and one after compacting closed
months. The reader must see zero errors and never a half-built mart; the refused and failed builds must
leave the last good file published; every incremental result equals a full build of the same lake.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from conftest import study_calendar

import hexo_pipeline.lake
from hexo_pipeline.lake import Lake, compact_lake
from hexo_pipeline.warehouse import PublicationError, Warehouse, build_info
from hexo_pipeline.warehouse.publish import FAILED_BUILD_LOG
from hexo_pipeline.warehouse.synthetic import write_synthetic_lake

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]  # five dbt builds

START = date(2026, 3, 6)
DAYS = 3
MARTS = [
    "dim_subject",
    "dim_subject_group_history",
    "fct_record",
    "fct_subject_day",
    "fct_range",
    "fct_calendar_event",
    "fct_survey_response",
    "agg_group_day",
    "rpt_study_adherence",
]
KEYS = {
    "dim_subject": ["subject_id"],
    "dim_subject_group_history": ["subject_id", "assignment_number"],
    "fct_record": ["record_id"],
    "fct_subject_day": ["subject_id", "local_date"],
    "fct_range": ["range_id"],
    "fct_calendar_event": ["event_id"],
    "fct_survey_response": ["response_id"],
    "agg_group_day": ["group_name", "local_date"],
    "rpt_study_adherence": ["subject_id"],
}

READER = textwrap.dedent("""
    import json, os, sys, time
    import duckdb
    path, stop, out = sys.argv[1:4]
    marts = set(sys.argv[4].split(","))
    stats = {"queries": 0, "errors": [], "absent": 0, "half_built": [], "builds": []}
    while not os.path.exists(stop):
        if not os.path.exists(path):
            stats["absent"] += 1
            time.sleep(0.01)
            continue
        try:
            con = duckdb.connect(path, read_only=True)
            try:
                built = con.execute("select value from meta.build_info where key = 'built_at'").fetchone()[0]
                tables = {r[0] for r in con.execute(
                    "select table_name from duckdb_tables() where schema_name = 'marts'").fetchall()}
                days = con.execute("select count(*) from marts.fct_subject_day").fetchone()[0]
                calendar = con.execute("select coalesce(sum(study_days_n), 0) from marts.dim_subject").fetchone()[0]
                per_subject = con.execute("select count(*) from marts.rpt_study_adherence").fetchone()[0]
                subjects = con.execute("select count(*) from marts.dim_subject where study_days_n > 0").fetchone()[0]
                if marts - tables or days != calendar or per_subject != subjects or days == 0:
                    stats["half_built"].append([built, sorted(marts - tables), days, calendar, per_subject, subjects])
                if built not in stats["builds"]:
                    stats["builds"].append(built)
                stats["queries"] += 1
            finally:
                con.close()
        except Exception as exc:  # any error a BI tool would show
            stats["errors"].append(repr(exc))
        time.sleep(0.05)  # a busy BI tool, not a busy loop: the builds need the cores more than the reader
    json.dump(stats, open(out, "w"))
""")


def _marts(path: Path) -> dict[str, pd.DataFrame]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {t: con.execute(f"select * from marts.{t} order by {', '.join(KEYS[t])}").df() for t in MARTS}
    finally:
        con.close()


def _rewrite_partition(lake: Lake, subject: str, day: date, received: datetime) -> None:
    """Re-ingest one subject-day: heart rate +5 bpm everywhere, a new received_at (as a late-data rerun)."""
    for dataset in ("signals_vitals", "signals_events", "records"):
        table = lake.read_partition(dataset, subject, day)
        if dataset == "signals_vitals":
            hr = pc.equal(table.column("datatype_id"), 19)
            value = pc.if_else(
                pc.and_(hr, pc.greater(table.column("value"), 0)),
                pc.add(table.column("value"), 5),
                table.column("value"),
            )
            table = table.set_column(table.schema.get_field_index("value"), "value", value)
        col = table.schema.get_field_index("received_at")
        table = table.set_column(
            col, "received_at", pa.array([received] * table.num_rows, table.schema.field(col).type)
        )
        lake.write_partition(dataset, subject, day, table, signal=dataset.startswith("signals_"))


def _remove_partition(lake: Lake, subject: str, day: date) -> None:
    for dataset in ("signals_vitals", "signals_events", "signals_astroskin", "records", "ranges", "range_metrics"):
        lake.write_partition(dataset, subject, day, None)


def test_readers_never_break_and_incremental_equals_full(tmp_path, build_warehouse):
    data = tmp_path / "data"
    synthetic = write_synthetic_lake(data, subjects=4, days=DAYS, start=START, minutes=60)
    warehouse = Warehouse(data)
    stats_file, stop = tmp_path / "reader.json", tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(warehouse.published), str(stop), str(stats_file), ",".join(MARTS)]
    )
    study = study_calendar(START, DAYS)
    try:
        first = build_warehouse(data, study)
        assert first.published and not first.seeded
        time.sleep(1.0)
        built_first = build_info(warehouse.published)["built_at"]

        lake = Lake(data / "lake")
        by_user = synthetic.usernames
        subject_a, subject_b = by_user[900], by_user[901]
        _rewrite_partition(lake, subject_a, START, datetime.now(UTC))
        _remove_partition(lake, subject_b, START + timedelta(days=1))
        time.sleep(1.1)  # built_at has second resolution
        second = build_warehouse(data, study)
        assert second.published and second.seeded, "the second build must be incremental (seeded)"
        assert warehouse.previous.exists()
        assert build_info(warehouse.previous)["built_at"] == built_first

        # a lake file the manifest does not know: the build is refused, naming the file; nothing changes
        broken = data / "lake" / "vitals_minutes" / f"subject={subject_a}" / f"date={START + timedelta(days=9)}"
        broken.mkdir(parents=True, exist_ok=True)
        (broken / "part-0.parquet").write_bytes(b"PAR1 this is not parquet")
        good = build_info(warehouse.published)["built_at"]
        time.sleep(1.1)
        with pytest.raises(PublicationError, match=r"unreadable_file: .*date=2026-03-15/part-0.parquet"):
            build_warehouse(data, study, must_publish=False)
        assert build_info(warehouse.published)["built_at"] == good

        # a dbt build that fails (a corrupt file, recorded, that the check did not see) publishes nothing either
        broken_day = START + timedelta(days=9)
        lake.record_partition_file(
            "vitals_minutes", subject_a, broken_day, broken / "part-0.parquet", rows=1, received_at=datetime.now(UTC)
        )
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(hexo_pipeline.lake, "verify_lake", lambda lake, **_: [])
            failed = build_warehouse(data, study, must_publish=False)
        assert failed.published is None and failed.returncode != 0
        assert build_info(warehouse.published)["built_at"] == good
        assert not any((warehouse.root / "build").iterdir()), "failed build files are cleaned up"
        failure_log = (warehouse.root / FAILED_BUILD_LOG).read_text()  # dbt's warnings and errors, kept
        assert "date=2026-03-15/part-0.parquet" in failure_log, failure_log[-2000:]
        lake.write_partition("vitals_minutes", subject_a, broken_day, None)  # the file goes, recorded

        # the state the failed build left serves the next incremental build
        _rewrite_partition(lake, subject_a, START + timedelta(days=1), datetime.now(UTC))
        time.sleep(1.1)
        third = build_warehouse(data, study)
        assert third.published and third.seeded
        after_failure = _marts(warehouse.published)

        # compaction of the closed month changes no mart (incremental build right after it)
        report = compact_lake(lake, (START.replace(day=28) + timedelta(days=5)).strftime("%Y-%m"))
        assert report.months > 0 and not list((data / "lake" / "records").glob("*/date=*/*.parquet"))
        assert hexo_pipeline.lake.verify_lake(lake, deep=True) == []
        time.sleep(1.1)
        fourth = build_warehouse(data, study)
        assert fourth.published and fourth.seeded
        time.sleep(1.0)
    finally:
        stop.touch()
        reader.wait(timeout=60)
    stats = json.loads(stats_file.read_text())
    assert stats["errors"] == [], stats["errors"][:5]
    assert stats["half_built"] == [], stats["half_built"][:5]
    assert stats["queries"] > 20, stats
    assert len(stats["builds"]) >= 2, stats["builds"]

    # the incremental results equal a full build of the same (compacted) lake
    incremental = _marts(warehouse.published)
    full_dir = tmp_path / "full"
    full_dir.mkdir()
    (full_dir / "lake").symlink_to(data / "lake")
    full = build_warehouse(full_dir, study)
    assert full.published and not full.seeded
    expected = _marts(full.published)
    for table in MARTS:
        pd.testing.assert_frame_equal(
            incremental[table], expected[table], check_exact=False, rtol=1e-9, obj=f"marts.{table}"
        )
        pd.testing.assert_frame_equal(
            after_failure[table], expected[table], check_exact=False, rtol=1e-9, obj=f"marts.{table} before compaction"
        )
    changed = incremental["fct_subject_day"]
    row = changed[(changed.username == subject_a) & (changed.local_date == pd.Timestamp(START))]
    assert not row.empty and row.iloc[0]["hr_mean_bpm"] > 0
    gone = changed[(changed.username == subject_b) & (changed.local_date == pd.Timestamp(START + timedelta(days=1)))]
    assert gone.iloc[0]["worn_s"] == 0, "a removed partition disappears from the marts"


def test_publication_keeps_previous_and_never_leaves_a_wal(tmp_path):
    data = tmp_path / "data"
    write_synthetic_lake(data, subjects=2, days=2, start=START, minutes=20)
    warehouse = Warehouse(data)
    with warehouse.build() as build:
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
                "c.execute('create schema marts; create table marts.t as select 1 as x')",
                str(build.path),
            ],
            check=True,
        )
        build.publish()
    assert warehouse.published.exists()
    assert not Path(str(warehouse.published) + ".wal").exists()
    first_inode = warehouse.published.stat().st_ino
    # a reader holding the old file open keeps reading it across the next publication
    holder = duckdb.connect(str(warehouse.published), read_only=True)
    try:
        with warehouse.build() as build:
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
                    "c.execute('create schema if not exists marts; create or replace table marts.t as select 2 as x')",
                    str(build.path),
                ],
                check=True,
            )
            build.publish()
        assert holder.execute("select x from marts.t").fetchone()[0] == 1
    finally:
        holder.close()
    assert warehouse.previous.stat().st_ino == first_inode
    assert duckdb.connect(str(warehouse.published), read_only=True).execute("select x from marts.t").fetchone()[0] == 2


def test_publication_in_an_older_storage_format_for_older_bi_drivers(tmp_path, monkeypatch):
    warehouse = Warehouse(tmp_path)
    monkeypatch.setenv("HEXO_WAREHOUSE_STORAGE_VERSION", "v1.1.0")
    with warehouse.build() as build:
        con = duckdb.connect(str(build.path))
        con.execute("create schema marts; create table marts.t as select 3 as x")
        con.close()
        build.publish()
    con = duckdb.connect(str(warehouse.published), read_only=True)
    try:
        tags = con.execute("select tags from duckdb_databases() where database_name = 'hexo'").fetchone()[0]
        assert tags["storage_version"].startswith("v1."), tags
        assert con.execute("select x from marts.t").fetchone()[0] == 3
        assert dict(con.execute("select key, value from meta.build_info").fetchall())["project_fingerprint"]
    finally:
        con.close()


def test_a_change_of_study_settings_starts_the_state_again(tmp_path):
    """The incremental tables hold rows computed with the study settings (time zone, thresholds): a build
    with other settings must not keep them; the same settings, or the lake at another path, keep them."""
    data = tmp_path / "data"
    write_synthetic_lake(data, subjects=1, days=1, start=START, minutes=20)
    warehouse = Warehouse(data)
    montreal = {"lake_root": "/a/lake", "study_timezone": "America/Montreal", "valid_day_min_minutes": 600}

    def build_once(settings: dict) -> bool:
        with warehouse.build(settings=settings) as build:
            seeded = build.seeded_from is not None
            con = duckdb.connect(str(build.path))
            con.execute("create schema if not exists marts; create or replace table marts.t as select 1 as x")
            con.close()
            build.publish()
        return seeded

    assert not build_once(montreal)  # nothing to keep yet
    assert build_once(montreal)
    assert build_once({**montreal, "lake_root": "/moved/lake"}), "the lake's location is not a setting"
    assert not build_once({**montreal, "study_timezone": "Europe/Paris"}), "rows of the old time zone kept"
    assert not build_once({**montreal, "study_timezone": "Europe/Paris", "valid_day_min_minutes": 480})
