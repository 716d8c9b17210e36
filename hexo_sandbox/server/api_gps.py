"""GPS: track (one per walk or run range with GPS) and trackpoint (the points, where the phone had a fix).

Seed doc, "Getting GPS data" and "Track Point": trackpoints are filtered by track (or range, record,
user) and by time, both as HexoTimestamps (`timestamp__range=a,b`) and as ISO dates
(`time__range=2015-05-12T19:50:00,2015-05-12T19:50:46`); the list's meta adds `distance` (track URI ->
metres, for the tracks of the matching points) and `total_tracks`. `start=` / `end=` (HexoTimestamps)
keep the points in [start, end).
"""

from __future__ import annotations

import math

import numpy as np

from hexo_pipeline.hexoskin.timestamps import from_ticks

from ..world.study import Track
from . import resource_defs as R
from .api import Ctx, Provider, iso, uri
from .tastypie import Query, parse_ticks

POINT_ID_BASE = 100_000  # point id = track id x 100000 + second index


def _visible_tracks(ctx: Ctx) -> list[Track]:
    visible = {rg.id for rg, _ in ctx.state.visible_ranges(ctx.user_id)}
    return [t for t in sorted(ctx.study.tracks.values(), key=lambda t: t.id) if t.range_id in visible]


class TrackProvider(Provider):
    definition = R.TRACK

    def rows(self, ctx, query):
        return [
            {
                "id": t.id,
                "user": t.user_id,
                "range": t.range_id,
                "start_date": from_ticks(t.start),
                "end_date": from_ticks(t.end),
                "_obj": t,
            }
            for t in _visible_tracks(ctx)
        ]

    def serialize(self, ctx, row, extra):
        t: Track = row["_obj"]
        return {
            "area": None,
            "distance": round(ctx.state.track_distance(t), 3),
            "end_date": iso(row["end_date"]),
            "id": t.id,
            "importfile": uri("import", t.import_id),
            "name": "",
            "range": uri("range", t.range_id),
            "resource_uri": uri("track", t.id),
            "source": "",
            "start_date": iso(row["start_date"]),
            "user": uri("user", t.user_id),
        }

    def delete(self, ctx, row):
        t: Track = row["_obj"]
        if ctx.can_write_for(t.user_id):
            ctx.study.tracks.pop(t.id, None)


class TrackpointProvider(Provider):
    definition = R.TRACKPOINT

    def _tracks(self, ctx: Ctx, query: Query) -> list[Track]:
        """The tracks a query can touch: narrowed by its track/range/record/user filters first, so that a
        per-track or per-range request generates one route only."""
        tracks = _visible_tracks(ctx)
        for name, op, values in query.filters:
            attr = {"track": "id", "range": "range_id", "record": "record_id", "user": "user_id"}.get(name)
            if attr and op in ("exact", "in"):
                wanted = set(values)
                tracks = [t for t in tracks if getattr(t, attr) in wanted]
        return tracks

    def rows(self, ctx, query):
        lo, hi = _time_bounds(query)  # narrow by time before generating routes and building rows
        rows = []
        for t in self._tracks(ctx, query):
            if t.end <= lo or t.start >= hi:
                continue
            pts = ctx.state.track_points(t)
            keep = pts.has_fix & (pts.ticks >= lo) & (pts.ticks < hi)
            for i in np.flatnonzero(keep).tolist():
                tick = int(pts.ticks[i])
                rows.append(
                    {
                        "id": t.id * POINT_ID_BASE + i,
                        "track": t.id,
                        "range": t.range_id,
                        "record": t.record_id,
                        "user": t.user_id,
                        "time": tick,
                        "timestamp": tick,
                        "_obj": (t, pts, i),
                    }
                )
        return rows

    def find(self, ctx, obj_id):
        if not obj_id.isdigit():
            return None
        track_id, i = divmod(int(obj_id), POINT_ID_BASE)
        tracks = [t for t in _visible_tracks(ctx) if t.id == track_id]
        if not tracks:
            return None
        pts = ctx.state.track_points(tracks[0])
        if i >= pts.ticks.size or not pts.has_fix[i]:
            return None
        t, tick = tracks[0], int(pts.ticks[i])
        return {
            "id": int(obj_id),
            "track": t.id,
            "range": t.range_id,
            "record": t.record_id,
            "user": t.user_id,
            "time": tick,
            "timestamp": tick,
            "_obj": (t, pts, i),
        }

    def serialize(self, ctx, row, extra):
        t, pts, i = row["_obj"]
        return {
            "altitude": _num(pts.altitude[i], 2),
            "course": _num(pts.course[i], 2),
            "horizontal_accuracy": _num(pts.accuracy[i], 2),
            "id": row["id"],
            "position": [round(float(pts.lon[i]), 7), round(float(pts.lat[i]), 7)],
            "range": uri("range", t.range_id),
            "record": uri("record", t.record_id),
            "resource_uri": uri("trackpoint", row["id"]),
            "speed": _num(pts.speed[i], 3),
            "time": from_ticks(row["time"]).replace(tzinfo=None).isoformat(),
            "timestamp": row["timestamp"],
            "track": uri("track", t.id),
            "user": uri("user", t.user_id),
            "vertical_accuracy": None,
        }

    def list_meta(self, ctx, rows, query):
        tracks = {}
        for row in rows:
            t = row["_obj"][0]
            tracks.setdefault(t.id, t)
        return {
            "distance": {uri("track", tid): round(ctx.state.track_distance(t), 3) for tid, t in tracks.items()},
            "total_tracks": len(tracks),
        }


def _num(value: float, digits: int) -> float | None:
    value = float(value)
    return None if math.isnan(value) else round(value, digits)


def _time_bounds(query: Query) -> tuple[float, float]:
    """[lo, hi) in ticks implied by start=/end= and the time/timestamp filters (the exact filtering is
    still applied to the rows; this only skips what cannot match)."""
    lo, hi = -math.inf, math.inf
    if "start" in query.extra:
        lo = parse_ticks(query.extra["start"], "start")
    if "end" in query.extra:
        hi = parse_ticks(query.extra["end"], "end")
    for name, op, values in query.filters:
        if name not in ("time", "timestamp"):
            continue
        if op in ("gt", "gte", "exact", "range"):
            lo = max(lo, values[0])
        if op in ("lt", "lte", "exact") or op == "range":
            hi = min(hi, (values[-1] if op == "range" else values[0]) + 1)
    return lo, hi


PROVIDERS: tuple[Provider, ...] = (TrackProvider(), TrackpointProvider())
