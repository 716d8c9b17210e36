"""Byte-level Hexoskin decoders: WAV, .hxd, event CSV, info.json, timestamp arithmetic.

Synthetic bytes pin edge cases; the real Astroskin export (read from ../shared) pins the vendor layout.
"""

from __future__ import annotations

import io
import json
import os
import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from hexo_pipeline.decoders import DecodeError
from hexo_pipeline.decoders import hexoskin_binary as hb
from hexo_pipeline.hexoskin import datatypes as catalog


def _shared_dir() -> Path:
    env = os.environ.get("HEXO_SHARED_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared"


EXPORT = _shared_dir() / "reference" / "real_exports" / "astroskin_record_122445"


@pytest.fixture
def export_dir() -> Path:
    if not _shared_dir().is_dir():
        pytest.skip("../shared is absent")
    assert EXPORT.is_dir(), f"the real export is missing from {EXPORT}"
    return EXPORT


def make_wav(samples: np.ndarray, framerate: int, *, width: int = 2, channels: int = 1) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(framerate)
        w.writeframes(samples.tobytes())
    return buf.getvalue()


# ---------------------------------------------------------------------------------------- WAV
def test_wav_signedness_follows_the_argument() -> None:
    raw = make_wav(np.array([0, 1, -1, -32768, 32767], dtype="<i2"), 256)
    signed = hb.decode_wav(raw, signed=True)
    unsigned = hb.decode_wav(raw, signed=False)
    assert signed.values.tolist() == [0, 1, -1, -32768, 32767]
    assert unsigned.values.tolist() == [0, 1, 65535, 32768, 32767]
    assert signed.framerate == 256 and signed.declared_frames == 5 and not signed.truncated


def test_wav_rejects_stereo_and_8_bit_and_non_wav() -> None:
    with pytest.raises(DecodeError, match="2 channels"):
        hb.decode_wav(make_wav(np.zeros(4, dtype="<i2"), 256, channels=2), signed=True)
    with pytest.raises(DecodeError, match="width 1"):
        hb.decode_wav(make_wav(np.zeros(4, dtype="u1"), 256, width=1), signed=True)
    with pytest.raises(DecodeError, match="not a PCM WAV"):
        hb.decode_wav(b"RIFX0000garbage", signed=True)


def test_wav_with_short_data_chunk_keeps_whole_samples_and_says_so() -> None:
    full = make_wav(np.arange(10, dtype="<i2"), 1)
    cut = hb.decode_wav(full[:-5], signed=True)  # 2.5 samples short
    assert cut.truncated and cut.declared_frames == 10
    assert cut.values.tolist() == list(range(7))


def test_wav_rate_period_channels_and_header_mismatch() -> None:
    ann = catalog.by_name("ANN")
    assert hb.wav_rate_hz(300, ann) == (pytest.approx(1 / 300), None)
    with pytest.raises(DecodeError, match="period"):
        hb.wav_rate_hz(1, ann)
    ecg = catalog.by_name("ECG_I")
    assert hb.wav_rate_hz(256, ecg) == (256, None)
    rate, warning = hb.wav_rate_hz(250, ecg)  # Astroskin on the 1000-tick server
    assert rate == 250 and "differs" in warning
    with pytest.raises(DecodeError, match="event channel"):
        hb.wav_rate_hz(1, catalog.by_name("RR_interval"))


def test_real_wavs_decode_with_the_vendor_header(export_dir: Path) -> None:
    ecg = hb.decode_wav((export_dir / "ECG_I.wav").read_bytes(), signed=True)
    assert (ecg.framerate, ecg.values.size, ecg.values.dtype) == (256, 33_024, np.dtype("<i2"))
    assert ecg.values[:6].tolist() == [1392, 1395, 1391, 1400, 1395, 1388]
    hr = hb.decode_wav((export_dir / "heart_rate.wav").read_bytes(), signed=False)
    assert (hr.framerate, hr.values.size) == (1, 128)
    assert hr.values.dtype == np.dtype("<u2") and 49 <= hr.values.min() and hr.values.max() <= 92
    # PPG is catalogued signed: read unsigned it would never go negative.
    ppg = hb.decode_wav((export_dir / "PPG.wav").read_bytes(), signed=True)
    assert ppg.values.min() < 0 and ppg.values[0] == -29642


def test_wav_from_a_stream(export_dir: Path) -> None:
    with open(export_dir / "respiration_thoracic.wav", "rb") as fh:
        resp = hb.decode_wav(fh, signed=False)
    assert (resp.framerate, resp.values.size) == (128, 16_512)


# -------------------------------------------------------------------------------- timestamps
def test_offsets_are_exact_integers_with_no_drift() -> None:
    day = 256 * 86_400
    ecg = hb.synchronous_offsets_ns(day, 256, at_period_end=False)
    assert ecg[0] == 0 and ecg[1] == 3_906_250
    assert ecg[-1] == (day - 1) * 3_906_250  # float accumulation would be off by ~µs here
    assert np.all(np.diff(ecg) == 3_906_250)
    assert hb.synchronous_offsets_ns(3, 1, at_period_end=True).tolist() == [1e9, 2e9, 3e9]
    assert hb.synchronous_offsets_ns(2, 1 / 300, at_period_end=True).tolist() == [300e9, 600e9]
    acc = hb.synchronous_offsets_ns(65, 64, at_period_end=False)
    assert acc[64] == 1_000_000_000
    # Rates whose period is not a whole number of ns must still land exactly on every second
    # (float k * (1e9 / fs) gives 16,999,999,999 for sample 51 at 3 Hz).
    for rate in (3, 75, 250):  # 75 / 250 Hz: Astroskin on the 1000-tick server
        offsets = hb.synchronous_offsets_ns(rate * 3600, rate, at_period_end=False)
        assert np.array_equal(offsets[::rate], np.arange(3600, dtype=np.int64) * 1_000_000_000)


def test_ticks_to_ns_and_csv_seconds() -> None:
    assert hb.ticks_to_ns(382085877327) == 382085877327 * 3_906_250
    assert hb.ticks_to_ns(1_492_522_958_308, 1000) == 1_492_522_958_308_000_000
    got = hb.csv_seconds_to_offsets_ns(np.array([5.55859375, 6.3046875, 0.0]))
    assert got.tolist() == [1423 * 3_906_250, 1614 * 3_906_250, 0]


# --------------------------------------------------------------------------------------- hxd
def test_hxd_records_and_length_check() -> None:
    data = struct.pack("<QqQqQq", 85, 256, 154, 69, 234, 80)  # the vendor doc's sample
    rec = hb.decode_hxd(data)
    assert rec["offset_ticks"].tolist() == [85, 154, 234]
    assert rec["value"].tolist() == [256, 69, 80]
    assert hb.decode_hxd(b"").size == 0
    with pytest.raises(DecodeError, match="not a multiple of 16"):
        hb.decode_hxd(data[:-3])


def test_hxd_negative_values_survive() -> None:
    rec = hb.decode_hxd(struct.pack("<Qq", 1, -5))
    assert rec["value"].tolist() == [-5]


# --------------------------------------------------------------------------------- event CSV
def test_event_csv_header_and_nan_cells() -> None:
    data = b"time [s],sleep_position [NA](/api/datatype/270/)\n0.0,nan\n1.0,4.0\n2.5,3\n129.0,nan\n"
    (col,) = hb.decode_event_csv(data)
    assert (col.datatype_id, col.name, col.unit) == (270, "sleep_position", "NA")
    assert col.time_s.tolist() == [1.0, 2.5]
    assert col.values.tolist() == [4, 3] and col.values.dtype == np.int64
    assert col.n_null_dropped == 2


def test_event_csv_header_only_and_multi_column() -> None:
    (empty,) = hb.decode_event_csv(b"time [s],step [Step](/api/datatype/52/)\n")
    assert empty.values.size == 0 and empty.n_null_dropped == 0
    a, b = hb.decode_event_csv(
        b"time [s],RR_interval [s/256](/api/datatype/18/),"
        b"RR_interval_quality [NA](/api/datatype/1004/)\r\n1.0,200,128\r\n2.0,,64\r\n"
    )
    assert (a.datatype_id, a.values.tolist(), a.n_null_dropped) == (18, [200], 1)
    assert (b.datatype_id, b.values.tolist()) == (1004, [128, 64])


def test_event_csv_rejects_physical_and_dashboard_files() -> None:
    with pytest.raises(DecodeError, match="non-integer"):
        hb.decode_event_csv(b"time [s],RR_interval [s](/api/datatype/18/)\n1.0,0.746\n")
    with pytest.raises(DecodeError, match="time \\[s\\]"):
        hb.decode_event_csv(b"time [s/256],heart_rate [bpm](/api/datatype/19/)\n411231686629,72\n")
    with pytest.raises(DecodeError, match="not 'name"):
        hb.decode_event_csv(b"0.1,3\n0.2,4\n")  # a user-converted CSV with no header


def test_real_rr_csv(export_dir: Path) -> None:
    (rr,) = hb.decode_event_csv((export_dir / "RR_interval.csv").read_bytes())
    assert rr.datatype_id == 18 and rr.values.size == 142 and rr.n_null_dropped == 0
    assert rr.time_s[:2].tolist() == [5.55859375, 6.3046875]
    assert rr.values[:3].tolist() == [0, 191, 191]  # the first RR is 0, as the notes say


# --------------------------------------------------------------------------------- info.json
def test_info_json_start_keys_and_tick_rate(export_dir: Path) -> None:
    info = hb.parse_info_json((export_dir / "info.json").read_bytes())
    assert (info.start_ticks, info.ticks_per_second) == (382085877327, 256)
    assert (info.user, info.record_id, info.decoder_version) == (11136, 122445, "0.5.3")
    assert info.start_ns == 1_492_522_958_308_593_750 and info.warnings == ()
    legacy = hb.parse_info_json({"start_timestamp": 382085877327})
    assert legacy.start_ticks == 382085877327
    astro = hb.parse_info_json(json.dumps({"start": 1_492_522_958_308}))
    assert astro.ticks_per_second == 1000
    fallback = hb.parse_info_json({"timestamp": 1492522958.3085938})
    assert fallback.start_ticks == 382085877327 and fallback.warnings


def test_info_json_errors() -> None:
    with pytest.raises(DecodeError) as err:
        hb.parse_info_json(b"{}")
    assert err.value.code == "missing_metadata"
    with pytest.raises(DecodeError, match="not valid JSON"):
        hb.parse_info_json(b"{start: 1")
    with pytest.raises(DecodeError, match="between 2009 and 2050"):
        hb.parse_info_json({"start": 12345})
