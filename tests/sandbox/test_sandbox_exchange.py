"""TCX and FIT over HTTP: export of ranges, records and training routines (Accept headers of the seed),
checked with an XSD restatement of TrainingCenterDatabase v2 (lxml) and with fitparse; and import
(POST /api/import/) of both formats, with its progress polling and the range, laps, record and track it
creates."""

from __future__ import annotations

import io
import warnings

import fitparse
import numpy as np
import pytest
import requests
from lxml import etree
from test_sandbox_activity_files import AX_XSD, TCX_XSD  # the colleague's restatement of Garmin's XSDs

TCX = "application/vnd.garmin.tcx+xml"
FIT = "application/vnd.ant.fit"
NS = {
    "t": "http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2",
    "hx": "urn:hexo-pipeline:sandbox:tcx-vitals:v1",
    "ax": "http://www.garmin.com/xmlschemas/ActivityExtension/v2",
}

# TrainingCenterDatabase v2's Workouts part (Workout_t, Step_t and the duration/target types the sandbox
# writes), restated like the activity part: Workouts sits between Activities and Author.
WORKOUT_XSD = """
  <xsd:complexType name="WorkoutList_t"><xsd:sequence>
    <xsd:element name="Workout" type="Workout_t" minOccurs="0" maxOccurs="unbounded"/>
  </xsd:sequence></xsd:complexType>
  <xsd:complexType name="Workout_t">
    <xsd:sequence>
      <xsd:element name="Name" type="RestrictedToken_t"/>
      <xsd:element name="Step" type="AbstractStep_t" maxOccurs="unbounded"/>
      <xsd:element name="ScheduledOn" type="xsd:date" minOccurs="0" maxOccurs="unbounded"/>
      <xsd:element name="Notes" type="xsd:string" minOccurs="0"/>
      <xsd:element name="Creator" type="AbstractSource_t" minOccurs="0"/>
      <xsd:element name="Extensions" type="Extensions_t" minOccurs="0"/>
    </xsd:sequence>
    <xsd:attribute name="Sport" type="Sport_t" use="required"/>
  </xsd:complexType>
  <xsd:simpleType name="RestrictedToken_t"><xsd:restriction base="Token_t">
    <xsd:minLength value="1"/><xsd:maxLength value="15"/>
  </xsd:restriction></xsd:simpleType>
  <xsd:complexType name="AbstractStep_t" abstract="true"><xsd:sequence>
    <xsd:element name="StepId" type="StepId_t"/>
  </xsd:sequence></xsd:complexType>
  <xsd:simpleType name="StepId_t"><xsd:restriction base="xsd:positiveInteger">
    <xsd:maxInclusive value="20"/>
  </xsd:restriction></xsd:simpleType>
  <xsd:complexType name="Step_t"><xsd:complexContent><xsd:extension base="AbstractStep_t"><xsd:sequence>
    <xsd:element name="Name" type="RestrictedToken_t" minOccurs="0"/>
    <xsd:element name="Duration" type="Duration_t"/>
    <xsd:element name="Intensity" type="Intensity_t"/>
    <xsd:element name="Target" type="Target_t"/>
  </xsd:sequence></xsd:extension></xsd:complexContent></xsd:complexType>
  <xsd:complexType name="Duration_t" abstract="true"/>
  <xsd:complexType name="Time_t"><xsd:complexContent><xsd:extension base="Duration_t"><xsd:sequence>
    <xsd:element name="Seconds" type="xsd:unsignedShort"/>
  </xsd:sequence></xsd:extension></xsd:complexContent></xsd:complexType>
  <xsd:complexType name="Distance_t"><xsd:complexContent><xsd:extension base="Duration_t"><xsd:sequence>
    <xsd:element name="Meters" type="xsd:unsignedShort"/>
  </xsd:sequence></xsd:extension></xsd:complexContent></xsd:complexType>
  <xsd:complexType name="UserInitiated_t"><xsd:complexContent><xsd:extension base="Duration_t"/>
  </xsd:complexContent></xsd:complexType>
  <xsd:complexType name="Target_t" abstract="true"/>
  <xsd:complexType name="None_t"><xsd:complexContent><xsd:extension base="Target_t"/></xsd:complexContent>
  </xsd:complexType>
"""


