"""Beyond one machine (docs/deploy.md): the Dagster instance on a real PostgreSQL server, a backfill launched
through the backfill daemon (`dagster-daemon run` on workspace.yaml), its steps executed by two Celery worker
processes over a real Redis. Every server is started here on 127.0.0.1 at a free port and stopped afterwards.

One backfill of the subject-day assets (records and ranges, study-side data, decoded signals) over 12 subjects
x 2 days (24 subject-days; BackfillPolicy.multi_run makes one run per day): both workers run steps; the worker
process running the backfill's first step is killed mid-step and the step runs again; the `hexoskin_api`
pool's slots are claimed in the PostgreSQL instance and never more than its limit at once; the lake equals the
one an in-process run of the same assets writes (built in a thread while the cluster boots and works).
`HEXO_DISTRIBUTED_STUDY=8x3` (subjects x days) runs another study shape.

What keeps it short (figures in docs/deploy.md): the sandbox's records are cut at RECORD_MINUTES (the same
days, records, ranges and study life, a fraction of the signal samples); the daemon evaluates backfills every
DAEMON_TICK_S instead of 30 s and the run queue is read every second; the workers load the definitions once
(hexo_pipeline.celery_worker).

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
from concurrent.futures import Future, ThreadPoolExecutor
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
SUBJECTS, DAYS = (int(n) for n in os.environ.get("HEXO_DISTRIBUTED_STUDY", "12x2").split("x"))
RECORD_MINUTES = 20  # every record of the sandbox cut at 20 min (StudyConfig.max_record_minutes)
STUDY = StudySettings()  # the sandbox's default calendar, as this test process's definitions have it
BACKFILL_TIMEOUT_S = 900
WORKERS = ("w1", "w2")
API_LIMIT = 2  # the hexoskin_api pool's limit (HEXO_API_CONCURRENCY)
# Dagster's cadences, set for the test (the code that runs is the same): the backfill daemon evaluates backfills
# every DEFAULT_DAEMON_INTERVAL_SECONDS (30 s) and reloads the workspace (a new code server loading the
# definitions) every RELOAD_WORKSPACE_INTERVAL (60 s), constants of dagster 1.13 set in the daemon's process by
# `DAEMON`; the run queue is read every `dequeue_interval_seconds` (5 s, an instance setting).
DAEMON_TICK_S = 10
DAEMON = (
    "import sys; import dagster._daemon.controller as controller; "
    f"controller.DEFAULT_DAEMON_INTERVAL_SECONDS = {DAEMON_TICK_S}; controller.RELOAD_WORKSPACE_INTERVAL = 3600; "
    "from dagster._daemon.cli import main; sys.argv[0] = 'dagster-daemon'; sys.exit(main())"
)
RUN_QUEUE = "run_queue:\n  dequeue_interval_seconds: 1\n"


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


def stop_groups(procs: list[subprocess.Popen], timeout_s: float = 3) -> None:
    """SIGTERM to the process groups this test started, all at once, then SIGKILL to what is left after
    `timeout_s` (their children too)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for proc in procs:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout_s
        for proc in procs:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        if sig == signal.SIGTERM:
            time.sleep(0.5)  # let the groups' children exit after their parents


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
    reference_built: Future  # done when `reference` is written


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
    study = StudyConfig(subjects=SUBJECTS, days=DAYS, start=STUDY.first_day, max_record_minutes=RECORD_MINUTES)
    handle = start_sandbox(study=study)
    started: list[subprocess.Popen] = []
    in_process = ThreadPoolExecutor(1, thread_name_prefix="reference")
    try:
        subjects = [a["username"] for a in handle.info["accounts"] if a["role"] == "subject"]
        reference = root / "reference"
        # written while the cluster boots and runs the backfill (the test waits for it before comparing)
        reference_built = in_process.submit(materialize_in_process, handle, reference, subjects)
        home, data, logs = root / "dagster_home", root / "data", root / "logs"
        for folder in (home, data, logs):
            folder.mkdir()
        (home / "dagster.yaml").write_text(dagster_yaml(api_limit=API_LIMIT, max_runs=3, postgres=True) + RUN_QUEUE)
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
            start("daemon", [sys.executable, "-c", DAEMON, "run", "-w", str(REPO / "workspace.yaml")])

            for name in WORKERS:
                wait_for(lambda: "ready." in (logs / f"{name}.log").read_text(), 120, f"celery worker {name}")
            yield Cluster(instance, data, logs, subjects, workers, reference, reference_built)
    finally:
        stop_groups(started)
        in_process.shutdown(wait=True)
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


# what the test reads of a run's event log: the step events and the engine events (Celery assignments)
STEP_EVENTS = {
    dg.DagsterEventType.ENGINE_EVENT,
    dg.DagsterEventType.STEP_START,
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
}


def events(instance: dg.DagsterInstance, run_id: str) -> list:
    return [r.event_log_entry for r in instance.get_records_for_run(run_id, of_type=STEP_EVENTS).records]


def assignments(entries: list) -> list[tuple[str, str]]:
    """(step key, worker name) for every time a worker took a step ("Executing steps ... in celery
    worker", reported by dagster-celery's task)."""
    found = []
    for entry in entries:
        data = entry.dagster_event.event_specific_data
        metadata = getattr(data, "metadata", None) or {}
        if entry.dagster_event.is_engine_event and "Celery worker" in metadata:
            found.append((entry.step_key, str(metadata["Celery worker"].value).split("@")[0]))
    return found


def celery_assignments(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, str]]:
    return assignments(events(instance, run_id))


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


def kill_a_running_step(cluster: Cluster, backfill_id: str) -> tuple[str, str]:
    """Waits for the backfill's first step to start on a worker, then kills (SIGKILL) that worker's pool
    process, which runs the step; returns (step, worker)."""

    def running() -> tuple[str, str] | None:
        for run in backfill_runs(cluster.instance, backfill_id):
            logged = events(cluster.instance, run.run_id)
            started = {e.step_key for e in logged if e.dagster_event.is_step_start}
            ended = {e.step_key for e in logged if e.dagster_event.is_step_success or e.dagster_event.is_step_failure}
            for step, worker in assignments(logged):
                if step in started and step not in ended:
                    return step, worker
        return None

    step, worker = wait_for(running, BACKFILL_TIMEOUT_S, "a step to start on a worker", interval_s=0.1)
    pool = children(cluster.workers[worker].pid)
    assert pool, f"{worker} has no pool process"
    for pid in pool:
        os.kill(pid, signal.SIGKILL)
    return step, worker


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
        killed_step, killed = kill_a_running_step(cluster, backfill_id)
        t_kill = time.monotonic() - t0
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
    assert any([s for s, _ in v].count(killed_step) > 1 for v in taken.values()), taken
    # the pool's slots live in the instance: claimed by the runs for their Celery steps, never above the limit
    assert seen["slots"] == API_LIMIT and 1 <= seen["claimed"] <= API_LIMIT, seen
    assert most_at_once(step_intervals(instance, list(taken))) <= API_LIMIT
    cluster.reference_built.result()
    signal_files = assert_same_lake(cluster, lambda dataset: dataset in SIGNAL_DATASETS)
    other_files = assert_same_lake(cluster, lambda dataset: dataset not in SIGNAL_DATASETS)
    assert signal_files and other_files
    steps = sum(len(v) for v in taken.values())
    print(
        f"\n{len(keys)} subject-days: {len(runs)} runs, {steps} Celery steps ({killed} killed mid-{killed_step} once "
        f"at {t_kill:.1f} s), "
        f"{signal_files + other_files} lake files, {seconds:.1f} s; pool {seen}"
    )
