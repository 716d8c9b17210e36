"""Beyond one machine (docs/deploy.md): the Dagster instance on a real PostgreSQL server, backfills
launched through the backfill daemon (`dagster-daemon run` on workspace.yaml), their steps executed by two
Celery worker processes over a real Redis. Every server is started here on 127.0.0.1 at a free port and
stopped afterwards.

One backfill of the subject-day assets (records and ranges, study-side data, decoded signals; one run per
day, BackfillPolicy.multi_run): both workers run steps; the worker process running a signals step is
killed mid-step and the step runs again; the `hexoskin_api` pool's slots are claimed in the PostgreSQL
instance and never more than its limit at once; the lake equals the one an in-process run writes.

CI runs 2 subjects x 2 days (4 subject-days, 2 runs); `HEXO_DISTRIBUTED_STUDY=8x3` runs 24 subject-days
(the figures of docs/deploy.md; too long for every CI run on a 2-core machine).

The servers are Debian's `postgresql` and `redis-server` (.ci/run installs them): outside CI a missing
binary skips with that reason, in CI it fails.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest

from hexo_pipeline.defs.resources import HexoskinResource, LakeResource, StudyResource
from hexo_pipeline.defs.shared import API_POOL
from hexo_pipeline.defs.subject_day.assets import records_and_ranges, signals
from hexo_pipeline.defs.subject_day.study_data import subject_day_study_data
from hexo_pipeline.runner import dagster_yaml, sandbox_environment
from hexo_pipeline.study_settings import StudySettings
from hexo_sandbox import StudyConfig, start_sandbox

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SUBJECTS, DAYS = (int(n) for n in os.environ.get("HEXO_DISTRIBUTED_STUDY", "2x2").split("x"))
STUDY = StudySettings()  # the sandbox's default calendar, as this test process's definitions have it
BACKFILL_TIMEOUT_S = 900
WORKERS = ("w1", "w2")
API_LIMIT = 2  # the hexoskin_api pool's limit (HEXO_API_CONCURRENCY)


def missing(what: str) -> None:
    """Outside CI a missing server skips with its reason; CI must run these tests (.ci/run installs them)."""
    if os.environ.get("CI"):
        pytest.fail(f"{what}: CI must run the distributed tests (.ci/run installs postgresql and redis-server)")
    pytest.skip(f"{what} (install postgresql and redis-server to run the distributed tests)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition: Callable[[], object], timeout_s: float, what: str, interval_s: float = 0.2):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def postgres_bindir() -> Path | None:
    """Debian keeps the server's programs in /usr/lib/postgresql/<version>/bin, off PATH."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    return versions[-1].parent if versions else None


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server with a password (scram-sha-256) and a `dagster` database; run as the `postgres`
    user when this process is root (the server refuses root), its data in a temp dir that user owns."""
    bindir = postgres_bindir()
    if bindir is None:
        missing("PostgreSQL's pg_ctl is absent")
    root = Path(tempfile.mkdtemp(prefix="hexo-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    password = secrets.token_hex(12)
    pwfile = root / "pw"
    pwfile.write_text(password)
    if as_user:
        shutil.chown(pwfile, "postgres", "postgres")
    data, port = root / "data", free_port()

    def pg(*args: str) -> None:
        done = subprocess.run(as_user + list(args), capture_output=True, text=True)
        assert done.returncode == 0, f"{args[0]} failed: {done.stderr[-2000:]}"

    try:
        pg(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "scram-sha-256", "--pwfile", str(pwfile))
        pwfile.unlink()
        options = f"-h 127.0.0.1 -p {port} -k {root} -F"  # -F: no fsync, a throwaway server
        pg(str(bindir / "pg_ctl"), "start", "-D", str(data), "-w", "-t", "60", "-l", str(root / "log"), "-o", options)
        import psycopg2

        con = psycopg2.connect(f"postgresql://postgres:{password}@127.0.0.1:{port}/postgres")
        con.autocommit = True
        con.cursor().execute("create database dagster")
        con.close()
        yield f"postgresql://postgres:{password}@127.0.0.1:{port}/dagster"
    finally:
        subprocess.run(
            as_user + [str(bindir / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w"], capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory) -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        missing("redis-server is absent")
    import redis

    folder, port = tmp_path_factory.mktemp("redis"), free_port()
    with open(folder / "log", "w") as log:
        proc = subprocess.Popen(
            [
                server,
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(folder),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        client = redis.Redis(host="127.0.0.1", port=port)

        def pong() -> bool:
            try:
                return client.ping()
            except redis.ConnectionError:
                return False

        wait_for(pong, 30, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


def stop_group(proc: subprocess.Popen, timeout_s: float = 5) -> None:
    """SIGTERM to the process group this test started, SIGKILL to what is left after `timeout_s`."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout_s)
            if sig == signal.SIGTERM:
                time.sleep(0.5)  # let the group's children exit after their parent
        except subprocess.TimeoutExpired:
            continue


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


