"""GPS tracks of walks and runs: a route from `routes.synth_route`, walked at the subject's cadence.

The signal generator decides the cadence (physiology, channel 53); the route decides where. The route is
re-timed so that its speed is the cadence times the gait's step length (0.7 m walking, 1.1 m running,
`routes.GAITS`) at every second: speed and cadence are consistent point by point, and the track's
distance is what the steps cover. The path's shape is kept and scaled to that distance. The phone's GPS
(time to first fix, dropouts, accuracy, error) comes from the route unchanged: points exist only where it
had a fix.

Each subject starts from their own "home", a few kilometres apart around downtown Montreal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .routes import EARTH_RADIUS_M, GAITS, distance_m, synth_route

TICKS = 256


@dataclass(frozen=True, eq=False)
class TrackPoints:
    """One point per second of the track (NaN position where the phone had no fix)."""

    ticks: np.ndarray  # int64 HexoTimestamps
    lat: np.ndarray
    lon: np.ndarray
    altitude: np.ndarray
    speed: np.ndarray  # m/s
    course: np.ndarray  # degrees, 0 = north
    accuracy: np.ndarray  # horizontal accuracy, m
    cadence: np.ndarray  # steps/min (NaN when unknown)

    @property
    def has_fix(self) -> np.ndarray:
        return np.isfinite(self.lat) & np.isfinite(self.lon)

    @property
    def distance(self) -> float:
        """Haversine length over the reported points, as a server computes it from the points."""
        return distance_m(self.lat, self.lon)


def home(subject_index: int) -> tuple[float, float]:
    return 45.5017 + 0.011 * (subject_index % 5), -73.5673 - 0.014 * ((subject_index // 5) % 5)


def generated_track(
    seed: int, kind: str, start: int, end: int, origin: tuple[float, float], cadence_spm: np.ndarray
) -> TrackPoints:
    """The track of a walk or run over [start, end) ticks; cadence_spm holds one value per second."""
    n = int((end - start) // TICKS)
    route = synth_route(seed, start, max(n, 2), kind, origin=origin)
    n = route.n
    cad = np.zeros(n) if cadence_spm.size == 0 else np.resize(np.asarray(cadence_spm, np.float64), n)
    v = cad * GAITS[kind].step_length_m / 60.0
    walked = np.concatenate(([0.0], np.cumsum(0.5 * (v[1:] + v[:-1]))))
    path = route.distance_m  # strictly increasing: the route's speed stays inside the gait's range
    fix = route.has_fix
    scale = walked[-1] / path[-1] if path[-1] > 0 and walked[-1] > 1.0 else 1.0
    along = walked / scale if walked[-1] > 1.0 else np.zeros(n)
    lat0, lon0 = origin

    def at(values: np.ndarray) -> np.ndarray:
        return np.interp(along, path[fix], values[fix]) if fix.any() else np.full(n, np.nan)

    lat = lat0 + scale * (at(route.lat_deg) - lat0)
    lon = lon0 + scale * (at(route.lon_deg) - lon0)
    alt = at(route.altitude_m)
    x = np.radians(lon - lon0) * EARTH_RADIUS_M * math.cos(math.radians(lat0))
    y = np.radians(lat - lat0) * EARTH_RADIUS_M
    course = np.mod(np.degrees(np.arctan2(np.gradient(x), np.gradient(y))), 360.0) if n > 1 else np.zeros(n)

    def reported(values: np.ndarray) -> np.ndarray:
        return np.where(fix, values, np.nan)

    return TrackPoints(
        ticks=route.ticks,
        lat=reported(lat),
        lon=reported(lon),
        altitude=reported(alt),
        speed=reported(v),
        course=reported(course),
        accuracy=route.horizontal_accuracy_m,
        cadence=cad,
    )
