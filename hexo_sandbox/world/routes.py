"""Synthetic GPS routes at 1 Hz for walks and runs: speed, path, terrain and the phone's GPS fixes.

Pure functions, deterministic per seed. Cadence follows speed: cadence_spm = speed_mps * 60 /
step_length_m, step length ~0.7 m walking, ~1.1 m running (`RouteArrays.cadence_spm`), so the signal
generator can drive its step phase from the route. `world.tracks` walks a route at a subject's cadence;
`formats.activity_writers` turns one into TCX / FIT.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hexo_pipeline.hexoskin.timestamps import TICKS_PER_SECOND

__all__ = ["EARTH_RADIUS_M", "GAITS", "Gait", "RouteArrays", "distance_m", "segment_lengths", "synth_route"]

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean radius: the same sphere for the route and for distance_m


@dataclass(frozen=True)
class Gait:
    speed_range_mps: tuple[float, float]
    step_length_m: float
    sport: str  # ActivityData.sport for this kind


GAITS: dict[str, Gait] = {
    "walk": Gait((1.2, 1.5), 0.7, "walking"),
    "run": Gait((2.6, 3.6), 1.1, "running"),
}

# Independent random streams per component, so changing one model leaves the others' draws alone.
_SPEED, _SHAPE, _TERRAIN, _GPS = range(4)


@dataclass(frozen=True, eq=False)
class RouteArrays:
    """One GPS track at 1 Hz. GPS-reported columns are NaN where the phone had no fix (`has_fix`)."""

    kind: str  # "walk" | "run"
    shape: str  # "loop" | "out_and_back"
    start_ticks: int
    ticks: np.ndarray  # int64 HexoTimestamps, one per second
    speed_mps: np.ndarray  # true speed, every second (drives cadence; GPS speed too)
    distance_m: np.ndarray  # cumulative true distance along the route, 0 at the start
    has_fix: np.ndarray  # bool
    lat_deg: np.ndarray  # reported (true + smooth GPS error), NaN without fix
    lon_deg: np.ndarray
    altitude_m: np.ndarray
    course_deg: np.ndarray  # 0 = north, clockwise
    horizontal_accuracy_m: np.ndarray
    step_length_m: float

    @property
    def n(self) -> int:
        return int(self.ticks.size)

    @property
    def elapsed_s(self) -> np.ndarray:
        return (self.ticks - self.start_ticks) / TICKS_PER_SECOND

    @property
    def time_utc(self) -> np.ndarray:
        """datetime64[us] (UTC, naive numpy); a tick is 3906.25 us, so sub-us parts are floored."""
        return ((self.ticks * 15625) // 4).astype("datetime64[us]")

    @property
    def cadence_spm(self) -> np.ndarray:
        """Steps per minute (both feet) implied by the speed: speed * 60 / step length."""
        return self.speed_mps * 60.0 / self.step_length_m


def _rng(seed: int, component: int) -> np.random.Generator:
    return np.random.Generator(np.random.Philox(np.random.SeedSequence([seed, component])))


def _smooth_noise(
    rng: np.random.Generator, t: np.ndarray, periods_s: tuple[float, float], rms: float, n_terms: int = 6
) -> np.ndarray:
    """Band-limited noise as a sum of random sinusoids: smooth, vectorised, and unit-free to evaluate."""
    periods = rng.uniform(*periods_s, n_terms)
    phases = rng.uniform(0.0, 2 * np.pi, n_terms)
    amps = rng.uniform(0.5, 1.0, n_terms)
    x = amps @ np.sin(2 * np.pi * t[None, :] / periods[:, None] + phases[:, None])
    return x * (rms / math.sqrt(0.5 * float(amps @ amps)))


def _loop_polyline(rng: np.random.Generator, perimeter_m: float) -> tuple[np.ndarray, np.ndarray]:
    """A convex, gently wobbling closed curve through (0, 0) with the given perimeter."""
    phi = np.linspace(0.0, 2 * np.pi, 4097)
    k = np.arange(2, 5)
    # a_k <= 0.08/k keeps sum(k^2 a_k) < 1: curvature never changes sign, so no kinks or loops-in-loops.
    a = rng.uniform(0.02, 0.08, k.size) / k
    r = 1.0 + (a[:, None] * np.cos(k[:, None] * phi + rng.uniform(0, 2 * np.pi, k.size)[:, None])).sum(0)
    rot = rng.uniform(0, 2 * np.pi)
    sense = rng.choice([-1.0, 1.0])  # clockwise or anticlockwise
    x, y = r * np.sin(sense * phi + rot), r * np.cos(sense * phi + rot)
    x, y = x - x[0], y - y[0]
    arc = np.concatenate(([0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))))
    scale = perimeter_m / arc[-1]
    return np.stack([x * scale, y * scale]), arc * scale


def _open_polyline(rng: np.random.Generator, length_m: float) -> tuple[np.ndarray, np.ndarray]:
    """An open path from (0, 0) whose heading meanders gently (turn radius never below ~40 m)."""
    arc = np.linspace(0.0, length_m, max(1025, int(length_m) + 1))
    wavelengths = rng.uniform(300.0, 1500.0, 3)
    heading = rng.uniform(0, 2 * np.pi) + (
        rng.uniform(0.15, 0.4, 3)[:, None]
        * np.sin(2 * np.pi * arc[None, :] / wavelengths[:, None] + rng.uniform(0, 2 * np.pi, 3)[:, None])
    ).sum(0)
    ds = np.diff(arc)
    mid = 0.5 * (heading[1:] + heading[:-1])
    x = np.concatenate(([0.0], np.cumsum(np.sin(mid) * ds)))
    y = np.concatenate(([0.0], np.cumsum(np.cos(mid) * ds)))
    return np.stack([x, y]), arc


def _nearest_distance(mask: np.ndarray) -> np.ndarray:
    """For every index, how many samples away the nearest True of `mask` is (inf if none)."""
    where = np.flatnonzero(mask)
    i = np.arange(mask.size)
    if where.size == 0:
        return np.full(mask.size, np.inf)
    pos = np.searchsorted(where, i)
    left = where[np.clip(pos - 1, 0, where.size - 1)]
    right = where[np.clip(pos, 0, where.size - 1)]
    return np.minimum(np.abs(i - left), np.abs(right - i)).astype(float)


def synth_route(
    seed: int, start_ticks: int, duration_s: float, kind: str, origin: tuple[float, float] = (45.5017, -73.5673)
) -> RouteArrays:
    """A deterministic 1 Hz GPS track for a walk or a run starting at `origin` (lat, lon).

    Speed wanders smoothly inside the gait's range; the path is a convex loop (several rounds when long)
    or an out-and-back on a meandering path; altitude follows a smooth terrain (a few metres of relief).
    The phone needs a few seconds for its first fix and drops out now and then for 3-20 s; reported
    positions carry a smooth error of ~1 m rms and an accuracy estimate that worsens around dropouts.
    """
    if kind not in GAITS:
        raise ValueError(f"kind must be one of {sorted(GAITS)}, not {kind!r}")
    n = int(duration_s)
    if n < 2:
        raise ValueError("duration_s must cover at least 2 s")
    gait = GAITS[kind]
    t = np.arange(n, dtype=np.float64)

    # Speed: tanh squashes the wander so it stays strictly inside the gait's range.
    lo, hi = gait.speed_range_mps
    rng = _rng(seed, _SPEED)
    mid = rng.uniform(lo + 0.4 * (hi - lo), hi - 0.4 * (hi - lo))
    speed = mid + 0.95 * min(mid - lo, hi - mid) * np.tanh(_smooth_noise(rng, t, (60.0, 900.0), 0.8))
    s = np.concatenate(([0.0], np.cumsum(0.5 * (speed[1:] + speed[:-1]))))  # trapezoid: distance(t)
    total = float(s[-1])

    rng = _rng(seed, _SHAPE)
    if rng.random() < 0.6:
        shape = "loop"
        rounds = max(1, math.ceil(total / 5000.0))
        perimeter = max(total / rounds, 400.0)  # at least a running track
        xy, arc = _loop_polyline(rng, perimeter)
        along = np.mod(s, perimeter)
    else:
        shape = "out_and_back"
        half = max(total / 2.0, 1.0)
        xy, arc = _open_polyline(rng, half)
        along = np.where(s <= half, s, 2.0 * half - s)
    x, y = np.interp(along, arc, xy[0]), np.interp(along, arc, xy[1])
    course = np.mod(np.degrees(np.arctan2(np.gradient(x), np.gradient(y))), 360.0)

    # Terrain as a function of position, so a loop's rounds and an out-and-back's legs agree.
    rng = _rng(seed, _TERRAIN)
    wavelength = rng.uniform(400.0, 2500.0, 3)
    direction = rng.uniform(0, 2 * np.pi, 3)
    kx, ky = 2 * np.pi / wavelength * np.sin(direction), 2 * np.pi / wavelength * np.cos(direction)
    altitude = rng.uniform(25.0, 60.0) + (
        rng.uniform(1.0, 3.0, 3)[:, None]
        * np.sin(kx[:, None] * x + ky[:, None] * y + rng.uniform(0, 2 * np.pi, 3)[:, None])
    ).sum(0)

    # GPS: time to first fix, short dropouts, smooth (not white) error: white noise at 1 Hz would inflate
    # the haversine distance far beyond what phones show.
    rng = _rng(seed, _GPS)
    no_fix_marks = np.zeros(n + 1, dtype=np.int64)
    no_fix_marks[0] += 1
    no_fix_marks[min(int(rng.integers(1, 6)), n // 4)] -= 1
    n_gaps = int(rng.poisson(n / 1200.0)) + (1 if n >= 600 else 0)
    if n > 80 and n_gaps:
        starts = rng.integers(30, n - 30, n_gaps)
        no_fix_marks[starts] += 1
        no_fix_marks[np.minimum(starts + rng.integers(3, 21, n_gaps), n)] -= 1
    has_fix = np.cumsum(no_fix_marks[:n]) == 0
    err_x, err_y = (_smooth_noise(rng, t, (60.0, 400.0), 1.0) for _ in range(2))
    err_z = _smooth_noise(rng, t, (60.0, 400.0), 1.5)
    accuracy = (
        rng.uniform(3.0, 5.0)
        + _smooth_noise(rng, t, (20.0, 120.0), 0.6)
        + 8.0 * np.exp(-_nearest_distance(~has_fix) / 4.0)
    )
    accuracy = np.round(np.maximum(accuracy, 2.0), 1)

    lat0, lon0 = origin
    lat = lat0 + np.degrees((y + err_y) / EARTH_RADIUS_M)
    lon = lon0 + np.degrees((x + err_x) / (EARTH_RADIUS_M * math.cos(math.radians(lat0))))

    def reported(values: np.ndarray) -> np.ndarray:
        return np.where(has_fix, values, np.nan)

    return RouteArrays(
        kind=kind,
        shape=shape,
        start_ticks=int(start_ticks),
        ticks=int(start_ticks) + TICKS_PER_SECOND * np.arange(n, dtype=np.int64),
        speed_mps=speed,
        distance_m=s,
        has_fix=has_fix,
        lat_deg=reported(lat),
        lon_deg=reported(lon),
        altitude_m=reported(altitude + err_z),
        course_deg=reported(course),
        horizontal_accuracy_m=reported(accuracy),
        step_length_m=gait.step_length_m,
    )


def distance_m(lat: np.ndarray, lon: np.ndarray) -> float:
    """Haversine length (m) of the polyline through the points; points without a position are skipped."""
    lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
    ok = np.isfinite(lat) & np.isfinite(lon)
    return float(segment_lengths(lat[ok], lon[ok]).sum())


def segment_lengths(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    phi, lam = np.radians(lat), np.radians(lon)
    h = np.sin(np.diff(phi) / 2) ** 2 + np.cos(phi[:-1]) * np.cos(phi[1:]) * np.sin(np.diff(lam) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
