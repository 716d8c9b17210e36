"""End to end: `hexo-pipeline demo` against the sandbox, then the marts against the sandbox's ground truth.

The demo runs in its own process (sandbox over HTTP on loopback, Dagster ingestion of every subject-day,
then the marts and the report when the demo builds them; otherwise `hexo-pipeline marts`' function builds
them here). Meanwhile a second process reads warehouse/hexo.duckdb read-only in a loop, as a BI tool:
it must see zero errors. Then a sandbox of the same seed serves /sandbox/truth/ (same seed, same data)
and fct_subject_day / fct_record must match it: worn seconds within 1 s per day, heart-rate mean within
0.5 bpm, RMSSD and SDNN within 1 ms, adherence exact.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
import requests

from hexo_pipeline.study_settings import StudySettings
from hexo_pipeline.warehouse import Warehouse, build_marts
from hexo_sandbox import start_sandbox
from hexo_sandbox.world.study import StudyConfig

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]  # the demo alone takes minutes

SUBJECTS, DAYS, SEED = 4, 3, 7
READER = """
import json, os, sys, time
import duckdb
path, stop, out = sys.argv[1:4]
stats = {"queries": 0, "errors": [], "absent": 0}
while not os.path.exists(stop):
    if not os.path.exists(path):
        stats["absent"] += 1
        time.sleep(0.05)
        continue
    try:
        con = duckdb.connect(path, read_only=True)
        try:
            con.execute("select count(*), sum(worn_s) from marts.fct_subject_day").fetchone()
            con.execute("select count(*) from marts.rpt_study_adherence").fetchone()
            stats["queries"] += 1
        finally:
            con.close()
    except Exception as exc:
        stats["errors"].append(repr(exc))
    time.sleep(0.02)
json.dump(stats, open(out, "w"))
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    data = root / "data"
    warehouse = Warehouse(data)
    stop, stats_file = root / "stop", root / "reader.json"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(warehouse.published), str(stop), str(stats_file)])
    config = StudyConfig(seed=SEED, subjects=SUBJECTS, days=DAYS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEXO_", "DAGSTER_"))}
    env["HEXO_DATA_DIR"] = str(data)
    env["HEXO_DUCKDB_MEMORY_LIMIT"] = "2GB"  # a machine shared with the other test worker
    try:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "hexo_pipeline.cli",
                "demo",
                "--seed",
                str(SEED),
                "--subjects",
                str(SUBJECTS),
                "--days",
                str(DAYS),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=1500,
        )
        (root / "demo.log").write_text(run.stdout + run.stderr)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        if not warehouse.published.exists():  # the demo does not build the marts yet: build them as it would
            study = StudySettings(start=config.start, end=config.start + timedelta(days=DAYS), timezone=config.timezone)
            result = build_marts(data, out=open(root / "dbt.log", "w"), study=study)
            assert result.published is not None, (root / "dbt.log").read_text()[-3000:]
        time.sleep(0.5)
    finally:
        stop.touch()
        reader.wait(timeout=60)
    handle = start_sandbox(study=config)
    try:
        days = requests.get(f"{handle.base_url}/sandbox/truth/subject-days", params={"date": "all"}, timeout=600).json()
        records = requests.get(f"{handle.base_url}/sandbox/truth/records", timeout=600).json()
    finally:
        handle.stop()
    con = duckdb.connect(str(warehouse.published), read_only=True)
    yield con, days, records, json.loads(stats_file.read_text()), data
    con.close()


def test_bi_reader_saw_no_error_during_the_demo(demo):
    _, _, _, stats, _ = demo
    assert stats["errors"] == [], stats["errors"][:5]
    assert stats["queries"] > 0


def test_subject_days_match_the_ground_truth(demo):
    con, truth, _, _, _ = demo
    ours = {
        (r[0], r[1]): r[2:]
        for r in con.execute(
            "select subject_id, local_date, worn_s, hr_mean_bpm, rmssd_ms, sdnn_ms, rr_clean_n, steps "
            "from marts.fct_subject_day"
        ).fetchall()
    }
    assert truth
    compared = 0
    for t in truth:
        key = (t["user_id"], date.fromisoformat(t["date"]))
        assert key in ours, f"no fct_subject_day row for {key}"
        worn, hr, rmssd, sdnn, rr_n, steps = ours[key]
        assert abs(worn - t["worn_s"]) <= 1.0, (key, worn, t["worn_s"])
        for name, got, want, tol in (
            ("hr_mean_bpm", hr, t["hr_mean_bpm"], 0.5),
            ("rmssd_ms", rmssd, t["rmssd_ms"], 1.0),
            ("sdnn_ms", sdnn, t["sdnn_ms"], 1.0),
        ):
            if want is None:
                assert got is None, (key, name, got)
            else:
                assert got is not None and abs(got - want) <= tol, (key, name, got, want)
        assert rr_n == t["rr_clean_n"], key
        if t["worn_s"]:
            assert steps == t["steps"], key
        compared += 1
    assert compared == len(truth) >= SUBJECTS * (DAYS - 1)