@dataclass
class Cluster:
    instance: dg.DagsterInstance
    data_dir: Path
    logs: Path
    subjects: list[str]
    workers: dict[str, subprocess.Popen]
    reference: Path  # the lake the same assets write in-process


def resources(handle, data_dir: Path) -> dict:
    env = sandbox_environment(handle.info)
    hexo = HexoskinResource(
        base_url=env["HEXO_API_URL"],
        auth="oauth2",
        username=env["HEXO_USERNAME"],
        password=env["HEXO_PASSWORD"],
        client_id=env["HEXO_CLIENT_ID"],
        client_secret=env["HEXO_CLIENT_SECRET"],
    )
    return {"hexoskin": hexo, "storage": LakeResource(data_dir=str(data_dir)), "study": StudyResource.of(STUDY)}


# records and ranges, the study-side data (calendar, surveys, GPS...) and the decoded signals of a subject-day
ASSETS = [records_and_ranges, subject_day_study_data, signals]
SIGNAL_DATASETS = {key.path[-1] for key in signals.keys}


def day(offset: int) -> str:
    return STUDY.first_day.fromordinal(STUDY.first_day.toordinal() + offset).isoformat()


def subject_day_keys(subjects: list[str], days: int = DAYS) -> list[str]:
    return [f"{day(d)}|{s}" for s in subjects for d in range(days)]


@pytest.fixture(scope="module")
def cluster(postgres_url, redis_url, tmp_path_factory) -> Iterator[Cluster]:
    """The sandbox, a DAGSTER_HOME whose generated dagster.yaml puts the instance on PostgreSQL, two Celery
    workers and the Dagster daemon, all with the environment a deployment sets; and the in-process
    reference lake of the same assets."""
    root = tmp_path_factory.mktemp("distributed")
    handle = start_sandbox(study=StudyConfig(subjects=SUBJECTS, days=DAYS, start=STUDY.first_day))
    started: list[subprocess.Popen] = []
    try:
        subjects = [a["username"] for a in handle.info["accounts"] if a["role"] == "subject"]
        home, data, logs = root / "dagster_home", root / "data", root / "logs"
        for folder in (home, data, logs):
            folder.mkdir()
        (home / "dagster.yaml").write_text(dagster_yaml(api_limit=API_LIMIT, max_runs=3, postgres=True))
        env = {
            **os.environ,
            **sandbox_environment(handle.info),
            "DAGSTER_HOME": str(home),
            "HEXO_DATA_DIR": str(data),
            "HEXO_DAGSTER_PG_URL": postgres_url,
            "HEXO_EXECUTOR": "celery",
            "HEXO_CELERY_BROKER_URL": redis_url,
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("HEXO_CELERY_BACKEND_URL", None)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("HEXO_DAGSTER_PG_URL", postgres_url)
            instance = dg.DagsterInstance.from_config(str(home))
            instance.add_dynamic_partitions("subjects", subjects)

            def start(name: str, cmd: list[str]) -> subprocess.Popen:
                with open(logs / f"{name}.log", "w") as log:
                    proc = subprocess.Popen(
                        cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                    )
                started.append(proc)
                return proc

            celery = [str(BIN / "celery"), "-A", "hexo_pipeline.celery_worker", "worker", "--concurrency", "1"]
            workers = {
                name: start(name, celery + ["-n", f"{name}@%h", "--loglevel", "INFO", "--without-mingle"])
                for name in WORKERS
            }
            start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")])

            reference = root / "reference"
            materialize_in_process(handle, reference, subjects)
            for name in WORKERS:
                wait_for(lambda: "ready." in (logs / f"{name}.log").read_text(), 120, f"celery worker {name}")
            yield Cluster(instance, data, logs, subjects, workers, reference)
    finally:
        for proc in reversed(started):
            stop_group(proc)
        handle.stop()


def materialize_in_process(handle, data_dir: Path, subjects: list[str]) -> None:
    """The reference: the same assets in this process (Dagster's default executor, an ephemeral
    instance), one partition-range run per subject."""
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("subjects", subjects)
    for subject in subjects:
        result = dg.materialize(
            ASSETS,
            instance=instance,
            resources=resources(handle, data_dir),
            tags={
                "dagster/asset_partition_range_start": f"{day(0)}|{subject}",
                "dagster/asset_partition_range_end": f"{day(DAYS - 1)}|{subject}",
            },
        )
        assert result.success


# -- backfills through the daemon, and what their event logs say ------------------------------------------


def launch_backfill(instance: dg.DagsterInstance, assets: list[dg.AssetsDefinition], keys: list[str]) -> str:
    """What the UI's "Materialize" over partitions does: a PartitionBackfill stored in the instance, which
    the backfill daemon turns into runs (BackfillPolicy.multi_run) and the run queue launches."""
    from dagster._core.execution.backfill import PartitionBackfill
    from dagster._core.utils import make_new_backfill_id

    from hexo_pipeline.definitions import defs

    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=make_new_backfill_id(),
        asset_graph=defs.resolve_asset_graph(),
        partition_names=keys,
        asset_selection=[key for asset in assets for key in asset.keys],
        backfill_timestamp=time.time(),
        tags={},
        dynamic_partitions_store=instance,
        all_partitions=False,
        title=None,
        description=None,
        run_config=None,
    )
    instance.add_backfill(backfill)
    return backfill.backfill_id


