"""The lake on S3-compatible object storage (HEXO_LAKE_URL=s3://bucket/prefix) against a real S3 API:
moto's server on 127.0.0.1 (a free port), started and stopped by these tests, reached over HTTP by s3fs
(the pipeline) and by DuckDB through dbt-duckdb's fsspec `filesystems` (dbt).

"Killing" the server is stopping it: connections are refused, as during an outage; started again on the
same port it serves the same buckets (moto keeps them in this process's memory), as the storage does
when it comes back.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from test_lake_manifest import DAY, T0, records, vitals

from hexo_pipeline.lake import Lake, compact_lake, storage, verify_lake
from hexo_pipeline.lake.verify import rebuild_manifest
from hexo_pipeline.user_errors import explain

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

BUCKET = "hexo-lake"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3Server:
    """moto's S3 server in a thread of this process, on a fixed loopback port."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.server = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": "hexo-test",
            "AWS_SECRET_ACCESS_KEY": "hexo-test-secret",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def start(self) -> None:
        self.server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def client(self):
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1", **_keys(self.env))

    def keys(self, prefix: str) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]


def _keys(env: dict[str, str]) -> dict[str, str]:
    return {"aws_access_key_id": env["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"]}


@pytest.fixture(scope="module")
def s3():
    server = S3Server()
    server.start()
    server.client().create_bucket(Bucket=BUCKET)
    yield server
    server.stop()


@pytest.fixture
def s3_lake(s3, monkeypatch, tmp_path) -> Lake:
    """A fresh prefix of the bucket as the environment's lake (HEXO_LAKE_URL), locks under tmp_path."""
    for key, value in s3.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("HEXO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HEXO_LAKE_URL", f"s3://{BUCKET}/{uuid.uuid4().hex[:8]}")
    lake = Lake.in_data_dir()
    assert lake.is_remote
    return lake


def test_partitions_manifest_checks_and_compaction_on_object_storage(s3, s3_lake):
    lake = s3_lake
    for i in range(3):
        lake.write_partition("records", "s1", DAY + timedelta(days=i), records(2 + i))
    lake.write_partition("signals_vitals", "s1", DAY, vitals(5))
    lake.write_study_table("datatypes", pa.table({"datatype_id": [19], "received_at": [T0]}))
    lake.write_partition("records", "s1", DAY + timedelta(days=2), None)  # a delete
    lake.write_partition("records", "s1", DAY + timedelta(days=3), None)  # nothing there: no entry

    prefix = str(lake.root).split(f"{BUCKET}/", 1)[1]
    keys = s3.keys(prefix + "/")
    assert f"{prefix}/records/subject=s1/date={DAY}/part-0.parquet" in keys
    assert f"{prefix}/records/subject=s1/date={DAY + timedelta(days=2)}/part-0.parquet" not in keys
    assert not any(".tmp" in k for k in keys), "objects are uploaded whole, never through a temp key"
    assert lake.read_partition("records", "s1", DAY).num_rows == 2
    assert lake.read_study_table("datatypes").num_rows == 1
    current = lake.manifest.current("records")
    assert current.column("rows").to_pylist() == [2, 3]
    assert len(lake.manifest.current("records", include_deletes=True)) == 3
    assert (
        current.column("sha256").to_pylist()[0] == storage.file_facts(lake.partition_file("records", "s1", DAY)).sha256
    )
    assert verify_lake(lake, deep=True) == []
    assert not (Path(os.environ["HEXO_DATA_DIR"]) / "lake").exists(), "nothing of the lake on the local disk"

    lake.manifest.checkpoint()
    assert not [k for k in s3.keys(prefix + "/_manifest/records/log/")]
    assert lake.manifest.current("records").num_rows == 2

    report = compact_lake(lake, before=(DAY + timedelta(days=40)).strftime("%Y-%m"), datasets=["records"])
    assert report.files_removed == 2
    assert lake.read_partition("records", "s1", DAY + timedelta(days=1)).num_rows == 3
    assert verify_lake(lake, deep=True) == []

    # what the checks find on object storage: an object put by hand, an object removed by hand
    s3.client().put_object(Bucket=BUCKET, Key=f"{prefix}/records/subject=s2/date={DAY}/part-0.parquet", Body=b"x")
    s3.client().delete_object(Bucket=BUCKET, Key=f"{prefix}/signals_vitals/subject=s1/date={DAY}/part-0.parquet")
    kinds = sorted(p.kind for p in verify_lake(lake))
    assert kinds == ["missing_file", "unreadable_file"]
    s3.client().delete_object(Bucket=BUCKET, Key=f"{prefix}/records/subject=s2/date={DAY}/part-0.parquet")
    lake.write_partition("signals_vitals", "s1", DAY, vitals(5))
    assert verify_lake(lake) == []
    assert rebuild_manifest(lake.manifest) == 4  # two compacted days, the vitals day, the study table


