"""TCX/FIT export of records, ranges and training routines, and the import side of /api/import/.

Export (seed doc, "TCX and FIT exchange formats"): GET /api/record/<id>/, /api/range/<id>/ or
/api/trainingroutine/<id>/ with `Accept: application/vnd.garmin.tcx+xml` or `application/vnd.ant.fit`.
A record or range becomes an activity: one trackpoint per second of 1 Hz data (heart rate, breathing
rate, tidal volume, minute ventilation, energy in W, cadence), positions where its walks and runs had a
GPS fix (`activity_writers.write_tcx`); FIT holds points only where GPS was reported
(`activity_writers.write_fit`). A range's laps are its rank-1 child ranges. A training routine is a
workout (`workout_writers`).

Import: `apply_import` turns a parsed file into a range (rank 0), its laps (rank 1), a record when the
file holds biometrics and a track when it holds positions.
"""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np

from hexo_pipeline.hexoskin.timestamps import TICKS_PER_SECOND, from_ticks

from ..formats.activity_readers import ParsedActivity
from ..formats.activity_writers import ActivityData, write_fit, write_tcx
from ..formats.workout_writers import write_workout_fit, write_workout_tcx
from ..world.catalog import ROUTINE_FOR_SPORT, TRAINING_ROUTINES
from ..world.study import Range, Record, Track
from ..world.tracks import TrackPoints
from ..world.truth import profile_of
from .state import ImportedSignals, SandboxState

TCX_TYPE = "application/vnd.garmin.tcx+xml"
FIT_TYPE = "application/vnd.ant.fit"
TV_ML = 13.28  # raw tidal volume / minute ventilation unit (notes §4)
_SPORT_OF_KIND = {"run": "running", "walk": "walking", "running": "running", "walking": "walking", "cycling": "cycling"}
MAX_GAP_S = 10  # imported 1 Hz gaps interpolated up to this long


def wanted_format(accept: str) -> str | None:
    if TCX_TYPE in accept:
        return TCX_TYPE
    if FIT_TYPE in accept:
        return FIT_TYPE
    return None


def export_activity(
    state: SandboxState, rec: Record, t0: int, t1: int, laps: list[tuple[int, int]], sport: str, fmt: str, with_rr: bool
) -> bytes:
    activity = activity_data(state, rec, t0, t1, laps, sport, with_rr)
    return write_tcx(activity) if fmt == TCX_TYPE else write_fit(activity)


def export_routine(routine_id: int, fmt: str) -> bytes:
    routine = TRAINING_ROUTINES[routine_id]
    return write_workout_tcx(routine) if fmt == TCX_TYPE else write_workout_fit(routine)