def backfill_runs(instance: dg.DagsterInstance, backfill_id: str) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id})))


def wait_backfill(cluster: Cluster, backfill_id: str) -> list[dg.DagsterRun]:
    """The backfill's runs once the daemon has marked it done and every run has finished."""
    from dagster._core.execution.backfill import BulkActionStatus

    def done():
        backfill = cluster.instance.get_backfill(backfill_id)
        if backfill.status in (BulkActionStatus.REQUESTED, BulkActionStatus.CANCELING, BulkActionStatus.FAILING):
            return None
        runs = backfill_runs(cluster.instance, backfill_id)
        return runs if all(run.is_finished for run in runs) else None

    try:
        return wait_for(done, BACKFILL_TIMEOUT_S, f"backfill {backfill_id}", interval_s=1.0)
    except AssertionError:
        tails = {p.name: p.read_text()[-3000:] for p in cluster.logs.iterdir()}
        raise AssertionError(f"backfill {backfill_id} did not finish; logs: {tails}") from None


def events(instance: dg.DagsterInstance, run_id: str) -> list:
    return [e for e in instance.all_logs(run_id) if e.dagster_event is not None]


def celery_assignments(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, str]]:
    """(step key, worker name) for every time a worker took a step ("Executing steps ... in celery
    worker", reported by dagster-celery's task)."""
    found = []
    for entry in events(instance, run_id):
        data = entry.dagster_event.event_specific_data
        metadata = getattr(data, "metadata", None) or {}
        if entry.dagster_event.is_engine_event and "Celery worker" in metadata:
            found.append((entry.step_key, str(metadata["Celery worker"].value).split("@")[0]))
    return found


def step_intervals(instance: dg.DagsterInstance, run_ids: list[str]) -> list[tuple[float, float]]:
    """[first start, last end] of every step of these runs, from the event log."""
    spans: dict[tuple[str, str], list[float]] = {}
    for run_id in run_ids:
        for entry in events(instance, run_id):
            event = entry.dagster_event
            if event.is_step_start or event.is_step_success or event.is_step_failure:
                spans.setdefault((run_id, entry.step_key), []).append(entry.timestamp)
    return [(min(ts), max(ts)) for ts in spans.values()]


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = peak = 0
    for _, change in edges:
        running += change
        peak = max(peak, running)
    return peak


def lake_files(data_dir: Path, keep: Callable[[str], bool]) -> list[str]:
    """Relative paths of the Parquet files of the datasets `keep` accepts."""
    lake = data_dir / "lake"
    paths = (p.relative_to(lake) for p in lake.rglob("*.parquet"))
    return sorted(str(p) for p in paths if not p.parts[0].startswith("_") and keep(p.parts[0]))


