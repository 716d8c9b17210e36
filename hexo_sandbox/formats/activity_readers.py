"""What POST /api/import/ reads: a TCX or FIT activity file -> per-second samples, laps and sport.

The server side of the import only; the pipeline's own readers live in `hexo_pipeline.decoders` (the
sandbox does not borrow them: a bug there must not hide itself by agreeing with the sandbox). TCX is read
with lxml, FIT with fitparse. Samples are put on a 1 Hz grid from the activity's start (the last sample
of a second wins); seconds without a sample stay NaN.

Vendor behaviour (seed doc, "Import"): an import always creates a range; a record too when the file
holds biometrics (heart rate, breathing...); laps become rank-1 ranges under it.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from lxml import etree

from hexo_pipeline.hexoskin.timestamps import TICKS_PER_SECOND, to_ticks

from .activity_writers import AX_NS, TCD_NS

TCX_TYPE = "application/vnd.garmin.tcx+xml"
FIT_TYPE = "application/vnd.ant.fit"
SEMICIRCLE_DEG = 180.0 / 2**31
MAX_SECONDS = 48 * 3600  # an activity file longer than two days is refused


class ImportFailed(ValueError):
    """The file cannot be imported; the message is the import's `results.error`."""


@dataclass(frozen=True, eq=False)
class ParsedActivity:
    sport: str  # running | walking | cycling | other
    start: int  # HexoTimestamp of second 0
    n: int  # seconds
    laps: tuple[tuple[int, int], ...]  # [start, end) second indices
    channels: dict[str, np.ndarray]  # name -> float per second, NaN where absent

    @property
    def end(self) -> int:
        return self.start + self.n * TICKS_PER_SECOND

    def has(self, name: str) -> bool:
        values = self.channels.get(name)
        return values is not None and bool(np.isfinite(values).any())

    @property
    def has_biometrics(self) -> bool:
        return any(self.has(c) for c in ("heart_rate", "breathing_rate", "tidal_volume", "minute_ventilation"))

    @property
    def has_gps(self) -> bool:
        return self.has("lat") and self.has("lon")


def parse(content_type: str, body: bytes) -> ParsedActivity:
    if not body:
        raise ImportFailed("the file is empty")
    if content_type == TCX_TYPE:
        return _parse_tcx(body)
    if content_type == FIT_TYPE:
        return _parse_fit(body)
    raise ImportFailed(f"unsupported file type {content_type!r}: send {TCX_TYPE} or {FIT_TYPE}")


def _grid(
    start: datetime,
    times: list[datetime],
    columns: dict[str, list[float]],
    lap_bounds: list[tuple[datetime, float]],
    sport: str,
) -> ParsedActivity:
    if not times:
        raise ImportFailed("the file holds no samples")
    start_s = start.timestamp()
    offsets = np.array([t.timestamp() - start_s for t in times])
    total = max([offsets.max() + 1.0] + [(b.timestamp() - start_s) + d for b, d in lap_bounds])
    n = int(math.ceil(total - 1e-6))
    if n <= 0 or n > MAX_SECONDS:
        raise ImportFailed(f"the activity lasts {total:.0f} s; the sandbox imports 1 s to {MAX_SECONDS} s")
    idx = np.clip(np.floor(offsets + 1e-6).astype(np.int64), 0, n - 1)
    channels = {}
    for name, values in columns.items():
        col = np.full(n, np.nan)
        col[idx] = np.asarray(values, dtype=np.float64)
        channels[name] = col
    laps = []
    for lap_start, duration in lap_bounds:
        a = int(round(lap_start.timestamp() - start_s))
        laps.append((max(0, a), min(n, int(round(a + duration)))))
    laps = [(a, b) for a, b in laps if b > a] or [(0, n)]
    tiled = [(laps[0][0] if i == 0 else laps[i - 1][1], b) for i, (_, b) in enumerate(laps)]
    tiled[0] = (0, tiled[0][1])
    tiled[-1] = (tiled[-1][0], n)
    return ParsedActivity(sport, to_ticks(start), n, tuple((a, b) for a, b in tiled if b > a), channels)


# -- TCX ------------------------------------------------------------------------------------------------

_TCX_SPORTS = {"Running": "running", "Biking": "cycling", "Other": "other"}


