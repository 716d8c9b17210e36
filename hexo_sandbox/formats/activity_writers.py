"""The TCX / FIT files the sandbox serves for records and ranges (routes come from `world.routes`).

Pure functions: numpy arrays in, bytes out. No Flask, no HTTP.

What the vendor writes (seed doc, "TCX and FIT exchange formats"; hexoskin_api_notes.md §1.4):
- TCX: a trackpoint for EVERY second (heart rate, breathing rate, tidal volume, minute ventilation,
  energy in W), with a <Position> only where the phone had a GPS fix. Seconds without a fix keep their
  trackpoint (Time plus the biometrics): `write_tcx` never drops them.
- FIT: data only at moments where a GPS position was reported, so `write_fit` writes a `record` message
  for GPS seconds only. Laps, session and activity still cover the whole activity.

Namespaces (TCX):
- TCD_NS  http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2 (default namespace).
- AX_NS   http://www.garmin.com/xmlschemas/ActivityExtension/v2: trackpoint <TPX> Speed (m/s) and
  RunCadence (strides/min = steps/min / 2, Garmin's convention, also FIT's running `cadence`); lap <LX>
  AvgSpeed, AvgRunCadence, MaxRunCadence.
- HX_NS   urn:hexo-pipeline:sandbox:tcx-vitals:v1 - the sandbox's OWN namespace: no public Hexoskin TCX
  was found to pin the vendor's element names. Trackpoint <Extensions><hx:Vitals> holds BreathingRateRpm
  (rpm), TidalVolumeMl (mL), MinuteVentilationMlPerMin (mL/min), EnergyW (W). TCX's <Extensions> accepts
  any element of another namespace (xsd:any, processContents="lax"), so the file stays valid, and the
  project's TCX decoder files them under `extensions` by local name.

FIT is written with fit-tool (a maintained FIT SDK port) rather than by hand; manufacturer is
`development` (255): Hexoskin / Carre Technologies has no FIT manufacturer id. FIT timestamps are whole
seconds (the FIT date_time type), so sub-second starts are rounded there; TCX keeps milliseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from fit_tool.fit_file_builder import FitFileBuilder
from fit_tool.profile.messages.activity_message import ActivityMessage
from fit_tool.profile.messages.event_message import EventMessage
from fit_tool.profile.messages.file_id_message import FileIdMessage
from fit_tool.profile.messages.hrv_message import HrvMessage
from fit_tool.profile.messages.lap_message import LapMessage
from fit_tool.profile.messages.record_message import RecordMessage
from fit_tool.profile.messages.session_message import SessionMessage
from fit_tool.profile.profile_type import (
    Activity,
    Event,
    EventType,
    FileType,
    Intensity,
    LapTrigger,
    Manufacturer,
    SessionTrigger,
    Sport,
    SubSport,
)
from lxml import etree

from hexo_pipeline.hexoskin.timestamps import from_ticks

from ..world.routes import GAITS, RouteArrays, segment_lengths

__all__ = ["AX_NS", "HX_NS", "TCD_NS", "ActivityData", "activity_from_route", "write_fit", "write_tcx"]

TCD_NS = "http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"
AX_NS = "http://www.garmin.com/xmlschemas/ActivityExtension/v2"
HX_NS = "urn:hexo-pipeline:sandbox:tcx-vitals:v1"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
J_PER_KCAL = 4184.0


# ---------------------------------------------------------------------------------------- activity
# sport -> (TCX Sport: only Running | Biking | Other exist in TCX v2, FIT sport)
SPORTS: dict[str, tuple[str, Sport]] = {
    "running": ("Running", Sport.RUNNING),
    "walking": ("Other", Sport.WALKING),
    "cycling": ("Biking", Sport.CYCLING),
    "other": ("Other", Sport.GENERIC),
}
_SPORT_ALIASES = {"run": "running", "walk": "walking", "biking": "cycling", "generic": "other"}

_CHANNELS = (
    "heart_rate_bpm",
    "breathing_rate_rpm",
    "tidal_volume_ml",
    "minute_ventilation_ml_min",
    "energy_w",
    "speed_mps",
    "cadence_spm",
    "distance_m",
    "latitude_deg",
    "longitude_deg",
    "altitude_m",
)


@dataclass(frozen=True, eq=False)
class ActivityData:
    """One activity, sampled once per second. Optional channels are None or NaN where unknown.

    GPS columns (latitude_deg, longitude_deg, altitude_m) are NaN at seconds without a fix.
    laps: half-open sample-index ranges [start, stop) that must tile [0, n) in order; () = one lap.
    distance_m: cumulative distance at each second; None = haversine over the GPS fixes.
    rr_s: beat-to-beat intervals (s) from the start, for FIT `hrv` messages (TCX has no place for them).
    """

    sport: str  # running | walking | cycling | other
    start: datetime  # timezone-aware; stored as UTC
    elapsed_s: np.ndarray  # seconds since start, strictly increasing (1 Hz)
    heart_rate_bpm: np.ndarray | None = None
    breathing_rate_rpm: np.ndarray | None = None
    tidal_volume_ml: np.ndarray | None = None
    minute_ventilation_ml_min: np.ndarray | None = None
    energy_w: np.ndarray | None = None  # energy expenditure rate; lap Calories integrate it
    speed_mps: np.ndarray | None = None
    cadence_spm: np.ndarray | None = None  # steps/min, both feet
    distance_m: np.ndarray | None = None
    latitude_deg: np.ndarray | None = None
    longitude_deg: np.ndarray | None = None
    altitude_m: np.ndarray | None = None
    laps: tuple[tuple[int, int], ...] = ()
    rr_s: np.ndarray | None = None
    device_name: str = "Hexoskin Smart Shirt (sandbox)"
    lap_bounds: tuple[tuple[int, int], ...] = field(init=False)

    def __post_init__(self) -> None:
        sport = _SPORT_ALIASES.get(self.sport.lower(), self.sport.lower())
        if sport not in SPORTS:
            raise ValueError(f"sport must be one of {sorted(SPORTS)}, not {self.sport!r}")
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware (UTC)")
        elapsed = np.asarray(self.elapsed_s, dtype=np.float64)
        n = elapsed.size
        if n == 0 or np.any(np.diff(elapsed) <= 0) or elapsed[0] < 0:
            raise ValueError("elapsed_s must be non-empty, >= 0 and strictly increasing")
        set_ = object.__setattr__  # frozen: normalise once here
        set_(self, "sport", sport)
        set_(self, "start", self.start.astimezone(UTC))
        set_(self, "elapsed_s", elapsed)
        for name in _CHANNELS:
            values = getattr(self, name)
            if values is not None:
                values = np.asarray(values, dtype=np.float64)
                if values.shape != (n,):
                    raise ValueError(f"{name} has shape {values.shape}, expected ({n},)")
                set_(self, name, values)
        if (self.latitude_deg is None) != (self.longitude_deg is None):
            raise ValueError("give both latitude_deg and longitude_deg, or neither")
        if self.rr_s is not None:
            rr = np.asarray(self.rr_s, dtype=np.float64)
            if np.any(~(rr > 0) | (rr >= 65.535)):
                raise ValueError("rr_s must lie in (0, 65.535) s (FIT hrv stores uint16 ms)")
            set_(self, "rr_s", rr)
        laps = tuple((int(a), int(b)) for a, b in self.laps) or ((0, n),)
        starts, stops = [a for a, _ in laps], [b for _, b in laps]
        if starts != [0] + stops[:-1] or stops[-1] != n or any(b <= a for a, b in laps):
            raise ValueError(f"laps must tile [0, {n}) in order with non-empty ranges, got {self.laps}")
        set_(self, "lap_bounds", laps)

    @property
    def n(self) -> int:
        return int(self.elapsed_s.size)

    @property
    def has_position(self) -> np.ndarray:
        if self.latitude_deg is None or self.longitude_deg is None:
            return np.zeros(self.n, dtype=bool)
        return np.isfinite(self.latitude_deg) & np.isfinite(self.longitude_deg)

    def cumulative_distance_m(self) -> np.ndarray | None:
        """distance_m, else haversine over the fixes held between them (0 before the first fix)."""
        if self.distance_m is not None:
            return self.distance_m
        fix = np.flatnonzero(self.has_position)
        if fix.size == 0:
            return None
        at_fix = np.concatenate(([0.0], np.cumsum(segment_lengths(self.latitude_deg[fix], self.longitude_deg[fix]))))
        last = np.searchsorted(fix, np.arange(self.n), side="right") - 1
        return np.where(last >= 0, at_fix[np.clip(last, 0, None)], 0.0)

    def end_elapsed_s(self) -> float:
        """End of the last sample (each sample covers one second)."""
        return float(self.elapsed_s[-1] + 1.0)


def activity_from_route(route: RouteArrays, **fields: Any) -> ActivityData:
    """ActivityData with the route's time, GPS, speed, distance and cadence; `fields` adds or overrides
    (heart_rate_bpm=..., laps=..., rr_s=...)."""
    base: dict[str, Any] = dict(
        sport=GAITS[route.kind].sport,
        start=from_ticks(route.start_ticks),
        elapsed_s=route.elapsed_s,
        speed_mps=route.speed_mps,
        cadence_spm=route.cadence_spm,
        distance_m=route.distance_m,
        latitude_deg=route.lat_deg,
        longitude_deg=route.lon_deg,
        altitude_m=route.altitude_m,
    )
    return ActivityData(**(base | fields))


@dataclass(frozen=True)
class _LapStats:
    """Per-lap summaries shared by the TCX and FIT writers, so both files tell the same story."""

    start_s: float
    total_time_s: float
    distance_m: float | None
    max_speed_mps: float | None
    avg_speed_mps: float | None
    calories: int | None
    avg_hr: int | None
    max_hr: int | None
    avg_strides_pm: int | None
    max_strides_pm: int | None


def _finite(values: np.ndarray | None) -> np.ndarray:
    return np.empty(0) if values is None else values[np.isfinite(values)]


def _hr_valid(hr: np.ndarray | None) -> np.ndarray | None:
    """Rounded HR with NaN where absent or outside 1..255 (TCX HeartRateValue_t, FIT uint8)."""
    if hr is None:
        return None
    rounded = np.rint(hr)
    return np.where((rounded >= 1) & (rounded <= 254), rounded, np.nan)  # 255 is FIT's 'invalid'


def _lap_stats(a: ActivityData, distance: np.ndarray | None) -> list[_LapStats]:
    out = []
    hr = _hr_valid(a.heart_rate_bpm)
    for i0, i1 in a.lap_bounds:
        end = a.elapsed_s[i1] if i1 < a.n else a.end_elapsed_s()
        total = float(end - a.elapsed_s[i0])
        dist = None if distance is None else float(distance[i1 - 1] - (distance[i0 - 1] if i0 else 0.0))
        speed, cad, h = (_finite(None if v is None else v[i0:i1]) for v in (a.speed_mps, a.cadence_spm, hr))
        energy = _finite(None if a.energy_w is None else a.energy_w[i0:i1])
        out.append(
            _LapStats(
                start_s=float(a.elapsed_s[i0]),
                total_time_s=total,
                distance_m=dist,
                max_speed_mps=float(speed.max()) if speed.size else None,
                avg_speed_mps=dist / total if dist is not None else None,
                calories=int(round(energy.sum() / J_PER_KCAL)) if energy.size else None,  # 1 s per sample
                avg_hr=int(round(h.mean())) if h.size else None,
                max_hr=int(h.max()) if h.size else None,
                avg_strides_pm=int(round(cad.mean() / 2)) if cad.size else None,
                max_strides_pm=int(round(cad.max() / 2)) if cad.size else None,
            )
        )
    return out


# --------------------------------------------------------------------------------------------- TCX
def _t(local: str, ns: str = TCD_NS) -> str:
    return f"{{{ns}}}{local}"


def _texts(values: np.ndarray | None, fmt: str, n: int) -> list[str | None]:
    """Per-sample text, None where NaN (the element is then omitted)."""
    if values is None:
        return [None] * n
    return [None if v != v else fmt % v for v in values.tolist()]


def _epoch_us(start: datetime) -> int:
    return (int(start.replace(microsecond=0).timestamp()) * 1_000_000) + start.microsecond


def _iso_times(a: ActivityData) -> list[str]:
    """xsd:dateTime in UTC with Z, vectorised; milliseconds only when some time is fractional."""
    us = _epoch_us(a.start) + np.rint(a.elapsed_s * 1e6).astype(np.int64)
    us = np.append(us, _epoch_us(a.start) + round(a.end_elapsed_s() * 1e6))
    unit = "s" if np.all(us % 1_000_000 == 0) else "ms"
    return np.datetime_as_string(us.astype("datetime64[us]"), unit=unit, timezone="UTC").tolist()


def write_tcx(activity: ActivityData) -> bytes:
    """TCX v2 bytes: one trackpoint per second, <Position> only at fixes; element order per the XSD."""
    a = activity
    n = a.n
    times = _iso_times(a)
    distance = a.cumulative_distance_m()
    stats = _lap_stats(a, distance)
    fix = a.has_position
    lat = _texts(np.where(fix, a.latitude_deg, np.nan) if fix.any() else None, "%.7f", n)
    lon = _texts(np.where(fix, a.longitude_deg, np.nan) if fix.any() else None, "%.7f", n)
    alt = _texts(a.altitude_m, "%.1f", n)
    dist = _texts(distance, "%.2f", n)
    hr = _texts(_hr_valid(a.heart_rate_bpm), "%d", n)
    tpx = [
        (_t("Speed", AX_NS), _texts(a.speed_mps, "%.3f", n)),
        (
            _t("RunCadence", AX_NS),
            _texts(None if a.cadence_spm is None else np.clip(np.rint(a.cadence_spm / 2), 0, 254), "%d", n),
        ),
    ]
    vitals = [
        (_t("BreathingRateRpm", HX_NS), _texts(a.breathing_rate_rpm, "%.1f", n)),
        (_t("TidalVolumeMl", HX_NS), _texts(a.tidal_volume_ml, "%.0f", n)),
        (_t("MinuteVentilationMlPerMin", HX_NS), _texts(a.minute_ventilation_ml_min, "%.0f", n)),
        (_t("EnergyW", HX_NS), _texts(a.energy_w, "%.1f", n)),
    ]
    tpx = [c for c in tpx if any(v is not None for v in c[1])]
    vitals = [c for c in vitals if any(v is not None for v in c[1])]

    sub = etree.SubElement
    TRACKPOINT, TIME, POSITION, LAT, LON = (
        _t("Trackpoint"),
        _t("Time"),
        _t("Position"),
        _t("LatitudeDegrees"),
        _t("LongitudeDegrees"),
    )
    ALT, DIST, HR, VALUE, EXT = (
        _t("AltitudeMeters"),
        _t("DistanceMeters"),
        _t("HeartRateBpm"),
        _t("Value"),
        _t("Extensions"),
    )
    TPX, VITALS = _t("TPX", AX_NS), _t("Vitals", HX_NS)

    root = etree.Element(_t("TrainingCenterDatabase"), nsmap={None: TCD_NS, "ax": AX_NS, "hx": HX_NS, "xsi": XSI_NS})
    root.set(
        _t("schemaLocation", XSI_NS),
        f"{TCD_NS} http://www.garmin.com/xmlschemas/TrainingCenterDatabasev2.xsd "
        f"{AX_NS} http://www.garmin.com/xmlschemas/ActivityExtensionv2.xsd",
    )
    activity_el = sub(sub(root, _t("Activities")), _t("Activity"), Sport=SPORTS[a.sport][0])
    sub(activity_el, _t("Id")).text = times[0]
    for (i0, i1), st in zip(a.lap_bounds, stats):
        lap = sub(activity_el, _t("Lap"), StartTime=times[i0])
        sub(lap, _t("TotalTimeSeconds")).text = f"{st.total_time_s:.3f}"
        sub(lap, _t("DistanceMeters")).text = f"{st.distance_m or 0.0:.2f}"
        if st.max_speed_mps is not None:
            sub(lap, _t("MaximumSpeed")).text = f"{st.max_speed_mps:.3f}"
        sub(lap, _t("Calories")).text = str(st.calories or 0)  # required by the XSD; 0 = unknown
        if st.avg_hr is not None:
            sub(sub(lap, _t("AverageHeartRateBpm")), VALUE).text = str(st.avg_hr)
            sub(sub(lap, _t("MaximumHeartRateBpm")), VALUE).text = str(st.max_hr)
        sub(lap, _t("Intensity")).text = "Active"
        sub(lap, _t("TriggerMethod")).text = "Manual"
        track = sub(lap, _t("Track"))
        for i in range(i0, i1):  # XML is built node by node: this per-sample loop is unavoidable
            tp = sub(track, TRACKPOINT)
            sub(tp, TIME).text = times[i]
            if lat[i] is not None:
                pos = sub(tp, POSITION)
                sub(pos, LAT).text = lat[i]
                sub(pos, LON).text = lon[i]
                if alt[i] is not None:
                    sub(tp, ALT).text = alt[i]
            if dist[i] is not None:
                sub(tp, DIST).text = dist[i]
            if hr[i] is not None:
                sub(sub(tp, HR), VALUE).text = hr[i]
            tpx_here = [(tag, col[i]) for tag, col in tpx if col[i] is not None]
            vitals_here = [(tag, col[i]) for tag, col in vitals if col[i] is not None]
            if tpx_here or vitals_here:
                ext = sub(tp, EXT)
                for parent_tag, items in ((TPX, tpx_here), (VITALS, vitals_here)):
                    if items:
                        parent = sub(ext, parent_tag)
                        for tag, text in items:
                            sub(parent, tag).text = text
        lx = [
            ("AvgSpeed", st.avg_speed_mps, "%.3f"),
            ("AvgRunCadence", st.avg_strides_pm, "%d"),
            ("MaxRunCadence", st.max_strides_pm, "%d"),
        ]
        lx = [(tag, fmt % value) for tag, value, fmt in lx if value is not None]
        if lx:
            parent = sub(sub(lap, EXT), _t("LX", AX_NS))
            for tag, text in lx:
                sub(parent, _t(tag, AX_NS)).text = text
    creator = sub(activity_el, _t("Creator"), {_t("type", XSI_NS): "Device_t"})
    sub(creator, _t("Name")).text = a.device_name
    sub(creator, _t("UnitId")).text = "0"
    sub(creator, _t("ProductID")).text = "0"
    _version(sub(creator, _t("Version")))
    author = sub(root, _t("Author"), {_t("type", XSI_NS): "Application_t"})
    sub(author, _t("Name")).text = "hexo-pipeline sandbox"
    _version(sub(sub(author, _t("Build")), _t("Version")))
    sub(author, _t("LangID")).text = "en"
    sub(author, _t("PartNumber")).text = "000-00000-00"
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _version(el: etree._Element) -> None:
    etree.SubElement(el, _t("VersionMajor")).text = "1"
    etree.SubElement(el, _t("VersionMinor")).text = "0"


# --------------------------------------------------------------------------------------------- FIT
# One local message number per message type, so interleaving records, hrv and laps does not force a
# new definition message at every switch.
_LOCAL_FILE_ID, _LOCAL_EVENT, _LOCAL_RECORD, _LOCAL_HRV, _LOCAL_LAP, _LOCAL_SESSION, _LOCAL_ACTIVITY = range(7)
RR_PER_HRV = 5  # the FIT SDK's hrv message holds up to 5 intervals
RR_PAD_S = 65.535  # 0xFFFF ms: FIT's invalid uint16, how Garmin pads the last message


def _event(ms: int, event_type: EventType) -> EventMessage:
    m = EventMessage(local_id=_LOCAL_EVENT)
    m.timestamp, m.event, m.event_type = ms, Event.TIMER, event_type
    return m


def _summary(m: LapMessage | SessionMessage, st: _LapStats) -> None:
    """The fields laps and sessions share (fit-tool profile units: s, m, m/s, bpm, strides/min)."""
    m.total_elapsed_time = m.total_timer_time = st.total_time_s
    if st.distance_m is not None:
        m.total_distance = st.distance_m
        m.avg_speed = st.avg_speed_mps
    if st.max_speed_mps is not None:
        m.max_speed = st.max_speed_mps
    if st.calories is not None:
        m.total_calories = st.calories
    if st.avg_hr is not None:
        m.avg_heart_rate, m.max_heart_rate = st.avg_hr, st.max_hr
    if st.avg_strides_pm is not None:
        m.avg_cadence, m.max_cadence = st.avg_strides_pm, st.max_strides_pm


def _whole_activity(stats: list[_LapStats]) -> _LapStats:
    def total(values: list[Any]) -> Any:
        return None if any(v is None for v in values) else sum(values)

    time_s = sum(s.total_time_s for s in stats)
    dist = total([s.distance_m for s in stats])
    hr_weighted = [(s.avg_hr, s.total_time_s) for s in stats if s.avg_hr is not None]
    cad_weighted = [(s.avg_strides_pm, s.total_time_s) for s in stats if s.avg_strides_pm is not None]

    def weighted(pairs: list[tuple[int, float]]) -> int | None:
        return int(round(sum(v * w for v, w in pairs) / sum(w for _, w in pairs))) if pairs else None

    def peak(values: list[Any]) -> Any:
        present = [v for v in values if v is not None]
        return max(present) if present else None

    return _LapStats(
        start_s=stats[0].start_s,
        total_time_s=time_s,
        distance_m=dist,
        max_speed_mps=peak([s.max_speed_mps for s in stats]),
        avg_speed_mps=None if dist is None else dist / time_s,
        calories=total([s.calories for s in stats]),
        avg_hr=weighted(hr_weighted),
        max_hr=peak([s.max_hr for s in stats]),
        avg_strides_pm=weighted(cad_weighted),
        max_strides_pm=peak([s.max_strides_pm for s in stats]),
    )


def write_fit(activity: ActivityData) -> bytes:
    """FIT activity bytes: file_id, timer start, `record` at GPS seconds only, `hrv` (if rr_s) interleaved
    by beat time, one `lap` per lap after its records, timer stop, session, activity."""
    a = activity
    distance = a.cumulative_distance_m()
    stats = _lap_stats(a, distance)
    start_ms = round(_epoch_us(a.start) / 1000)
    t_ms = (start_ms + np.rint(a.elapsed_s * 1000)).astype(np.int64).tolist()
    end_ms = start_ms + round(a.end_elapsed_s() * 1000)
    sport = SPORTS[a.sport][1]
    # Python lists: fit-tool takes Python numbers, and list indexing beats numpy scalars in the loop.
    lat, lon = a.latitude_deg, a.longitude_deg
    columns = {
        name: None if v is None else v.tolist()
        for name, v in (
            ("altitude", a.altitude_m),
            ("distance", distance),
            ("speed", a.speed_mps),
            ("heart_rate", _hr_valid(a.heart_rate_bpm)),
            ("cadence", None if a.cadence_spm is None else np.clip(np.rint(a.cadence_spm / 2), 0, 254)),
        )
    }
    hrv_chunks: list[list[float]] = []
    hrv_end_ms: list[int] = []
    if a.rr_s is not None and a.rr_s.size:
        rr_ms = np.rint(a.rr_s * 1000).astype(np.int64)
        beat_ms = start_ms + np.cumsum(rr_ms)
        for k in range(0, rr_ms.size, RR_PER_HRV):
            chunk = (rr_ms[k : k + RR_PER_HRV] / 1000).tolist()
            hrv_chunks.append(chunk + [RR_PAD_S] * (RR_PER_HRV - len(chunk)))
            hrv_end_ms.append(int(beat_ms[min(k + RR_PER_HRV, rr_ms.size) - 1]))

    b = FitFileBuilder(auto_define=True)
    fid = FileIdMessage(local_id=_LOCAL_FILE_ID)
    fid.type, fid.manufacturer, fid.time_created = FileType.ACTIVITY, Manufacturer.DEVELOPMENT.value, start_ms
    b.add(fid)
    b.add(_event(start_ms, EventType.START))
    next_hrv = 0

    def flush_hrv(until_ms: float) -> None:
        nonlocal next_hrv
        while next_hrv < len(hrv_chunks) and hrv_end_ms[next_hrv] <= until_ms:
            m = HrvMessage(local_id=_LOCAL_HRV)
            m.time = hrv_chunks[next_hrv]
            b.add(m)
            next_hrv += 1

    fix = a.has_position
    for lap_index, ((i0, i1), st) in enumerate(zip(a.lap_bounds, stats)):
        for i in (np.flatnonzero(fix[i0:i1]) + i0).tolist():  # one message object per record: per-row
            flush_hrv(t_ms[i])
            r = RecordMessage(local_id=_LOCAL_RECORD)
            r.timestamp = t_ms[i]
            r.position_lat, r.position_long = float(lat[i]), float(lon[i])
            for name, values in columns.items():
                if values is not None and values[i] == values[i]:  # skip NaN
                    setattr(r, name, int(values[i]) if name in ("heart_rate", "cadence") else values[i])
            b.add(r)
        lap_end_ms = start_ms + round((st.start_s + st.total_time_s) * 1000)
        last = lap_index == len(stats) - 1
        if last:
            flush_hrv(math.inf)
            b.add(_event(end_ms, EventType.STOP_ALL))
        lap = LapMessage(local_id=_LOCAL_LAP)
        lap.message_index, lap.timestamp = lap_index, lap_end_ms
        lap.start_time = start_ms + round(st.start_s * 1000)
        lap.event, lap.event_type, lap.sport = Event.LAP, EventType.STOP, sport
        lap.intensity = Intensity.ACTIVE
        lap.lap_trigger = LapTrigger.SESSION_END if last else LapTrigger.MANUAL
        _summary(lap, st)
        b.add(lap)

    whole = _whole_activity(stats)
    session = SessionMessage(local_id=_LOCAL_SESSION)
    session.message_index, session.timestamp, session.start_time = 0, end_ms, start_ms
    session.event, session.event_type = Event.SESSION, EventType.STOP
    session.trigger = SessionTrigger.ACTIVITY_END
    session.sport, session.sub_sport = sport, SubSport.GENERIC
    session.first_lap_index, session.num_laps = 0, len(stats)
    _summary(session, whole)
    b.add(session)
    act = ActivityMessage(local_id=_LOCAL_ACTIVITY)
    act.timestamp, act.total_timer_time, act.num_sessions = end_ms, whole.total_time_s, 1
    act.type, act.event, act.event_type = Activity.MANUAL, Event.ACTIVITY, EventType.STOP
    b.add(act)
    return b.build().to_bytes()
