"""`import-export`: the real 129 s Astroskin export (../shared), as a folder and as a zip, into the lake:
sample counts, exact timestamps, records row, midnight split, merge with other records, idempotence."""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from hexo_pipeline.cli import main
from hexo_pipeline.decoders import read_export
from hexo_pipeline.hexoskin.datatypes import by_name
from hexo_pipeline.ingest.export_import import ExportImportError, import_export
from hexo_pipeline.lake import Lake

START_TICKS = 382085877327
START_NS = 1_492_522_958_308_593_750  # 2017-04-18T13:42:38.30859375Z
DAY = date(2017, 4, 18)
SUBJECT = "user_11136"
SIGNALS = (
    "signals_ecg",
    "signals_respiration",
    "signals_acceleration",
    "signals_vitals",
    "signals_events",
    "signals_astroskin",
)


@pytest.fixture
def export_dir(shared_dir: Path) -> Path:
    path = shared_dir / "reference" / "real_exports" / "astroskin_record_122445"
    assert path.is_dir()
    return path


def zipped(export_dir: Path, dest: Path, *, prefix: str = "", info: dict | None = None) -> Path:
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(export_dir.iterdir()):
            data = json.dumps(info).encode() if info is not None and p.name == "info.json" else p.read_bytes()
            zf.writestr(prefix + p.name, data)
    return dest


def channel(table: pa.Table, name: str) -> np.ndarray:
    return table.filter(pc.equal(table["datatype_id"], by_name(name).id))["ts"].cast(pa.int64()).to_numpy()


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted((root / "lake").rglob("*"))
        if p.is_file()
    }


def test_folder_import_counts_and_timestamps(export_dir: Path, tmp_path: Path) -> None:
    report = import_export(export_dir, data_dir=tmp_path, tz="UTC")
    (rec,) = report.records
    assert (rec.record_id, rec.subject, rec.user_id, rec.days) == (122445, SUBJECT, 11136, [DAY])
    lake = Lake(tmp_path / "lake")
    ecg = lake.read_partition("signals_ecg", SUBJECT, DAY)
    assert ecg.schema.names == ["ts", "datatype_id", "value", "record_id", "received_at"]
    assert str(ecg.schema.field("ts").type) == "timestamp[ns, tz=UTC]"
    ecg_i = channel(ecg, "ECG_I")
    assert ecg_i.size == 33_024 and ecg_i[0] == START_NS and np.all(np.diff(ecg_i) == 3_906_250)
    vitals = lake.read_partition("signals_vitals", SUBJECT, DAY)
    hr = channel(vitals, "heart_rate")
    assert hr.size == 128 and hr[0] == START_NS + 1_000_000_000 and np.all(np.diff(hr) == 1_000_000_000)
    events = lake.read_partition("signals_events", SUBJECT, DAY)
    rr = events.filter(pc.equal(events["datatype_id"], 18))
    csv_rows = len((export_dir / "RR_interval.csv").read_text().strip().splitlines()) - 1  # minus header
    assert rr.num_rows == csv_rows == 142 and rr["value"][0].as_py() == 0
    assert rr["ts"][0].value == START_NS + round(5.55859375 * 256) * 3_906_250
    for name in SIGNALS:
        table = lake.read_partition(name, SUBJECT, DAY)
        assert pc.all(pc.equal(table["record_id"], 122445)).as_py()
    # Everything the decoder reads lands, but the one 1 Hz temperature sample past the 129 s end.
    decoded = read_export(export_dir)
    assert sum(lake.read_partition(n, SUBJECT, DAY).num_rows for n in SIGNALS) == decoded.n_samples - 1
    assert rec.past_end == {"temperature_celcius": 1}

    (row,) = lake.read_partition("records", SUBJECT, DAY).to_pylist()
    assert row["record_id"] == 122445 and row["user_id"] == 11136
    assert row["start_ticks"] == START_TICKS and row["end_ticks"] == START_TICKS + 129 * 256
    assert row["start_at"] == datetime(2017, 4, 18, 13, 42, 38, 308594, tzinfo=UTC)
    assert row["duration_s"] == row["day_duration_s"] == 129.0


def test_zip_equals_folder_and_second_import_changes_nothing(export_dir: Path, tmp_path: Path) -> None:
    import_export(export_dir, data_dir=tmp_path / "a", tz="UTC")
    archive = zipped(export_dir, tmp_path / "export.zip", prefix="record_122445/")
    import_export(archive, data_dir=tmp_path / "b", tz="UTC")
    for name in (*SIGNALS, "records"):
        a = Lake(tmp_path / "a" / "lake").read_partition(name, SUBJECT, DAY)
        b = Lake(tmp_path / "b" / "lake").read_partition(name, SUBJECT, DAY)
        assert a.drop_columns(["received_at"]).equals(b.drop_columns(["received_at"])), name

    before = snapshot(tmp_path / "b")
    again = import_export(archive, data_dir=tmp_path / "b", tz="UTC")
    assert not again.changed and snapshot(tmp_path / "b") == before
    assert set(again.records[0].partitions.values()) == {"unchanged"}