def test_dbt_reads_the_lake_the_way_duckdb_reads_it_through_fsspec(s3, s3_lake):
    """The manifest query dbt's macros run (one snapshot and a log under s3://) through the same fsspec
    filesystem dbt-duckdb registers."""
    lake = s3_lake
    lake.write_partition("records", "s1", DAY, records(2))
    lake.manifest.checkpoint()
    lake.write_partition("records", "s2", DAY, records(4))
    con = storage.duckdb_connection(lake.root)
    rows = con.sql(
        f"select subject, count(*) from read_parquet('{lake.dataset_glob('records')}', hive_partitioning = true) "
        "group by all order by all"
    ).fetchall()
    assert rows == [("s1", 2), ("s2", 4)]
    assert lake.manifest.current("records").column("rows").to_pylist() == [2, 4]


def _writer(root: str, subject: str, n: int, env: dict[str, str]) -> None:
    os.environ.update(env)
    lake = Lake(root)
    for i in range(n):
        lake.write_partition("records", subject, DAY + timedelta(days=i % 5), records(1 + i % 3))
        lake.write_partition("records", "shared", DAY, records(1 + i % 3, first_id=100 + i))


def test_two_writer_processes_never_lose_an_entry_on_object_storage(s3, s3_lake, tmp_path):
    lake = s3_lake
    env = {**s3.env, "HEXO_DATA_DIR": os.environ["HEXO_DATA_DIR"]}
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(lake.root), s, 8, env)) for s in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(180)
        assert p.exitcode == 0
    prefix = str(lake.root).split(f"{BUCKET}/", 1)[1]
    assert len(s3.keys(f"{prefix}/_manifest/records/log/")) == 2 * 8 * 2, "one log object per write"
    current = lake.manifest.current("records")
    assert len(current) == 2 * 5 + 1
    shared = [e for e in current.to_pylist() if e["subject"] == "shared"][0]
    assert shared["sha256"] == storage.file_facts(lake.root / shared["file"]).sha256
    assert verify_lake(lake, deep=True) == []


def test_an_unreachable_store_fails_in_one_line_and_leaves_no_entry_without_its_object(s3, s3_lake):
    lake = s3_lake
    lake.write_partition("records", "s1", DAY, records(2))
    s3.stop()
    try:
        with pytest.raises(Exception) as failure:
            lake.write_partition("records", "s1", DAY + timedelta(days=1), records(3))
    finally:
        s3.start()
    line = explain(failure.value)
    assert line is not None and "\n" not in line, line
    assert "HEXO_LAKE_URL" in line and "AWS_ENDPOINT_URL" in line
    assert "hexo-test-secret" not in line
    assert lake.manifest.current("records").column("rows").to_pylist() == [2]
    assert verify_lake(lake, deep=True) == []


# -- end to end: the demo's ingestion and marts, on the local folder and on S3 --------------------------

DEMO_STUDY = ["--seed", "7", "--subjects", "2", "--days", "1"]


def _demo_env(data: Path, s3: S3Server | None, lake_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEXO_", "DAGSTER_", "AWS_"))}
    env["HEXO_DATA_DIR"] = str(data)
    env["HEXO_DUCKDB_MEMORY_LIMIT"] = os.environ.get("HEXO_DUCKDB_MEMORY_LIMIT", "2GB")
    if lake_url:
        env.update(s3.env, HEXO_LAKE_URL=lake_url)
    return env


def _demo(data: Path, env: dict[str, str]) -> subprocess.Popen:
    data.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "hexo_pipeline.cli", "demo", *DEMO_STUDY],
        env=env,
        cwd=data.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _run_demo(data: Path, env: dict[str, str]) -> tuple[float, str]:
    t0 = time.monotonic()
    proc = _demo(data, env)
    out, _ = proc.communicate(timeout=1500)
    assert proc.returncode == 0, out[-4000:]
    return time.monotonic() - t0, out