def activity_data(
    state: SandboxState, rec: Record, t0: int, t1: int, laps: list[tuple[int, int]], sport: str, with_rr: bool
) -> ActivityData:
    """Per-second data of [t0, t1) of a (visible) record: 1 Hz samples whose timestamps fall inside."""
    sig = state.signals(rec)
    ids = set(sig.datatype_ids())
    n_all = sig.n_samples(19) if 19 in ids else int((rec.end - rec.start) // TICKS_PER_SECOND)
    n_all = min(n_all, int((rec.end - rec.start) // TICKS_PER_SECOND))
    k0 = max(0, math.ceil((t0 - rec.start) / TICKS_PER_SECOND) - 1)
    k1 = max(k0 + 1, min(n_all, math.ceil((t1 - rec.start) / TICKS_PER_SECOND) - 1))
    n = k1 - k0
    ticks = rec.start + (np.arange(k0, k1, dtype=np.int64) + 1) * TICKS_PER_SECOND

    def channel(dt: int, scale: float = 1.0) -> np.ndarray | None:
        if dt not in ids:
            return None
        raw = sig.sync_raw(dt, k0, k1).astype(np.float64)
        raw = np.pad(raw, (0, n - raw.size))
        return np.where(raw > 0, raw * scale, np.nan)

    hr = channel(19)
    user = state.study.users[rec.user_id]
    energy = None
    if hr is not None:
        energy = np.where(np.isfinite(hr), _keytel_w(hr, profile_of(user, state.study.start_date.year)), np.nan)
    lat = lon = alt = speed = None
    cadence = channel(53)
    for track in list(state.study.tracks.values()):
        if track.user_id != rec.user_id or track.end <= ticks[0] or track.start > ticks[-1]:
            continue
        if track.record_id != rec.id:
            continue
        pts = state.track_points(track)
        idx = np.rint((pts.ticks - ticks[0]) / TICKS_PER_SECOND).astype(np.int64)
        ok = (idx >= 0) & (idx < n)
        if lat is None:
            lat, lon, alt, speed = (np.full(n, np.nan) for _ in range(4))
        for dest, src in ((lat, pts.lat), (lon, pts.lon), (alt, pts.altitude), (speed, pts.speed)):
            dest[idx[ok]] = src[ok]
        if cadence is None or not np.isfinite(cadence).any():
            cadence = np.full(n, np.nan) if cadence is None else cadence
            cadence[idx[ok]] = pts.cadence[ok]
    rr = None
    if with_rr and 18 in ids:
        _, raw = sig.events_raw(
            18, (ticks[0] - TICKS_PER_SECOND - rec.start) / TICKS_PER_SECOND, (ticks[-1] - rec.start) / TICKS_PER_SECOND
        )
        rr_s = raw.astype(np.float64) / TICKS_PER_SECOND
        rr = rr_s[(rr_s > 0.25) & (rr_s < 2.5)]
        if rr.size == 0 or rr.sum() >= n:
            rr = None
    lap_index = []
    for a, b in laps:
        i0 = int(np.searchsorted(ticks, a, side="left"))
        i1 = int(np.searchsorted(ticks, b, side="left"))
        lap_index.append((i0, i1))
    tiled = _tile(lap_index, n)
    device = "Astroskin (sandbox)" if rec.astroskin else "Hexoskin Smart Shirt (sandbox)"
    return ActivityData(
        sport=_SPORT_OF_KIND.get(sport, "other"),
        start=from_ticks(int(ticks[0])),
        elapsed_s=(ticks - ticks[0]) / TICKS_PER_SECOND,
        heart_rate_bpm=hr,
        breathing_rate_rpm=channel(33),
        tidal_volume_ml=channel(37, TV_ML),
        minute_ventilation_ml_min=channel(36, TV_ML),
        energy_w=energy,
        speed_mps=speed,
        cadence_spm=cadence,
        latitude_deg=lat,
        longitude_deg=lon,
        altitude_m=alt,
        laps=tuple(tiled),
        rr_s=rr,
        device_name=device,
    )


def _keytel_w(hr: np.ndarray, profile: dict) -> np.ndarray:
    """Energy expenditure in W from heart rate (Keytel 2005 kJ/min, clipped at 0)."""
    if profile["gender"] == "M":
        a, b, c, d = -55.0969, 0.6309, 0.1988, 0.2017
    else:
        a, b, c, d = -20.4022, 0.4472, -0.1263, 0.074
    kj_min = a + b * hr + c * profile["weight_kg"] + d * profile["age"]
    return np.maximum(kj_min, 0.0) * 1000.0 / 60.0


def _tile(laps: list[tuple[int, int]], n: int) -> list[tuple[int, int]]:
    """Laps that tile [0, n): gaps go to the previous lap, empty laps are dropped."""
    edges = sorted({0, n, *(min(max(a, 0), n) for a, _ in laps)})
    out = [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]
    return out or [(0, n)]


# -- import -------------------------------------------------------------------------------------------


def apply_import(state: SandboxState, job, now: datetime) -> dict:
    """Create the range, laps, record and track of a parsed file; returns the import's results."""
    parsed: ParsedActivity = job.parsed
    study = state.study
    user = study.users[job.user_id]
    with state.lock:
        record_id = None
        if parsed.has_biometrics:
            record_id = state.next_id("record", study.records)
            channels = {}
            for dt, name, scale in (
                (19, "heart_rate", 1.0),
                (33, "breathing_rate", 1.0),
                (37, "tidal_volume", 1 / TV_ML),
                (36, "minute_ventilation", 1 / TV_ML),
            ):
                if parsed.has(name):
                    # sample k sits at start + (k+1) s: the file's second k+1
                    values = _fill_gaps(parsed.channels[name])[1:]
                    channels[dt] = np.rint(np.nan_to_num(values * scale, nan=0.0)).astype(np.int64)
            rec = Record(
                id=record_id,
                user_id=user.id,
                start=parsed.start,
                end=parsed.end,
                device=user.device or "IMPORT",
                astroskin=False,
                segments=(),
                synced_at=now,
                import_id=job.id,
            )
            study.records[record_id] = rec
            state.imported_signals[record_id] = ImportedSignals(channels)
        routine = ROUTINE_FOR_SPORT.get(parsed.sport, 7)
        kind = {"running": "run", "walking": "walk"}.get(parsed.sport, parsed.sport)
        range_id = state.next_id("range", study.ranges)
        top = Range(
            id=range_id,
            user_id=user.id,
            record_id=record_id,
            start=parsed.start,
            end=parsed.end,
            name=TRAINING_ROUTINES[routine].name,
            kind=kind,
            trainingroutine=routine,
            created=now,
            import_id=job.id,
        )
        study.ranges[range_id] = top
        laps = []
        for k, (a, b) in enumerate(parsed.laps):
            lap_id = state.next_id("range", study.ranges)
            study.ranges[lap_id] = Range(
                id=lap_id,
                user_id=user.id,
                record_id=record_id,
                start=parsed.start + a * TICKS_PER_SECOND,
                end=parsed.start + b * TICKS_PER_SECOND,
                name=f"Lap {k + 1}",
                kind=kind,
                trainingroutine=routine,
                created=now,
                rank=1,
                parent_id=range_id,
                import_id=job.id,
            )
            laps.append(f"/api/range/{lap_id}/")
        track_uri = None
        if parsed.has_gps:
            track_id = state.next_id("track", study.tracks)
            study.tracks[track_id] = Track(
                track_id, user.id, range_id, record_id, kind, parsed.start, parsed.end, import_id=job.id
            )
            ch = parsed.channels
            nan = np.full(parsed.n, np.nan)
            state.imported_tracks[track_id] = TrackPoints(
                ticks=parsed.start + np.arange(parsed.n, dtype=np.int64) * TICKS_PER_SECOND,
                lat=ch["lat"],
                lon=ch["lon"],
                altitude=ch.get("altitude", nan),
                speed=ch.get("speed", nan),
                course=nan,
                accuracy=nan,
                cadence=ch.get("cadence", nan),
            )
            track_uri = f"/api/track/{track_id}/"
    return {
        "range": f"/api/range/{range_id}/",
        "record": f"/api/record/{record_id}/" if record_id else None,
        "ranges": laps,
        "track": track_uri,
    }


def _fill_gaps(values: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaN gaps of at most MAX_GAP_S seconds; longer gaps stay NaN."""
    ok = np.isfinite(values)
    if ok.all() or not ok.any():
        return values
    idx = np.arange(values.size)
    filled = np.interp(idx, idx[ok], values[ok])
    last_ok = np.maximum.accumulate(np.where(ok, idx, -1))
    next_ok = np.minimum.accumulate(np.where(ok, idx, values.size)[::-1])[::-1]
    gap = next_ok - last_ok - 1
    keep = ok | ((last_ok >= 0) & (next_ok < values.size) & (gap <= MAX_GAP_S))
    return np.where(keep, filled, np.nan)
