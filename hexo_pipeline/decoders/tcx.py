"""TCX (Garmin TrainingCenterDatabase v2) -> activities, laps and trackpoints tables.

lxml.iterparse walks the file once and frees each trackpoint after reading it, so memory stays flat on
day-long files. The per-trackpoint loop over child elements is unavoidable with XML; it only compares
precomputed tag strings. Times are collected as text and parsed in one vectorised pandas call
(ISO 8601 with `Z`, `.000Z` or `+hh:mm`; a time without zone is taken as UTC, as Garmin writes UTC).

Numbers are checked as they are read (decoders/plausible.py): text that is not a finite number in its
column's plausible range (`inf`, `abc`, -99999999999...) is a DecodeError(code="implausible_value") naming
the column; non-finite extension values are dropped. Nothing but DecodeError leaves `decode_tcx`.

Kept on purpose: trackpoints that carry only a <Time> (some parsers drop them; they mark pauses/ends).

Extensions: ActivityExtension v2 `TPX` Speed -> speed_mps, Watts -> watts, RunCadence -> cadence (when
the TCX <Cadence> is absent). Every OTHER numeric leaf under a trackpoint's or lap's <Extensions>, in any
namespace, goes to the `extensions` map by its local name. That is how Hexoskin's per-second breathing
rate, tidal volume, minute ventilation and energy arrive (no public Hexoskin TCX was found to pin their
element names, so they are accepted generically rather than guessed).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
from lxml import etree

from hexo_pipeline.decoders.errors import DecodeError
from hexo_pipeline.decoders.plausible import check_columns, finite_items, integer, number
from hexo_pipeline.decoders.schemas import ACTIVITIES_SCHEMA, LAPS_SCHEMA, TIME_US, TRACKPOINTS_SCHEMA

TCD_NS = "http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"
AX_NS = "http://www.garmin.com/xmlschemas/ActivityExtension/v2"


def _t(local: str, ns: str = TCD_NS) -> str:
    return f"{{{ns}}}{local}"


ACTIVITY, LAP, TRACKPOINT = _t("Activity"), _t("Lap"), _t("Trackpoint")
TIME, POSITION, LAT, LON = _t("Time"), _t("Position"), _t("LatitudeDegrees"), _t("LongitudeDegrees")
ALT, DIST, HR, CAD, VALUE, EXT = (
    _t("AltitudeMeters"),
    _t("DistanceMeters"),
    _t("HeartRateBpm"),
    _t("Cadence"),
    _t("Value"),
    _t("Extensions"),
)
CREATOR, NAME, ID = _t("Creator"), _t("Name"), _t("Id")
LAP_NUMBERS = {
    _t("TotalTimeSeconds"): "total_time_s",
    _t("DistanceMeters"): "distance_m",
    _t("MaximumSpeed"): "max_speed_mps",
}
LAP_TEXTS = {_t("Intensity"): "intensity", _t("TriggerMethod"): "trigger"}
# TPX children that have a column of their own.
TPX_COLUMNS = {"Speed": "speed_mps", "Watts": "watts", "RunCadence": "run_cadence"}
SPORTS = {"biking": "cycling"}  # TCX word -> FIT word, so marts see one vocabulary
INTENSITIES = {"resting": "rest"}


@dataclass(frozen=True)
class TcxResult:
    activities: pa.Table
    laps: pa.Table
    trackpoints: pa.Table
    device: str | None
    application: str | None


def _numeric_leaves(ext: etree._Element) -> dict[str, float]:
    """All finite numeric leaf elements below an <Extensions>, keyed by local name."""
    out: dict[str, float] = {}
    for el in ext.iter():
        if len(el) or not isinstance(el.tag, str) or el.text is None:
            continue
        try:
            value = float(el.text)
        except ValueError:
            continue  # textual extension values are not channels
        if math.isfinite(value):  # inf/nan are not measurements either
            out[etree.QName(el).localname] = value
    return out


def _times(texts: list[str | None], what: str) -> pa.Array:
    """ISO 8601 strings -> timestamp[us, UTC] in one vectorised call."""
    try:
        parsed = pd.to_datetime(pd.Series(texts, dtype="object"), utc=True, format="ISO8601")
        return pa.array(parsed.dt.as_unit("us"), type=TIME_US)
    except (ValueError, TypeError, OverflowError, pa.ArrowException) as exc:
        raise DecodeError(f"unparseable {what} time: {str(exc).splitlines()[0][:200]}") from exc


def decode_tcx(data: bytes, *, source: str) -> TcxResult:
    """TCX bytes -> tables. `source` fills the tables' `source` column."""
    tp: dict[str, list[Any]] = {
        k: []
        for k in (
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
            "extensions",
        )
    }
    laps: list[dict[str, Any]] = []
    activities: list[dict[str, Any]] = []
    device = application = None
    activity_index = lap_index = -1
    in_activity = 0  # trackpoints of <Course>s are not activity data: count only inside Activity
    n_trackpoint = 0

    parser_events = etree.iterparse(
        io.BytesIO(data),
        events=("start", "end"),
        tag=(ACTIVITY, LAP, TRACKPOINT, _t("Author")),
        resolve_entities=False,
        no_network=True,
        huge_tree=True,
        remove_comments=True,
    )
    try:
        for event, el in parser_events:
            tag = el.tag
            if event == "start":
                if tag == ACTIVITY:
                    in_activity += 1
                    activity_index += 1
                    activities.append({"activity_index": activity_index, "sport": el.get("Sport")})
                elif tag == LAP and in_activity:
                    lap_index += 1
                    laps.append(
                        {"activity_index": activity_index, "lap_index": lap_index, "start_time": el.get("StartTime")}
                    )
                continue

            if tag == TRACKPOINT:
                if in_activity:
                    n_trackpoint += 1
                    _read_trackpoint(el, tp, activity_index, max(lap_index, 0))
                el.clear(keep_tail=False)
                # Drop already-read siblings too, or the tree keeps every (empty) trackpoint alive.
                while el.getprevious() is not None:
                    del el.getparent()[0]
            elif tag == LAP and in_activity:
                _read_lap(el, laps[-1])
                el.clear(keep_tail=False)
            elif tag == ACTIVITY:
                act = activities[-1]
                act["id"] = el.findtext(ID)
                creator = el.find(CREATOR)
                if creator is not None and device is None:
                    device = creator.findtext(NAME)
                in_activity -= 1
                el.clear(keep_tail=False)
            elif tag == _t("Author"):
                application = el.findtext(NAME)
    except etree.XMLSyntaxError as exc:
        raise DecodeError(f"not well-formed XML: {exc}", code="malformed") from exc
    except DecodeError as exc:
        raise DecodeError(f"{exc.reason} (near trackpoint {n_trackpoint})", code=exc.code) from None
    except (etree.LxmlError, ValueError, UnicodeError) as exc:  # lxml on bytes it cannot read
        raise DecodeError(
            f"unreadable XML near trackpoint {n_trackpoint}: {type(exc).__name__}: {exc}", code="malformed"
        ) from exc

    if not activities:
        raise DecodeError("TCX holds no <Activity> (a course or workout file?)", code="no_data")
    if n_trackpoint == 0 and not laps:
        raise DecodeError("TCX activities hold no laps and no trackpoints", code="no_data")

    return TcxResult(
        activities=_activities_table(activities, laps, source),
        laps=_laps_table(laps, source),
        trackpoints=_trackpoints_table(tp, source),
        device=device,
        application=application,
    )