def same_rows(path: Path, other: Path) -> bool:
    """Equal schemas and rows but for the ingestion time (`received_at`, the only column that differs
    between two runs), read in batches: a day of signals does not fit in memory twice."""
    a, b = pq.ParquetFile(path), pq.ParquetFile(other)
    if a.schema_arrow != b.schema_arrow or a.metadata.num_rows != b.metadata.num_rows:
        return False
    columns = [name for name in a.schema_arrow.names if name != "received_at"]
    left, right = (
        a.iter_batches(batch_size=1 << 18, columns=columns),
        b.iter_batches(batch_size=1 << 18, columns=columns),
    )
    x = y = None
    while True:
        while x is None or len(x) == 0:
            x = next(left, None)
            if x is None:
                break
        while y is None or len(y) == 0:
            y = next(right, None)
            if y is None:
                break
        if x is None or y is None:
            return x is None and y is None
        n = min(len(x), len(y))
        if not x.slice(0, n).equals(y.slice(0, n)):
            return False
        x, y = x.slice(n), y.slice(n)


def assert_same_lake(cluster: Cluster, keep: Callable[[str], bool]) -> int:
    files = lake_files(cluster.data_dir, keep)
    assert files == lake_files(cluster.reference, keep)
    for rel in files:
        assert same_rows(cluster.data_dir / "lake" / rel, cluster.reference / "lake" / rel), rel
    return len(files)


def watch_pool(instance: dg.DagsterInstance, stop: threading.Event, seen: dict[str, int]) -> None:
    """The most slots of the hexoskin_api pool claimed at once, and the most steps waiting for one, as the
    instance (PostgreSQL) has them while a backfill runs."""
    while not stop.wait(0.3):
        info = instance.event_log_storage.get_concurrency_info(API_POOL)
        seen["claimed"] = max(seen.get("claimed", 0), len(info.claimed_slots))
        seen["pending"] = max(seen.get("pending", 0), info.pending_step_count)
        seen["slots"] = info.slot_count


def kill_a_running_signals_step(cluster: Cluster, backfill_id: str) -> str:
    """Waits for a signals step of the backfill to start on a worker, then kills (SIGKILL) that worker's
    pool process, which runs the step; returns the worker's name."""

    def running() -> str | None:
        for run in backfill_runs(cluster.instance, backfill_id):
            taken = [w for step, w in celery_assignments(cluster.instance, run.run_id) if step == signals.op.name]
            started = any(
                e.dagster_event.is_step_start and e.step_key == signals.op.name
                for e in events(cluster.instance, run.run_id)
            )
            if taken and started:
                return taken[-1]
        return None

    worker = wait_for(running, BACKFILL_TIMEOUT_S, "a signals step to start on a worker")
    pool = children(cluster.workers[worker].pid)
    assert pool, f"{worker} has no pool process"
    for pid in pool:
        os.kill(pid, signal.SIGKILL)
    return worker


# -- the test (one function: under xdist, two would each start their own servers) -------------------------


def test_backfill_on_postgres_shared_by_celery_workers_survives_a_killed_worker(cluster):
    instance = cluster.instance
    keys = subject_day_keys(cluster.subjects)
    seen: dict[str, int] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=watch_pool, args=(instance, stop, seen), daemon=True)
    t0 = time.monotonic()
    watcher.start()
    try:
        backfill_id = launch_backfill(instance, ASSETS, keys)
        killed = kill_a_running_signals_step(cluster, backfill_id)
        runs = wait_backfill(cluster, backfill_id)
    finally:
        stop.set()
        watcher.join()
    seconds = time.monotonic() - t0

    assert runs and all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs), [r.status for r in runs]
    assert set(keys) <= instance.get_materialized_partitions(dg.AssetKey("records"))  # in PostgreSQL
    taken = {run.run_id: celery_assignments(instance, run.run_id) for run in runs}
    # a run submits two independent steps at once and a worker takes one step at a time: both workers work
    assert {worker for steps in taken.values() for _, worker in steps} == set(WORKERS), taken
    # the killed step went back to the queue and ran again, in the same run
    assert any(len(steps) > len(set(steps)) for steps in ([s for s, _ in v] for v in taken.values())), taken
    # the pool's slots live in the instance: claimed by the runs for their Celery steps, never above the limit
    assert seen["slots"] == API_LIMIT and 1 <= seen["claimed"] <= API_LIMIT, seen
    assert most_at_once(step_intervals(instance, list(taken))) <= API_LIMIT
    signal_files = assert_same_lake(cluster, lambda dataset: dataset in SIGNAL_DATASETS)
    other_files = assert_same_lake(cluster, lambda dataset: dataset not in SIGNAL_DATASETS)
    assert signal_files and other_files
    steps = sum(len(v) for v in taken.values())
    print(
        f"\n{len(keys)} subject-days: {len(runs)} runs, {steps} Celery steps ({killed} killed mid-step once), "
        f"{signal_files + other_files} lake files, {seconds:.1f} s; pool {seen}"
    )