def _parse_tcx(body: bytes) -> ParsedActivity:
    try:
        root = etree.fromstring(body, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise ImportFailed(f"not a TCX file: {exc}") from None
    ns = {"t": TCD_NS, "ax": AX_NS}
    activity = root.find("t:Activities/t:Activity", ns)
    if activity is None:
        raise ImportFailed("the TCX file holds no Activity (workouts and courses are not imported)")
    sport = _TCX_SPORTS.get(activity.get("Sport", "Other"), "other")
    names = (
        "heart_rate",
        "breathing_rate",
        "tidal_volume",
        "minute_ventilation",
        "lat",
        "lon",
        "altitude",
        "speed",
        "cadence",
    )
    columns: dict[str, list[float]] = {k: [] for k in names}
    times: list[datetime] = []
    laps: list[tuple[datetime, float]] = []
    nan = math.nan
    for lap in activity.iterfind("t:Lap", ns):
        laps.append((_time(lap.get("StartTime")), float(lap.findtext("t:TotalTimeSeconds", "0", ns))))
        for tp in lap.iterfind("t:Track/t:Trackpoint", ns):
            times.append(_time(tp.findtext("t:Time", None, ns)))
            ext = {el.tag.rpartition("}")[2]: el.text for el in tp.iterfind("t:Extensions//*", ns) if len(el) == 0}
            values = {
                "heart_rate": tp.findtext("t:HeartRateBpm/t:Value", None, ns),
                "lat": tp.findtext("t:Position/t:LatitudeDegrees", None, ns),
                "lon": tp.findtext("t:Position/t:LongitudeDegrees", None, ns),
                "altitude": tp.findtext("t:AltitudeMeters", None, ns),
                "speed": ext.get("Speed"),
                "cadence": ext.get("RunCadence"),
                "breathing_rate": ext.get("BreathingRateRpm"),
                "tidal_volume": ext.get("TidalVolumeMl"),
                "minute_ventilation": ext.get("MinuteVentilationMlPerMin"),
            }
            for name in names:
                raw = values[name]
                value = float(raw) if raw not in (None, "") else nan
                columns[name].append(value * 2 if name == "cadence" else value)  # strides/min -> steps/min
    if not laps:
        raise ImportFailed("the TCX activity has no lap")
    return _grid(min([laps[0][0]] + times[:1]), times, columns, laps, sport)


def _time(text: str | None) -> datetime:
    if not text:
        raise ImportFailed("a TCX time is missing")
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ImportFailed(f"bad TCX time {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# -- FIT ------------------------------------------------------------------------------------------------

_FIT_SPORTS = {"running": "running", "walking": "walking", "cycling": "cycling"}


def _parse_fit(body: bytes) -> ParsedActivity:
    import fitparse

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            messages = list(fitparse.FitFile(io.BytesIO(body)).get_messages())
    except fitparse.FitParseError as exc:
        raise ImportFailed(f"not a FIT file: {exc}") from None
    names = ("heart_rate", "lat", "lon", "altitude", "speed", "cadence")
    columns: dict[str, list[float]] = {k: [] for k in names}
    times: list[datetime] = []
    laps: list[tuple[datetime, float]] = []
    sport, start = "other", None
    for msg in messages:
        v = msg.get_values()
        if msg.name == "file_id" and v.get("type") not in (None, "activity"):
            raise ImportFailed(f"the FIT file is a {v.get('type')!r} file, not an activity")
        if msg.name == "session":
            sport = _FIT_SPORTS.get(str(v.get("sport")), "other")
            start = start or _utc(v.get("start_time"))
        elif msg.name == "lap" and v.get("start_time") is not None:
            laps.append((_utc(v["start_time"]), float(v.get("total_elapsed_time") or 0.0)))
        elif msg.name == "record" and v.get("timestamp") is not None:
            times.append(_utc(v["timestamp"]))
            lat, lon = v.get("position_lat"), v.get("position_long")
            row = {
                "heart_rate": v.get("heart_rate"),
                "lat": lat * SEMICIRCLE_DEG if lat is not None else None,
                "lon": lon * SEMICIRCLE_DEG if lon is not None else None,
                "altitude": v.get("enhanced_altitude", v.get("altitude")),
                "speed": v.get("enhanced_speed", v.get("speed")),
                "cadence": v.get("cadence"),
            }
            for name in names:
                columns[name].append(math.nan if row[name] is None else float(row[name]))
    if sport != "cycling":  # FIT running cadence is strides/min (both feet: x 2); cycling is rpm
        columns["cadence"] = [c * 2 for c in columns["cadence"]]
    laps.sort()
    start = min(
        [d for d in (start, laps[0][0] if laps else None, times[0] if times else None) if d is not None], default=None
    )
    if start is None:
        raise ImportFailed("the FIT file holds no activity")
    if not times:
        times = [start]
        columns = {k: [math.nan] for k in names}
    return _grid(start, times, columns, laps, sport)


def _utc(value: datetime) -> datetime:
    # fitparse returns naive UTC datetimes (FIT timestamps are UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