def test_adherence_matches_the_ground_truth_exactly(demo):
    con, truth, _, _, data = demo
    if not (data / "lake" / "calendar_events").exists():
        pytest.fail("the lake has no calendar_events: the study-side ingestion did not run")
    ours = {
        (r[0], r[1]): r[2:]
        for r in con.execute(
            "select subject_id, local_date, events_scheduled, events_done, survey_answered from marts.fct_subject_day"
        ).fetchall()
    }
    for t in truth:
        key = (t["user_id"], date.fromisoformat(t["date"]))
        assert ours[key] == (t["events_scheduled"], t["events_done"], t["survey_answered"]), key
    per_subject = {}
    for t in truth:
        s, d = per_subject.get(t["user_id"], (0, 0))
        per_subject[t["user_id"]] = (s + t["events_scheduled"], d + t["events_done"])
    for subject_id, scheduled, done, pct in con.execute(
        "select subject_id, events_scheduled, events_done, adherence_pct from marts.rpt_study_adherence"
    ).fetchall():
        assert (scheduled, done) == per_subject[subject_id]
        assert pct == pytest.approx(100.0 * done / scheduled if scheduled else None)


def test_records_match_the_ground_truth(demo):
    con, _, truth, _, _ = demo
    ours = {
        r[0]: r[1:]
        for r in con.execute(
            "select record_id, duration_s, hr_mean_bpm, rmssd_ms, sdnn_ms from marts.fct_record"
        ).fetchall()
    }
    assert truth
    for t in truth:
        got = ours.get(t["record_id"])
        assert got is not None, f"record {t['record_id']} missing from fct_record"
        duration, hr, rmssd, sdnn = got
        assert abs(duration - t["worn_s"]) <= 1.0, t["record_id"]
        assert abs(hr - t["hr_mean_bpm"]) <= 0.5, t["record_id"]
        assert abs(rmssd - t["rmssd_ms"]) <= 1.0 and abs(sdnn - t["sdnn_ms"]) <= 1.0, t["record_id"]


def test_demo_wrote_the_study_report_or_marts_can(demo):
    con, _, _, _, data = demo
    from hexo_pipeline.report import render_study_reports

    reports = list((data / "reports").glob("*/index.html")) or render_study_reports(
        Warehouse(data).published, data / "reports"
    )
    assert reports and all(Path(p).stat().st_size > 50_000 for p in reports)


def test_every_readme_query_runs_on_the_demo_warehouse(demo):
    """The README's SQL blocks, as a reader would paste them into the DuckDB CLI."""
    import re

    con = demo[0]
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    blocks = re.findall(r"```sql\n(.*?)```", readme, flags=re.S)
    statements = [s.strip() for block in blocks for s in block.split(";") if s.strip()]
    assert len(statements) >= 3
    for sql in statements:
        assert con.execute(sql).fetchall(), sql


def test_the_demo_materialized_every_asset_on_the_dagster_instance(demo):
    """`make ui` after `make demo`: every asset the demo's jobs select shows as materialized, with checks."""
    import dagster as dg

    from hexo_pipeline.definitions import defs

    data = demo[4]
    instance = dg.DagsterInstance.from_config(str(data / "dagster_home"))
    graph = defs.resolve_asset_graph()
    expected = set()
    for job in ("ingest_subject_days", "build_warehouse"):
        expected |= set(defs.resolve_job_def(job).asset_layer.selected_asset_keys)
    expected |= {dg.AssetKey(k) for k in ("subjects", "datatype_catalog", "study")}
    missing = [
        k.to_user_string()
        for k in sorted(expected, key=str)
        if graph.get(k).is_materializable and instance.get_latest_materialization_event(k) is None
    ]
    assert not missing
    checks = [key for key in graph.asset_check_keys if key.asset_key.path[0] == "marts"]
    assert checks
    evaluated = instance.event_log_storage.get_latest_asset_check_execution_by_key(checks)
    assert len(evaluated) == len(checks)


def test_late_data_sensor_switched_on_after_the_demo_requests_nothing(demo):
    """`make ui` after `make demo`: the sensor's first tick starts from the lake, so it re-ingests nothing."""
    import dagster as dg

    from hexo_pipeline.defs.resources import HexoskinResource, LakeResource, StudyResource
    from hexo_pipeline.defs.subject_day.automation import late_data_sensor
    from hexo_pipeline.runner import sandbox_environment

    data = demo[4]
    instance = dg.DagsterInstance.from_config(str(data / "dagster_home"))
    handle = start_sandbox(study=StudyConfig(seed=SEED, subjects=SUBJECTS, days=DAYS))
    try:
        env = sandbox_environment(handle.info)
        hexo = HexoskinResource(
            base_url=env["HEXO_API_URL"],
            auth="oauth2",
            username=env["HEXO_USERNAME"],
            password=env["HEXO_PASSWORD"],
            client_id=env["HEXO_CLIENT_ID"],
            client_secret=env["HEXO_CLIENT_SECRET"],
        )
        with dg.build_sensor_context(
            instance=instance,
            resources={
                "hexoskin": hexo,
                "storage": LakeResource(data_dir=str(data)),
                "study": StudyResource(
                    timezone=env["HEXO_STUDY_TZ"],
                    start=env["HEXO_STUDY_START"],
                    end=env["HEXO_STUDY_END"],
                    uuid=env["HEXO_STUDY_UUID"],
                ),
            },
        ) as context:
            result = late_data_sensor(context)
    finally:
        handle.stop()
    assert not result.run_requests
    assert result.cursor  # from the lake's newest received_at, not 1970
    assert not result.cursor.startswith("1970")
