"""Encoders of the sandbox's /api/data/ answers: WAV, .hxd, events CSV, zip, info.json, JSON, CSV."""

from __future__ import annotations

import csv
import io
import json
import math
import wave
import zipfile
from pathlib import Path

import numpy as np
import pytest

from hexo_pipeline.hexoskin import datatypes as dtc
from hexo_sandbox.formats.data_encoders import (
    HXD_DTYPE,
    JSON_CAP,
    data_csv,
    data_json,
    events_csv_bytes,
    hxd_bytes,
    info_json,
    iter_data_zip,
    pcm16_bytes,
    subsample_stride,
    wav_bytes,
    wav_header,
    wav_stream,
    write_data_zip,
)
from hexo_sandbox.world.physiology import RecordSignals, RecordSpec, Segment

REAL_EXPORT = Path(__file__).resolve().parents[3] / "shared" / "reference" / "real_exports" / "astroskin_record_122445"
needs_real_export = pytest.mark.skipif(not REAL_EXPORT.is_dir(), reason="../shared is absent")


# ---------------------------------------------------------------------------------------- WAV


@pytest.mark.parametrize("rate_hz, framerate", [(256.0, 256), (128.0, 128), (64.0, 64), (1.0, 1), (1 / 300, 300)])
def test_wav_header_fields_read_back_with_the_wave_module(rate_hz, framerate):
    samples = np.array([1360, 1500, -3, 0, 4095, 7])
    data = wav_bytes(samples, rate_hz)
    assert len(data) == 44 + 2 * samples.size
    assert data[:4] == b"RIFF" and data[8:16] == b"WAVEfmt " and data[36:40] == b"data"
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, framerate, 6)
        assert w.getcomptype() == "NONE"
        assert np.frombuffer(w.readframes(6), "<i2").tolist() == samples.tolist()


def test_unsigned_values_keep_their_16_bit_pattern_and_the_rest_is_clipped():
    data = pcm16_bytes(np.array([40000, 65535, 70000, -40000, 32767, -32768]))
    assert np.frombuffer(data, "<u2")[:3].tolist() == [40000, 65535, 65535]
    assert np.frombuffer(data, "<i2")[3:].tolist() == [-32768, 32767, -32768]
    assert pcm16_bytes(np.array([1.4, 2.6])) == np.array([1, 3], "<i2").tobytes()


@needs_real_export
def test_headers_match_the_real_export_byte_for_byte():
    checked = 0
    for path in sorted(REAL_EXPORT.glob("*.wav")):
        if path.stem.endswith("_adjusted"):  # server-side channels the sandbox does not serve
            continue
        head = path.read_bytes()[:44]
        n_frames = (path.stat().st_size - 44) // 2
        framerate = int.from_bytes(head[24:28], "little")
        assert head == wav_header(n_frames, framerate), path.name
        checked += 1
    assert checked == 23


def test_wav_stream_equals_wav_bytes_and_checks_the_frame_count():
    x = np.arange(-50, 50)
    assert b"".join(wav_stream(100, 64, [x[:30], x[30:]])) == wav_bytes(x, 64)
    with pytest.raises(ValueError):
        b"".join(wav_stream(101, 64, [x]))
    with pytest.raises(ValueError):
        b"".join(wav_stream(99, 64, [x]))


# ---------------------------------------------------------------------------------------- events


def test_hxd_round_trips_through_numpy_frombuffer():
    offsets = np.array([85, 154, 234, 2**40], dtype=np.uint64)
    values = np.array([256, 69, 80, -5], dtype=np.int64)
    data = hxd_bytes(offsets, values)
    assert len(data) == 16 * 4
    back = np.frombuffer(data, dtype=np.dtype([("t", "<u8"), ("v", "<i8")]))
    assert back["t"].tolist() == offsets.tolist() and back["v"].tolist() == values.tolist()
    assert data[:16] == (85).to_bytes(8, "little") + (256).to_bytes(8, "little", signed=True)
    assert HXD_DTYPE.itemsize == 16
    with pytest.raises(ValueError):
        hxd_bytes(offsets, values[:2])


@needs_real_export
def test_events_csv_matches_the_real_export_layout():
    real = (REAL_EXPORT / "RR_interval.csv").read_text().splitlines()
    rows = np.array([[float(v) for v in line.split(",")] for line in real[1:]])
    ours = events_csv_bytes(18, np.rint(rows[:, 0] * 256).astype(np.int64), rows[:, 1].astype(np.int64))
    lines = ours.decode().splitlines()
    assert lines[0] == real[0] == "time [s],RR_interval [s/256](/api/datatype/18/)"
    assert lines[1:4] == real[1:4]


