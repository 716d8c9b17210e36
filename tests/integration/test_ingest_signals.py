"""`ingest_subject_day_signals`: a write failure replaces nothing, a refused download only its own record,
over the sandbox (real HTTP, real zips), on windows of minutes so it stays quick (the whole-day path is
compared in test_ingest_summaries.py)."""

from __future__ import annotations

import zipfile
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
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
    # The record keeps its stored rows (the summaries carry one received_at per partition: the new one).
    assert _tables(lake) == _tables_of(before)
    assert caught.value.quarantined.exists()


def _rows(table: pa.Table, path: Path) -> pa.Table:
    return table if path.parts[-4].startswith("signals_") else table.drop_columns(["received_at"])


def _tables(lake: Lake) -> dict[Path, pa.Table]:
    """The data files' rows (the manifest aside: it logs every write)."""
    files = [p for p in sorted(lake.root.rglob("*.parquet")) if "_manifest" not in p.parts]
    return {p: _rows(pq.read_table(p), p) for p in files}


def _tables_of(files: dict[Path, bytes]) -> dict[Path, pa.Table]:
    return {
        p: _rows(pq.read_table(pa.BufferReader(b)), p)
        for p, b in files.items()
        if p.suffix == ".parquet" and "_manifest" not in p.parts
    }


@pytest.fixture
def two_records(sandbox):
    """(api, subject, window, records): a window holding the end of one record and the start of the next."""
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
    with HexoskinClient(config) as api:
        for account in (a for a in info["accounts"] if a["role"] == "subject"):
            subject = Subject(int(account["user_id"]), account["username"])
            for i in range(study.days):
                day = DayWindow.of(study.start + timedelta(days=i), study.timezone)
                recs = records_table(overlapping(api, "record", subject, day), day, now_utc()).to_pylist()
                for a, b in zip(recs, recs[1:]):
                    if day.start <= a["end_ticks"] - 300 * 256 and b["start_ticks"] + 300 * 256 <= day.end:
                        window = DayWindow(day.day, a["end_ticks"] - 300 * 256, b["start_ticks"] + 300 * 256)
                        found = records_table(overlapping(api, "record", subject, window), window, now_utc())
                        yield api, subject, window, found
                        return
    pytest.fail("no subject-day of the sandbox holds two records")


def test_a_refused_record_never_blocks_the_others_nor_loses_its_stored_rows(two_records, tmp_path, monkeypatch):
    api, subject, window, records = two_records
    good, bad = records.column("record_id").to_pylist()
    lake = Lake(tmp_path / "lake")
    r1 = now_utc()
    ingest_subject_day_signals(api, lake, subject.key, window, records, r1, tmp_path / "q")
    before = {ds: lake.read_partition(ds, subject.key, window.day) for ds in ("signals_ecg", "vitals_minutes")}
    real_download = HexoskinClient.download_data

    def bomb_for_one(self, dest, *args, **kwargs):
        path = real_download(self, dest, *args, **kwargs)
        if kwargs.get("record") == bad:
            with zipfile.ZipFile(path) as zf:
                members = {name: zf.read(name) for name in zf.namelist()}
            rr = next(name for name in members if name.endswith("RR_interval.hxd"))
            members[rr] = bytes(16 * 2**20)  # zeros: 1 M events at one instant
            with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for name, data in members.items():
                    zf.writestr(name, data)
        return path

    monkeypatch.setattr(HexoskinClient, "download_data", bomb_for_one)
    r2 = r1 + timedelta(hours=1)
    with pytest.raises(SignalDownloadError, match=f"record {bad}: DecodeError \\[too_large\\]") as caught:
        ingest_subject_day_signals(api, lake, subject.key, window, records, r2, tmp_path / "q")
    assert caught.value.quarantined.exists() and caught.value.record_id == bad
    ecg = lake.read_partition("signals_ecg", subject.key, window.day)
    by_record = {rid: ecg.filter(pc.equal(ecg["record_id"], rid)) for rid in (good, bad)}
    assert set(by_record[good]["received_at"].to_pylist()) == {r2}  # the good record landed anew
    old = before["signals_ecg"]
    assert by_record[bad].equals(old.filter(pc.equal(old["record_id"], bad)))  # the refused one kept its rows
    assert by_record[good].num_rows == old.filter(pc.equal(old["record_id"], good)).num_rows
    minutes = lake.read_partition("vitals_minutes", subject.key, window.day).drop_columns(["received_at"])
    assert minutes.equals(before["vitals_minutes"].drop_columns(["received_at"]))  # summaries of both records


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
