"""`ingest_subject_day_signals`: all-or-nothing per subject-day, over the sandbox (real HTTP, real zips),
on a 10-minute window so it stays quick (the whole-day path is compared in test_ingest_summaries.py)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from hexo_pipeline.decoders.parquet import StagedParquetFile
from hexo_pipeline.hexoskin import HexoskinClient, HexoskinConfig
from hexo_pipeline.ingest.signals import ingest_subject_day_signals
from hexo_pipeline.ingest.subject_day import (
    DayWindow,
    SignalDownloadError,
    Subject,
    now_utc,
    overlapping,
    records_table,
)
from hexo_pipeline.lake import SIGNAL_DATASETS, Lake
from hexo_sandbox import StudyConfig


@pytest.fixture
def short_day(sandbox):
    """(api, subject, window, records): the first 10 minutes of a subject's first record of day 2."""
    info = sandbox.info
    owner = next(a for a in info["accounts"] if a["role"] == "owner")
    config = HexoskinConfig(
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
    with HexoskinClient(config) as api:
        day = DayWindow.of(study.start + timedelta(days=1), study.timezone)
        first = records_table(overlapping(api, "record", subject, day), day, now_utc()).slice(0, 1)
        a = max(first.column("start_ticks")[0].as_py(), day.start)
        window = DayWindow(day.day, a, a + 600 * 256)
        yield api, subject, window, records_table(overlapping(api, "record", subject, window), window, now_utc())


def _files(lake: Lake) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(lake.root.rglob("*")) if p.is_file()}


def test_a_write_failure_mid_day_keeps_the_previous_files(short_day, tmp_path, monkeypatch):
    api, subject, window, records = short_day
    lake = Lake(tmp_path / "lake")
    first = ingest_subject_day_signals(api, lake, subject.key, window, records, now_utc(), tmp_path / "q")
    assert first.rows["signals_ecg"] and first.rows["vitals_minutes"]
    before = _files(lake)
    assert lake.partition_file("signals_ecg", subject.key, window.day) in before
    assert lake.partition_file("hrv_windows", subject.key, window.day) in before

    real_write = StagedParquetFile.write
    calls = []

    def failing_write(self, table):
        calls.append(1)
        if len(calls) == 3:  # after two row groups are staged
            raise OSError(28, "No space left on device")
        return real_write(self, table)

    monkeypatch.setattr(StagedParquetFile, "write", failing_write)
    with pytest.raises(OSError, match="No space left"):
        ingest_subject_day_signals(api, lake, subject.key, window, records, now_utc(), tmp_path / "q")
    assert _files(lake) == before  # same files, same bytes, no temp file left behind
    assert not (tmp_path / "q").exists()  # a write failure is not a bad download: nothing quarantined


def test_an_undecodable_download_is_quarantined_and_nothing_replaced(short_day, tmp_path, monkeypatch):
    api, subject, window, records = short_day
    lake = Lake(tmp_path / "lake")
    ingest_subject_day_signals(api, lake, subject.key, window, records, now_utc(), tmp_path / "q")
    before = _files(lake)
    real_download = HexoskinClient.download_data

    def corrupt(self, dest, *args, **kwargs):
        path = real_download(self, dest, *args, **kwargs)
        Path(path).write_bytes(b"PK\x03\x04 not a zip" + b"\x00" * 64)
        return path

    monkeypatch.setattr(HexoskinClient, "download_data", corrupt)
    with pytest.raises(SignalDownloadError) as caught:
        ingest_subject_day_signals(api, lake, subject.key, window, records, now_utc(), tmp_path / "q")
    assert _files(lake) == before
    assert caught.value.quarantined.exists()


def test_a_day_without_samples_removes_the_partitions(short_day, tmp_path):
    api, subject, window, records = short_day
    lake = Lake(tmp_path / "lake")
    ingest_subject_day_signals(api, lake, subject.key, window, records, now_utc(), tmp_path / "q")
    result = ingest_subject_day_signals(api, lake, subject.key, window, records.slice(0, 0), now_utc(), tmp_path / "q")
    assert not any(result.rows.values())
    data_files = [p for p in lake.root.rglob("*.parquet") if "_manifest" not in p.parts]  # the manifest logs deletes
    assert not data_files


def test_row_groups_are_sorted_and_checks_are_clean(short_day, tmp_path):
    api, subject, window, records = short_day
    lake = Lake(tmp_path / "lake")
    result = ingest_subject_day_signals(api, lake, subject.key, window, records, now_utc(), tmp_path / "q")
    assert not any(result.problems(subject.key, records, window).values())
    for dataset in SIGNAL_DATASETS.values():
        path = lake.partition_file(dataset, subject.key, window.day)
        if not path.exists():
            continue
        file = pq.ParquetFile(path)
        assert file.metadata.num_rows == result.rows[dataset]
        for i in range(file.metadata.num_row_groups):
            group = file.read_row_group(i, columns=["datatype_id", "ts"])
            assert group.sort_by([("datatype_id", "ascending"), ("ts", "ascending")]).equals(group)
            assert [c.column_index for c in file.metadata.row_group(i).sorting_columns] == [1, 0]
