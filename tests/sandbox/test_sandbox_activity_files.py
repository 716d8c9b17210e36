"""Sandbox GPS routes and TCX / FIT writers, checked through the project's own decoders on real files.

Garmin's TrainingCenterDatabase v2 XSD is not available offline, so TCX_XSD / AX_XSD below restate, for
the elements the writer emits, the content models of TrainingCenterDatabasev2.xsd and
ActivityExtensionv2.xsd (sequence order, required children, value types and enumerations). Optional
elements the writer never emits (Folders, Workouts, Courses, Training, MultiSportSession...) are left
out, which only makes the subset stricter. lxml.etree.XMLSchema validates against it.
"""

from __future__ import annotations

import dataclasses
import io
import warnings
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import fitdecode
import fitparse
import numpy as np
import pytest
from lxml import etree

from hexo_pipeline.decoders import convert_bytes, convert_file
from hexo_pipeline.hexoskin.timestamps import TICKS_PER_SECOND, to_ticks
from hexo_sandbox.formats.activity_writers import (
    AX_NS,
    HX_NS,
    TCD_NS,
    ActivityData,
    activity_from_route,
    write_fit,
    write_tcx,
)
from hexo_sandbox.world.routes import GAITS, distance_m, synth_route

TCX_XSD = """<?xml version="1.0" encoding="UTF-8"?>
<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"
    targetNamespace="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"
    elementFormDefault="qualified">
  <xsd:import namespace="http://www.garmin.com/xmlschemas/ActivityExtension/v2"
      schemaLocation="ActivityExtensionv2.xsd"/>
  <xsd:element name="TrainingCenterDatabase" type="TrainingCenterDatabase_t"/>
  <xsd:complexType name="TrainingCenterDatabase_t"><xsd:sequence>
    <xsd:element name="Activities" type="ActivityList_t" minOccurs="0"/>
    <xsd:element name="Author" type="AbstractSource_t" minOccurs="0"/>
    <xsd:element name="Extensions" type="Extensions_t" minOccurs="0"/>
  </xsd:sequence></xsd:complexType>
  <xsd:complexType name="ActivityList_t"><xsd:sequence>
    <xsd:element name="Activity" type="Activity_t" minOccurs="0" maxOccurs="unbounded"/>
  </xsd:sequence></xsd:complexType>
  <xsd:complexType name="Activity_t">
    <xsd:sequence>
      <xsd:element name="Id" type="xsd:dateTime"/>
      <xsd:element name="Lap" type="ActivityLap_t" maxOccurs="unbounded"/>
      <xsd:element name="Notes" type="xsd:string" minOccurs="0"/>
      <xsd:element name="Creator" type="AbstractSource_t" minOccurs="0"/>
      <xsd:element name="Extensions" type="Extensions_t" minOccurs="0"/>
    </xsd:sequence>
    <xsd:attribute name="Sport" type="Sport_t" use="required"/>
  </xsd:complexType>
  <xsd:simpleType name="Sport_t"><xsd:restriction base="Token_t">
    <xsd:enumeration value="Running"/><xsd:enumeration value="Biking"/><xsd:enumeration value="Other"/>
  </xsd:restriction></xsd:simpleType>
  <xsd:complexType name="ActivityLap_t">
    <xsd:sequence>
      <xsd:element name="TotalTimeSeconds" type="xsd:double"/>
      <xsd:element name="DistanceMeters" type="xsd:double"/>
      <xsd:element name="MaximumSpeed" type="xsd:double" minOccurs="0"/>
      <xsd:element name="Calories" type="xsd:unsignedShort"/>
      <xsd:element name="AverageHeartRateBpm" type="HeartRateInBeatsPerMinute_t" minOccurs="0"/>
      <xsd:element name="MaximumHeartRateBpm" type="HeartRateInBeatsPerMinute_t" minOccurs="0"/>
      <xsd:element name="Intensity" type="Intensity_t"/>
      <xsd:element name="Cadence" type="CadenceValue_t" minOccurs="0"/>
      <xsd:element name="TriggerMethod" type="TriggerMethod_t"/>
      <xsd:element name="Track" type="Track_t" minOccurs="0" maxOccurs="unbounded"/>
      <xsd:element name="Notes" type="xsd:string" minOccurs="0"/>
      <xsd:element name="Extensions" type="Extensions_t" minOccurs="0"/>
    </xsd:sequence>
    <xsd:attribute name="StartTime" type="xsd:dateTime" use="required"/>
  </xsd:complexType>
  <xsd:simpleType name="Intensity_t"><xsd:restriction base="Token_t">
    <xsd:enumeration value="Active"/><xsd:enumeration value="Resting"/>
  </xsd:restriction></xsd:simpleType>
  <xsd:simpleType name="TriggerMethod_t"><xsd:restriction base="Token_t">
    <xsd:enumeration value="Manual"/><xsd:enumeration value="Distance"/><xsd:enumeration value="Location"/>
    <xsd:enumeration value="Time"/><xsd:enumeration value="HeartRate"/>
  </xsd:restriction></xsd:simpleType>
  <xsd:complexType name="Track_t"><xsd:sequence>
    <xsd:element name="Trackpoint" type="Trackpoint_t" maxOccurs="unbounded"/>
  </xsd:sequence></xsd:complexType>
  <xsd:complexType name="Trackpoint_t"><xsd:sequence>
    <xsd:element name="Time" type="xsd:dateTime"/>
    <xsd:element name="Position" type="Position_t" minOccurs="0"/>
    <xsd:element name="AltitudeMeters" type="xsd:double" minOccurs="0"/>
    <xsd:element name="DistanceMeters" type="xsd:double" minOccurs="0"/>
    <xsd:element name="HeartRateBpm" type="HeartRateInBeatsPerMinute_t" minOccurs="0"/>
    <xsd:element name="Cadence" type="CadenceValue_t" minOccurs="0"/>
    <xsd:element name="SensorState" type="SensorState_t" minOccurs="0"/>
    <xsd:element name="Extensions" type="Extensions_t" minOccurs="0"/>
  </xsd:sequence></xsd:complexType>
  <xsd:complexType name="Position_t"><xsd:sequence>
    <xsd:element name="LatitudeDegrees" type="DegreesLatitude_t"/>
    <xsd:element name="LongitudeDegrees" type="DegreesLongitude_t"/>
  </xsd:sequence></xsd:complexType>
  <xsd:simpleType name="DegreesLatitude_t"><xsd:restriction base="xsd:double">
    <xsd:maxInclusive value="90.0"/><xsd:minInclusive value="-90.0"/>
  </xsd:restriction></xsd:simpleType>
  <xsd:simpleType name="DegreesLongitude_t"><xsd:restriction base="xsd:double">
    <xsd:maxExclusive value="180.0"/><xsd:minInclusive value="-180.0"/>
  </xsd:restriction></xsd:simpleType>
  <xsd:complexType name="HeartRateInBeatsPerMinute_t"><xsd:sequence>
    <xsd:element name="Value" type="HeartRateValue_t"/>
  </xsd:sequence></xsd:complexType>
  <xsd:simpleType name="HeartRateValue_t"><xsd:restriction base="xsd:unsignedByte">
    <xsd:minInclusive value="1"/>
  </xsd:restriction></xsd:simpleType>
  <xsd:simpleType name="CadenceValue_t"><xsd:restriction base="xsd:unsignedByte">
    <xsd:maxInclusive value="254"/>
  </xsd:restriction></xsd:simpleType>
  <xsd:simpleType name="SensorState_t"><xsd:restriction base="Token_t">
    <xsd:enumeration value="Present"/><xsd:enumeration value="Absent"/>
  </xsd:restriction></xsd:simpleType>
  <xsd:complexType name="Extensions_t"><xsd:sequence>
    <xsd:any namespace="##other" processContents="lax" minOccurs="0" maxOccurs="unbounded"/>
  </xsd:sequence></xsd:complexType>
  <xsd:complexType name="AbstractSource_t" abstract="true"><xsd:sequence>
    <xsd:element name="Name" type="Token_t"/>
  </xsd:sequence></xsd:complexType>
  <xsd:complexType name="Device_t"><xsd:complexContent><xsd:extension base="AbstractSource_t">
    <xsd:sequence>
      <xsd:element name="UnitId" type="xsd:unsignedInt"/>
      <xsd:element name="ProductID" type="xsd:unsignedShort"/>
      <xsd:element name="Version" type="Version_t"/>
    </xsd:sequence>
  </xsd:extension></xsd:complexContent></xsd:complexType>
  <xsd:complexType name="Application_t"><xsd:complexContent><xsd:extension base="AbstractSource_t">
    <xsd:sequence>
      <xsd:element name="Build" type="Build_t"/>
      <xsd:element name="LangID" type="LangID_t"/>
      <xsd:element name="PartNumber" type="PartNumber_t"/>
    </xsd:sequence>
  </xsd:extension></xsd:complexContent></xsd:complexType>
  <xsd:complexType name="Build_t"><xsd:sequence>
    <xsd:element name="Version" type="Version_t"/>
    <xsd:element name="Type" type="BuildType_t" minOccurs="0"/>
    <xsd:element name="Time" type="Token_t" minOccurs="0"/>
    <xsd:element name="Builder" type="Token_t" minOccurs="0"/>
  </xsd:sequence></xsd:complexType>
  <xsd:simpleType name="BuildType_t"><xsd:restriction base="Token_t">
    <xsd:enumeration value="Internal"/><xsd:enumeration value="Alpha"/><xsd:enumeration value="Beta"/>
    <xsd:enumeration value="Release"/>
  </xsd:restriction></xsd:simpleType>
  <xsd:complexType name="Version_t"><xsd:sequence>
    <xsd:element name="VersionMajor" type="xsd:unsignedShort"/>
    <xsd:element name="VersionMinor" type="xsd:unsignedShort"/>
    <xsd:element name="BuildMajor" type="xsd:unsignedShort" minOccurs="0"/>
    <xsd:element name="BuildMinor" type="xsd:unsignedShort" minOccurs="0"/>
  </xsd:sequence></xsd:complexType>
  <xsd:simpleType name="LangID_t"><xsd:restriction base="xsd:token"><xsd:length value="2"/></xsd:restriction>
  </xsd:simpleType>
  <xsd:simpleType name="PartNumber_t"><xsd:restriction base="xsd:token">
    <xsd:pattern value="[\\p{Lu}\\d]{3}-[\\p{Lu}\\d]{5}-[\\p{Lu}\\d]{2}"/>
  </xsd:restriction></xsd:simpleType>
  <xsd:simpleType name="Token_t"><xsd:restriction base="xsd:token">
    <xsd:minLength value="1"/>
  </xsd:restriction></xsd:simpleType>
</xsd:schema>
"""

