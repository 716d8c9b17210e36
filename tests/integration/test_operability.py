"""Operable from the first minute: one-line errors for setup and remote failures, automation that starts
from the lake and coalesces warehouse builds, the instance's run queue, and `hexo-pipeline ui` stopping
everything it started on Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest

from hexo_pipeline.cli import main
from hexo_pipeline.defs.resources import HexoskinResource, LakeResource, StudyResource
from hexo_pipeline.lake import Lake
from hexo_pipeline.runner import dagster_yaml, has_real_credentials, sandbox_environment
from hexo_pipeline.study_settings import InvalidStudySetting, StudySettings
from hexo_pipeline.user_errors import SetupError

HEXO_VARS = (
    "HEXO_API_URL",
    "HEXO_AUTH",
    "HEXO_USERNAME",
    "HEXO_PASSWORD",
    "HEXO_CLIENT_ID",
    "HEXO_CLIENT_SECRET",
    "HEXO_API_KEY",
    "HEXO_API_SECRET",
    "HEXO_STUDY_TZ",
    "HEXO_STUDY_START",
    "HEXO_STUDY_END",
    "HEXO_STUDY_UUID",
    "DAGSTER_HOME",
)


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for var in HEXO_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HEXO_DATA_DIR", str(tmp_path / "data"))
    return monkeypatch


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


# -- errors a person can act on ------------------------------------------------------------------------


def test_rejected_password_is_one_line_and_not_retried(sandbox, clean_env, capsys):
    env = sandbox_environment(sandbox.info)
    for var, value in env.items():
        clean_env.setenv(var, value)
    clean_env.setenv("HEXO_PASSWORD", "wrong")
    assert main(["demo"]) == 2
    line = one_error_line(capsys)
    assert "rejected the credentials" in line and "HEXO_PASSWORD" in line and "wrong" not in line


def test_closed_port_is_one_line_after_bounded_retries(clean_env, capsys):
    port = free_port()  # nothing listens there
    clean_env.setenv("HEXO_API_URL", f"http://127.0.0.1:{port}")
    clean_env.setenv("HEXO_USERNAME", "someone")
    clean_env.setenv("HEXO_PASSWORD", "secret")
    assert main(["demo"]) == 2
    line = one_error_line(capsys)
    assert f"cannot reach the Hexoskin API at http://127.0.0.1:{port}" in line and "HEXO_API_URL" in line
    assert "Connection refused" in line and "secret" not in line


@pytest.mark.parametrize(
    "env, names",
    [
        ({"HEXO_API_URL": "https://api.example.org"}, ["HEXO_API_URL", "HEXO_PASSWORD"]),
        ({"HEXO_USERNAME": "someone", "HEXO_PASSWORD": "secret"}, ["HEXO_USERNAME", "HEXO_API_URL"]),
    ],
)
def test_credentials_partly_set_are_named(clean_env, capsys, env, names):
    for var, value in env.items():
        clean_env.setenv(var, value)
    with pytest.raises(SetupError):
        has_real_credentials()
    assert main(["demo"]) == 2
    line = one_error_line(capsys)
    assert all(name in line for name in names) and "secret" not in line


def test_bad_time_zone_names_its_variable(clean_env, capsys, tmp_path):
    clean_env.setenv("HEXO_STUDY_TZ", "Not/AZone")
    with pytest.raises(InvalidStudySetting, match="HEXO_STUDY_TZ='Not/AZone' is not an IANA time zone"):
        StudySettings.from_environment()
    assert main(["marts", "--data-dir", str(tmp_path)]) == 2
    assert one_error_line(capsys) == (
        "hexo-pipeline: HEXO_STUDY_TZ='Not/AZone' is not an IANA time zone (e.g. America/Montreal)"
    )


def test_debug_shows_the_traceback(clean_env, capsys):
    clean_env.setenv("HEXO_API_URL", "https://api.example.org")
    with pytest.raises(SetupError):
        main(["demo", "--debug"])


def test_import_export_of_a_missing_path(clean_env, capsys, tmp_path):
    assert main(["import-export", str(tmp_path / "nope.zip")]) == 1
    assert one_error_line(capsys).endswith("nope.zip: no such file or folder")


def test_dagster_run_failure_is_one_line_and_not_retried(sandbox, tmp_path):
    """A rejected password inside a run: the step fails once (no retry), its description names the fix."""
    from hexo_pipeline.defs.study.assets import subjects

    owner = next(a for a in sandbox.info["accounts"] if a["role"] == "owner")
    hexo = HexoskinResource(
        base_url=sandbox.base_url,
        auth="oauth2",
        username=owner["username"],
        password="wrong",
        client_id=sandbox.info["oauth2"]["client_id"],
        client_secret=sandbox.info["oauth2"]["client_secret"],
    )
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [subjects],
            instance=instance,
            raise_on_error=False,
            resources={"hexoskin": hexo, "storage": LakeResource(data_dir=str(tmp_path)), "study": StudyResource()},
        )
        assert not result.success
        failures = [e for e in result.all_events if e.is_step_failure]
        restarts = [e for e in result.all_events if e.event_type_value == "STEP_RESTARTED"]
    assert len(failures) == 1 and not restarts
    description = failures[0].step_failure_data.user_failure_data.description
    assert description.startswith("the Hexoskin API rejected the credentials") and "\n" not in description


# -- automation safe to switch on ----------------------------------------------------------------------


def test_sensors_skip_with_a_reason_without_an_api(tmp_path):
    from hexo_pipeline.defs.study.sensors import subjects_sensor
    from hexo_pipeline.defs.subject_day.automation import late_data_sensor

    with dg.instance_for_test() as instance:
        for sensor in (subjects_sensor, late_data_sensor):
            with dg.build_sensor_context(
                instance=instance,
                resources={
                    "hexoskin": HexoskinResource(),
                    "storage": LakeResource(data_dir=str(tmp_path)),
                    "study": StudyResource(),
                },
            ) as context:
                result = sensor(context)
            assert isinstance(result, dg.SkipReason) and "HEXO_API_URL is not set" in result.skip_message


def test_late_data_cursor_starts_from_the_lake(tmp_path):
    from hexo_pipeline.defs.subject_day.automation import lake_cursor
    from hexo_pipeline.lake.contract import schema_of

    lake = Lake(tmp_path / "lake")
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert lake_cursor(lake, now=now) == now.isoformat()  # empty lake: from now, never from 1970
    newest = datetime(2026, 10, 9, 8, 30, tzinfo=UTC)
    schema = schema_of("records")
    for day, received in ((date(2026, 10, 5), datetime(2026, 10, 6, tzinfo=UTC)), (date(2026, 10, 6), newest)):
        row = {name: None for name in schema.names}
        row.update(record_id=1, user_id=1, received_at=received)
        lake.write_partition("records", "subj_1", day, pa.Table.from_pylist([row], schema=schema))
    assert lake_cursor(lake, now=now) == newest.isoformat()


def test_warehouse_builds_coalesce(tmp_path):
    from hexo_pipeline.defs.jobs import warehouse_job
    from hexo_pipeline.defs.warehouse.automation import WAITING, build_waiting, daily_warehouse_schedule

    with dg.instance_for_test() as instance:
        assert not build_waiting(instance)
        instance.add_run(
            dg.DagsterRun(job_name=warehouse_job.name, run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.NOT_STARTED)
        )  # queued needs a code origin
        assert build_waiting(instance)
        with dg.build_schedule_context(
            instance=instance, scheduled_execution_time=datetime(2026, 11, 30, 5, 30)
        ) as context:
            result = daily_warehouse_schedule(context)
        assert isinstance(result, dg.SkipReason) and result.skip_message == WAITING


def test_dagster_yaml_limits_the_run_queue(tmp_path):
    from hexo_pipeline.defs.jobs import API_RUN_TAG, WAREHOUSE_RUN_TAG, ingest_job, warehouse_job

    (tmp_path / "dagster.yaml").write_text(dagster_yaml(api_limit=2, max_runs=3))
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    queue = instance.get_concurrency_config().run_queue_config
    assert queue.max_concurrent_runs == 3
    limits = {limit["key"]: limit["limit"] for limit in queue.tag_concurrency_limits}
    assert limits == {API_RUN_TAG: 2, WAREHOUSE_RUN_TAG: 1}
    assert WAREHOUSE_RUN_TAG in warehouse_job.tags and API_RUN_TAG in ingest_job.tags


# -- Ctrl-C on `hexo-pipeline ui` -----------------------------------------------------------------------


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_ui_stops_everything_on_ctrl_c(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in HEXO_VARS}
    env.update(HEXO_DATA_DIR=str(tmp_path / "data"), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hexo_pipeline.cli", "ui", "--port", str(port), "--subjects", "1", "--days", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None, "hexo-pipeline ui exited"
            assert time.monotonic() < deadline, "the webserver never answered"
            time.sleep(1)
        started = _descendants(proc.pid)
        assert len(started) >= 3  # the sandbox, dagster dev and its webserver/daemon
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
        time.sleep(0.5)
        assert not [pid for pid in started if _alive(pid)]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_run_supervised_kills_what_ignores_sigint(tmp_path):
    """A child that ignores SIGINT (and its own child) is killed after the grace period."""
    script = (
        "import signal, subprocess, sys, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
        "subprocess.Popen([sys.executable, '-c', 'import signal, time; "
        "signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(600)']); time.sleep(600)"
    )
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from hexo_pipeline.runner import run_supervised; "
            f"sys.exit(run_supervised([sys.executable, '-c', {script!r}], grace_s=1.0))",
        ]
    )
    try:
        deadline = time.monotonic() + 30
        while len(_descendants(parent.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        started = _descendants(parent.pid)
        assert len(started) >= 2
        parent.send_signal(signal.SIGINT)
        assert parent.wait(timeout=15) == 0
        time.sleep(0.3)
        assert not [pid for pid in started if _alive(pid)]
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
