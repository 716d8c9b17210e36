"""TCX decoding on every real file in ../shared/reference/real_files/tcx, plus synthetic edge cases."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.compute as pc
import pytest

from hexo_pipeline.decoders import LAPS_SCHEMA, TRACKPOINTS_SCHEMA, DecodeError
from hexo_pipeline.decoders.schemas import ACTIVITIES_SCHEMA
from hexo_pipeline.decoders.tcx import decode_tcx


def _shared_dir() -> Path:
    env = os.environ.get("HEXO_SHARED_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared"


TCX_DIR = _shared_dir() / "reference" / "real_files" / "tcx"


@pytest.fixture
def tcx_dir() -> Path:
    if not _shared_dir().is_dir():
        pytest.skip("../shared is absent")
    return TCX_DIR


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def both_present(table, a: str, b: str) -> int:
    return int(pc.sum(pc.and_(pc.is_valid(table[a]), pc.is_valid(table[b]))).as_py() or 0)


def test_every_real_file_decodes_with_the_shared_schemas(tcx_dir: Path) -> None:
    files = sorted(tcx_dir.glob("*.tcx"))
    assert len(files) == 3
    for path in files:
        result = decode_tcx(path.read_bytes(), source=path.name)
        assert result.trackpoints.schema.equals(TRACKPOINTS_SCHEMA)
        assert result.laps.schema.equals(LAPS_SCHEMA)
        assert result.activities.schema.equals(ACTIVITIES_SCHEMA)
        assert result.trackpoints["time"].null_count == 0
        assert set(result.trackpoints["source"].unique().to_pylist()) == {path.name}


def test_forerunner_run(tcx_dir: Path) -> None:
    r = decode_tcx((tcx_dir / "test.tcx").read_bytes(), source="t")
    tp = r.trackpoints
    assert tp.num_rows == 384
    assert both_present(tp, "heart_rate_bpm", "latitude_deg") == 383
    first = tp.slice(0, 1).to_pylist()[0]
    assert first["time"] == utc(2012, 12, 26, 21, 29, 53)
    assert (first["latitude_deg"], first["longitude_deg"]) == (35.951880198, -79.0931872185)
    assert (first["altitude_m"], first["distance_m"], first["heart_rate_bpm"]) == (178.942626953, 0.0, 62)
    last = tp.slice(383, 1).to_pylist()[0]  # the time-only trackpoint is KEPT
    assert last["time"] == utc(2012, 12, 26, 22, 3, 5)
    assert last["latitude_deg"] is None and last["heart_rate_bpm"] is None
    assert r.laps.num_rows == 3 and tp["lap_index"].unique().to_pylist() == [0, 1, 2]
    lap0 = r.laps.slice(0, 1).to_pylist()[0]
    assert lap0 | {"source": None} == {
        "source": None,
        "activity_index": 0,
        "lap_index": 0,
        "start_time": utc(2012, 12, 26, 21, 29, 53),
        "total_time_s": 608.47,
        "elapsed_time_s": None,
        "distance_m": 1609.34399414,
        "max_speed_mps": 4.55431461334,
        "calories": 94,
        "avg_hr_bpm": 139,
        "max_hr_bpm": 189,
        "intensity": "active",
        "trigger": "distance",
        "extensions": None,
    }
    act = r.activities.to_pylist()[0]
    assert (act["sport"], act["start_time"], act["calories"], act["max_hr_bpm"]) == (
        "running",
        utc(2012, 12, 26, 21, 29, 53),
        379,
        189,
    )
    assert r.device == "Forerunner 410 Software Version 2.20"


def test_no_hr_file_keeps_its_time_only_trackpoint(tcx_dir: Path) -> None:
    tp = decode_tcx((tcx_dir / "no_hr.tcx").read_bytes(), source="n").trackpoints
    assert tp.num_rows == 384
    assert tp["heart_rate_bpm"].null_count == 384
    time_only = tp.filter(pc.is_null(tp["latitude_deg"]))
    assert time_only.num_rows == 1
    row = time_only.to_pylist()[0]
    assert row["time"] == utc(2012, 12, 26, 22, 3, 5)
    assert all(row[c] is None for c in ("longitude_deg", "altitude_m", "distance_m", "speed_mps"))


def test_cross_country_skiing_millisecond_times_and_tpx(tcx_dir: Path) -> None:
    r = decode_tcx((tcx_dir / "cross-country-skiing_activity_1.tcx").read_bytes(), source="x")
    tp = r.trackpoints
    assert tp.num_rows == 486
    assert both_present(tp, "heart_rate_bpm", "latitude_deg") == 486
    assert r.activities["sport"].to_pylist() == ["other"]
    first = tp.slice(0, 1).to_pylist()[0]
    assert first["time"] == utc(2020, 12, 26, 15, 14, 21)  # "2020-12-26T15:14:21.000Z"
    assert first["speed_mps"] == 0.5600000023841858  # TPX Speed -> its own column
    assert first["cadence"] == 0  # TPX RunCadence -> cadence
    assert first["extensions"] is None
    assert r.laps["extensions"][0].as_py() == [
        ("AvgSpeed", 2.313999891281128),
        ("AvgRunCadence", 38.0),
        ("MaxRunCadence", 95.0),
    ]
    assert r.device == "vívoactive HR" and r.application == "Connect Api"
    times = tp["time"].cast("int64").to_numpy()
    assert (times[1:] >= times[:-1]).all()


SYNTHETIC = b"""<?xml version="1.0" encoding="UTF-8"?>
<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"
    xmlns:ax="http://www.garmin.com/xmlschemas/ActivityExtension/v2" xmlns:hx="urn:example:hexoskin">
  <Activities>
    <Activity Sport="Biking">
      <Id>2021-03-01T10:00:00+02:00</Id>
      <Lap StartTime="2021-03-01T08:00:00Z">
        <TotalTimeSeconds>2</TotalTimeSeconds><Intensity>Resting</Intensity><TriggerMethod>Manual</TriggerMethod>
        <Track>
          <Trackpoint>
            <Time>2021-03-01T10:00:00.250+02:00</Time>
            <HeartRateBpm><Value>72</Value></HeartRateBpm>
            <Cadence>88</Cadence>
            <Extensions>
              <ax:TPX><ax:Speed>5.5</ax:Speed><ax:Watts>210</ax:Watts><ax:RunCadence>40</ax:RunCadence></ax:TPX>
              <hx:Hexoskin><hx:BreathingRate>18</hx:BreathingRate><hx:TidalVolume>0.61</hx:TidalVolume>
                <hx:MinuteVentilation>11.2</hx:MinuteVentilation><hx:Energy>250</hx:Energy>
                <hx:Label>text is ignored</hx:Label></hx:Hexoskin>
            </Extensions>
          </Trackpoint>
          <!-- a comment between trackpoints -->
          <Trackpoint><Time>2021-03-01T08:00:01</Time></Trackpoint>
        </Track>
      </Lap>
    </Activity>
  </Activities>
  <Courses><Course><Track><Trackpoint><Time>2000-01-01T00:00:00Z</Time></Trackpoint></Track></Course></Courses>
