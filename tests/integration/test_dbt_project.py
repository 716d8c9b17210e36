"""The dbt project itself: builds on an empty lake, every model documented, docs generate, lineage in Dagster."""

from __future__ import annotations

import csv
import json
from datetime import date

import duckdb
import pytest

from hexo_pipeline.hexoskin.datatypes import DATATYPES
from hexo_pipeline.study_settings import StudySettings
from hexo_pipeline.warehouse import DBT_PROJECT_DIR

pytestmark = pytest.mark.slow  # dbt builds, in Dagster and through build_marts

MARTS = {
    "dim_subject",
    "dim_subject_group_history",
    "fct_record",
    "fct_subject_day",
    "fct_range",
    "fct_calendar_event",
    "fct_survey_response",
    "agg_group_day",
    "rpt_study_adherence",
    "rpt_attention",
    "rpt_subject_week",
    "rpt_group_week",
    "rpt_group_comparison_week",
    "rpt_data_issues",
    "fct_subject_day_completeness",
    "rpt_quarantine",
}
LAKE_ASSETS = {
    "records",
    "ranges",
    "range_metrics",
    "vitals_minutes",
    "hrv_windows",
    "steps_minutes",
    "astroskin_minutes",
    "sleep_positions",
    "subjects",
    "datatype_catalog",
}
# Samples and events: summarised at ingestion, never read by dbt (its cost must not grow with them).
SAMPLE_ASSETS = {"signals_vitals", "signals_astroskin", "signals_events"}


# Not the defaults: the build must receive them as --vars.
STUDY = StudySettings(
    start=date(2026, 1, 5),
    end=date(2026, 2, 2),
    timezone="Europe/Paris",
    uuid="u1",
    valid_day_min_minutes=480,
    valid_hour_min_minutes=20,
)


@pytest.fixture(scope="module")
def empty_lake_build(tmp_path_factory, build_warehouse):
    """A build over a lake with no file at all (a fresh study): every source reads as an empty relation."""
    root = tmp_path_factory.mktemp("empty")
    (root / "lake").mkdir()
    result = build_warehouse(root, STUDY, docs=True)
    return root, result


def test_the_study_settings_reach_dbt_as_vars(empty_lake_build):
    root, _ = empty_lake_build
    run = json.loads((root / "warehouse" / "last_build" / "run_results.json").read_text())
    assert run["args"]["vars"] == STUDY.dbt_vars(root / "lake")


def test_every_mart_builds_empty_on_an_empty_lake(empty_lake_build):
    root, result = empty_lake_build
    con = duckdb.connect(str(result.published), read_only=True)
    try:
        tables = {
            r[0] for r in con.execute("select table_name from duckdb_tables() where schema_name = 'marts'").fetchall()
        }
        assert MARTS <= tables
        for table in MARTS:
            assert con.execute(f"select count(*) from marts.{table}").fetchone()[0] == 0
        # The build's own checks are recorded (on-run-end hook), all passing on an empty lake.
        checks = dict(con.execute("select status, count(*) from marts.rpt_build_checks group by 1").fetchall())
        assert set(checks) == {"pass"} and checks["pass"] > 100
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
    for column in (
        "worn_s",
        "valid_minutes",
        "ratio_valid_minutes",
        "ratio_valid_hours",
        "is_valid_day",
        "hr_mean_bpm",
        "resting_hr_bpm",
        "rmssd_ms",
        "sdnn_ms",
        "pnn50_pct",
        "br_mean_rpm",
        "minute_ventilation_mean_l_min",
        "steps",
        "sleep_s",
        "spo2_mean_pct",
        "events_scheduled",
    ):
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

    from hexo_pipeline.defs.jobs import warehouse_job
    from hexo_pipeline.defs.resources import LakeResource, StudyResource
    from hexo_pipeline.defs.warehouse.dbt_assets import POOL, hexo_marts
    from hexo_pipeline.defs.warehouse.report import study_report
    from hexo_pipeline.warehouse.marts import dbt_resource

    defs = dg.Definitions(
        assets=[hexo_marts, study_report],
        jobs=[warehouse_job],
        resources={"dbt": dbt_resource(), "storage": LakeResource(), "study": StudyResource()},
    )
    specs = {s.key.to_user_string(): s for s in hexo_marts.specs}
    upstream = {d.asset_key.to_user_string() for s in specs.values() for d in s.deps}
    assert LAKE_ASSETS <= upstream, LAKE_ASSETS - upstream
    assert {f"marts/{m}" for m in MARTS} <= set(specs)
    assert not SAMPLE_ASSETS & upstream, "the marts read the summary datasets, not the samples"
    deps = {d.asset_key.to_user_string() for d in specs["staging/stg_lake__vitals_minutes"].deps}
    assert deps == {"vitals_minutes"}
    report_deps = {k.to_user_string() for k in study_report.asset_deps[study_report.key]}
    assert "marts/rpt_study_adherence" in report_deps
    assert defs.resolve_job_def("build_warehouse") is not None
    assert hexo_marts.op.pool == POOL


