"""The dbt project itself: builds on an empty lake, every model documented, docs generate, lineage in Dagster."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import pytest

from hexo_pipeline.hexoskin.datatypes import DATATYPES
from hexo_pipeline.warehouse import DBT_PROJECT_DIR, build_marts

MARTS = {"dim_subject", "dim_subject_group_history", "fct_record", "fct_subject_day", "fct_range",
         "fct_calendar_event", "fct_survey_response", "agg_group_day", "rpt_study_adherence"}
LAKE_ASSETS = {"records", "ranges", "range_metrics", "signals_vitals", "signals_events", "signals_astroskin",
               "subjects", "datatype_catalog"}


@pytest.fixture(scope="module")
def empty_lake_build(tmp_path_factory):
    """A build over a lake with no file at all (a fresh study): every source reads as an empty relation."""
    root = tmp_path_factory.mktemp("empty")
    (root / "lake").mkdir()
    result = build_marts(root, docs=True, out=open(root / "dbt.log", "w"))
    assert result.published is not None, (root / "dbt.log").read_text()[-3000:]
    return root, result


def test_every_mart_builds_empty_on_an_empty_lake(empty_lake_build):
    root, result = empty_lake_build
    con = duckdb.connect(str(result.published), read_only=True)
    try:
        tables = {r[0] for r in con.execute("select table_name from duckdb_tables() where schema_name = 'marts'")
                  .fetchall()}
        assert MARTS <= tables
        for table in MARTS:
            assert con.execute(f"select count(*) from marts.{table}").fetchone()[0] == 0
    finally:
        con.close()


def test_every_model_and_column_is_documented_and_docs_generate(empty_lake_build):
    root, _ = empty_lake_build
    docs = root / "warehouse" / "docs"
    assert (docs / "index.html").exists(), "dbt docs generate wrote no site"
    manifest = json.loads((docs / "manifest.json").read_text())
    catalog = json.loads((docs / "catalog.json").read_text())
    undocumented, missing, extra = [], [], []
    for uid, node in manifest["nodes"].items():
        if node["resource_type"] not in ("model", "seed") or node["package_name"] != "hexo":
            continue
        if not node["description"].strip():
            undocumented.append(uid)
        built = {c.lower() for c in catalog["nodes"][uid]["columns"]}
        documented = {c.lower() for c in node["columns"]}
        missing += [f"{uid}.{c}" for c in sorted(built - documented)]
        extra += [f"{uid}.{c}" for c in sorted(documented - built)]
    assert undocumented == []
    assert missing == [], "columns without YAML documentation"
    assert extra == [], "YAML documents columns the model does not have"
    for uid, source in manifest["sources"].items():
        assert source["description"].strip(), uid


def test_mart_metric_definitions_are_written(empty_lake_build):
    root, _ = empty_lake_build
    manifest = json.loads((root / "warehouse" / "docs" / "manifest.json").read_text())
    day = manifest["nodes"]["model.hexo.fct_subject_day"]["columns"]
    for column in ("worn_s", "valid_minutes", "ratio_valid_minutes", "ratio_valid_hours", "is_valid_day",
                   "hr_mean_bpm", "resting_hr_bpm", "rmssd_ms", "sdnn_ms", "pnn50_pct", "br_mean_rpm",
                   "minute_ventilation_mean_l_min", "steps", "sleep_s", "spo2_mean_pct", "events_scheduled"):
        assert len(day[column]["description"]) > 25, column


def test_seed_catalog_is_the_python_catalog():
    with open(DBT_PROJECT_DIR / "seeds" / "datatype_catalog.csv") as f:
        rows = {int(r["datatype_id"]): r for r in csv.DictReader(f)}
    assert set(rows) == {d.id for d in DATATYPES}
    for d in DATATYPES:
        row = rows[d.id]
        assert (row["name"], row["unit"], row["family"]) == (d.name, d.unit, d.family.value)
        assert float(row["scale"]) == d.scale and float(row["offset"]) == d.offset
        assert (row["signed"] == "true") == d.signed
        assert (int(row["quality_datatype_id"]) if row["quality_datatype_id"] else None) == d.quality_id
        assert (float(row["rate_hz"]) if row["rate_hz"] else None) == d.rate_hz


def test_dagster_lineage_runs_from_the_lake_assets_through_the_models():
    import dagster as dg

    from hexo_pipeline.defs.dbt_assets import POOL, dbt_resource, hexo_marts, warehouse_job
    from hexo_pipeline.defs.report_assets import study_report
    from hexo_pipeline.defs.resources import LakeResource

    defs = dg.Definitions(assets=[hexo_marts, study_report], jobs=[warehouse_job],
                          resources={"dbt": dbt_resource(), "storage": LakeResource()})
    specs = {s.key.to_user_string(): s for s in hexo_marts.specs}
    upstream = {d.asset_key.to_user_string() for s in specs.values() for d in s.deps}
    assert LAKE_ASSETS <= upstream, LAKE_ASSETS - upstream
    assert {f"marts/{m}" for m in MARTS} <= set(specs)
    deps = {d.asset_key.to_user_string() for d in specs["staging/stg_lake__vitals"].deps}
    assert deps == {"signals_vitals", "staging/stg_lake__datatypes"}
    report_deps = {k.to_user_string() for k in study_report.asset_deps[study_report.key]}
    assert "marts/rpt_study_adherence" in report_deps
    assert defs.resolve_job_def("build_warehouse") is not None
    assert hexo_marts.op.pool == POOL


def test_the_report_and_the_publisher_read_every_result_to_the_end(empty_lake_build, tmp_path, monkeypatch):
    """DuckDB 2.0 streams results: a query started before the previous result was read to the end
    invalidates it. The report's queries and the publisher's each read their result fully."""
    from duckdb_strict import StrictConnection

    from hexo_pipeline.report.data import load_study, studies
    from hexo_pipeline.warehouse import Warehouse
    from hexo_pipeline.warehouse import publish

    _, result = empty_lake_build
    con = StrictConnection(duckdb.connect(str(result.published), read_only=True))
    try:
        for study in studies(con) or ["study"]:
            load_study(con, study)
            con.execute("select 1").fetchall()  # fails if load_study left its last result half-read
        assert con.queries > 5
    finally:
        con.close()

    opened = []
    real_connect = duckdb.connect

    def strict_connect(*args, **kwargs):
        opened.append(StrictConnection(real_connect(*args, **kwargs)))
        return opened[-1]

    warehouse = Warehouse(tmp_path)
    with warehouse.build() as build:
        setup = duckdb.connect(str(build.path))
        setup.execute("create schema marts; create table marts.t as select 1 as x")
        setup.close()
        monkeypatch.setattr(publish.duckdb, "connect", strict_connect)
        build.publish()
        assert publish.build_info(warehouse.published)["project_fingerprint"] == build.fingerprint
    monkeypatch.undo()
    assert sum(c.queries for c in opened) > 5
