"""A subject-day's signal ingestion killed with SIGKILL while it writes (issue 8): readers never see a
half-written partition (the lake verifies clean, the manifest names only files that are there, the
previous version is still what they read), and a rerun gives the lake an uninterrupted run gives.

The ingestion runs in a child process (`ingest_subject_day_signals`, as the Dagster step calls it) over a
four hours of a sandbox day (~15 M samples), so that streaming takes seconds; the test kills it as soon as a staged
file has grown past a few row groups."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from hexo_pipeline.hexoskin import HexoskinClient, HexoskinConfig
from hexo_pipeline.ingest.subject_day import DayWindow, Subject, now_utc, overlapping, records_table
from hexo_pipeline.lake import Lake
from hexo_pipeline.lake.store import lake_files
from hexo_pipeline.lake.verify import verify_lake
from hexo_sandbox import StudyConfig

pytestmark = pytest.mark.slow

INGEST = """
import json, sys
from datetime import date, datetime
from pathlib import Path
import pyarrow.parquet as pq
from hexo_pipeline.hexoskin import HexoskinClient, HexoskinConfig
from hexo_pipeline.ingest.signals import ingest_subject_day_signals
from hexo_pipeline.ingest.subject_day import DayWindow
from hexo_pipeline.lake import Lake

a = json.loads(sys.argv[1])
window = DayWindow(date.fromisoformat(a["day"]), a["start"], a["end"])
with HexoskinClient(HexoskinConfig(**a["config"])) as api:
    ingest_subject_day_signals(api, Lake(Path(a["lake"])), a["subject"], window, pq.read_table(a["records"]),
                               datetime.fromisoformat(a["received_at"]), Path(a["quarantine"]))
"""
R1 = datetime(2026, 11, 1, tzinfo=UTC)
R2 = R1 + timedelta(days=1)


@pytest.fixture
def four_hours(sandbox, tmp_path: Path) -> dict:
    """The child's arguments for the first four hours of a subject's second day (records from the API,
    written to a Parquet file)."""
    info = sandbox.info
    owner = next(a for a in info["accounts"] if a["role"] == "owner")
    config = dict(
        base_url=sandbox.base_url,
        auth="oauth2",
        client_id=info["oauth2"]["client_id"],
        client_secret=info["oauth2"]["client_secret"],
        username=owner["username"],
        password=owner["password"],
    )
    study = StudyConfig()
    account = next(a for a in info["accounts"] if a["role"] == "subject")
    subject = Subject(int(account["user_id"]), account["username"])
    day = DayWindow.of(study.start + timedelta(days=1), study.timezone)
    with HexoskinClient(HexoskinConfig(**config)) as api:
        first = records_table(overlapping(api, "record", subject, day), day, now_utc())
        a = max(first.column("start_ticks")[0].as_py(), day.start)
        window = DayWindow(day.day, a, a + 4 * 3600 * 256)
        records = records_table(overlapping(api, "record", subject, window), window, now_utc())
    assert records.num_rows
    pq.write_table(records, tmp_path / "records.parquet")
    return dict(
        config=config,
        day=window.day.isoformat(),
        start=window.start,
        end=window.end,
        subject=subject.key,
        records=str(tmp_path / "records.parquet"),
        lake=str(tmp_path / "lake"),
        quarantine=str(tmp_path / "quarantine"),
    )


def start(args: dict, received_at: datetime) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", INGEST, json.dumps({**args, "received_at": received_at.isoformat()})],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen) -> None:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err


def kill_mid_write(proc: subprocess.Popen, lake_root: Path, min_bytes: int = 2**20) -> None:
    """SIGKILL the child once one of its staged (temp) files holds `min_bytes`."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the ingestion finished before it could be killed mid-write"
        staged = [p for p in lake_root.rglob(".*.tmp") if p.is_file()] if lake_root.is_dir() else []
        if any(p.stat().st_size >= min_bytes for p in staged):
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
            return
        time.sleep(0.01)
    pytest.fail("no staged file appeared")


def contents(lake: Lake) -> dict[str, tuple[str, frozenset]]:
    """Every data file the readers see: a digest of its rows without received_at (which differs between
    runs), and its received_at values. Read in batches: a day of signals is tens of millions of rows."""
    out = {}
    for files in lake_files(lake.root).values():
        for f in files:
            parquet = pq.ParquetFile(f.path)
            digest, stamps = hashlib.sha256(), set()
            for batch in parquet.iter_batches(batch_size=1 << 20):
                if "received_at" in batch.schema.names:
                    stamps |= set(pc.unique(batch.column("received_at")).to_pylist())
                    batch = batch.drop_columns(["received_at"])
                digest.update(batch.serialize())
            out[f.path.relative_to(lake.root).as_posix()] = (digest.hexdigest(), frozenset(stamps))
    return out


def rows_of(snapshot: dict) -> dict[str, str]:
    return {path: digest for path, (digest, _) in snapshot.items()}


def received(snapshot: dict) -> set[datetime]:
    return set().union(*(stamps for _, stamps in snapshot.values()))


def test_a_kill_mid_write_leaves_the_previous_version_and_a_rerun_completes(four_hours: dict) -> None:
    lake = Lake(Path(four_hours["lake"]))
    finish(start(four_hours, R1))  # the version readers have
    before = contents(lake)
    assert any(k.startswith("signals_ecg/") for k in before) and received(before) == {R1}

    proc = start(four_hours, R2)
    kill_mid_write(proc, lake.root)
    assert proc.returncode == -signal.SIGKILL
    assert verify_lake(lake, deep=True) == []  # no unrecorded, changed, missing or unreadable file
    assert contents(lake) == before  # the previous version, whole

    finish(start(four_hours, R2))
    assert verify_lake(lake, deep=True) == []
    after = contents(lake)
    assert rows_of(after) == rows_of(before) and received(after) == {R2}  # what an uninterrupted run writes
    assert not list(lake.root.rglob(".*.tmp"))  # the killed run's staged files are gone