@pytest.fixture(scope="module")
def tcx_schema(tmp_path_factory) -> etree.XMLSchema:
    main = TCX_XSD.replace(
        '<xsd:element name="Activities" type="ActivityList_t" minOccurs="0"/>',
        '<xsd:element name="Activities" type="ActivityList_t" minOccurs="0"/>\n'
        '    <xsd:element name="Workouts" type="WorkoutList_t" minOccurs="0"/>',
    )
    assert main != TCX_XSD
    main = main.replace("</xsd:schema>", WORKOUT_XSD + "</xsd:schema>")
    folder = tmp_path_factory.mktemp("xsd")
    (folder / "ActivityExtensionv2.xsd").write_text(AX_XSD)
    (folder / "TrainingCenterDatabasev2.xsd").write_text(main)
    return etree.XMLSchema(etree.parse(str(folder / "TrainingCenterDatabasev2.xsd")))


def owner(handle) -> tuple[str, str]:
    acc = next(a for a in handle.info["accounts"] if a["role"] == "owner")
    return acc["username"], acc["password"]


def get(handle, path: str, accept: str | None = None, auth=None, **params) -> requests.Response:
    headers = {"Accept": accept} if accept else {}
    r = requests.get(handle.base_url + path, params=params, headers=headers, auth=auth or owner(handle), timeout=120)
    assert r.status_code == 200, r.text[:500]
    return r


def fit_messages(data: bytes) -> list:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        messages = list(fitparse.FitFile(io.BytesIO(data)).get_messages())
    assert not caught, [str(w.message) for w in caught]
    return messages


def all_points(handle, track_id: int) -> list[dict]:
    out, url, params = [], "/api/trackpoint/", {"track": track_id, "limit": 1000}
    while url:
        page = get(handle, url, **params).json()
        out += page["objects"]
        url, params = page["meta"]["next"], {}
    return out


@pytest.fixture(scope="module")
def run(sandbox) -> dict:
    ranges = get(sandbox, "/api/range/", rank=0, activitytype=10, limit=0).json()["objects"]
    return min(ranges, key=lambda r: r["end"] - r["start"])


# -- export -------------------------------------------------------------------------------------------


def test_range_tcx_validates_with_per_second_vitals_and_gps_only_where_there_is_gps(sandbox, run, tcx_schema):
    r = get(sandbox, run["resource_uri"], TCX)
    assert r.headers["Content-Type"].startswith(TCX)
    doc = etree.fromstring(r.content)
    tcx_schema.assertValid(doc)
    assert doc.find("t:Activities/t:Activity", NS).get("Sport") == "Running"
    laps = doc.findall("t:Activities/t:Activity/t:Lap", NS)
    assert len(laps) == len(run["ranges"])  # one TCX lap per rank-1 range
    points = doc.findall(".//t:Trackpoint", NS)
    seconds = (run["end"] - run["start"]) // 256
    assert abs(len(points) - seconds) <= 1  # a trackpoint every second
    hr = [p.findtext("t:HeartRateBpm/t:Value", None, NS) for p in points]
    assert sum(v is not None for v in hr) > 0.95 * len(points)
    for tag in ("BreathingRateRpm", "TidalVolumeMl", "MinuteVentilationMlPerMin", "EnergyW"):
        assert len(doc.findall(f".//hx:Vitals/hx:{tag}", NS)) > 0.95 * len(points), tag
    track = get(sandbox, "/api/track/", range=run["id"]).json()["objects"][0]
    gps = all_points(sandbox, track["id"])
    with_position = [p for p in points if p.find("t:Position", NS) is not None]
    assert 0 < len(with_position) == len(gps) < len(points)  # GPS only where the phone had a fix
    first = with_position[0].find("t:Position", NS)
    lon, lat = gps[0]["position"]
    assert float(first.findtext("t:LatitudeDegrees", None, NS)) == pytest.approx(lat, abs=1e-6)
    assert float(first.findtext("t:LongitudeDegrees", None, NS)) == pytest.approx(lon, abs=1e-6)


