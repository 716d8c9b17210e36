"""Ingestion on a flaky network (issue 8): with the sandbox answering 10% 503, 5% 429, cutting 2% of bodies
short and resetting 1% of connections, the demo's ingestion (`runner.ingest_all`: Dagster runs of every
subject-day, in a child process) of 2 subjects x 2 days succeeds and writes the lake a clean network
gives, column for column but the fetch-time ones, with one OAuth2 password grant for the process."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from test_client_hardening import count_grants

from hexo_pipeline.lake import Lake
from hexo_pipeline.lake.store import lake_files
from hexo_pipeline.lake.verify import verify_lake
from hexo_pipeline.runner import sandbox_environment

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

# Multi-day steps, as in the issue. Records cut to an hour: every request kind and several data windows per
# record still go through the faults, for a fraction of full days' bytes (the test's wall time is mostly the
# client's backoff, not work).
STUDY = dict(seed=11, subjects=2, days=2, max_record_minutes=60)
FLAKY = dict(fault_503_rate=0.10, fault_429_rate=0.05, truncate_rate=0.02, reset_rate=0.01, retry_after_s=0)
# Columns that say when or where a row was fetched, not what it holds.
FETCH_COLUMNS = {"received_at", "decode_seconds", "file_path"}

INGEST = """
import json
from hexo_pipeline.runner import dagster_home, ingest_all
from hexo_pipeline.lake import data_dir
dagster_home(data_dir())
summary = ingest_all(progress=False)
print(json.dumps({"runs": summary.runs, "failed_runs": summary.failed_runs}))
"""


def ingest(handle, data: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEXO_", "DAGSTER_"))}
    env.update(sandbox_environment(handle.info), HEXO_DATA_DIR=str(data))
    run = subprocess.run([sys.executable, "-c", INGEST], env=env, capture_output=True, text=True, timeout=1500)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def lake_digest(data: Path) -> dict[str, str]:
    """Each data file of the lake: a digest of its rows without the fetch-time columns."""
    out = {}
    root = data / "lake"
    for files in lake_files(root).values():
        for f in files:
            parquet = pq.ParquetFile(f.path)
            digest = hashlib.sha256()
            for batch in parquet.iter_batches(batch_size=1 << 20):
                drop = [n for n in batch.schema.names if n in FETCH_COLUMNS]
                digest.update(batch.drop_columns(drop).serialize())
                if "file_path" in drop:  # where the exports live: the same relative to the data folder
                    digest.update(
                        "\n".join(pc.replace_substring(batch.column("file_path"), str(data), "").to_pylist()).encode()
                    )
            out[f.path.relative_to(root).as_posix()] = digest.hexdigest()
    return out


def test_a_flaky_network_gives_the_clean_lake_with_one_password_grant(make_sandbox, tmp_path: Path) -> None:
    clean = make_sandbox(**STUDY)
    assert ingest(clean, tmp_path / "clean")["failed_runs"] == 0

    flaky = make_sandbox(**STUDY, **FLAKY)
    grants = count_grants(flaky)
    result = ingest(flaky, tmp_path / "flaky")
    assert result["failed_runs"] == 0, result
    assert grants["password"] == 1, grants  # one token for the process, refreshed, not a grant per step

    assert verify_lake(Lake(tmp_path / "flaky" / "lake"), deep=True) == []
    expected, got = lake_digest(tmp_path / "clean"), lake_digest(tmp_path / "flaky")
    assert sorted(got) == sorted(expected)  # no partition missing, none extra
    assert {k for k in expected if got[k] != expected[k]} == set()