def test_the_dbt_asset_builds_and_publishes_in_dagster_with_full_refresh(tmp_path):
    """The Dagster dbt asset through the same run_dbt as the command line, full refresh from run config."""
    import dagster as dg

    from hexo_pipeline.defs.resources import LakeResource, StudyResource
    from hexo_pipeline.defs.warehouse.dbt_assets import hexo_marts
    from hexo_pipeline.warehouse import Warehouse
    from hexo_pipeline.warehouse.marts import dbt_resource

    (tmp_path / "lake").mkdir()
    result = dg.materialize(
        [hexo_marts],
        raise_on_error=False,
        resources={
            "dbt": dbt_resource(),
            "storage": LakeResource(data_dir=str(tmp_path)),
            "study": StudyResource.of(STUDY),
        },
        run_config={"ops": {"hexo_marts": {"config": {"full_refresh": True}}}},
    )
    assert result.success
    assert Warehouse(tmp_path).published.exists()
    run = json.loads((tmp_path / "warehouse" / "last_build" / "run_results.json").read_text())
    assert run["args"]["full_refresh"] is True
    assert run["args"]["vars"] == STUDY.dbt_vars(tmp_path / "lake")
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {f"marts/{m}" for m in MARTS} <= materialized


def test_a_subset_of_the_marts_run_in_dagster_leaves_the_subject_marks_alone(tmp_path):
    """The subject-scoped models (dbt_project/macros/subjects.sql) rebuild the subjects whose marks differ from
    the last complete build's: a run of some marts only (a subset picked in the UI) must not record marks, or
    the models it did not run would never catch up with the subject's change."""
    import dagster as dg
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from hexo_pipeline.defs.jobs import warehouse_job
    from hexo_pipeline.defs.resources import LakeResource, StudyResource
    from hexo_pipeline.defs.warehouse.dbt_assets import hexo_marts
    from hexo_pipeline.defs.warehouse.report import study_report
    from hexo_pipeline.lake import Lake
    from hexo_pipeline.warehouse import Warehouse
    from hexo_pipeline.warehouse.marts import dbt_resource
    from hexo_pipeline.warehouse.synthetic import write_synthetic_lake

    write_synthetic_lake(tmp_path, subjects=1, days=1, start=STUDY.start, minutes=20)
    resources = {
        "dbt": dbt_resource(),
        "storage": LakeResource(data_dir=str(tmp_path)),
        "study": StudyResource.of(STUDY),
    }

    def marks() -> list[tuple]:
        con = duckdb.connect(str(Warehouse(tmp_path).state), read_only=True)
        try:
            return con.execute("select username, mark from meta.subject_marks_built order by all").fetchall()
        finally:
            con.close()

    # the first build by the warehouse job, as schedules and sensors run it: a complete build
    defs = dg.Definitions(assets=[hexo_marts, study_report], jobs=[warehouse_job], resources=resources)
    assert defs.resolve_job_def("build_warehouse").execute_in_process().success
    complete = marks()
    assert complete, "a complete build records the subjects' marks"

    steps_file = sorted((tmp_path / "lake").glob("steps_minutes/*/*/*.parquet"))[0]
    subject = steps_file.parent.parent.name.removeprefix("subject=")
    day = date.fromisoformat(steps_file.parent.name.removeprefix("date="))
    table = pq.read_table(steps_file)
    Lake(tmp_path / "lake").write_partition(
        "steps_minutes",
        subject,
        day,
        table.set_column(table.schema.get_field_index("steps"), "steps", pc.multiply(table["steps"], 2)),
    )
    # the marks model itself among the subset: its new marks must still not be recorded
    picked = [dg.AssetKey(["intermediate", "int_build__subject_marks"]), dg.AssetKey(["marts", "dim_subject"])]
    subset = dg.materialize([hexo_marts], resources=resources, selection=picked)
    assert subset.success
    assert marks() == complete, "a subset run recorded marks"
    assert dg.materialize([hexo_marts], resources=resources).success
    assert marks() != complete, "the next complete build records the subject's new mark"


def test_the_report_and_the_publisher_read_every_result_to_the_end(empty_lake_build, tmp_path, monkeypatch):
    """DuckDB 2.0 streams results: a query started before the previous result was read to the end
    invalidates it. The report's queries and the publisher's each read their result fully."""
    from duckdb_strict import StrictConnection

    from hexo_pipeline.report.data import load_study, studies
    from hexo_pipeline.warehouse import Warehouse, publish

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