def test_a_record_crossing_local_midnight_lands_in_two_partitions(export_dir: Path, tmp_path: Path) -> None:
    info = json.loads((export_dir / "info.json").read_text())
    midnight = int(datetime(2017, 4, 19, tzinfo=UTC).timestamp()) * 256
    info["start"] = midnight - 60 * 256 - 79  # 60.3 s before UTC midnight
    info.pop("timestamp")
    archive = zipped(export_dir, tmp_path / "late.zip", info=info)
    report = import_export(archive, data_dir=tmp_path, tz="UTC")
    assert report.records[0].days == [DAY, date(2017, 4, 19)]
    lake = Lake(tmp_path / "lake")
    first = channel(lake.read_partition("signals_ecg", SUBJECT, DAY), "ECG_I")
    second = channel(lake.read_partition("signals_ecg", SUBJECT, date(2017, 4, 19)), "ECG_I")
    midnight_ns = midnight * 3_906_250
    assert first.size + second.size == 33_024  # each sample once
    assert first.max() < midnight_ns <= second.min()
    assert first.size == 60 * 256 + 79  # 256 Hz: one sample per tick before midnight
    recs = [lake.read_partition("records", SUBJECT, d).to_pylist()[0] for d in (DAY, date(2017, 4, 19))]
    assert [r["day_duration_s"] for r in recs] == [(60 * 256 + 79) / 256, 129 - (60 * 256 + 79) / 256]
    assert {r["duration_s"] for r in recs} == {129.0}


def test_merge_keeps_other_records_and_replaces_this_one(export_dir: Path, tmp_path: Path) -> None:
    import_export(export_dir, data_dir=tmp_path, tz="UTC")
    info = json.loads((export_dir / "info.json").read_text())
    info.update(request="/api/v1/data/?record=777", start=START_TICKS + 600 * 256)
    info.pop("timestamp")
    other = zipped(export_dir, tmp_path / "other.zip", info=info)
    import_export(other, data_dir=tmp_path, tz="UTC")
    lake = Lake(tmp_path / "lake")
    ecg = lake.read_partition("signals_ecg", SUBJECT, DAY)
    assert ecg.num_rows == 2 * 3 * 33_024
    assert sorted(lake.read_partition("records", SUBJECT, DAY)["record_id"].to_pylist()) == [777, 122445]
    # ordered by record (id), then channel, then time, as the signals asset writes; no sample twice
    assert ecg["record_id"].to_pylist() == sorted(ecg["record_id"].to_pylist())
    for record_id in (777, 122445):
        mine = ecg.filter(pc.equal(ecg["record_id"], record_id))
        ids = mine["datatype_id"].to_numpy()
        ts = mine["ts"].cast(pa.int64()).to_numpy()
        assert np.all((np.diff(ids) > 0) | ((np.diff(ids) == 0) & (np.diff(ts) > 0)))
    before = snapshot(tmp_path)
    assert not import_export(export_dir, data_dir=tmp_path, tz="UTC").changed
    assert snapshot(tmp_path) == before
    # The same record again, shifted by one second: its rows are replaced, never duplicated.
    info = json.loads((export_dir / "info.json").read_text())
    info["start"] = START_TICKS + 256
    info.pop("timestamp")
    import_export(zipped(export_dir, tmp_path / "shifted.zip", info=info), data_dir=tmp_path, tz="UTC")
    ecg = lake.read_partition("signals_ecg", SUBJECT, DAY)
    mine = ecg.filter(pc.equal(ecg["record_id"], 122445))
    assert mine.num_rows == 3 * 33_024 and mine["ts"][0].value == START_NS + 1_000_000_000
    assert lake.read_partition("records", SUBJECT, DAY).num_rows == 2


def test_record_id_from_statistics_or_folder_and_subject_option(export_dir: Path, tmp_path: Path) -> None:
    info = json.loads((export_dir / "info.json").read_text())
    info.pop("request")
    info.pop("algo")
    bare = zipped(export_dir, tmp_path / "bare.zip", info=info)
    with pytest.raises(ExportImportError, match="no record id"):
        import_export(bare, data_dir=tmp_path, tz="UTC")
    assert not (tmp_path / "lake").exists()  # nothing written
    named = zipped(export_dir, tmp_path / "dl.zip", prefix="record_555/", info=info)
    assert import_export(named, data_dir=tmp_path, tz="UTC").records[0].record_id == 555
    with zipfile.ZipFile(bare, "a") as zf:
        zf.writestr(
            "statistics.csv", "uri,start_date,duration\n,,s\n/api/record/4242/,2017-04-18 13:42:38.308594,129.0\n"
        )
    report = import_export(bare, data_dir=tmp_path, subject="S01", tz="America/Chicago")
    assert (report.records[0].record_id, report.records[0].subject) == (4242, "S01")
    assert Lake(tmp_path / "lake").read_partition("records", "S01", DAY) is not None
    with pytest.raises(ExportImportError, match="partition key"):
        import_export(export_dir, data_dir=tmp_path, subject="a/b")


def test_cli_import_export_defaults(export_dir: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("HEXO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HEXO_STUDY_TZ", "Pacific/Kiritimati")  # UTC+14: the record is on 04-19 there
    assert main(["import-export", str(export_dir)]) == 0
    out = capsys.readouterr().out
    assert "record 122445 -> subject=user_11136" in out and "past the record end" in out
    ecg = Lake(tmp_path / "lake").read_partition("signals_ecg", SUBJECT, date(2017, 4, 19))
    assert ecg.num_rows == 3 * 33_024
    assert main(["import-export", str(tmp_path / "nothing_here")]) == 1
    assert "import-export:" in capsys.readouterr().err
    assert (
        pq.read_table(
            tmp_path / "lake" / "records" / f"subject={SUBJECT}" / "date=2017-04-19" / "part-0.parquet"
        ).num_rows
        == 1
    )