AX_XSD = """<?xml version="1.0" encoding="UTF-8"?>
<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    xmlns="http://www.garmin.com/xmlschemas/ActivityExtension/v2"
    targetNamespace="http://www.garmin.com/xmlschemas/ActivityExtension/v2"
    elementFormDefault="qualified">
  <xsd:element name="TPX" type="ActivityTrackpointExtension_t"/>
  <xsd:element name="LX" type="ActivityLapExtension_t"/>
  <xsd:complexType name="ActivityTrackpointExtension_t">
    <xsd:sequence>
      <xsd:element name="Speed" type="xsd:double" minOccurs="0"/>
      <xsd:element name="RunCadence" type="CadenceValue_t" minOccurs="0"/>
      <xsd:element name="Watts" type="xsd:unsignedShort" minOccurs="0"/>
      <xsd:element name="Extensions" type="Extensions_t" minOccurs="0"/>
    </xsd:sequence>
    <xsd:attribute name="CadenceSensor" type="CadenceSensorType_t" use="optional"/>
  </xsd:complexType>
  <xsd:complexType name="ActivityLapExtension_t"><xsd:sequence>
    <xsd:element name="AvgSpeed" type="xsd:double" minOccurs="0"/>
    <xsd:element name="MaxBikeCadence" type="CadenceValue_t" minOccurs="0"/>
    <xsd:element name="AvgRunCadence" type="CadenceValue_t" minOccurs="0"/>
    <xsd:element name="MaxRunCadence" type="CadenceValue_t" minOccurs="0"/>
    <xsd:element name="Steps" type="xsd:unsignedShort" minOccurs="0"/>
    <xsd:element name="AvgWatts" type="xsd:unsignedShort" minOccurs="0"/>
    <xsd:element name="MaxWatts" type="xsd:unsignedShort" minOccurs="0"/>
    <xsd:element name="Extensions" type="Extensions_t" minOccurs="0"/>
  </xsd:sequence></xsd:complexType>
  <xsd:simpleType name="CadenceValue_t"><xsd:restriction base="xsd:unsignedByte">
    <xsd:maxInclusive value="254"/>
  </xsd:restriction></xsd:simpleType>
  <xsd:simpleType name="CadenceSensorType_t"><xsd:restriction base="xsd:token">
    <xsd:enumeration value="Footpod"/><xsd:enumeration value="Bike"/>
  </xsd:restriction></xsd:simpleType>
  <xsd:complexType name="Extensions_t"><xsd:sequence>
    <xsd:any namespace="##other" processContents="lax" minOccurs="0" maxOccurs="unbounded"/>
  </xsd:sequence></xsd:complexType>
</xsd:schema>
"""

START = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
START_TICKS = to_ticks(START)
DURATION_S = 1500
LAPS = ((0, 500), (500, 1000), (1000, DURATION_S))
N_BEATS = 3700
NS = {"t": TCD_NS, "ax": AX_NS, "hx": HX_NS}


@pytest.fixture(scope="module")
def tcx_schema(tmp_path_factory) -> etree.XMLSchema:
    folder = tmp_path_factory.mktemp("xsd")
    (folder / "ActivityExtensionv2.xsd").write_text(AX_XSD)
    (folder / "TrainingCenterDatabasev2.xsd").write_text(TCX_XSD)
    return etree.XMLSchema(etree.parse(str(folder / "TrainingCenterDatabasev2.xsd")))


def _vitals(n: int, seed: int = 7) -> dict[str, np.ndarray]:
    """Plausible per-second biometrics with a few HR gaps (sensor off) to check omission."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    hr = 150 + 12 * np.sin(t / 200) + rng.normal(0, 1.5, n)
    hr[[3, 4, n // 2]] = np.nan
    br = 32 + 4 * np.sin(t / 150)
    tv = 1400 + 200 * np.sin(t / 90)
    return {
        "heart_rate_bpm": hr,
        "breathing_rate_rpm": br,
        "tidal_volume_ml": tv,
        "minute_ventilation_ml_min": br * tv,
        "energy_w": 850 + 50 * np.sin(t / 120),
    }


@pytest.fixture(scope="module")
def route():
    return synth_route(11, START_TICKS, DURATION_S, "run")


@pytest.fixture(scope="module")
def activity(route) -> ActivityData:
    rr = np.full(N_BEATS, 0.4)
    rr[::7] = 0.412  # not all equal, so order matters; sum < duration
    return activity_from_route(route, laps=LAPS, rr_s=rr, **_vitals(route.n))


@pytest.fixture(scope="module")
def tcx_path(activity, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tcx") / "run.tcx"
    path.write_bytes(write_tcx(activity))
    return path


@pytest.fixture(scope="module")
def fit_path(activity, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fit") / "run.fit"
    path.write_bytes(write_fit(activity))
    return path


def _local_xy(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lat0, lon0 = lat[0], lon[0]
    return (np.radians(lon - lon0) * 6_371_008.8 * np.cos(np.radians(lat0)), np.radians(lat - lat0) * 6_371_008.8)


# ---------------------------------------------------------------------------------------- routes
@pytest.mark.parametrize("kind", ["walk", "run"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_route_speed_gaps_altitude_and_shape_are_plausible(kind, seed):
    r = synth_route(seed, START_TICKS, 2700, kind)
    lo, hi = GAITS[kind].speed_range_mps
    assert r.n == 2700 and np.all(np.diff(r.ticks) == TICKS_PER_SECOND) and r.ticks[0] == START_TICKS
    assert lo <= r.speed_mps.min() and r.speed_mps.max() <= hi
    assert np.abs(np.diff(r.speed_mps)).max() < 0.05  # smooth, no jumps
    # Dropouts: present, short, rare; every GPS column is NaN exactly where there is no fix.
    gaps = np.diff(np.flatnonzero(np.diff(np.concatenate(([1], r.has_fix.astype(int), [1])))))[::2]
    assert 1 <= gaps.size and gaps.max() <= 20 and (~r.has_fix).mean() < 0.05
    for col in (r.lat_deg, r.lon_deg, r.altitude_m, r.course_deg, r.horizontal_accuracy_m):
        assert np.array_equal(np.isfinite(col), r.has_fix)
    assert np.nanmin(r.horizontal_accuracy_m) >= 2.0 and np.nanstd(r.horizontal_accuracy_m) > 0.2
    assert 2.0 < np.nanmax(r.altitude_m) - np.nanmin(r.altitude_m) < 25.0
    # Starts at the origin, comes back near it, and is not a straight line.
    assert abs(np.nanmean(r.lat_deg[:30]) - 45.5017) < 5e-4
    x, y = _local_xy(r.lat_deg[r.has_fix], r.lon_deg[r.has_fix])
    far = np.argmax(np.hypot(x, y))
    lateral = np.abs(x * y[far] - y * x[far]) / np.hypot(x[far], y[far])  # distance to the chord
    assert lateral.max() > 40.0, r.shape
    assert np.hypot(x[-1], y[-1]) < 0.1 * r.distance_m[-1]
    assert (np.nanmax(r.course_deg) - np.nanmin(r.course_deg)) > 90


def test_route_is_deterministic_per_seed_and_differs_between_seeds():
    a, b = synth_route(5, START_TICKS, 600, "walk"), synth_route(5, START_TICKS, 600, "walk")
    c = synth_route(6, START_TICKS, 600, "walk")
    for name in ("ticks", "speed_mps", "lat_deg", "lon_deg", "altitude_m", "horizontal_accuracy_m", "has_fix"):
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name
    assert not np.array_equal(a.lat_deg, c.lat_deg, equal_nan=True)


@pytest.mark.parametrize("kind", ["walk", "run"])
def test_gps_distance_agrees_with_the_speed_profile_within_1_percent(kind):
    for seed in range(6):
        r = synth_route(seed, START_TICKS, 1800, kind)
        gps = distance_m(r.lat_deg, r.lon_deg)
        assert abs(gps / r.distance_m[-1] - 1) < 0.01, (seed, r.shape)
        assert abs(r.distance_m[-1] / 1800 - r.speed_mps.mean()) < 0.01


def test_distance_m_is_haversine_and_skips_missing_points():
    # One degree of latitude on the 6371008.8 m sphere, with a missing point in the middle.
    assert distance_m(np.array([45.0, np.nan, 46.0]), np.array([-73.0, np.nan, -73.0])) == pytest.approx(
        111_195.08, abs=0.01
    )
    assert distance_m(np.array([45.0]), np.array([-73.0])) == 0.0


def test_cadence_follows_speed_with_the_gait_step_length():
    walk, run = synth_route(2, START_TICKS, 900, "walk"), synth_route(2, START_TICKS, 900, "run")
    np.testing.assert_allclose(walk.cadence_spm, walk.speed_mps * 60 / 0.7)
    np.testing.assert_allclose(run.cadence_spm, run.speed_mps * 60 / 1.1)
    assert 100 < walk.cadence_spm.min() and walk.cadence_spm.max() < 130
    assert 140 < run.cadence_spm.min() and run.cadence_spm.max() < 200


def test_sub_second_start_ticks_keep_one_hertz_ticks():
    r = synth_route(1, START_TICKS + 100, 60, "walk")
    assert r.ticks[0] == START_TICKS + 100 and np.all(np.diff(r.ticks) == TICKS_PER_SECOND)
    assert r.time_utc[0] == np.datetime64("2024-05-01T12:00:00.390625")


def test_bad_route_arguments_are_refused():
    with pytest.raises(ValueError):
        synth_route(1, START_TICKS, 600, "swim")
    with pytest.raises(ValueError):
        synth_route(1, START_TICKS, 1.5, "walk")


# --------------------------------------------------------------------------------------------- TCX
def test_tcx_validates_against_the_xsd_subset(tcx_path, tcx_schema):
    doc = etree.parse(str(tcx_path))
    tcx_schema.assertValid(doc)
    # The subset does check what the extension schema declares: TPX children are really validated.
    assert doc.xpath("count(//ax:TPX/ax:Speed)", namespaces=NS) == DURATION_S


@pytest.mark.parametrize(
    "break_it",
    ["position_before_time", "fractional_hr", "zero_hr", "cadence_before_speed", "walking_sport", "calories_after_hr"],
)
def test_the_xsd_subset_rejects_what_the_real_xsd_rejects(tcx_path, tcx_schema, break_it):
    doc = etree.parse(str(tcx_path))
    tp = doc.xpath("//t:Trackpoint[t:Position and t:HeartRateBpm]", namespaces=NS)[0]
    if break_it == "position_before_time":
        tp.insert(0, tp.find("t:Position", NS))
    elif break_it in ("fractional_hr", "zero_hr"):
        tp.find("t:HeartRateBpm/t:Value", NS).text = "150.5" if break_it == "fractional_hr" else "0"
    elif break_it == "cadence_before_speed":
        tpx = tp.find("t:Extensions/ax:TPX", NS)
        tpx.insert(0, tpx.find("ax:RunCadence", NS))
    elif break_it == "walking_sport":
        doc.find(".//t:Activity", NS).set("Sport", "Walking")
    else:
        lap = doc.find(".//t:Lap", NS)
        lap.insert(list(lap).index(lap.find("t:MaximumHeartRateBpm", NS)), lap.find("t:Calories", NS))
    assert not tcx_schema.validate(doc)


def test_tcx_round_trip_through_the_decoder(tcx_path, route, activity):
    out = convert_file(tcx_path)
    tp = out.trackpoints.to_pandas()
    # One trackpoint per second, including the seconds without a GPS fix.
    assert len(tp) == route.n
    times = tp["time"].to_numpy(dtype="datetime64[us]")
    assert np.array_equal(times, route.time_utc)
    assert np.array_equal(tp["latitude_deg"].notna().to_numpy(), route.has_fix)
    assert (~route.has_fix).sum() >= 5
    fix = route.has_fix
    np.testing.assert_allclose(tp["latitude_deg"].to_numpy()[fix], route.lat_deg[fix], atol=1e-6, rtol=0)
    np.testing.assert_allclose(tp["longitude_deg"].to_numpy()[fix], route.lon_deg[fix], atol=1e-6, rtol=0)
    np.testing.assert_allclose(tp["altitude_m"].to_numpy()[fix], route.altitude_m[fix], atol=0.051)
    hr_in = np.rint(activity.heart_rate_bpm)
    hr_out = tp["heart_rate_bpm"].to_numpy(dtype=float, na_value=np.nan)
    assert np.array_equal(hr_out, hr_in, equal_nan=True) and np.isnan(hr_out).sum() == 3
    # Speed and cadence: TPX Speed and RunCadence (strides/min = steps/min / 2).
    np.testing.assert_allclose(tp["speed_mps"].to_numpy(), route.speed_mps, atol=5e-4)
    spm = 2 * tp["cadence"].to_numpy(dtype=float)  # strides/min are integers
    assert np.abs(spm - tp["speed_mps"].to_numpy() * 60 / GAITS["run"].step_length_m).max() <= 1.05
    # Hexoskin vitals arrive through the decoder's extensions map, by local name.
    ext = dict(tp["extensions"].iloc[100])
    vit = _vitals(route.n)
    assert ext["BreathingRateRpm"] == pytest.approx(vit["breathing_rate_rpm"][100], abs=0.05)
    assert ext["TidalVolumeMl"] == pytest.approx(vit["tidal_volume_ml"][100], abs=0.5)
    assert ext["MinuteVentilationMlPerMin"] == pytest.approx(vit["minute_ventilation_ml_min"][100], abs=0.5)
    assert ext["EnergyW"] == pytest.approx(vit["energy_w"][100], abs=0.05)
    # Distance: the written DistanceMeters vs haversine over the decoded positions.
    dist = tp["distance_m"].to_numpy()
    gps_m = distance_m(tp["latitude_deg"].to_numpy(), tp["longitude_deg"].to_numpy())
    assert abs(gps_m / dist[-1] - 1) < 0.01
    # Laps: count, start times, durations, distances adding up to the track's.
    laps = out.laps.to_pandas()
    assert len(laps) == len(LAPS)
    assert list(laps["start_time"]) == [START + timedelta(seconds=a) for a, _ in LAPS]
    assert list(laps["total_time_s"]) == [float(b - a) for a, b in LAPS]
    assert laps["distance_m"].sum() == pytest.approx(dist[-1], abs=0.02)
    assert list(tp.groupby("lap_index").size()) == [b - a for a, b in LAPS]
    assert laps["max_hr_bpm"].max() == np.nanmax(hr_in)
    assert int(laps["calories"].sum()) == pytest.approx(vit["energy_w"].sum() / 4184, abs=2)
    act = out.activities.to_pandas()
    assert act["sport"].tolist() == ["running"] and act["start_time"].iloc[0] == START
    assert out.source.device == activity.device_name and out.extra["application"] == "hexo-pipeline sandbox"


def test_tcx_without_gps_has_no_positions_and_walking_is_other(tcx_schema):
    n = 120
    a = ActivityData(sport="walking", start=START, elapsed_s=np.arange(n), heart_rate_bpm=np.full(n, 95.0))
    data = write_tcx(a)
    tcx_schema.assertValid(etree.fromstring(data))
    out = convert_bytes(data)
    tp = out.trackpoints.to_pandas()
    assert len(tp) == n and tp["latitude_deg"].isna().all() and tp["distance_m"].isna().all()
    assert out.activities["sport"].to_pylist() == ["other"]  # TCX v2 has no Walking


def test_tcx_keeps_milliseconds_of_a_sub_second_start(tcx_schema):
    r = synth_route(3, START_TICKS + 128, 30, "walk")  # starts at .500 s
    data = write_tcx(activity_from_route(r))
    tcx_schema.assertValid(etree.fromstring(data))
    times = convert_bytes(data).trackpoints["time"].to_numpy()
    assert np.array_equal(times.astype("datetime64[us]"), r.time_utc)


# --------------------------------------------------------------------------------------------- FIT
def test_fit_reads_without_warnings_in_fitparse_and_fitdecode(fit_path, route):
    data = fit_path.read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        names = [m.name for m in fitparse.FitFile(io.BytesIO(data), check_crc=True).get_messages()]
        with fitdecode.FitReader(io.BytesIO(data), check_crc=fitdecode.CrcCheck.RAISE) as reader:
            decoded = [f.name for f in reader if isinstance(f, fitdecode.FitDataMessage)]
    assert names == decoded
    assert names[:2] == ["file_id", "event"] and names[-2:] == ["session", "activity"]
    assert names.count("record") == route.has_fix.sum() and names.count("lap") == len(LAPS)
    assert names.count("hrv") == -(-N_BEATS // 5)
    assert not any(n.startswith("unknown") for n in names)


def test_fit_round_trip_through_the_decoder(fit_path, route, activity):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = convert_file(fit_path)
    assert out.source.decoder == "fitparse" and out.source.crc_ok and not out.source.warnings
    tp = out.trackpoints.to_pandas()
    fix = route.has_fix
    # Records only where GPS reported a position.
    assert len(tp) == fix.sum() < route.n
    assert np.array_equal(tp["time"].to_numpy(dtype="datetime64[us]"), route.time_utc[fix])
    np.testing.assert_allclose(tp["latitude_deg"], route.lat_deg[fix], atol=1e-6, rtol=0)
    np.testing.assert_allclose(tp["longitude_deg"], route.lon_deg[fix], atol=1e-6, rtol=0)
    assert np.abs(tp["latitude_deg"].to_numpy() - route.lat_deg[fix]).max() < 1e-7  # semicircles
    np.testing.assert_allclose(tp["altitude_m"], route.altitude_m[fix], atol=0.11)  # 0.2 m steps
    np.testing.assert_allclose(tp["distance_m"], route.distance_m[fix], atol=0.006)
    np.testing.assert_allclose(tp["speed_mps"], route.speed_mps[fix], atol=6e-4)
    hr_out = tp["heart_rate_bpm"].to_numpy(dtype=float, na_value=np.nan)
    assert np.array_equal(hr_out, np.rint(activity.heart_rate_bpm[fix]), equal_nan=True)
    spm = 2 * tp["cadence"].to_numpy(dtype=float)  # strides/min are integers
    assert np.abs(spm - tp["speed_mps"].to_numpy() * 60 / GAITS["run"].step_length_m).max() <= 1.05
    laps = out.laps.to_pandas()
    assert list(laps["start_time"]) == [START + timedelta(seconds=a) for a, _ in LAPS]
    assert list(laps["total_time_s"]) == [float(b - a) for a, b in LAPS]
    assert list(tp.groupby("lap_index").size()) == [fix[a:b].sum() for a, b in LAPS]
    assert laps["distance_m"].sum() == pytest.approx(route.distance_m[-1], abs=0.02)
    act = out.activities.to_pandas()
    assert act["sport"].tolist() == ["running"] and act["total_time_s"].tolist() == [float(DURATION_S)]
    assert act["distance_m"].iloc[0] == pytest.approx(route.distance_m[-1], abs=0.02)
    # RR intervals come back in order, anchored at the timer start.
    rr = out.rr_intervals.to_pandas()
    np.testing.assert_allclose(rr["rr_s"], activity.rr_s)
    assert rr["time"].iloc[0] == START + timedelta(seconds=activity.rr_s[0])


def test_fit_and_tcx_tell_the_same_lap_story(tcx_path, fit_path):
    tcx, fit = convert_file(tcx_path).laps.to_pandas(), convert_file(fit_path).laps.to_pandas()
    assert list(tcx["start_time"]) == list(fit["start_time"])
    for col in ("total_time_s", "distance_m", "calories", "avg_hr_bpm", "max_hr_bpm"):
        assert list(tcx[col]) == pytest.approx(list(fit[col]), abs=0.01), col


def test_fit_without_gps_has_laps_and_session_but_no_records():
    n = 300
    a = ActivityData(sport="walking", start=START, elapsed_s=np.arange(n), heart_rate_bpm=np.full(n, 95.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = convert_bytes(write_fit(a))
    assert out.trackpoints.num_rows == 0 and out.laps.num_rows == 1
    assert out.activities["sport"].to_pylist() == ["walking"]
    assert out.activities["avg_hr_bpm"].to_pylist() == [95]


# ------------------------------------------------------------------------------------ determinism
def test_same_seed_same_bytes_and_another_seed_other_bytes():
    def files(seed: int) -> tuple[bytes, bytes]:
        r = synth_route(seed, START_TICKS, 300, "walk")
        a = activity_from_route(r, laps=((0, 100), (100, 300)), **_vitals(r.n))
        return write_tcx(a), write_fit(a)

    assert files(4) == files(4)
    assert files(4)[0] != files(5)[0] and files(4)[1] != files(5)[1]


# ------------------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "change",
    [
        {"laps": ((0, 100), (120, 300))},  # hole
        {"laps": ((0, 100), (100, 250))},  # does not reach the end
        {"laps": ((0, 0), (0, 300))},  # empty lap
        {"start": datetime(2024, 5, 1, 12)},  # naive
        {"sport": "swimming"},
        {"heart_rate_bpm": np.zeros(10)},  # wrong length
        {"elapsed_s": np.zeros(300)},  # not increasing
        {"rr_s": np.array([0.5, 70.0])},  # does not fit FIT's uint16 ms
    ],
)
def test_inconsistent_activity_data_is_refused(change):
    base = {"sport": "running", "start": START, "elapsed_s": np.arange(300)}
    with pytest.raises(ValueError):
        ActivityData(**(base | change))


def test_activity_data_normalises_sport_and_time_zone():
    montreal = timezone(timedelta(hours=-4))
    a = ActivityData(sport="Run", start=START.astimezone(montreal), elapsed_s=np.arange(5))
    assert a.sport == "running" and a.start == START and a.start.tzinfo == UTC
    assert a.lap_bounds == ((0, 5),)
    assert dataclasses.replace(a, laps=((0, 2), (2, 5))).lap_bounds == ((0, 2), (2, 5))
