"""Whole-export reading on the real 129 s Astroskin record (../shared), as a folder and as zips.

Zips are built in tmp_path from the shared files (never copied into the project).
"""

from __future__ import annotations

import io
import os
import struct
import wave
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from hexo_pipeline.decoders import SIGNAL_SCHEMA, DecodeError, read_export, read_exports
from hexo_pipeline.hexoskin import datatypes as catalog
from hexo_pipeline.hexoskin.datatypes import Family


def _shared_dir() -> Path:
    env = os.environ.get("HEXO_SHARED_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared"


EXPORT = _shared_dir() / "reference" / "real_exports" / "astroskin_record_122445"
START_TICKS = 382085877327
START_NS = 1_492_522_958_308_593_750  # 2017-04-18T13:42:38.308593750Z
NS_PER_TICK = 3_906_250


@pytest.fixture
def export_dir() -> Path:
    if not _shared_dir().is_dir():
        pytest.skip("../shared is absent")
    assert EXPORT.is_dir(), f"the real export is missing from {EXPORT}"
    return EXPORT


@pytest.fixture
def real_export(export_dir: Path):
    return read_export(export_dir)


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def export_members(export_dir: Path, prefix: str = "") -> dict[str, bytes]:
    return {prefix + p.name: p.read_bytes() for p in sorted(export_dir.iterdir()) if p.is_file()}


def channel_ns(table: pa.Table, datatype_id: int) -> tuple[np.ndarray, np.ndarray]:
    rows = table.filter(pc.equal(table["datatype_id"], datatype_id))
    return rows["ts"].cast(pa.int64()).to_numpy(), rows["value"].to_numpy()


def test_start_and_schema(real_export) -> None:
    assert real_export.info.start_ticks == START_TICKS
    assert real_export.info.start_ns == START_NS == START_TICKS * NS_PER_TICK
    assert set(real_export.tables) == {
        Family.ECG,
        Family.RESPIRATION,
        Family.ACCELERATION,
        Family.VITALS,
        Family.EVENTS,
        Family.ASTROSKIN,
    }
    for table in real_export.tables.values():
        assert table.schema.equals(SIGNAL_SCHEMA)
        assert str(table.schema.field("ts").type) == "timestamp[ns, tz=UTC]"


def test_family_row_counts(real_export) -> None:
    counts = {f: t.num_rows for f, t in real_export.tables.items()}
    assert counts == {
        Family.ECG: 3 * 33_024,
        Family.RESPIRATION: 2 * 16_512,
        Family.ACCELERATION: 3 * 8_248,
        Family.VITALS: 1_286,
        Family.EVENTS: 424,
        Family.ASTROSKIN: 8_256 + 4 * 129 + 130,
    }


@pytest.mark.parametrize(
    ("name", "family", "count", "first_offset_ns", "step_ns"),
    [
        ("ECG_I", Family.ECG, 33_024, 0, NS_PER_TICK),  # 256 Hz: start + k/fs
        ("ECG_III", Family.ECG, 33_024, 0, NS_PER_TICK),
        ("respiration_thoracic", Family.RESPIRATION, 16_512, 0, 7_812_500),
        ("acceleration_X", Family.ACCELERATION, 8_248, 0, 15_625_000),
        ("PPG", Family.ASTROSKIN, 8_256, 0, 15_625_000),
        ("heart_rate", Family.VITALS, 128, 1_000_000_000, 1_000_000_000),  # 1 Hz: start + (k+1)/fs
        ("breathing_rate", Family.VITALS, 129, 1_000_000_000, 1_000_000_000),
        ("temperature_celcius", Family.ASTROSKIN, 130, 1_000_000_000, 1_000_000_000),
    ],
)
def test_synchronous_channel_counts_and_exact_timestamps(
    real_export, name, family, count, first_offset_ns, step_ns
) -> None:
    ts, _ = channel_ns(real_export.tables[family], catalog.by_name(name).id)
    assert ts.size == count
    assert ts[0] == START_NS + first_offset_ns
    assert np.all(np.diff(ts) == step_ns)
    assert ts[-1] == START_NS + first_offset_ns + (count - 1) * step_ns


def test_first_timestamps_match_the_documented_start(real_export) -> None:
    documented = pd.Timestamp("2017-04-18T13:42:38.30859375Z")  # info.json start_date, to the ns
    assert real_export.tables[Family.ECG]["ts"][0].value == documented.value == START_NS
    hr_first = real_export.tables[Family.VITALS]["ts"][0].value  # vitals start with heart_rate (19)
    assert real_export.tables[Family.VITALS]["datatype_id"][0].as_py() == 19
    assert pd.Timestamp(hr_first, tz="UTC") == documented + pd.Timedelta(seconds=1)


def test_values_are_raw_and_sign_follows_the_catalog(real_export) -> None:
    _, ecg1 = channel_ns(real_export.tables[Family.ECG], 4113)
    assert ecg1[:6].tolist() == [1392, 1395, 1391, 1400, 1395, 1388]  # raw ADC, not mV
    _, hr = channel_ns(real_export.tables[Family.VITALS], 19)
    assert hr[:3].tolist() == [70, 70, 70]
    for dt in catalog.DATATYPES:
        if dt.rate_hz is None:
            continue
        for table in real_export.tables.values():
            _, values = channel_ns(table, dt.id)
            if values.size and not dt.signed:
                assert values.min() >= 0, dt.name
    # Signed channels really come out signed (read as uint16 they would be 65xxx).
    _, acc_x = channel_ns(real_export.tables[Family.ACCELERATION], 4145)
    _, ecg3 = channel_ns(real_export.tables[Family.ECG], 4115)
    assert acc_x.min() == -295 and acc_x.max() == 218
    assert ecg3.min() == -4093


def test_event_channels(real_export) -> None:
    events = real_export.tables[Family.EVENTS]
    rr_ts, rr = channel_ns(events, 18)
    assert rr.size == 142
    assert rr_ts[0] == START_NS + 1423 * NS_PER_TICK  # 5.55859375 s = 1423 ticks
    assert rr[:3].tolist() == [0, 191, 191]
    _, quality = channel_ns(events, 1004)
    assert quality.size == 142
    pos_ts, pos = channel_ns(events, 269)
    assert pos.tolist() == [4] and pos_ts.tolist() == [START_NS + 1_000_000_000]
    assert real_export.channel("device_position").n_null_dropped == 2
    assert real_export.channel("sleep_position").n_null_dropped == 2
    assert real_export.n_null_dropped == 4
    step_ts, steps = channel_ns(events, 52)
    assert steps.tolist() == [1, 2] and step_ts[0] == START_NS + round(127.53125 * 256) * NS_PER_TICK


def test_tables_sorted_by_datatype_then_time(real_export) -> None:
    for table in real_export.tables.values():
        ids = table["datatype_id"].to_numpy().astype(np.int64)
        ts = table["ts"].cast(pa.int64()).to_numpy()
        assert np.all((np.diff(ids) > 0) | ((np.diff(ids) == 0) & (np.diff(ts) >= 0)))


def test_temperature_alias_is_reported_not_mixed_in(real_export) -> None:
    skipped = {s.member: s for s in real_export.skipped}
    assert skipped["temperature.wav"].kind == "duplicate"
    _, temp = channel_ns(real_export.tables[Family.ASTROSKIN], 81)
    assert temp.size == 130 and temp[0] == 7913  # temperature_celcius, not temperature.wav
    assert real_export.errors == ()


@pytest.mark.parametrize("prefix", ["", "record_122445/", "User_11136/record_122445/"])
def test_zip_layouts_equal_the_folder(real_export, export_dir: Path, tmp_path: Path, prefix: str) -> None:
    zipped = read_export(make_zip(tmp_path / "record_122445.zip", export_members(export_dir, prefix)))
    assert zipped.record_dir == prefix.rstrip("/")
    assert set(zipped.tables) == set(real_export.tables)
    for family, table in real_export.tables.items():
        assert zipped.tables[family].equals(table), family


def test_zip_members_are_streamed_not_extracted(export_dir: Path, tmp_path: Path, monkeypatch) -> None:
    path = make_zip(tmp_path / "x.zip", export_members(export_dir))

    def forbidden(*_a, **_k):
        raise AssertionError("the reader must stream members with ZipFile.open")

    monkeypatch.setattr(zipfile.ZipFile, "read", forbidden)
    monkeypatch.setattr(zipfile.ZipFile, "extractall", forbidden)
    monkeypatch.setattr(zipfile.ZipFile, "extract", forbidden)
    assert read_export(path).tables[Family.ECG].num_rows == 99_072


def test_numeric_stems_aliases_unknown_and_duplicates(export_dir: Path, tmp_path: Path) -> None:
    ecg = (export_dir / "ECG_I.wav").read_bytes()
    members = {
        "info.json": (export_dir / "info.json").read_bytes(),
        "4113.wav": ecg,  # numeric stem
        "ECG_I.wav": ecg,  # same datatype by name: wins
        "4114.wav": (export_dir / "ECG_II.wav").read_bytes(),
        "heartrate.wav": (export_dir / "heart_rate.wav").read_bytes(),  # old alias
        "breathingrate.wav": (export_dir / "breathing_rate.wav").read_bytes(),
        "HRV_LF.wav": (export_dir / "heart_rate.wav").read_bytes(),  # not in the catalog
        "statistics.csv": b"uri,start_date\n",
        "notes.txt": b"hello",
        "RR_interval.csv": b"time [s],RR_interval [s/256](/api/datatype/18/)\n1.0,oops\n",  # corrupt
        "__MACOSX/._ECG_I.wav": b"junk",
    }
    result = read_export(make_zip(tmp_path / "mixed.zip", members))
    ids = {c.datatype_id: c.member for c in result.channels}
    assert ids == {4113: "ECG_I.wav", 4114: "4114.wav", 19: "heartrate.wav", 33: "breathingrate.wav"}
    kinds = {s.member: s.kind for s in result.skipped}
    assert kinds == {
        "4113.wav": "duplicate",
        "HRV_LF.wav": "unknown",
        "statistics.csv": "not_signal",
        "notes.txt": "unknown",
        "RR_interval.csv": "error",
    }
    assert any("RR_interval.csv" in w for w in result.warnings)
    assert Family.EVENTS not in result.tables


def test_unsigned_channel_reads_high_values_as_positive(export_dir: Path, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(1)
        w.writeframes(np.array([0xFFFF, 0x8000, 70], dtype="<u2").tobytes())
    members = {
        "info.json": (export_dir / "info.json").read_bytes(),
        "heart_rate.wav": buf.getvalue(),
        "activity.wav": buf.getvalue(),
    }  # activity is catalogued signed
    result = read_export(make_zip(tmp_path / "u.zip", members))
    _, hr = channel_ns(result.tables[Family.VITALS], 19)
    _, act = channel_ns(result.tables[Family.VITALS], 49)
    assert hr.tolist() == [65535, 32768, 70]
    assert act.tolist() == [-1, -32768, 70]


def test_hxd_and_csv_give_the_same_events(export_dir: Path, tmp_path: Path) -> None:
    csv_bytes = (export_dir / "RR_interval.csv").read_bytes()
    rows = np.loadtxt(io.StringIO(csv_bytes.decode()), delimiter=",", skiprows=1)
    hxd = b"".join(struct.pack("<Qq", round(t * 256), int(v)) for t, v in rows)
    info = (export_dir / "info.json").read_bytes()
    from_csv = read_export(make_zip(tmp_path / "c.zip", {"info.json": info, "RR_interval.csv": csv_bytes}))
    from_hxd = read_export(make_zip(tmp_path / "h.zip", {"info.json": info, "RR_interval.hxd": hxd}))
    assert from_hxd.tables[Family.EVENTS].equals(from_csv.tables[Family.EVENTS])
    assert from_hxd.channel(18).kind == "hxd" and from_hxd.channel(18).n_samples == 142


def test_bad_hxd_is_reported_not_fatal(export_dir: Path, tmp_path: Path) -> None:
    members = {
        "info.json": (export_dir / "info.json").read_bytes(),
        "RR_interval.hxd": b"\x00" * 20,
        "heart_rate.wav": (export_dir / "heart_rate.wav").read_bytes(),
    }
    result = read_export(make_zip(tmp_path / "bad.zip", members))
    (error,) = result.errors
    assert error.member == "RR_interval.hxd" and "multiple of 16" in error.reason
    assert result.channel(19).n_samples == 128


def test_missing_info_json_needs_start_ticks(export_dir: Path, tmp_path: Path) -> None:
    path = make_zip(tmp_path / "noinfo.zip", {"ECG_I.wav": (export_dir / "ECG_I.wav").read_bytes()})
    with pytest.raises(DecodeError) as err:
        read_export(path)
    assert err.value.code == "missing_metadata"
    ok = read_export(path, start_ticks=START_TICKS)
    assert ok.tables[Family.ECG]["ts"][0].value == START_NS


def test_several_records_in_one_zip(export_dir: Path, tmp_path: Path) -> None:
    members = export_members(export_dir, "User_1/record_1/") | export_members(export_dir, "User_1/record_2/")
    path = make_zip(tmp_path / "two.zip", members)
    with pytest.raises(DecodeError, match="2 records"):
        read_export(path)
    records = read_exports(path)
    assert [r.record_dir for r in records] == ["User_1/record_1", "User_1/record_2"]


def test_not_an_export(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a zip")
    with pytest.raises(DecodeError) as err:
        read_export(junk)
    assert err.value.code == "unsupported_format"
    with pytest.raises(DecodeError) as err:
        read_export(make_zip(tmp_path / "empty.zip", {"readme.txt": b"x"}))
    assert err.value.code == "no_data"


def test_streamed_channels_equal_the_whole_tables(real_export, export_dir: Path) -> None:
    """open_exports + DecodedChannel.slices give the rows read_export gives, in any slice size."""
    from hexo_pipeline.decoders.hexoskin_export import open_exports

    with open_exports(export_dir) as records:
        (record,) = records
        for channel in record.channels():
            table = real_export.tables[channel.family]
            ts, values = channel_ns(table, channel.datatype_id)
            parts = list(channel.slices(1000))
            assert np.array_equal(np.concatenate([p[0] for p in parts]), ts), channel.summary.name
            assert np.array_equal(np.concatenate([p[1] for p in parts]), values), channel.summary.name
            if len(ts) > 10:  # clipping by time bounds: lo <= ts < hi
                lo, hi = int(ts[3]), int(ts[-3])
                clipped = np.concatenate([p[0] for p in channel.slices(7, lo, hi)])
                assert np.array_equal(clipped, ts[(ts >= lo) & (ts < hi)]), channel.summary.name
        assert sorted(c.datatype_id for c in record.decoded) == [c.datatype_id for c in real_export.channels]
