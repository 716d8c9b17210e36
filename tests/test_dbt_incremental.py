"""The incremental models over the summary datasets: an incremental build after lake changes equals a full one.

One synthetic lake with its summaries (SQL stand-in of ingestion). A partition holds step minutes but no
RR windows (int_events__chunks reads both datasets: such a partition must neither be dropped nor reread on
every run); then one partition is re-ingested (new received_at, new values) and another one removed. The
incremental build (seeded with the published file, reading only the changed partitions) must give the
marts a full refresh gives.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from hexo_pipeline.warehouse import build_marts
from hexo_pipeline.warehouse.synthetic import write_synthetic_lake
from summaries_sql import SUMMARIES, write_summaries_with_sql

TZ = "America/Montreal"
START = date(2026, 3, 6)
DAYS = 2


def _marts(published) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(published), read_only=True)
    try:
        return {table: con.execute(f"select * from marts.{table} order by all").fetchall()
                for table in ("fct_subject_day", "fct_record")}
    finally:
        con.close()


def _chunk_steps(published, subject: str, day: str) -> int | None:
    con = duckdb.connect(str(published), read_only=True)
    try:
        return con.execute("select sum(steps) from intermediate.int_events__chunks where username = ? and lake_date = ?",
                           [subject, day]).fetchone()[0]
    finally:
        con.close()


def _partition(path) -> tuple[str, str]:
    return path.parent.parent.name.removeprefix("subject="), path.parent.name.removeprefix("date=")


@pytest.fixture
def study_env(monkeypatch):
    monkeypatch.setenv("HEXO_STUDY_TZ", TZ)
    monkeypatch.setenv("HEXO_STUDY_START", START.isoformat())
    monkeypatch.setenv("HEXO_STUDY_END", (START + timedelta(days=DAYS)).isoformat())


def test_incremental_build_after_lake_changes_equals_a_full_build(tmp_path, study_env):
    write_synthetic_lake(tmp_path, subjects=2, days=DAYS, start=START, tz=TZ, seed=5)
    lake = tmp_path / "lake"
    write_summaries_with_sql(lake)
    steps_files = sorted(lake.glob("steps_minutes/*/*/*.parquet"))
    steps_only = steps_files[0]  # a partition with steps and no RR window
    (lake / "hrv_windows" / steps_only.parent.parent.name / steps_only.parent.name / steps_only.name).unlink()
    subject, day = _partition(steps_only)
    log = open(tmp_path / "dbt.log", "w")

    first = build_marts(tmp_path, out=log)
    assert first.published is not None and not first.seeded
    steps = _chunk_steps(first.published, subject, day)
    assert steps > 0
    unchanged = build_marts(tmp_path, out=log)
    assert unchanged.published is not None and unchanged.seeded
    assert _chunk_steps(unchanged.published, subject, day) == steps, "a steps-only partition must stay loaded"

    # re-ingest the steps-only partition (twice the steps, a later receipt) and remove another partition
    table = pq.read_table(steps_only)
    later = pa.array([datetime.now(timezone.utc) + timedelta(hours=1)] * table.num_rows,
                     table.schema.field("received_at").type)
    table = table.set_column(table.schema.get_field_index("steps"), "steps", pc.multiply(table["steps"], 2))
    pq.write_table(table.set_column(table.schema.get_field_index("received_at"), "received_at", later), steps_only)
    removed = next(p for p in steps_files if _partition(p) != (subject, day))
    for dataset in SUMMARIES:
        gone = lake / dataset / removed.parent.parent.name / removed.parent.name / "part-0.parquet"
        gone.unlink(missing_ok=True)

    incremental = build_marts(tmp_path, out=log)
    assert incremental.published is not None and incremental.seeded, (tmp_path / "dbt.log").read_text()[-3000:]
    assert _chunk_steps(incremental.published, subject, day) == 2 * steps
    assert _chunk_steps(incremental.published, *_partition(removed)) is None
    got = _marts(incremental.published)
    full = build_marts(tmp_path, full_refresh=True, out=log)
    assert full.published is not None and not full.seeded
    want = _marts(full.published)
    for table in want:
        assert len(got[table]) == len(want[table])
        for a, b in zip(got[table], want[table]):
            assert _close(a, b), (table, a, b)


def _close(a: tuple, b: tuple) -> bool:
    for x, y in zip(a, b):
        if isinstance(x, float) and isinstance(y, float):
            if abs(x - y) > 1e-9 * max(abs(x), abs(y), 1e-12):
                return False
        elif x != y:
            return False
    return True
