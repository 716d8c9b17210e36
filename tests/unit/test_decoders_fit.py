"""FIT decoding on every file in ../shared/reference/real_files/fit and fit_invalid.

Records are compared, all rows, with the expected CSVs published beside the files (timestamps printed
in US/Pacific). fitparse and the fitdecode fallback must agree on every valid file.
"""

from __future__ import annotations

import csv
import os
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import fitparse
import numpy as np
import pyarrow as pa
import pytest

from hexo_pipeline.decoders import ACTIVITIES_SCHEMA, LAPS_SCHEMA, RR_INTERVALS_SCHEMA, TRACKPOINTS_SCHEMA, DecodeError
from hexo_pipeline.decoders import fit as fit_mod
from hexo_pipeline.decoders.fit import decode_fit


def _shared_dir() -> Path:
    env = os.environ.get("HEXO_SHARED_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared"


REAL = _shared_dir() / "reference" / "real_files"
PACIFIC = ZoneInfo("America/Los_Angeles")
SEMICIRCLE = 180.0 / 2**31
CORE = [
    "activity_index",
    "lap_index",
    "time",
    "latitude_deg",
    "longitude_deg",
    "altitude_m",
    "distance_m",
    "heart_rate_bpm",
    "cadence",
    "speed_mps",
    "watts",
    "temperature_c",
]


@pytest.fixture
def real() -> Path:
    if not _shared_dir().is_dir():
        pytest.skip("../shared is absent")
    return REAL


def load(real: Path, name: str, **kw):
    folder = "fit_invalid" if name.startswith("activity-") and name != "activity-small-fenix2-run.fit" else "fit"
    return decode_fit((real / folder / name).read_bytes(), source=name, **kw)


def fitdecode_only(data: bytes, name: str, monkeypatch) -> fit_mod.FitResult:
    def refuse(_data):
        raise RuntimeError("fitparse disabled by the test")

    monkeypatch.setattr(fit_mod, "_collect_fitparse", refuse)
    return decode_fit(data, source=name)


def pacific(text: str) -> datetime:
    """'Mon Jun 12 09:10:15 PDT 2017' -> aware datetime, checking the printed zone abbreviation."""
    day, mon, dd, hms, abbr, year = text.split()
    local = datetime.strptime(f"{day} {mon} {dd} {hms} {year}", "%a %b %d %H:%M:%S %Y").replace(tzinfo=PACIFIC)
    assert local.tzname() == abbr
    return local


VALID = {  # name: (records, laps, sessions, RR intervals, manufacturer, product)
    "activity-small-fenix2-run.fit": (2809, 4, 1, 0, "garmin", "fenix2"),
    "garmin-edge-820-bike.fit": (15, 1, 1, 126, "garmin", "edge_820"),
    "garmin-fenix-5-run.fit": (21, 1, 1, 113, "garmin", "fenix5"),
    "garmin-fenix-5-walk.fit": (17, 1, 1, 62, "garmin", "fenix5"),
    "sample_mulitple_header.fit": (1773, 5, 5, 0, "garmin", "fr920xt"),
}


def test_all_real_valid_files_are_listed(real: Path) -> None:
    assert {p.name for p in (real / "fit").glob("*.fit")} == set(VALID)
    assert {p.name for p in (real / "fit_invalid").glob("*.fit")} == {
        "activity-filecrc.fit",
        "activity-settings-corruptheader.fit",
        "activity-settings-nodata.fit",
        "activity-unexpected-eof.fit",
    }


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_file_counts_and_schemas(real: Path, name: str) -> None:
    records, laps, sessions, rr, manufacturer, product = VALID[name]
    r = load(real, name)
    assert (r.decoder, r.partial, r.crc_ok, r.fallback_reason) == ("fitparse", False, True, None)
    assert r.trackpoints.num_rows == records
    assert r.laps.num_rows == laps
    assert r.activities.num_rows == sessions
    assert r.rr_intervals.num_rows == rr
    assert (r.manufacturer, r.product, r.file_type) == (manufacturer, product, "activity")
    assert r.trackpoints.schema.equals(TRACKPOINTS_SCHEMA) and r.laps.schema.equals(LAPS_SCHEMA)
    assert r.activities.schema.equals(ACTIVITIES_SCHEMA) and r.rr_intervals.schema.equals(RR_INTERVALS_SCHEMA)
    assert r.trackpoints["time"].null_count == 0


@pytest.mark.parametrize("stem", ["garmin-edge-820-bike", "garmin-fenix-5-run", "garmin-fenix-5-walk"])
def test_records_equal_the_expected_csv_all_rows(real: Path, stem: str) -> None:
    with open(real / "fit" / f"{stem}-records.csv", newline="") as fh:
        expected = list(csv.DictReader(fh))
    got = load(real, f"{stem}.fit").trackpoints.to_pylist()
    assert len(got) == len(expected) > 10
    for row, exp in zip(got, expected, strict=True):
        assert row["time"] == pacific(exp["timestamp"])
        assert row["heart_rate_bpm"] == int(exp["heart_rate"])
        assert row["cadence"] == int(exp["cadence"])
        assert row["speed_mps"] == pytest.approx(float(exp["speed"]), abs=1e-9)
        assert row["distance_m"] == pytest.approx(float(exp["distance"]), abs=1e-9)
        assert row["latitude_deg"] == pytest.approx(int(exp["position_lat"]) * SEMICIRCLE, abs=1e-12)
        assert row["longitude_deg"] == pytest.approx(int(exp["position_long"]) * SEMICIRCLE, abs=1e-12)
        assert row["altitude_m"] == pytest.approx(float(exp["altitude"]), abs=1e-9)
        assert row["temperature_c"] == float(exp["temperature"])


def test_semicircles_become_degrees(real: Path) -> None:
    first = load(real, "garmin-fenix-5-run.fit").trackpoints.slice(0, 1).to_pylist()[0]
    assert first["latitude_deg"] == pytest.approx(38.229787, abs=1e-6)  # 456099128 semicircles
    assert first["longitude_deg"] == pytest.approx(-122.633704, abs=1e-6)  # -1463077077


def test_chained_file_is_read_to_the_end(real: Path) -> None:
    r = load(real, "sample_mulitple_header.fit")
    acts = r.activities.to_pylist()
    assert [a["sport"] for a in acts] == ["swimming", "transition", "cycling", "transition", "running"]
    tp = r.trackpoints
    assert tp["time"][tp.num_rows - 1].as_py().isoformat() == "2018-05-27T10:11:12+00:00"
    assert sorted(set(tp["activity_index"].to_pylist())) == [0, 1, 2, 3, 4]
    # every record lies inside the session it was assigned to
    starts = r.activities["start_time"].cast(pa.int64()).to_numpy()
    t = tp["time"].cast(pa.int64()).to_numpy()
    idx = tp["activity_index"].to_numpy()
    assert np.all(t >= starts[idx])
    assert np.all((idx == len(starts) - 1) | (t < starts[np.minimum(idx + 1, len(starts) - 1)]))


def test_laps_and_sessions_values(real: Path) -> None:
    r = load(real, "garmin-fenix-5-run.fit")
    lap = r.laps.to_pylist()[0]
    assert (lap["total_time_s"], lap["elapsed_time_s"], lap["distance_m"], lap["calories"]) == (
        56.887,
        56.887,
        157.56,
        5,
    )
    assert lap["max_speed_mps"] == 3.658
    act = r.activities.to_pylist()[0]
    assert (act["sport"], act["sub_sport"], act["total_time_s"]) == ("running", "generic", 56.887)
    small = load(real, "activity-small-fenix2-run.fit")
    assert small.laps["lap_index"].to_pylist() == [0, 1, 2, 3]
    # the first record (14:45:08) precedes the first lap start (14:45:09): it goes to lap 0
    assert small.trackpoints["lap_index"].value_counts().to_pylist()[0] == {"values": 0, "counts": 266}


@pytest.mark.parametrize(
    ("name", "n_rr", "first_rr"),
    [
        ("garmin-fenix-5-run.fit", 113, 1.093),
        ("garmin-fenix-5-walk.fit", 62, 0.824),
        ("garmin-edge-820-bike.fit", 126, 0.594),
    ],
)
def test_rr_intervals_are_anchored_at_the_timer_start(real: Path, name: str, n_rr: int, first_rr: float) -> None:
    r = load(real, name)
    rr = r.rr_intervals
    start_us = r.activities["start_time"].cast(pa.int64())[0].as_py()  # == timer start in these files
    beats = rr["time"].cast(pa.int64()).to_numpy()
    rr_s = rr["rr_s"].to_numpy()
    assert rr.num_rows == n_rr and rr_s[0] == first_rr
    assert beats[0] == start_us + round(first_rr * 1e6)
    assert np.array_equal(beats - start_us, np.cumsum(np.rint(rr_s * 1000).astype(np.int64)) * 1000)
    assert rr["beat_index"].to_pylist() == list(range(n_rr))
    assert np.all((rr_s > 0.2) & (rr_s < 2.0))
    # Oracle for the anchoring: the order in which the device wrote messages. A beat written after a
    # record cannot be (much) older than that record, and the last beat ends with the file.
    last_record_us, last_timestamp_us, n_beats, lags = None, None, 0, []
    for message in fitparse.FitFile(str(real / "fit" / name)).get_messages():
        values = message.get_values()
        if isinstance(values.get("timestamp"), datetime):
            last_timestamp_us = int(values["timestamp"].replace(tzinfo=UTC).timestamp() * 1e6)
        if message.name == "record":
            last_record_us = last_timestamp_us
        elif message.name == "hrv":
            n_beats += sum(v is not None for v in values["time"])
            lags.append(beats[n_beats - 1] - last_record_us)
    assert n_beats == n_rr
    assert min(lags) > -1e6  # measured: -0.51 s at worst (walk)
    assert abs(beats[-1] - last_timestamp_us) < 2e6  # measured: 0.005 / 1.41 / 0.71 s


def test_rr_padding_values_are_dropped() -> None:
    msgs = fit_mod._Messages()
    msgs.add("event", {"event": "timer", "event_type": "start", "timestamp": datetime(2020, 1, 1, 12, 0, 0)})
    msgs.add("hrv", {"time": (0.8, None, None, None, None)})
    msgs.add("hrv", {"time": (0.9, 65.535, None, 1.0, None)})
    r = fit_mod._build(
        msgs, "s", decoder="t", version="0", fallback_reason=None, crc_ok=True, partial=False, n_segments=None, notes=[]
    )
    assert r.rr_intervals["rr_s"].to_pylist() == [0.8, 0.9, 1.0]
    assert [t.isoformat() for t in r.rr_intervals["time"].to_pylist()] == [
        "2020-01-01T12:00:00.800000+00:00",
        "2020-01-01T12:00:01.700000+00:00",
        "2020-01-01T12:00:02.700000+00:00",
    ]


@pytest.mark.parametrize("name", sorted(VALID))
def test_fitdecode_fallback_agrees_with_fitparse(real: Path, name: str, monkeypatch) -> None:
    data = (real / "fit" / name).read_bytes()
    primary = decode_fit(data, source=name)
    fallback = fitdecode_only(data, name, monkeypatch)
    assert fallback.decoder == "fitdecode" and "disabled by the test" in fallback.fallback_reason
    assert fallback.crc_ok is True
    assert fallback.trackpoints.select(CORE).equals(primary.trackpoints.select(CORE))
    assert fallback.rr_intervals.equals(primary.rr_intervals)
    assert fallback.activities.equals(primary.activities)
    lap_cols = [c for c in LAPS_SCHEMA.names if c != "extensions"]
    assert fallback.laps.select(lap_cols).equals(primary.laps.select(lap_cols))


# ------------------------------------------------------------------------------- invalid files
def test_crc_mismatch_is_decoded_by_the_fallback_and_flagged(real: Path) -> None:
    r = load(real, "activity-filecrc.fit")
    assert r.decoder == "fitdecode" and r.crc_ok is False and r.partial is False
    assert "FitCRCError" in r.fallback_reason
    assert r.trackpoints.num_rows == 14 and r.laps.num_rows == 1 and r.activities.num_rows == 1
    assert any("CRC mismatch" in w for w in r.warnings)
    with pytest.raises(DecodeError) as err:
        load(real, "activity-filecrc.fit", strict_crc=True)
    assert err.value.code == "crc_mismatch" and err.value.partial.trackpoints.num_rows == 14


@pytest.mark.parametrize(
    ("name", "code", "words"),
    [
        (
            "activity-settings-corruptheader.fit",
            "invalid_header",
            "invalid FIT header of chained segment 2 at byte 771",
        ),
        ("activity-settings-nodata.fit", "no_data", "no data: segment 2 (byte 771)"),
        ("activity-unexpected-eof.fit", "truncated", "truncated: segment 1"),
    ],
)
def test_damaged_files_raise_with_a_marked_partial(real: Path, name: str, code: str, words: str) -> None:
    with pytest.raises(DecodeError) as err:
        load(real, name)
    assert err.value.code == code and words in err.value.reason
    partial = err.value.partial
    assert partial.partial is True and partial.decoder == "fitdecode"
    assert partial.trackpoints.num_rows == 14  # the intact first segment
    assert any(w.startswith("PARTIAL:") for w in partial.warnings)
    salvaged = load(real, name, allow_partial=True)
    assert salvaged.partial and salvaged.trackpoints.equals(partial.trackpoints)


def test_truncated_file_lacks_its_tail(real: Path) -> None:
    eof = load(real, "activity-unexpected-eof.fit", allow_partial=True)
    whole = load(real, "activity-filecrc.fit")  # same activity, intact bytes
    assert eof.trackpoints.select(CORE).equals(whole.trackpoints.select(CORE))


def test_header_only_file_is_no_data(real: Path) -> None:
    data = (real / "fit" / "garmin-fenix-5-run.fit").read_bytes()
    header = data[: data[0]]  # the 14-byte header, nothing else
    with pytest.raises(DecodeError) as err:
        decode_fit(header, source="h", allow_partial=True)
    assert err.value.code == "no_data" and err.value.partial is None
    assert "no data" in err.value.reason


def test_not_fit_at_all() -> None:
    with pytest.raises(DecodeError) as err:
        decode_fit(b"\x0e\x10" + b"\x00" * 30, source="z")
    assert err.value.code == "invalid_header" and err.value.partial is None


# ------------------------------------------------------------- files written with fit-tool (a dependency)
def build_fit(*messages) -> bytes:
    from fit_tool.fit_file_builder import FitFileBuilder

    builder = FitFileBuilder(auto_define=True)
    for message in messages:
        builder.add(message)
    return builder.build_bytes()


def file_id(kind):
    from fit_tool.profile.messages.file_id_message import FileIdMessage
    from fit_tool.profile.profile_type import Manufacturer

    msg = FileIdMessage()
    msg.type, msg.manufacturer, msg.product, msg.serial_number = kind, Manufacturer.DEVELOPMENT.value, 0, 7
    msg.time_created = 1_600_000_000_000
    return msg


def test_settings_file_is_no_activity_data() -> None:
    from fit_tool.profile.messages.user_profile_message import UserProfileMessage
    from fit_tool.profile.profile_type import FileType

    profile = UserProfileMessage()
    profile.weight = 70.0
    with pytest.raises(DecodeError) as err:
        decode_fit(build_fit(file_id(FileType.SETTINGS), profile), source="settings")
    assert err.value.code == "no_data" and "'settings'" in err.value.reason


@pytest.mark.parametrize("decoder", ["fitparse", "fitdecode"])
def test_hrv_padding_through_both_decoders(decoder: str, monkeypatch) -> None:
    from fit_tool.profile.messages.event_message import EventMessage
    from fit_tool.profile.messages.hrv_message import HrvMessage
    from fit_tool.profile.messages.record_message import RecordMessage
    from fit_tool.profile.profile_type import Event, EventType, FileType

    start = EventMessage()
    start.event, start.event_type, start.timestamp = Event.TIMER, EventType.START, 1_600_000_000_000
    record = RecordMessage()
    record.timestamp, record.heart_rate = 1_600_000_002_000, 80
    first, second = HrvMessage(), HrvMessage()
    first.time = [0.8, None, None, None, None]  # None -> 0xFFFF on the wire
    second.time = [0.9, 1.0, None, None, None]
    data = build_fit(file_id(FileType.ACTIVITY), start, first, record, second)
    r = fitdecode_only(data, "h", monkeypatch) if decoder == "fitdecode" else decode_fit(data, source="h")
    assert r.decoder == decoder
    assert r.rr_intervals["rr_s"].to_pylist() == [0.8, 0.9, 1.0]
    assert [t.isoformat() for t in r.rr_intervals["time"].to_pylist()] == [
        "2020-09-13T12:26:40.800000+00:00",
        "2020-09-13T12:26:41.700000+00:00",
        "2020-09-13T12:26:42.700000+00:00",
    ]
    assert r.activities.num_rows == 1  # synthesised: the file has no session
    assert any("no session" in w for w in r.warnings)


def test_an_absurd_declared_size_is_refused_before_decoding(real: Path) -> None:
    data = bytearray((real / "fit" / "garmin-fenix-5-run.fit").read_bytes())
    data[4:8] = (2**32 - 1).to_bytes(4, "little")
    with pytest.raises(DecodeError) as err:
        decode_fit(bytes(data), source="big")
    assert err.value.code == "too_large" and "declares 4294967295 bytes" in err.value.reason


def test_library_failures_become_malformed(monkeypatch) -> None:
    """fitdecode raised AssertionError, ValueError('size'), TypeError, struct.error on fuzzed files."""
    import struct

    for exc in (AssertionError("boom"), ValueError("size"), TypeError("t"), struct.error("s")):

        def reader(*_a, _exc=exc, **_k):
            raise _exc

        monkeypatch.setattr(fit_mod.fitdecode, "FitReader", reader)
        with pytest.raises(DecodeError) as err:
            decode_fit(b"\x0e\x10" + b"\x00" * 30, source="z")
        assert err.value.code == "malformed" and type(exc).__name__ in err.value.reason


def test_implausible_record_values_are_refused(monkeypatch) -> None:
    msgs = fit_mod._Messages()
    msgs.add("record", {"timestamp": datetime(2020, 1, 1), "heart_rate": 4_000_000_000})
    with pytest.raises(DecodeError) as err:
        fit_mod._build(
            msgs,
            "s",
            decoder="t",
            version="0",
            fallback_reason=None,
            crc_ok=True,
            partial=False,
            n_segments=None,
            notes=[],
        )
    assert err.value.code == "implausible_value" and "trackpoints.heart_rate_bpm row 0" in err.value.reason
