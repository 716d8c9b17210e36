"""Reproducible marts: two full builds of the same lake publish bit-identical marts.

DuckDB sums and averages doubles in parallel, in whatever order its threads combine partial results, so a
float sum can differ in its last digits from one build to the next (fct_subject_day.tidal_volume_mean_ml
once did). The models sum and average doubles as DECIMAL fixed point (macros/statistics.sql, exact_sum /
exact_avg): integer arithmetic, the same in any order. The test builds the synthetic lake twice, each time
from an empty state with several DuckDB threads, and compares every mart table row for row, exactly.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime

import duckdb
import pyarrow as pa
import pytest
from conftest import study_calendar

from hexo_pipeline.warehouse.synthetic import write_synthetic_lake

pytestmark = pytest.mark.slow  # two dbt builds

TZ = "America/Montreal"
START = date(2026, 3, 6)
DAYS = 4
RECEIVED = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)


def mart_tables(path) -> dict[str, pa.Table]:
    """Every table of schema marts, rows sorted by every column (the order of rows is not content)."""
    with duckdb.connect(str(path), read_only=True) as con:
        names = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
            ).fetchall()
        ]
        tables = {}
        for name in names:
            table = con.sql(f"select * from marts.{name}").to_arrow_table()
            if name == "rpt_build_checks":  # when each check ran: the build's clock, not content
                table = table.drop_columns(["checked_at"])
            sortable = [c for c in table.column_names if not pa.types.is_nested(table.schema.field(c).type)]
            tables[name] = table.sort_by([(c, "ascending") for c in sortable])
    return tables


def differing_columns(a: pa.Table, b: pa.Table) -> list[str]:
    """Columns whose values are not bit for bit the same (float64 compared as their 64-bit patterns)."""
    out = []
    for name in a.column_names:
        x, y = a.column(name).combine_chunks(), b.column(name).combine_chunks()
        if pa.types.is_floating(x.type):
            x, y = (
                x.view(pa.int64()) if x.type == pa.float64() else x,
                y.view(pa.int64()) if y.type == pa.float64() else y,
            )
        if not x.equals(y):
            out.append(name)
    return out


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory, build_warehouse, monkeypatch_module):
    monkeypatch_module.setenv("HEXO_DUCKDB_THREADS", "4")  # more threads than cores: more interleavings
    study = study_calendar(START, DAYS, TZ)
    first = tmp_path_factory.mktemp("first")
    write_synthetic_lake(first, subjects=6, days=DAYS, start=START, tz=TZ, seed=5, received_at=RECEIVED)
    second = tmp_path_factory.mktemp("second")
    shutil.copytree(first / "lake", second / "lake")  # the same lake, byte for byte
    return build_warehouse(first, study).published, build_warehouse(second, study).published


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_two_builds_of_the_same_lake_publish_identical_marts(two_builds):
    a, b = (mart_tables(p) for p in two_builds)
    assert list(a) == list(b) and "fct_subject_day" in a and "fct_record" in a
    differences = {}
    for name in a:
        assert a[name].schema == b[name].schema, name
        assert a[name].num_rows == b[name].num_rows, name
        if not a[name].equals(b[name]) or differing_columns(a[name], b[name]):
            differences[name] = differing_columns(a[name], b[name]) or ["(row order of equal keys)"]
    assert not differences, differences
    assert a["fct_subject_day"].num_rows and a["fct_record"].num_rows