def _read_trackpoint(el: etree._Element, tp: dict[str, list[Any]], activity_index: int, lap_index: int) -> None:
    time = lat = lon = alt = dist = hr = cad = None
    ext: dict[str, float] = {}
    for child in el:
        tag = child.tag
        if tag == TIME:
            time = child.text
        elif tag == POSITION:
            for p in child:
                if p.tag == LAT:
                    lat = number(p.text, "latitude_deg")
                elif p.tag == LON:
                    lon = number(p.text, "longitude_deg")
        elif tag == ALT:
            alt = number(child.text, "altitude_m")
        elif tag == DIST:
            dist = number(child.text, "distance_m")
        elif tag == HR:
            hr = integer(child.findtext(VALUE), "heart_rate_bpm")
        elif tag == CAD:
            cad = integer(child.text, "cadence")
        elif tag == EXT:
            ext.update(_numeric_leaves(child))
    speed = ext.pop("Speed", None)
    watts = ext.pop("Watts", None)
    run_cadence = ext.pop("RunCadence", None)
    if cad is None and run_cadence is not None:
        cad = int(round(run_cadence))
    tp["activity_index"].append(activity_index)
    tp["lap_index"].append(lap_index)
    tp["time"].append(time)
    tp["latitude_deg"].append(lat)
    tp["longitude_deg"].append(lon)
    tp["altitude_m"].append(alt)
    tp["distance_m"].append(dist)
    tp["heart_rate_bpm"].append(hr)
    tp["cadence"].append(cad)
    tp["speed_mps"].append(speed)
    tp["watts"].append(None if watts is None else int(round(watts)))
    tp["extensions"].append(finite_items(ext))