def test_range_fit_has_points_only_where_gps_was_reported(sandbox, run):
    r = get(sandbox, run["resource_uri"], FIT)
    assert r.headers["Content-Type"] == FIT
    messages = fit_messages(r.content)
    records = [m.get_values() for m in messages if m.name == "record"]
    track = get(sandbox, "/api/track/", range=run["id"]).json()["objects"][0]
    gps = all_points(sandbox, track["id"])
    assert len(records) == len(gps) and all(rec.get("position_lat") is not None for rec in records)
    assert all(rec.get("heart_rate") for rec in records)
    laps = [m for m in messages if m.name == "lap"]
    session = next(m.get_values() for m in messages if m.name == "session")
    assert len(laps) == len(run["ranges"]) and session["sport"] == "running"
    assert session["total_distance"] == pytest.approx(track["distance"], rel=0.01)
    assert any(m.name == "hrv" for m in messages)  # beat-to-beat intervals ride along


def test_record_exports_and_a_record_without_gps(sandbox, tcx_schema):
    recs = get(sandbox, "/api/record/", limit=0).json()["objects"]
    short = min(recs, key=lambda r: r["end"] - r["start"])
    doc = etree.fromstring(get(sandbox, short["resource_uri"], TCX).content)
    tcx_schema.assertValid(doc)
    assert doc.find(".//t:Position", NS) is None and len(doc.findall(".//t:Trackpoint", NS)) > 60
    fit = fit_messages(get(sandbox, short["resource_uri"], FIT).content)
    assert not [m for m in fit if m.name == "record"]  # no GPS: no points (seed)
    assert [m.get_values()["sport"] for m in fit if m.name == "session"] == ["generic"]


def test_training_routine_exports_are_workouts(sandbox, tcx_schema):
    doc = etree.fromstring(get(sandbox, "/api/trainingroutine/1011/", TCX).content)
    tcx_schema.assertValid(doc)
    step = doc.find("t:Workouts/t:Workout/t:Step", NS)
    assert step.findtext("t:Duration/t:Meters", None, NS) == "1609"
    rest = etree.fromstring(get(sandbox, "/api/trainingroutine/1012/", TCX).content)
    tcx_schema.assertValid(rest)
    assert rest.findtext(".//t:Duration/t:Seconds", None, NS) == "300"
    messages = fit_messages(get(sandbox, "/api/trainingroutine/1012/", FIT).content)
    assert next(m.get_values() for m in messages if m.name == "file_id")["type"] == "workout"
    steps = [m.get_values() for m in messages if m.name == "workout_step"]
    assert steps == [
        {
            "message_index": 0,
            "wkt_step_name": "rest",
            "duration_type": "time",
            "duration_time": 300.0,
            "target_type": "open",
            "intensity": "rest",
        }
    ]
    assert "application/json" in get(sandbox, "/api/trainingroutine/1012/").headers["Content-Type"]


# -- import -------------------------------------------------------------------------------------------


def _poll(handle, uri: str, auth) -> list[dict]:
    seen = []
    for _ in range(4):
        seen.append(get(handle, uri, auth=auth).json())
        if seen[-1]["progress"] >= 1:
            break
    return seen