</TrainingCenterDatabase>"""


def test_extensions_offsets_and_vocabulary() -> None:
    r = decode_tcx(SYNTHETIC, source="s")
    tp = r.trackpoints.to_pylist()
    assert len(tp) == 2  # the Course trackpoint is not activity data
    assert tp[0]["time"] == utc(2021, 3, 1, 8, 0, 0).replace(microsecond=250_000)  # +02:00 -> UTC
    assert tp[1]["time"] == utc(2021, 3, 1, 8, 0, 1)  # no zone: taken as UTC
    assert (tp[0]["heart_rate_bpm"], tp[0]["cadence"], tp[0]["speed_mps"], tp[0]["watts"]) == (72, 88, 5.5, 210)
    assert dict(tp[0]["extensions"]) == {
        "BreathingRate": 18.0,
        "TidalVolume": 0.61,
        "MinuteVentilation": 11.2,
        "Energy": 250.0,
    }
    assert r.activities.to_pylist()[0]["sport"] == "cycling"
    assert r.activities.to_pylist()[0]["start_time"] == utc(2021, 3, 1, 8)
    lap = r.laps.to_pylist()[0]
    assert (lap["intensity"], lap["trigger"]) == ("rest", "manual")


def test_malformed_and_empty_tcx() -> None:
    with pytest.raises(DecodeError) as err:
        decode_tcx(SYNTHETIC[:600], source="cut")
    assert err.value.code == "malformed"
    with pytest.raises(DecodeError) as err:
        decode_tcx(
            b'<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2">'
            b"<Courses/></TrainingCenterDatabase>",
            source="c",
        )
    assert err.value.code == "no_data"
    with pytest.raises(DecodeError, match="bad number"):
        decode_tcx(SYNTHETIC.replace(b"<Value>72</Value>", b"<Value>seventy</Value>"), source="b")
    with pytest.raises(DecodeError, match="time"):
        decode_tcx(SYNTHETIC.replace(b"2021-03-01T08:00:01", b"yesterday"), source="t")


def test_entities_are_not_expanded() -> None:
    evil = SYNTHETIC.replace(
        b'<?xml version="1.0" encoding="UTF-8"?>',
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
    )
    evil = evil.replace(b"<TotalTimeSeconds>2</TotalTimeSeconds>", b"<TotalTimeSeconds>&e;</TotalTimeSeconds>")
    r = decode_tcx(evil, source="e")  # the external entity is neither fetched nor expanded
    assert r.laps["total_time_s"][0].as_py() is None


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        (
            b"<TotalTimeSeconds>2</TotalTimeSeconds>",
            b"<TotalTimeSeconds>abc</TotalTimeSeconds>",
            "bad number for total_time_s: 'abc'",
        ),
        (b"<Value>72</Value>", b"<Value>inf</Value>", "bad number for heart_rate_bpm: inf is not finite"),
        (b"<Value>72</Value>", b"<Value>-99999999999</Value>", "heart_rate_bpm: -1e+11 is outside [0, 300]"),
        (b"<Cadence>88</Cadence>", b"<Cadence>1e309</Cadence>", "bad number for cadence: inf is not finite"),
        (b"<TotalTimeSeconds>2</TotalTimeSeconds>", b"<TotalTimeSeconds>nan</TotalTimeSeconds>", "total_time_s"),
    ],
)
def test_garbage_numbers_are_typed_errors(old: bytes, new: bytes, words: str) -> None:
    """Found by fuzzing: OverflowError on inf, ArrowInvalid on -99999999999, ValueError on 'abc'."""
    assert old in SYNTHETIC
    with pytest.raises(DecodeError) as err:
        decode_tcx(SYNTHETIC.replace(old, new), source="g")
    assert err.value.code == "implausible_value" and words in err.value.reason


def test_non_finite_extension_values_are_dropped() -> None:
    r = decode_tcx(SYNTHETIC.replace(b"<hx:Energy>250</hx:Energy>", b"<hx:Energy>inf</hx:Energy>"), source="x")
    assert "Energy" not in dict(r.trackpoints["extensions"][0].as_py())