# ---------------------------------------------------------------------------------------- zip


def parts_for_zip():
    ecg = np.arange(1000) % 4096
    return [
        ("record_37700/ECG_I.wav", wav_stream(1000, 256, [ecg[:400], ecg[400:]])),
        ("record_37700/RR_interval.hxd", hxd_bytes(np.array([85, 154]), np.array([256, 69]))),
        ("record_37700/info.json", info_json(37700, 359840226870, 1511, "/api/data/?record=37700")),
    ]


class NonSeekable:
    def __init__(self):
        self.chunks = []

    def write(self, data):
        self.chunks.append(bytes(data))
        return len(data)


@pytest.mark.parametrize("compresslevel", [None, 1])
def test_zip_streamed_and_seekable_hold_the_same_members(compresslevel):
    seekable = io.BytesIO()
    write_data_zip(seekable, parts_for_zip(), compresslevel=compresslevel)
    stream = NonSeekable()
    write_data_zip(stream, parts_for_zip(), compresslevel=compresslevel)
    chunks = list(iter_data_zip(parts_for_zip(), compresslevel=compresslevel))
    assert len(chunks) > 3  # it streams, entry by entry
    assert b"".join(chunks) == b"".join(stream.chunks)
    expected = zipfile.ZIP_STORED if compresslevel is None else zipfile.ZIP_DEFLATED
    members = []
    for blob in (seekable.getvalue(), b"".join(chunks)):
        with zipfile.ZipFile(io.BytesIO(blob)) as z:
            assert z.testzip() is None
            assert all(i.compress_type == expected for i in z.infolist())
            members.append({n: z.read(n) for n in z.namelist()})
    assert members[0] == members[1]
    assert list(members[0]) == ["record_37700/ECG_I.wav", "record_37700/RR_interval.hxd", "record_37700/info.json"]
    assert members[0]["record_37700/ECG_I.wav"] == wav_bytes(np.arange(1000) % 4096, 256)
    assert b"".join(iter_data_zip(parts_for_zip())) == b"".join(iter_data_zip(parts_for_zip()))  # deterministic


@needs_real_export
def test_info_json_is_shaped_like_the_real_one():
    real = json.loads((REAL_EXPORT / "info.json").read_text())
    ours = json.loads(info_json(122445, real["start"], real["user"], real["request"]))
    assert ours == real


def test_info_json_fields():
    info = json.loads(info_json(37700, 359840226870, 1511, "/api/data/?record=37700"))
    assert info["start"] == 359840226870 and info["timestamp"] == 359840226870 / 256
    assert info["user"] == 1511 and info["algo"]["record_id"] == 37700
    assert info["start_date"] == "2014-07-17T19:38:06.210938"  # naive UTC, microseconds, like the real one


# ---------------------------------------------------------------------------------------- JSON / CSV


def test_subsample_stride():
    assert subsample_stride(0) == 1 and subsample_stride(65535) == 1 and subsample_stride(65536) == 2
    assert subsample_stride(5_115_139) == 79  # the vendor doc's ECG example: points 79 ticks apart


def test_json_has_the_vendor_shape_and_physical_values():
    series = {
        19: (np.array([359840227126, 359840227382]), np.array([70, 71])),
        37: (np.array([359840228406]), np.array([43])),
        4113: (np.array([361446243405]), np.array([1715])),
        18: (np.array([5]), np.array([191])),
        49: (np.array([7]), np.array([70])),
    }
    doc = json.loads(data_json(series, 1511))
    assert doc == [
        {
            "data": {
                "19": [[359840227126, 70], [359840227382, 71]],
                "37": [[359840228406, 571.04]],  # 43 x 13.28 mL (the doc's example)
                "4113": [[361446243405, 1715]],  # ECG stays raw ADC
                "18": [[5, 0.74609375]],
                "49": [[7, 0.2734375]],
            },
            "user": "/api/user/1511/",
        }
    ]
    assert json.loads(data_json({19: series[19]}, 1, flat=True)) == [[359840227126, 70], [359840227382, 71]]
    assert json.loads(data_json({19: series[19]}, 1, flat=True, no_timestamps=True)) == [70, 71]
    with pytest.raises(ValueError):
        data_json(series, 1, flat=True)