def _marts(published: Path) -> dict[str, list[tuple]]:
    """Every mart's rows, ordered; columns holding ingestion or build times (which differ between two
    runs by construction) left out."""
    con = duckdb.connect(str(published), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        out = {}
        tables = con.sql("select table_name from information_schema.tables where table_schema = 'marts'").fetchall()
        for (name,) in sorted(tables):
            cols = [
                c
                for (c,) in con.sql(
                    "select column_name from information_schema.columns "
                    f"where table_schema = 'marts' and table_name = '{name}' order by ordinal_position"
                ).fetchall()
                if not any(t in c for t in ("received_at", "built_at", "loaded_at", "ingested_at", "checked_at"))
            ]
            select = ", ".join(f'"{c}"' for c in cols)
            out[name] = con.sql(f"select {select} from marts.{name} order by all").fetchall()
        return out
    finally:
        con.close()


def _lake_rows(env: dict[str, str], data: Path) -> dict[str, int]:
    """Rows per dataset as dbt would read them (every daily file), through the lake's own storage."""
    code = (
        "import json; from hexo_pipeline.lake import Lake, lake_files; from hexo_pipeline.lake import storage\n"
        "lake = Lake.in_data_dir()\n"
        "out = {n: sum(storage.read_metadata(f.path).num_rows for f in fs) for n, fs in lake_files(lake.root).items()}\n"
        "print(json.dumps(out))"
    )
    run = subprocess.run([sys.executable, "-c", code], env=env, cwd=data.parent, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_ingestion_and_marts_on_s3_equal_the_local_run_and_survive_an_outage(s3, tmp_path):
    """One run on the local folder; on S3, a run that loses the server mid-run (it must fail cleanly) and
    its rerun, whose lake and marts must equal the local run's: the S3 run that is compared is the one that
    recovered, so a clean S3 run would prove nothing more (and cost a third demo)."""
    local_data = tmp_path / "local" / "data"
    local_env = _demo_env(local_data, None, None)
    local_s, _ = _run_demo(local_data, local_env)
    expected = _marts(local_data / "warehouse" / "hexo.duckdb")
    assert sum(len(rows) for rows in expected.values()) > 0
    lake_rows = _lake_rows(local_env, local_data)

    # An outage mid-run: the server stops once the first subject-day's signals are stored.
    s3_data = tmp_path / "s3" / "data"
    s3_env = _demo_env(s3_data, s3, f"s3://{BUCKET}/study")
    proc = _demo(s3_data, s3_env)
    deadline = time.monotonic() + 900
    while not any("/signals_" in k for k in s3.keys("study/")) and proc.poll() is None:
        assert time.monotonic() < deadline, "no signal object written in 15 minutes"
        time.sleep(0.5)
    s3.stop()
    try:
        out, _ = proc.communicate(timeout=1500)
    finally:
        s3.start()
    assert proc.returncode != 0, out[-4000:]
    assert "Traceback" not in out, out[-4000:]
    failures = [line for line in out.splitlines() if "object storage failed" in line]
    assert failures, out[-4000:]
    assert all("HEXO_LAKE_URL" in line and "hexo-test-secret" not in line for line in failures)

    rerun_s, out = _run_demo(s3_data, s3_env)
    assert "s3://hexo-lake/study" in out
    assert not (s3_data / "lake").exists(), "the lake went to object storage only"
    verify = subprocess.run(
        [sys.executable, "-m", "hexo_pipeline.cli", "lake", "verify", "--deep"],
        env=s3_env,
        cwd=s3_data.parent,
        capture_output=True,
        text=True,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "0 problem(s)" in verify.stdout
    assert _lake_rows(s3_env, s3_data) == lake_rows, "nothing lost or duplicated"
    assert _marts(s3_data / "warehouse" / "hexo.duckdb") == expected

    figures = {"local_demo_s": round(local_s, 1), "s3_rerun_after_outage_s": round(rerun_s, 1)}
    print(f"\nlake on S3 (moto) vs local folder, demo {' '.join(DEMO_STUDY)}: {json.dumps(figures)}")