def _read_lap(el: etree._Element, lap: dict[str, Any]) -> None:
    ext: dict[str, float] = {}
    for child in el:
        tag = child.tag
        if tag in LAP_NUMBERS:
            lap[LAP_NUMBERS[tag]] = number(child.text, LAP_NUMBERS[tag])
        elif tag == _t("Calories"):
            lap["calories"] = integer(child.text, "calories")
        elif tag in LAP_TEXTS:
            lap[LAP_TEXTS[tag]] = child.text
        elif tag == _t("AverageHeartRateBpm"):
            lap["avg_hr_bpm"] = integer(child.findtext(VALUE), "avg_hr_bpm")
        elif tag == _t("MaximumHeartRateBpm"):
            lap["max_hr_bpm"] = integer(child.findtext(VALUE), "max_hr_bpm")
        elif tag == CAD and (cadence := number(child.text, "cadence")) is not None:
            ext["Cadence"] = cadence
        elif tag == EXT:
            ext.update(_numeric_leaves(child))
    lap["extensions"] = ext


def _laps_table(laps: list[dict[str, Any]], source: str) -> pa.Table:
    def col(key: str) -> list[Any]:
        return [lap.get(key) for lap in laps]

    def lower(value: str | None, mapping: dict[str, str]) -> str | None:
        if value is None:
            return None
        value = value.strip().lower()
        return mapping.get(value, value)

    n = len(laps)
    columns = {
        "source": [source] * n,
        "activity_index": col("activity_index"),
        "lap_index": col("lap_index"),
        "start_time": _times(col("start_time"), "lap StartTime"),
        "total_time_s": col("total_time_s"),
        "elapsed_time_s": [None] * n,  # TCX has no elapsed time distinct from timer time
        "distance_m": col("distance_m"),
        "max_speed_mps": col("max_speed_mps"),
        "calories": col("calories"),
        "avg_hr_bpm": col("avg_hr_bpm"),
        "max_hr_bpm": col("max_hr_bpm"),
        "intensity": [lower(v, INTENSITIES) for v in col("intensity")],
        "trigger": [lower(v, {}) for v in col("trigger")],
        "extensions": [finite_items(e) if e else None for e in col("extensions")],
    }
    check_columns(columns, "laps")
    return pa.Table.from_pydict(columns, schema=LAPS_SCHEMA)


def _activities_table(activities: list[dict[str, Any]], laps: list[dict[str, Any]], source: str) -> pa.Table:
    """Activity summaries from their laps: sums and max; avg HR stays null rather than re-weighted by us."""

    def present(values: list[Any]) -> list[Any]:
        return [v for v in values if v is not None]

    rows = []
    for act in activities:
        mine = [lap for lap in laps if lap["activity_index"] == act["activity_index"]]
        times = present([lap.get("total_time_s") for lap in mine])
        dists = present([lap.get("distance_m") for lap in mine])
        cals = present([lap.get("calories") for lap in mine])
        maxhr = present([lap.get("max_hr_bpm") for lap in mine])
        sport = (act.get("sport") or "").strip().lower() or None
        rows.append(
            {
                "source": source,
                "activity_index": act["activity_index"],
                "sport": SPORTS.get(sport, sport) if sport else None,
                "sub_sport": None,
                # TCX's activity <Id> is its start time (xsd:dateTime); fall back on the first lap.
                "start_time": act.get("id") or (mine[0]["start_time"] if mine else None),
                "total_time_s": sum(times) if times else None,
                "elapsed_time_s": None,
                "distance_m": sum(dists) if dists else None,
                "calories": sum(cals) if cals else None,
                "avg_hr_bpm": None,
                "max_hr_bpm": max(maxhr) if maxhr else None,
            }
        )
    columns = {name: [r[name] for r in rows] for name in ACTIVITIES_SCHEMA.names}
    check_columns(columns, "activities")
    columns["start_time"] = _times(columns["start_time"], "activity Id")
    return pa.Table.from_pydict(columns, schema=ACTIVITIES_SCHEMA)


def _trackpoints_table(tp: dict[str, list[Any]], source: str) -> pa.Table:
    n = len(tp["time"])
    columns = dict(tp)
    columns["time"] = _times(tp["time"], "trackpoint")
    columns["temperature_c"] = pa.nulls(n, pa.float64())
    columns["source"] = pa.array([source] * n, pa.string())
    check_columns(columns, "trackpoints")
    return pa.Table.from_pydict({name: columns[name] for name in TRACKPOINTS_SCHEMA.names}, schema=TRACKPOINTS_SCHEMA)