@pytest.mark.parametrize("fmt", [TCX, FIT])
def test_import_creates_a_range_laps_record_and_track(make_sandbox, fmt):
    sb = make_sandbox(subjects=2, days=2)
    owner_auth = owner(sb)
    runs = [r for r in get(sb, "/api/range/", rank=0, activitytype=10, limit=0).json()["objects"] if r["ranges"]]
    run = min(runs, key=lambda r: r["end"] - r["start"])
    exported = get(sb, run["resource_uri"], fmt).content
    me = next(
        a for a in sb.info["accounts"] if a["role"] == "subject" and a["user_id"] != int(run["user"].split("/")[-2])
    )
    auth = (me["username"], me["password"])
    r = requests.post(sb.base_url + "/api/import/", data=exported, headers={"Content-Type": fmt}, auth=auth, timeout=60)
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["progress"] == 0 and job["results"] is None and job["user"] == f"/api/user/{me['user_id']}/"
    assert r.headers["Location"] == job["resource_uri"]
    polls = _poll(sb, job["resource_uri"], auth)
    assert [p["progress"] for p in polls] == [0.5, 1.0]
    results = polls[-1]["results"]
    assert set(results) == {"range", "record", "ranges", "track"} and results["record"]
    top = get(sb, results["range"], auth=auth).json()
    assert (
        top["rank"] == 0
        and top["user"] == f"/api/user/{me['user_id']}/"
        and top["trainingroutine"] == run["trainingroutine"]
    )
    assert abs(top["start"] - run["start"]) < 256 and abs(top["end"] - run["end"]) < 2 * 256
    laps = [get(sb, u, auth=auth).json() for u in results["ranges"]]
    assert len(laps) == len(run["ranges"]) and all(
        lap["rank"] == 1 and lap["parent"] == results["range"] for lap in laps
    )
    assert top["ranges"] == results["ranges"]
    record = get(sb, results["record"], auth=auth).json()
    assert record["importfile"] == job["resource_uri"] and record["status"] == "complete"
    hr_in = get(sb, "/api/heartrate/", range=run["id"], flat=1, auth=owner_auth).json()
    hr_out = get(sb, "/api/heartrate/", record=record["id"], flat=1, auth=auth).json()
    assert len(hr_out) > 0.9 * len(hr_in) if fmt == TCX else len(hr_out) > 0.5 * len(hr_in)
    t_in = np.array([t for t, _ in hr_in])
    v_in = np.array([v for _, v in hr_in])
    t_out = np.array([t for t, _ in hr_out])
    v_out = np.array([v for _, v in hr_out])
    j = np.clip(np.searchsorted(t_in, t_out), 0, t_in.size - 1)  # FIT times are whole seconds: nearest sample
    close = np.abs(t_in[j] - t_out) <= 256
    assert close.mean() > 0.9 and np.median(np.abs(v_in[j[close]] - v_out[close])) <= 1  # same HR, second by second
    track = get(sb, results["track"], auth=auth).json()
    assert track["range"] == results["range"] and track["distance"] > 100
    metrics = {m["name"]: m["value"] for m in top["metrics"]}
    assert metrics["heartrate_avg"] == pytest.approx(np.mean([v for _, v in hr_out]), rel=0.01)
    assert get(sb, "/api/import/", auth=auth).json()["meta"]["total_count"] == 1
    assert get(sb, "/api/import/", auth=owner_auth).json()["meta"]["total_count"] == 0  # imports are the user's


def test_import_errors(make_sandbox):
    sb = make_sandbox(subjects=1, days=1)
    auth = owner(sb)
    bad_type = requests.post(
        sb.base_url + "/api/import/", data=b"x", headers={"Content-Type": "text/plain"}, auth=auth, timeout=10
    )
    assert bad_type.status_code == 400
    empty = requests.post(sb.base_url + "/api/import/", data=b"", headers={"Content-Type": TCX}, auth=auth, timeout=10)
    assert empty.status_code == 400
    garbage = requests.post(
        sb.base_url + "/api/import/", data=b"<not-tcx", headers={"Content-Type": TCX}, auth=auth, timeout=10
    )
    assert garbage.status_code == 201
    polls = _poll(sb, garbage.json()["resource_uri"], auth)
    assert polls[-1]["progress"] == 1 and "not a TCX file" in polls[-1]["results"]["error"]
    workout = get(sb, "/api/trainingroutine/1012/", TCX).content
    job = requests.post(
        sb.base_url + "/api/import/", data=workout, headers={"Content-Type": TCX}, auth=auth, timeout=10
    ).json()
    assert "no Activity" in _poll(sb, job["resource_uri"], auth)[-1]["results"]["error"]