def test_json_and_csv_keep_at_most_65535_points_per_datatype():
    n = 300_001
    ticks = 361446243405 + np.arange(n, dtype=np.int64)
    series = {4113: (ticks, np.full(n, 1360)), 19: (ticks[::256], np.full(ticks[::256].size, 60))}
    pts = json.loads(data_json(series, 1))[0]["data"]
    ecg = np.array(pts["4113"])
    stride = math.ceil(n / JSON_CAP)
    assert len(ecg) <= JSON_CAP and len(ecg) == math.ceil(n / stride)
    assert set(np.diff(ecg[:, 0]).tolist()) == {stride}
    assert len(pts["19"]) == ticks[::256].size  # small series untouched
    rows = data_csv({4113: series[4113]}).decode().splitlines()
    assert len(rows) - 1 <= JSON_CAP


def test_csv_header_rows_and_empty_cells():
    t0 = 411231686629
    series = {
        33: (t0 + 256 * np.arange(1, 4), np.array([12, 13, 14])),
        36: (t0 + 256 * np.arange(1, 3), np.array([1137, 1000])),
        49: (t0 + 256 * np.arange(2, 4), np.array([70, 71])),
        19: (t0 + 256 * np.arange(1, 4), np.array([61, 62, 63])),
    }
    text = data_csv(series).decode()
    lines = text.splitlines()
    assert lines[0] == (
        "time [s/256],breathing_rate [rpm](/api/datatype/33/),minute_ventilation [mL/min](/api/datatype/36/),"
        "activity [g](/api/datatype/49/),heart_rate [bpm](/api/datatype/19/)"
    )
    rows = list(csv.reader(lines[1:]))
    assert [int(r[0]) for r in rows] == [t0 + 256, t0 + 512, t0 + 768]
    assert rows[0] == [str(t0 + 256), "12", "15099.36", "", "61"]  # 1137 x 13.28, activity missing
    assert rows[2][2] == "" and float(rows[1][3]) == pytest.approx(70 / 256)
    rr = data_csv({18: (np.array([10, 20]), np.array([191, 256])), 270: (np.array([15]), np.array([2]))}).decode()
    assert rr.splitlines() == [
        "time [s/256],RR_interval [s](/api/datatype/18/),sleep_position [NA](/api/datatype/270/)",
        "10,0.74609375,",
        "15,,2",
        "20,1,",
    ]


# ---------------------------------------------------------------------------------------- timing

H = 3600
DAY = (
    Segment(0, 7 * H, "sleep"),
    Segment(7 * H, 8 * H, "sedentary"),
    Segment(8 * H, 8.5 * H, "walk"),
    Segment(8.5 * H, 12 * H, "sedentary"),
    Segment(12 * H, 13 * H, "light"),
    Segment(13 * H, 17 * H, "sedentary"),
    Segment(17 * H, 17.75 * H, "run"),
    Segment(17.75 * H, 18 * H, "rest"),
    Segment(18 * H, 22 * H, "light"),
    Segment(22 * H, 24 * H, "rest"),
)


def day_zip_parts(sig: RecordSignals, chunk_s: int = 600):
    """The binary download as the server can stream it: channel by channel, 10 minutes at a time."""
    yield "record_7/info.json", info_json(7, sig.spec.start_ticks, 1511, "/api/data/?record=7")
    for dt in sig.datatype_ids():
        d = dtc.get(dt)
        if d.rate_hz is None:
            yield f"record_7/{d.name}.hxd", hxd_bytes(*sig.events_raw(dt, 0, sig.duration_s))
            continue
        n, step = sig.n_samples(dt), max(1, int(chunk_s * d.rate_hz))
        yield (
            f"record_7/{d.name}.wav",
            wav_stream(n, d.rate_hz, (sig.sync_raw(dt, a, min(n, a + step)) for a in range(0, n, step))),
        )


@pytest.mark.parametrize("astroskin", [False, True])
def test_one_subject_day_full_zip(astroskin):
    # (how fast: benchmarks/bench_sandbox.py, `make bench`)
    sig = RecordSignals(RecordSpec(7, 2024, 382085877327, 24 * H, astroskin, DAY))
    blob = b"".join(iter_data_zip(day_zip_parts(sig)))  # includes building the record's series
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        assert len(z.namelist()) == 1 + len(sig.datatype_ids())
        ecg = z.read("record_7/ECG_I.wav")
        assert len(ecg) == 44 + 2 * 24 * H * 256
        assert ecg[44 + 2 * 5_000_000 : 44 + 2 * 5_002_560] == pcm16_bytes(sig.sync_raw(4113, 5_000_000, 5_002_560))
        rr = np.frombuffer(z.read("record_7/RR_interval.hxd"), HXD_DTYPE)
        assert 80_000 < rr.size < 130_000 and np.array_equal(rr["value"], sig.events_raw(18, 0, 24 * H)[1])
