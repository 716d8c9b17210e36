"""Synthetic, physiologically consistent Hexoskin/Astroskin signals for the sandbox server.

One `RecordSignals` per record. Everything derives from a few whole-record series on a 4 Hz control grid
(heart rate, breathing, cadence, posture) and from per-record event series (true heart beats, breaths,
steps), so every channel agrees with every other:

- Beats follow an integral pulse frequency modulation model: instantaneous heart rate = segment level
  (sleep lowest, run highest, exponential on/off kinetics) x (1 + respiratory sinus arrhythmia locked to
  the breathing phase + ~0.1 Hz Mayer waves + 1/f drift). Beats sit on whole ticks (1/256 s), so the ECG
  R peak of a beat is exactly the ECG sample whose index equals the beat's tick offset.
- The detector's view of the beats (RR_interval 18, RR_interval_quality 1004, heart_rate 19 and
  heart_rate_quality 1000) is the true beats outside artifacts, plus missed and spurious detections inside.
- Breathing phase drives the respiration bands, breathing rate, tidal volume, minute ventilation and the
  inspiration/expiration events. Step phase drives the accelerometer, steps and cadence.

Determinism: whole-record series come from one Philox stream per component, keyed by (seed, component).
Per-sample noise comes from a Philox stream per (seed, channel) whose counter is set to the number of the
block of 2**15 samples, so any window regenerates byte-identically without generating the rest of the record.

Units and codes (hexoskin_api_notes.md §4): all values are RAW, as in binary downloads.
- heart_rate_quality (1000): 2 DISCONNECTED, 8 SATURATED, 16 ARTIFACTS for seconds overlapping an artifact
  of that kind; 32 UNRELIABLE_RR when fewer than 16 RR intervals are known yet or any of the 16 RR
  intervals averaged into that heart-rate sample is unreliable. 0 = clean.
- RR_interval_quality (1004): 0 = reliable, 128 = unreliable (the value seen in a real export). An RR is
  unreliable when its span [previous beat, beat] touches an artifact; the record's first RR (value 0,
  like the vendor) is unreliable too.
- breathing_rate_quality (1001): 16|32 (NOISY_A|NOISY_B) for seconds overlapping a motion artifact;
  4|8 (BASELINE_A|B) before the first complete breath (value 10 rpm then, the vendor's initial value).
- SPO2_quality (1002) and systolic_pressure_quality (1005): 16 in seconds overlapping a motion artifact.
  temperature_quality (1003): always 0 (no documented bits).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from hexo_pipeline.hexoskin import datatypes as dtc

__all__ = [
    "KINDS",
    "ARTIFACT_KINDS",
    "RR_RELIABLE",
    "RR_UNRELIABLE",
    "HR_DISCONNECTED",
    "HR_SATURATED",
    "HR_ARTIFACTS",
    "HR_UNRELIABLE_RR",
    "BR_BASELINE",
    "BR_NOISY",
    "SPO2_ARTIFACTS",
    "SBP_ARTIFACTS",
    "Segment",
    "RecordSpec",
    "Artifact",
    "RecordSignals",
    "sample_offsets_ticks",
    "sample_index_range",
]

TICKS = 256  # HexoTimestamp ticks per second (api.hexoskin.com)
GRID_HZ = 4  # control grid for slow series and phases
PAD_S = 8  # the grid (and the heart, lungs) start this long before the record and run past its end
BLOCK_BITS = 15  # per-sample noise is drawn per block of 2**15 samples (128 s of ECG, 512 s at 64 Hz)
CHUNK_S = 600  # internal processing chunk: bounds temporaries when a long window is requested
GROUP_CACHE_SAMPLES = 1 << 20  # keep the last computed multi-lead window if at most this many samples

KINDS: tuple[str, ...] = ("sleep", "rest", "sedentary", "light", "walk", "run")
SLEEP, REST, SEDENTARY, LIGHT, WALK, RUN = range(6)
ARTIFACT_KINDS: tuple[str, ...] = ("motion", "saturation", "disconnected")
MOTION, SATURATION, DISCONNECTED = range(3)

RR_RELIABLE = 0
RR_UNRELIABLE = 128
HR_DISCONNECTED, HR_SATURATED, HR_ARTIFACTS, HR_UNRELIABLE_RR = 2, 8, 16, 32
_HR_BIT_BY_ARTIFACT = (HR_ARTIFACTS, HR_SATURATED, HR_DISCONNECTED)
BR_BASELINE = 4 | 8
BR_NOISY = 16 | 32
SPO2_ARTIFACTS = 16
SBP_ARTIFACTS = 16

ECG_IDS = (4113, 4114, 4115)
RESP_IDS = (4129, 4130)
ACC_IDS = (4145, 4146, 4147)

ECG_BASELINE = 1360.0  # the catalog's ADC offset
ECG_MAX = 4095  # 12-bit ADC
RESP_COUNTS_PER_ML = 0.125  # "~8 mL resolution" per count (notes §4)
TV_SCALE_ML = 13.28  # tidal volume / minute ventilation raw unit
SHAPE_BITS = 10
SHAPE_N = 1 << SHAPE_BITS  # breath waveform lookup resolution per breath
INSPIRATION_FRACTION = 0.4  # I:E = 1:1.5

# Sleep positions (270): 1 belly, 2 back, 3 right, 4 left, 5 standing (catalog order).
BELLY, BACK, RIGHT, LEFT, STANDING = 1, 2, 3, 4, 5
_SITTING, _RECLINED = 6, 7  # internal postures only (never emitted)
# Gravity as a resting accelerometer reports it, device frame: X medio-lateral, Y antero-posterior,
# Z head-foot (upright reads about -1 g on Z; the sitting vector is close to a real export's).
_GRAVITY = {
    BELLY: (0.0, 0.98, 0.2),
    BACK: (0.0, -0.98, 0.2),
    RIGHT: (0.98, 0.0, 0.2),
    LEFT: (-0.98, 0.0, 0.2),
    STANDING: (0.05, 0.12, -0.99),
    _SITTING: (0.31, 0.42, -0.85),
    _RECLINED: (0.1, -0.7, -0.7),
}

# Per-kind levels, index = kind code (sleep, rest, sedentary, light, walk, run).
_BR_RPM = np.array([13.0, 14.0, 15.0, 18.0, 22.0, 32.0])
_TV_ML = np.array([460.0, 500.0, 530.0, 700.0, 1000.0, 1700.0])
_RSA = np.array([0.055, 0.05, 0.035, 0.018, 0.009, 0.004])  # HR fraction
_MAYER = np.array([0.018, 0.022, 0.02, 0.014, 0.008, 0.004])
_VLF = np.array([0.03, 0.03, 0.035, 0.04, 0.03, 0.02])
_MOVE_G = np.array([0.002, 0.004, 0.015, 0.06, 0.03, 0.06])  # non-step movement
_STEP_G = np.array([0.0, 0.0, 0.0, 0.18, 0.28, 0.9])  # vertical step oscillation amplitude
_SPO2 = np.array([95.8, 97.2, 97.4, 97.3, 97.2, 96.6])
_SKIN_C = np.array([34.2, 33.5, 33.2, 32.9, 32.6, 32.0])
_SBP = np.array([106.0, 116.0, 121.0, 128.0, 136.0, 162.0])


@dataclass(frozen=True)
class Segment:
    """What the subject is doing over [start_s, end_s), seconds from record start."""

    start_s: float
    end_s: float
    kind: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown segment kind {self.kind!r}; expected one of {KINDS}")
        if not self.end_s > self.start_s:
            raise ValueError(f"empty segment {self!r}")


@dataclass(frozen=True)
class RecordSpec:
    record_id: int
    seed: int  # deterministic seed for this record
    start_ticks: int  # HexoTimestamp of record start (not needed by the physiology: all is relative)
    duration_s: float
    astroskin: bool
    segments: tuple[Segment, ...]  # gaps are "sedentary"; on overlap the later-starting segment wins
    artifact_fraction: float = 0.02
    resting_hr: float = 62.0
    age: float = 35.0  # sets the maximal heart rate (Tanaka: 208 - 0.7 age) and HRV amplitude
    fitness: float = 0.5  # 0 (unfit) .. 1 (athlete): lower exercise HR, more HRV, longer stride


@dataclass(frozen=True)
class Artifact:
    """An injected artifact over [start_s, end_s) from record start; kind in ARTIFACT_KINDS."""

    start_s: float
    end_s: float
    kind: str


def sample_offsets_ticks(datatype_id: int, start: int, stop: int) -> np.ndarray:
    """Offsets from record start, in ticks, of samples [start, stop) of a synchronous channel.

    Sample k of a raw channel (> 1 Hz) sits at k/fs, of a 1 Hz or slower channel at (k+1)/fs (notes §2).
    """
    d = dtc.get(datatype_id)
    if d.rate_hz is None:
        raise ValueError(f"datatype {datatype_id} is asynchronous")
    period = d.hexo_freq
    k = np.arange(start, stop, dtype=np.int64)
    return (k + 1) * period if d.first_sample_at_period else k * period


def sample_index_range(
    datatype_id: int, start_offset_ticks: int, stop_offset_ticks: int, n_samples: int
) -> tuple[int, int]:
    """Sample indices [i0, i1) whose offsets fall in [start_offset_ticks, stop_offset_ticks), clipped."""
    d = dtc.get(datatype_id)
    if d.rate_hz is None:
        raise ValueError(f"datatype {datatype_id} is asynchronous")
    period = d.hexo_freq
    shift = 1 if d.first_sample_at_period else 0
    i0 = -(-int(start_offset_ticks) // period) - shift
    i1 = -(-int(stop_offset_ticks) // period) - shift
    i0, i1 = min(max(i0, 0), n_samples), min(max(i1, 0), n_samples)
    return i0, max(i0, i1)


# ----------------------------------------------------------------------------------------------- helpers


def _crossings(phase: np.ndarray, offset: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Where a non-decreasing grid phase crosses n + offset: (n, fractional grid position).

    At most one crossing per grid step (all our rates stay below GRID_HZ cycles/s).
    """
    c = np.floor(phase - offset)
    j = np.flatnonzero(c[1:] > c[:-1])
    n = c[j + 1]
    frac = (n + offset - phase[j]) / (phase[j + 1] - phase[j])
    return n.astype(np.int64), j + frac


def _colored_noise(rng: np.random.Generator, n: int, kind: str, f0: float = 0.1) -> np.ndarray:
    """Unit-variance noise on the grid: "pink" (1/f, 0.002-0.05 Hz) or "mayer" (narrow band around f0).

    Synthesised in the frequency domain at a low rate (the bands are slow) and interpolated to the grid.
    """
    rate = 0.5 if kind == "pink" else 1.0
    n_low = int(n / GRID_HZ * rate) + 3
    m = 1 << max(4, int(math.ceil(math.log2(n_low))))
    f = np.fft.rfftfreq(m, d=1 / rate)
    spec = rng.standard_normal(f.size) + 1j * rng.standard_normal(f.size)
    if kind == "pink":
        gain = np.where((f > 0.002) & (f < 0.05), 1 / np.sqrt(np.maximum(f, 1e-9)), 0.0)
    else:
        gain = np.exp(-0.5 * ((f - f0) / 0.012) ** 2)
    low = np.fft.irfft(spec * gain, m)[:n_low]
    x = np.interp(np.arange(n) * (rate / GRID_HZ), np.arange(n_low), low)
    sd = x.std()
    return x / sd if sd > 0 else x


def _lead_iii(lead_i: np.ndarray, lead_ii: np.ndarray) -> np.ndarray:
    """Lead III as the Astroskin stores it: I - II, centred on 0 (a real export's users negate it)."""
    return lead_i - lead_ii


def _box(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average (same length) with edge values held."""
    if width <= 1:
        return x
    pad = np.concatenate([np.full(width, x[0]), x, np.full(width, x[-1])])
    y = np.convolve(pad, np.ones(width) / width, mode="same")
    return y[width:-width]


# ----------------------------------------------------------------------------------------------- record


class RecordSignals:
    """Deterministic synthetic signals of one record. Cheap to build; series are computed lazily."""

    def __init__(self, spec: RecordSpec) -> None:
        if spec.duration_s <= 0:
            raise ValueError("duration_s must be positive")
        self.spec = spec
        self.duration_s = float(spec.duration_s)
        self._n_grid = int(math.ceil((self.duration_s + 2 * PAD_S) * GRID_HZ)) + 2
        self._seed = int(spec.seed) % (1 << 64)
        self._keys: dict[int, int] = {}
        self._group_cache: dict[str, tuple[int, int, dict[int, np.ndarray]]] = {}
        self._ids = tuple(dtc.HEXOSKIN_IDS) + (tuple(dtc.ASTROSKIN_EXTRA_IDS) if spec.astroskin else ())

    # ---- public API

    def datatype_ids(self) -> tuple[int, ...]:
        return self._ids

    def n_samples(self, datatype_id: int) -> int:
        d = self._datatype(datatype_id)
        if d.rate_hz is None:
            raise ValueError(f"datatype {datatype_id} ({d.name}) is asynchronous: use events_raw")
        if d.first_sample_at_period:
            return int(math.floor(self.duration_s * d.rate_hz + 1e-9))
        return int(math.ceil(self.duration_s * d.rate_hz - 1e-9))

    def sync_raw(self, datatype_id: int, start: int, stop: int) -> np.ndarray:
        """Raw int64 samples [start, stop) (clipped to the record) of a synchronous channel."""
        dt = int(datatype_id)
        n = self.n_samples(dt)
        start, stop = max(0, int(start)), min(n, int(stop))
        if stop <= start:
            return np.zeros(0, dtype=np.int64)
        if dt in ECG_IDS:
            return self._group("ecg", dt, start, stop)
        if dt in RESP_IDS:
            return self._group("resp", dt, start, stop)
        if dt in ACC_IDS:
            return self._group("acc", dt, start, stop)
        if dt == 64:
            return self._chunked(self._ppg_chunk, start, stop, 64.0)
        if dt == 49:
            return self._activity(start, stop)
        if dt == 53:
            return self._cadence[start:stop].astype(np.int64)
        return self._vitals[dt][start:stop].astype(np.int64)  # kept as int32, served as int64

    def sync_raw_group(self, datatype_ids, start: int, stop: int) -> dict[int, np.ndarray]:
        """Channels of one group (ECG leads, respiration bands or accelerometer axes) over the same
        samples [start, stop), computed together: they share most of the work (the breathing waveform of
        both bands, the stride of the three axes, leads I and II behind lead III). Same values as
        `sync_raw` channel by channel; int16/int32 arrays, meant for windows of a few minutes."""
        ids = tuple(int(d) for d in datatype_ids)
        for _name, members, fn in (
            ("ecg", ECG_IDS, self._ecg_chunk),
            ("resp", RESP_IDS, self._resp_chunk),
            ("acc", ACC_IDS, self._acc_chunk),
        ):
            if set(ids) <= set(members):
                n = self.n_samples(ids[0])
                start, stop = max(0, int(start)), min(n, int(stop))
                if stop <= start:
                    return {d: np.zeros(0, dtype=np.int64) for d in ids}
                for d in ids:
                    self._datatype(d)  # raises for a channel this device does not record
                out = fn(start, stop, ids)
                return {d: out[d] for d in ids}
        raise ValueError(f"datatypes {ids} are not one group of ECG leads, respiration bands or axes")

    def events_raw(self, datatype_id: int, t0_s: float, t1_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Asynchronous channel events with t0_s <= t < t1_s: (offset ticks uint64, raw values int64)."""
        d = self._datatype(datatype_id)
        if d.rate_hz is not None:
            raise ValueError(f"datatype {datatype_id} ({d.name}) is synchronous: use sync_raw")
        ticks, values = self._events[int(datatype_id)]
        lo = np.searchsorted(ticks, t0_s * TICKS, side="left")
        hi = np.searchsorted(ticks, t1_s * TICKS, side="left")
        return ticks[lo:hi].astype(np.uint64), values[lo:hi].astype(np.int64)

    @property
    def artifacts(self) -> tuple[Artifact, ...]:
        s, e, k = self._artifact_arrays
        return tuple(Artifact(float(a), float(b), ARTIFACT_KINDS[int(c)]) for a, b, c in zip(s, e, k))

    def truth(self, t0_s: float, t1_s: float) -> dict:
        """Ground truth over [t0_s, t1_s) from record start, from the channels themselves.

        A 1 Hz sample belongs to the window when its timestamp ((k+1) s) does; an event when its time does.
        hr_*: heart_rate samples with heart_rate_quality == 0. rr_clean_n, rmssd_ms, sdnn_ms (ddof=1):
        RR intervals with RR_interval_quality == 0 (RMSSD over successive pairs of clean RR). br_mean_rpm:
        breathing_rate samples with breathing_rate_quality == 0. steps: step events. sleep_s: overlap with
        "sleep" segments. activity_mean_g: mean of the activity channel. NaN when nothing qualifies.
        """
        a, b = max(0.0, float(t0_s)), min(self.duration_s, float(t1_s))
        out: dict = {"worn_s": max(0.0, b - a)}
        n1 = self.n_samples(19)
        k0 = min(n1, max(0, int(math.ceil(a)) - 1))
        k1 = min(n1, max(k0, int(math.ceil(b)) - 1))
        hr, hq = self._vitals[19][k0:k1], self._vitals[1000][k0:k1]
        clean_hr = hr[hq == 0].astype(np.float64)
        nan = float("nan")
        out["hr_mean_bpm"] = float(clean_hr.mean()) if clean_hr.size else nan
        out["hr_min_bpm"] = float(clean_hr.min()) if clean_hr.size else nan
        out["hr_max_bpm"] = float(clean_hr.max()) if clean_hr.size else nan
        _, rr = self.events_raw(18, a, b)
        _, rq = self.events_raw(1004, a, b)
        ok = rq == RR_RELIABLE
        rr_ms = rr.astype(np.float64) * (1000.0 / TICKS)
        out["rr_clean_n"] = int(ok.sum())
        pair = ok[1:] & ok[:-1]
        diffs = np.diff(rr_ms)[pair]
        out["rmssd_ms"] = float(np.sqrt(np.mean(diffs**2))) if diffs.size else nan
        out["sdnn_ms"] = float(rr_ms[ok].std(ddof=1)) if ok.sum() > 1 else nan
        br, bq = self._vitals[33][k0:k1], self._vitals[1001][k0:k1]
        clean_br = br[bq == 0]
        out["br_mean_rpm"] = float(clean_br.mean()) if clean_br.size else nan
        out["steps"] = int(self.events_raw(52, a, b)[0].size)
        ps, pe, pk = self._pieces
        sl = pk == SLEEP
        out["sleep_s"] = float(np.clip(np.minimum(pe[sl], b) - np.maximum(ps[sl], a), 0, None).sum())
        act = self._activity(k0, k1) if k1 > k0 else np.zeros(0)
        out["activity_mean_g"] = float(act.mean() / 256) if act.size else nan
        return out

    # ---- plumbing

    def _datatype(self, datatype_id: int) -> dtc.Datatype:
        if int(datatype_id) not in self._ids:
            raise KeyError(
                f"datatype {datatype_id} is not recorded by this "
                f"{'Astroskin' if self.spec.astroskin else 'Hexoskin'} record"
            )
        return dtc.get(datatype_id)

    def _key(self, stream: int) -> int:
        key = self._keys.get(stream)
        if key is None:
            words = np.random.SeedSequence([self._seed, stream]).generate_state(2, np.uint64)
            key = int(words[0]) | (int(words[1]) << 64)
            self._keys[stream] = key
        return key

    def _rng(self, stream: int) -> np.random.Generator:
        """The generator of one whole-record component (beats, breaths, ...), independent of the others."""
        return np.random.Generator(np.random.Philox(key=self._key(stream)))

    def _noise(self, stream: int, start: int, stop: int) -> np.ndarray:
        """~unit-variance float32 noise for samples [start, stop), drawn per block of 2**BLOCK_BITS samples."""
        b0, b1 = start >> BLOCK_BITS, (stop - 1) >> BLOCK_BITS
        key = self._key(stream)
        # Philox is counter based: block b starts at counter b << 128, far from any other block's draws.
        words = np.concatenate(
            [np.random.Philox(key=key, counter=b << 128).random_raw(1 << (BLOCK_BITS - 3)) for b in range(b0, b1 + 1)]
        )
        u = words.astype("<u8", copy=False).view(np.uint8)[start - (b0 << BLOCK_BITS) : stop - (b0 << BLOCK_BITS)]
        # One random byte per sample: the sum of its two nibbles is triangular on 0..30 (sd 4.47).
        x = (u & 15).astype(np.float32)
        x += u >> 4
        x -= 15.0
        x *= np.float32(1 / 4.472)
        return x

    def _grid_index(self, t_s: np.ndarray | float):
        return (np.asarray(t_s) + PAD_S) * GRID_HZ

    def _grid_at(self, grid: np.ndarray, t_s: np.ndarray) -> np.ndarray:
        return np.interp(self._grid_index(t_s), np.arange(grid.size), grid)

    def _upsample(self, grid: np.ndarray, fs: float, start: int, stop: int) -> np.ndarray:
        """Linear interpolation of a grid series at samples [start, stop) of rate fs (k/fs from start)."""
        f = int(fs // GRID_HZ)
        s, e = start + PAD_S * int(fs), stop + PAD_S * int(fs)
        i0, i1 = s // f, (e - 1) // f + 1
        g0 = grid[i0:i1]
        w = np.arange(f, dtype=grid.dtype) / grid.dtype.type(f)
        out = (g0[:, None] + (grid[i0 + 1 : i1 + 1] - g0)[:, None] * w).ravel()
        return out[s - i0 * f : e - i0 * f]

    def _hold(self, grid: np.ndarray, fs: float, start: int, stop: int) -> np.ndarray:
        """Sample-and-hold of a slowly varying grid series (cheaper than interpolating)."""
        f = int(fs // GRID_HZ)
        s, e = start + PAD_S * int(fs), stop + PAD_S * int(fs)
        i0, i1 = s // f, (e - 1) // f + 1
        return np.repeat(grid[i0:i1], f)[s - i0 * f : e - i0 * f]

    def _chunked(self, fn, start: int, stop: int, fs: float) -> np.ndarray:
        out = np.empty(stop - start, dtype=np.int64)
        step = int(CHUNK_S * fs)
        for a in range(start, stop, step):
            b = min(stop, a + step)
            out[a - start : b - start] = fn(a, b)
        return out

    def _group(self, name: str, datatype_id: int, start: int, stop: int) -> np.ndarray:
        """A channel of a group (ECG leads, respiration bands, accelerometer axes) for [start, stop).

        Only the channel asked is computed (lead III, stored as I - II, needs leads I and II). For small
        windows the channels computed are kept, so asking lead III after I and II (or I and II after III)
        for the same window costs nothing more.
        """
        fn, fs = {"ecg": (self._ecg_chunk, 256.0), "resp": (self._resp_chunk, 128.0), "acc": (self._acc_chunk, 64.0)}[
            name
        ]
        small = stop - start <= GROUP_CACHE_SAMPLES
        hit = self._group_cache.get(name) if small else None
        kept = hit[2] if hit is not None and hit[0] == start and hit[1] == stop else {}
        if datatype_id not in kept and datatype_id == 4115 and 4113 in kept and 4114 in kept:
            kept[4115] = _lead_iii(kept[4113], kept[4114])
        if datatype_id in kept:
            return kept[datatype_id].astype(np.int64)
        if small:
            computed = fn(start, stop, (datatype_id,))
            self._group_cache[name] = (start, stop, {**kept, **computed})
            return computed[datatype_id].astype(np.int64)
        out = np.empty(stop - start, dtype=np.int64)
        step = int(CHUNK_S * fs)
        for a in range(start, stop, step):
            b = min(stop, a + step)
            out[a - start : b - start] = fn(a, b, (datatype_id,))[datatype_id]
        return out

    # ---- whole-record series

    @cached_property
    def _pieces(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Activity pieces covering the whole grid (from -PAD_S to past the end): starts, ends, kind codes.

        Before the record the first kind continues, after it the last one.
        """
        lo, hi = -float(PAD_S), self._n_grid / GRID_HZ - PAD_S + 1.0  # the pieces cover the whole grid
        paint: list[tuple[float, float, int]] = []
        for seg in sorted(self.spec.segments, key=lambda s: s.start_s):
            a, b = max(0.0, seg.start_s), min(self.duration_s, seg.end_s)
            if b > a:
                paint.append((a, b, KINDS.index(seg.kind)))
        bounds = sorted({0.0, self.duration_s, *(p[0] for p in paint), *(p[1] for p in paint)})
        starts, ends, kinds = [], [], []
        for a, b in zip(bounds[:-1], bounds[1:]):
            mid = 0.5 * (a + b)
            kind = SEDENTARY
            for pa, pb, pk in paint:  # later-starting segments win
                if pa <= mid < pb:
                    kind = pk
            if kinds and kinds[-1] == kind:
                ends[-1] = b
            else:
                starts.append(a), ends.append(b), kinds.append(kind)
        starts[0], ends[-1] = lo, hi
        return np.array(starts), np.array(ends), np.array(kinds, dtype=np.int64)

    @cached_property
    def _grid_t(self) -> np.ndarray:
        return np.arange(self._n_grid) / GRID_HZ - PAD_S

    @cached_property
    def _kind_grid(self) -> np.ndarray:
        starts, _, kinds = self._pieces
        idx = np.searchsorted(starts, self._grid_t, side="right") - 1
        return kinds[np.clip(idx, 0, kinds.size - 1)].astype(np.int8)

    def _level(self, by_kind: np.ndarray, tau_up: float, tau_down: float) -> np.ndarray:
        """Per-kind level with first-order on/off kinetics (exact for a piecewise-constant target)."""
        t = self._grid_t
        starts, ends, kinds = self._pieces
        y = np.empty(t.size)
        prev = float(by_kind[kinds[0]])
        for a, b, k in zip(starts, ends, kinds):
            target = float(by_kind[k])
            tau = tau_up if target > prev else tau_down
            j0, j1 = np.searchsorted(t, [a, b], side="left")
            y[j0:j1] = target + (prev - target) * np.exp(-(t[j0:j1] - a) / tau)
            prev = target + (prev - target) * math.exp(-(b - a) / tau)
        return y

    @cached_property
    def _hr_by_kind(self) -> np.ndarray:
        spec = self.spec
        hr_max = 208.0 - 0.7 * spec.age
        reserve = max(20.0, hr_max - spec.resting_hr)
        f = min(max(spec.fitness, 0.0), 1.0)
        return np.array(
            [
                spec.resting_hr - 7.0,
                spec.resting_hr,
                spec.resting_hr + 8.0,
                spec.resting_hr + 0.25 * reserve,
                spec.resting_hr + (0.38 - 0.06 * f) * reserve,
                spec.resting_hr + (0.78 - 0.1 * f) * reserve,
            ]
        )

    @cached_property
    def _breath(self) -> dict:
        rng = self._rng(1)
        n = self._n_grid
        br = self._level(_BR_RPM, 20.0, 40.0) * (1 + 0.07 * _colored_noise(rng, n, "pink"))
        phase = rng.random() + np.concatenate([[0.0], np.cumsum(br[:-1] / 60.0 / GRID_HZ)])
        tv_level = self._level(_TV_ML, 20.0, 40.0)
        n_breaths = int(phase[-1]) + 2
        tv = tv_level[np.clip(np.searchsorted(phase, np.arange(n_breaths)), 0, n - 1)]
        tv = np.maximum(120.0, tv * (1 + 0.12 * rng.standard_normal(n_breaths))).astype(np.float32)
        bn, bj = _crossings(phase)  # inspiration onsets: breath bn starts at grid position bj
        en, ej = _crossings(phase, INSPIRATION_FRACTION)  # expiration onsets
        shape_p = (np.arange(SHAPE_N) + 0.5) / SHAPE_N
        ins = shape_p < INSPIRATION_FRACTION
        shape = np.where(
            ins,
            0.5 * (1 - np.cos(np.pi * shape_p / INSPIRATION_FRACTION)),
            0.5 * (1 + np.cos(np.pi * (shape_p - INSPIRATION_FRACTION) / (1 - INSPIRATION_FRACTION))),
        )
        return {
            "phase_q": phase * SHAPE_N,
            "tv": tv,
            "onset_n": bn,
            "onset_t": bj / GRID_HZ - PAD_S,
            "exp_n": en,
            "exp_t": ej / GRID_HZ - PAD_S,
            "shape": shape.astype(np.float32),
        }

    def _breath_phase(self) -> np.ndarray:
        """Breathing phase on the grid (cycles; breath n spans [n, n+1), inspiration its first 40 %)."""
        return self._breath["phase_q"] / SHAPE_N

    @cached_property
    def _posture(self) -> dict:
        """Posture code per grid point, sleep-position events, gravity (3 axes) and thoracic share."""
        rng = self._rng(2)
        kind = self._kind_grid
        code = np.select(
            [kind == SLEEP, kind == REST, kind == SEDENTARY], [BACK, _RECLINED, _SITTING], STANDING
        ).astype(np.int64)
        ev_t, ev_v = [], []
        starts, ends, kinds = self._pieces
        last = None
        for a, b, k in zip(starts, ends, kinds):
            if k != SLEEP:
                if last is not None and 0 <= a < self.duration_s:
                    ev_t.append(a), ev_v.append(STANDING)
                last = None
                continue
            t = max(a, 0.0)
            while t < min(b, self.duration_s):
                choices = [p for p in (BELLY, BACK, RIGHT, LEFT) if p != last]
                w = np.array([{BELLY: 0.1, BACK: 0.45, RIGHT: 0.2, LEFT: 0.25}[p] for p in choices])
                last = int(rng.choice(choices, p=w / w.sum()))
                ev_t.append(t), ev_v.append(last)
                t_next = t + max(180.0, rng.exponential(1500.0))
                j0, j1 = np.searchsorted(self._grid_t, [t, min(t_next, b)], side="left")
                code[j0:j1] = last
                t = t_next
        vecs = np.zeros((8, 3))
        for c, v in _GRAVITY.items():
            vecs[c] = np.asarray(v) / np.linalg.norm(v)
        grav = np.stack([_box(vecs[code, i], 2 * GRID_HZ) for i in range(3)])
        grav /= np.linalg.norm(grav, axis=0)
        lying = np.isin(code, (BELLY, BACK, RIGHT, LEFT))
        share = _box(np.where(lying, 0.4, 0.62), 4 * GRID_HZ).astype(np.float32)
        ticks = np.rint(np.asarray(ev_t) * TICKS).astype(np.int64)
        return {
            "gravity": grav.astype(np.float32),
            "thoracic_share": share,
            "ev_ticks": ticks,
            "ev_values": np.asarray(ev_v, dtype=np.int64),
        }

    @cached_property
    def _resp_grids(self) -> dict:
        rng = self._rng(3)
        n = self._n_grid
        share = self._posture["thoracic_share"]
        lying = share < 0.5
        base_th = 27230.0 + np.where(lying, -120.0, 0.0) + 25.0 * _colored_noise(rng, n, "pink")
        base_ab = 28650.0 + np.where(lying, 90.0, 0.0) + 25.0 * _colored_noise(rng, n, "pink")
        return {
            "base_th": _box(base_th, 8).astype(np.float32),
            "base_ab": _box(base_ab, 8).astype(np.float32),
            "gain_th": (share * RESP_COUNTS_PER_ML).astype(np.float32),
            "gain_ab": ((1 - share) * RESP_COUNTS_PER_ML).astype(np.float32),
        }

    @cached_property
    def _heart(self) -> dict:
        rng = self._rng(4)
        n = self._n_grid
        f = min(max(self.spec.fitness, 0.0), 1.0)
        hrv_gain = (0.8 + 0.4 * f) * max(0.4, 1.3 - self.spec.age / 100.0)
        level = self._level(self._hr_by_kind, 25.0, 60.0)
        rsa = self._level(_RSA, 15.0, 30.0) * hrv_gain
        mayer = self._level(_MAYER, 15.0, 30.0) * hrv_gain
        vlf = self._level(_VLF, 15.0, 30.0)
        breath_phase = self._breath_phase()
        f_mayer = 0.09 + 0.02 * rng.random()
        lf = _colored_noise(rng, n, "mayer", f_mayer)
        mod = 1 + rsa * np.sin(2 * np.pi * breath_phase) + mayer * lf + vlf * _colored_noise(rng, n, "pink")
        rate = np.clip(level * mod, 30.0, 220.0)
        phase = rng.random() + np.concatenate([[0.0], np.cumsum(rate[:-1] / 60.0 / GRID_HZ)])
        _, pos = _crossings(phase)
        ticks = np.rint((pos / GRID_HZ - PAD_S) * TICKS).astype(np.int64)
        ticks = np.unique(ticks)
        t = ticks / TICKS
        amp = (1 + 0.06 * np.sin(2 * np.pi * self._grid_at(breath_phase, t) + 1.0)).astype(np.float32)
        out = {"ticks": ticks, "amp": amp}
        if self.spec.astroskin:
            sbp = self._level(_SBP, 40.0, 90.0) + 3.0 * lf + 2.0 * _colored_noise(rng, n, "pink")
            ptt = 0.30 - 0.0015 * (self._grid_at(sbp, t) - 120.0) + 0.003 * rng.standard_normal(t.size)
            out["sbp"] = sbp
            out["ptt"] = np.clip(ptt, 0.12, 0.45)
        return out

    @cached_property
    def _artifact_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        frac = min(max(self.spec.artifact_fraction, 0.0), 0.5)
        total = frac * self.duration_s
        if total < 1.0:
            return np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64)
        rng = self._rng(5)
        count = max(1, int(round(total / 15.0)))
        slot = self.duration_s / count
        dur = rng.lognormal(0.0, 0.6, count)
        dur = np.clip(dur * (total / dur.sum()), min(2.0, 0.5 * slot), 0.9 * slot)
        starts = np.arange(count) * slot + rng.random(count) * (slot - dur)
        kinds = rng.choice(3, size=count, p=[0.6, 0.25, 0.15])
        return starts, starts + dur, kinds.astype(np.int64)

    def _artifact_samples(self, fs: float, start: int, stop: int):
        """(kind, i0, i1) for artifact sample ranges (indices k with k/fs in [a, b)) within [start, stop)."""
        s, e, k = self._artifact_arrays
        lo, hi = np.searchsorted(e, start / fs, side="right"), np.searchsorted(s, stop / fs, side="left")
        for a, b, kind in zip(s[lo:hi], e[lo:hi], k[lo:hi]):
            i0, i1 = max(start, int(math.ceil(a * fs))), min(stop, int(math.ceil(b * fs)))
            if i1 > i0:
                yield int(kind), i0, i1

    def _artifact_kind_at(self, t_s: np.ndarray) -> np.ndarray:
        """Artifact kind code at each time (s from record start), -1 outside artifacts."""
        s, e, k = self._artifact_arrays
        if not s.size:
            return np.full(np.shape(t_s), -1, dtype=np.int64)
        i = np.searchsorted(s, t_s, side="right") - 1
        ic = np.maximum(i, 0)
        return np.where((i >= 0) & (t_s < e[ic]), k[ic], -1)

    def _touches_artifact(self, t0_s: np.ndarray, t1_s: np.ndarray) -> np.ndarray:
        """Whether each closed span [t0, t1] overlaps an artifact [a, b)."""
        s, e, _ = self._artifact_arrays
        if not s.size:
            return np.zeros(np.shape(t0_s), dtype=bool)
        j = np.searchsorted(e, t0_s, side="right")  # first artifact ending after t0
        return (j < s.size) & (s[np.minimum(j, s.size - 1)] <= t1_s)

    def _artifact_seconds(self) -> np.ndarray:
        """Per 1 Hz sample k (second [k, k+1)): bitmask over artifact kinds overlapping it."""
        n1 = int(math.floor(self.duration_s + 1e-9))
        mask = np.zeros(n1, dtype=np.int64)
        s, e, k = self._artifact_arrays
        for kind in range(3):
            sel = k == kind
            diff = np.zeros(n1 + 1, dtype=np.int64)
            k0 = np.clip(np.floor(s[sel]).astype(np.int64), 0, n1)
            k1 = np.clip(np.ceil(e[sel]).astype(np.int64), 0, n1)
            np.add.at(diff, k0, 1)
            np.add.at(diff, k1, -1)
            mask |= (np.cumsum(diff[:-1]) > 0).astype(np.int64) << kind
        return mask

    @cached_property
    def _detected(self) -> dict:
        """The QRS detector's beats: true beats outside artifacts, missed and spurious ones inside."""
        rng = self._rng(6)
        ticks = self._heart["ticks"]
        end = self.duration_s * TICKS
        det = ticks[(ticks >= 0) & (ticks < end)]
        s, e, k = self._artifact_arrays
        kind = self._artifact_kind_at(det / TICKS)
        p_miss = np.select([kind == MOTION, kind == SATURATION, kind == DISCONNECTED], [0.15, 0.5, 1.0], 0.0)
        keep = rng.random(det.size) >= p_miss
        spurious = []
        for a, b, kd in zip(s, e, k):
            rate = {MOTION: 0.5, SATURATION: 0.15, DISCONNECTED: 0.0}[int(kd)]
            m = rng.poisson(rate * (b - a))
            spurious.append(np.floor((a + (b - a) * rng.random(m)) * TICKS).astype(np.int64))
        det = np.unique(np.concatenate([det[keep], *spurious]))
        det = det[(det >= 0) & (det < end)]
        rr = np.diff(det, prepend=det[:1]) if det.size else det.copy()
        prev = np.concatenate([det[:1], det[:-1]]) / TICKS
        bad = self._touches_artifact(prev, det / TICKS)
        bad[:1] = True  # the record's first RR is a placeholder 0
        quality = np.where(bad, RR_UNRELIABLE, RR_RELIABLE).astype(np.int64)
        return {"ticks": det, "rr": rr.astype(np.int64), "quality": quality}

    @cached_property
    def _steps(self) -> dict:
        rng = self._rng(7)
        kind = self._kind_grid
        t = self._grid_t
        f = min(max(self.spec.fitness, 0.0), 1.0)
        # Light activity walks in short bouts (on ~20 s, off ~60 s).
        pairs = int(self.duration_s / 80) + 4
        durs = rng.exponential(1.0, 2 * pairs) * np.tile([60.0, 20.0], pairs)
        edges = np.cumsum(durs) - PAD_S
        bout = (np.searchsorted(edges, t, side="right") % 2) == 1
        cad_walk = 106.0 + 8.0 * rng.random() + 4 * f
        cad_run = 158.0 + 12.0 * rng.random() + 6 * f
        target = np.select([kind == WALK, kind == RUN, (kind == LIGHT) & bout], [cad_walk, cad_run, 88.0], 0.0)
        gate = _box((target > 0).astype(np.float64), 2 * GRID_HZ)
        cad = _box(target, 2 * GRID_HZ) * (1 + 0.025 * _colored_noise(rng, self._n_grid, "pink"))
        cad = np.where(gate > 0.5, np.maximum(cad, 40.0), 0.0)
        phase = np.concatenate([[0.0], np.cumsum(cad[:-1] / 60.0 / GRID_HZ)])
        _, pos = _crossings(phase)
        st = np.rint((pos / GRID_HZ - PAD_S) * TICKS).astype(np.int64)
        st = st[(st >= 0) & (st < self.duration_s * TICKS)]
        amp = _box(np.where(target > 0, _STEP_G[kind] * (1 + 0.2 * f), 0.0), 2 * GRID_HZ)
        # phase x 256: the low 9 bits index a two-step stride of 512 entries
        return {"phase256": phase * 256.0, "ticks": st, "amp": amp.astype(np.float32)}

    @cached_property
    def _fidget(self) -> np.ndarray:
        rng = self._rng(8)
        amp = self._level(_MOVE_G, 5.0, 5.0)
        x = rng.standard_normal((3, self._n_grid)) * amp
        return np.stack([_box(r, 2) for r in x]).astype(np.float32)

    @cached_property
    def _ecg_wander(self) -> np.ndarray:
        rng = self._rng(9)
        w = 12.0 * np.sin(2 * np.pi * self._breath_phase()) + 20.0 * _colored_noise(rng, self._n_grid, "pink")
        return w.astype(np.float32)

    @cached_property
    def _ecg_tables(self) -> dict:
        """Inter-beat ECG waveforms (counts above baseline), one row per RR length in samples."""
        lengths = np.diff(self._heart["ticks"])
        lmin, lmax = int(lengths.min()), int(lengths.max())
        ls = np.arange(lmin, lmax + 1)
        off = np.concatenate([[0], np.cumsum(ls)])
        row = np.repeat(np.arange(ls.size), ls)
        d = np.arange(off[-1]) - off[row]
        length = ls[row]
        t_post = d / TICKS
        t_pre = -(length - d) / TICKS
        q = np.clip(np.sqrt(length / TICKS), 0.6, 1.15)  # QT shortens with the RR (Bazett-like)

        def lead(p, r, s, tw):
            g = lambda x, mu, sd: np.exp(-0.5 * ((x - mu) / sd) ** 2)
            post = r * g(t_post, 0, 0.010) + s * g(t_post, 0.030, 0.009) + tw * g(t_post, 0.27 * q, 0.05 * q)
            pre = p * g(t_pre, -0.16, 0.022) - 0.1 * g(t_pre, -0.028, 0.008) + r * g(t_pre, 0, 0.010)
            return ((post + pre) / 0.0064).astype(np.float32)  # mV -> ADC counts

        tables = {4113: lead(0.12, 1.20, -0.25, 0.28)}
        if self.spec.astroskin:
            tables[4114] = lead(0.16, 1.65, -0.30, 0.36)
        return {"tables": tables, "row_start": off[lengths - lmin] - self._heart["ticks"][:-1]}

    @cached_property
    def _ppg_tables(self) -> dict:
        beats = self._heart["ticks"]
        pulses = np.rint((beats / TICKS + self._heart["ptt"]) * 64).astype(np.int64)
        pulses = np.unique(pulses)
        lengths = np.diff(pulses)
        lmin, lmax = int(lengths.min()), int(lengths.max())
        ls = np.arange(lmin, lmax + 1)
        off = np.concatenate([[0], np.cumsum(ls)])
        row = np.repeat(np.arange(ls.size), ls)
        d = (np.arange(off[-1]) - off[row]).astype(np.float64)
        length = ls[row].astype(np.float64)

        def pulse(x):  # x seconds since the foot: fast systolic rise, decay, dicrotic wave
            rise = np.sin(0.5 * np.pi * np.clip(x / 0.12, 0, 1)) ** 2
            decay = np.where(x < 0.12, 1.0, np.exp(-(x - 0.12) / 0.35))
            return rise * decay + 0.12 * np.exp(-0.5 * ((x - 0.34) / 0.04) ** 2)

        w = pulse(d / 64) - pulse(length / 64) * d / length  # back to the foot level at the next pulse
        baseline = 20000.0 + 250.0 * np.sin(2 * np.pi * self._breath_phase())  # respiratory modulation
        return {
            "table": w.astype(np.float32),
            "pulses": pulses,
            "row_start": off[lengths - lmin] - pulses[:-1],
            "baseline": baseline.astype(np.float32),
        }

    @cached_property
    def _vitals(self) -> dict[int, np.ndarray]:
        """All 1 Hz channels except activity, whole record (sample k at (k+1) s), as int32."""
        n1 = int(math.floor(self.duration_s + 1e-9))
        T = np.arange(1, n1 + 1, dtype=np.float64)
        tt = (T * TICKS).astype(np.int64)
        art = self._artifact_seconds()
        out: dict[int, np.ndarray] = {}
        # Heart rate: mean of the last 16 RR intervals (the first RR, 0, is a placeholder).
        det = self._detected
        dticks, bad = det["ticks"], det["quality"] != RR_RELIABLE
        i = np.searchsorted(dticks, tt, side="right") - 1
        m = np.minimum(np.maximum(i, 0), 16)
        span = dticks[np.maximum(i, 0)] - dticks[np.maximum(i - m, 0)] if dticks.size else np.zeros(n1)
        with np.errstate(divide="ignore", invalid="ignore"):
            hr = np.where(m > 0, np.rint(60.0 * TICKS * m / np.maximum(span, 1)), 0)
        out[19] = np.clip(hr, 0, 250).astype(np.int64)
        cbad = np.concatenate([[0], np.cumsum(bad[1:])]) if dticks.size else np.zeros(1, dtype=np.int64)
        ii = np.maximum(i, 0)
        recent_bad = (cbad[ii] - cbad[np.maximum(ii - 16, 0)]) > 0 if dticks.size else np.zeros(n1, bool)
        hq = np.where((m < 16) | recent_bad, HR_UNRELIABLE_RR, 0)
        for kind in range(3):
            hq |= np.where((art >> kind) & 1, _HR_BIT_BY_ARTIFACT[kind], 0)
        out[1000] = hq.astype(np.int64)
        # Breathing: 7-breath averages over complete in-record breaths.
        br = self._breath
        onset_t = br["onset_t"]
        rec = onset_t >= 0
        ot, on = onset_t[rec], br["onset_n"][rec]
        tv_ml = br["tv"][on].astype(np.float64)
        ctv = np.concatenate([[0.0], np.cumsum(tv_ml)])
        c = np.searchsorted(ot, T, side="right")  # in-record onsets <= T
        nb = np.minimum(np.maximum(c - 1, 0), 7)  # complete breaths to average
        last = np.maximum(c - 1, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = 60.0 * nb / (ot[last] - ot[np.maximum(last - nb, 0)]) if ot.size else np.zeros(n1)
            tv = (ctv[last] - ctv[np.maximum(last - nb, 0)]) / nb if ot.size else np.zeros(n1)
        started = nb > 0
        br_raw = np.where(started, np.clip(np.rint(rate), 2, 60), 10).astype(np.int64)
        tv_raw = np.where(started, np.rint(tv / TV_SCALE_ML), 0).astype(np.int64)
        out[33], out[37] = br_raw, tv_raw
        out[36] = tv_raw * br_raw  # MV = TV x BR exactly, in raw units (both scale 13.28 mL)
        out[1001] = (np.where(started, 0, BR_BASELINE) | np.where(art & (1 << MOTION), BR_NOISY, 0)).astype(np.int64)
        out[53] = self._cadence.astype(np.int64)
        if self.spec.astroskin:
            rng = self._rng(10)
            motion = (art >> MOTION) & 1
            spo2 = self._level(_SPO2, 60.0, 60.0) + 0.6 * _colored_noise(rng, self._n_grid, "pink")
            out[66] = np.clip(np.rint(self._grid_at(spo2, T)), 85, 100).astype(np.int64)
            out[1002] = np.where(motion, SPO2_ARTIFACTS, 0).astype(np.int64)
            skin = self._level(_SKIN_C, 600.0, 600.0) + 0.15 * _colored_noise(rng, self._n_grid, "pink")
            out[81] = np.rint(self._grid_at(skin, T) * 256).astype(np.int64)
            out[1003] = np.zeros(n1, dtype=np.int64)
            out[98] = np.rint(self._grid_at(self._heart["sbp"], T)).astype(np.int64)
            out[1005] = np.where(motion, SBP_ARTIFACTS, 0).astype(np.int64)
        return {dt: values.astype(np.int32) for dt, values in out.items()}

    @cached_property
    def _cadence(self) -> np.ndarray:
        """Cadence (53), whole record: 60 / mean of the last 4 step intervals, 0 unless walking (last step
        <= 1.5 s ago). Kept apart from the other vitals: it needs only the steps, so a GPS track can follow
        it without generating heart beats or breaths."""
        n1 = int(math.floor(self.duration_s + 1e-9))
        tt = np.arange(1, n1 + 1, dtype=np.int64) * TICKS
        st = self._steps["ticks"]
        if not st.size:
            return np.zeros(n1, dtype=np.int32)
        j = np.searchsorted(st, tt, side="right") - 1
        jj = np.maximum(j, 0)
        span4 = (st[jj] - st[np.maximum(jj - 4, 0)]).astype(np.float64)
        ok = (j >= 4) & (tt - st[jj] <= 1.5 * TICKS) & (span4 <= 8 * TICKS)
        return np.where(ok, np.rint(60.0 * 4 * TICKS / np.maximum(span4, 1)), 0).astype(np.int32)

    @cached_property
    def _events(self) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        end = self.duration_s * TICKS
        det = self._detected
        ev = {18: (det["ticks"], det["rr"]), 1004: (det["ticks"], det["quality"])}
        st = self._steps["ticks"]
        ev[52] = (st, np.arange(1, st.size + 1, dtype=np.int64))
        br, rg = self._breath, self._resp_grids
        for dt, (n, t, level) in {34: (br["onset_n"], br["onset_t"], 0.0), 35: (br["exp_n"], br["exp_t"], 1.0)}.items():
            ticks = np.rint(t * TICKS).astype(np.int64)
            sel = (ticks >= 0) & (ticks < end)
            vol = br["tv"][n[sel]] * level
            value = self._grid_at(rg["base_th"], t[sel]) + self._grid_at(rg["gain_th"], t[sel]) * vol
            ev[dt] = (ticks[sel], np.rint(value).astype(np.int64))  # thoracic count at the event (noise-free)
        pos = self._posture
        ev[270] = (pos["ev_ticks"], pos["ev_values"])
        if self.spec.astroskin:
            ticks = self._heart["ticks"]
            sel = (ticks >= 0) & (ticks < end) & (self._artifact_kind_at(ticks / TICKS) != MOTION)
            ev[97] = (ticks[sel], np.rint(self._heart["ptt"][sel] * TICKS).astype(np.int64))
        return ev

    # ---- raw signal chunks

    def _interval_index(self, marks: np.ndarray, row_start: np.ndarray, start: int, stop: int):
        """Per-sample table index (row of the inter-mark interval + position in it), and interval ids."""
        j0 = int(np.searchsorted(marks, start, side="right")) - 1
        j1 = int(np.searchsorted(marks, stop - 1, side="right"))
        cnt = np.diff(np.clip(marks[j0 : j1 + 1], start, stop))
        idx = np.repeat(row_start[j0:j1], cnt)
        idx += np.arange(start, stop, dtype=np.int64)
        return idx, cnt, j0, j1

    def _ecg_chunk(self, start: int, stop: int, ids: tuple[int, ...] = ECG_IDS) -> dict[int, np.ndarray]:
        """ECG leads for samples [start, stop); lead III (Astroskin) needs leads I and II."""
        tabs = self._ecg_tables
        idx, cnt, j0, j1 = self._interval_index(self._heart["ticks"], tabs["row_start"], start, stop)
        amp = np.repeat(self._heart["amp"][j0:j1], cnt)
        wander = self._upsample(self._ecg_wander, 256.0, start, stop)
        need = {4113, 4114} if 4115 in ids else set(ids)
        out = {}
        for n, (lead, table) in enumerate(tabs["tables"].items()):
            if lead not in need:
                continue
            x = table.take(idx)
            x *= amp
            x += wander
            x += self._noise(1000 + lead, start, stop) * np.float32(1.2)
            x += np.float32(ECG_BASELINE)
            for kind, a, b in self._artifact_samples(256.0, start, stop):
                noise = self._noise(2000 + lead, a, b)
                t = np.arange(a, b) / 256.0
                if kind == MOTION:
                    x[a - start : b - start] += 90.0 * noise + 260.0 * np.sin(2 * np.pi * (1.3 + 0.1 * n) * t)
                elif kind == SATURATION:
                    x[a - start : b - start] += 3200.0 * np.sign(np.sin(2 * np.pi * 0.45 * t + n)) + 150.0 * noise
                else:  # disconnected electrodes: flat, tiny variations
                    x[a - start : b - start] = ECG_BASELINE + 1.5 * noise
            np.rint(x, out=x)
            np.clip(x, 0, ECG_MAX, out=x)
            out[lead] = x.astype(np.int16)
        if 4115 in ids:
            out[4115] = _lead_iii(out[4113], out[4114])
        return out

    def _resp_chunk(self, start: int, stop: int, ids: tuple[int, ...] = RESP_IDS) -> dict[int, np.ndarray]:
        br, rg = self._breath, self._resp_grids
        q = self._upsample(br["phase_q"], 128.0, start, stop).astype(np.int64)  # breath n = q >> SHAPE_BITS
        vol = br["shape"].take(q & (SHAPE_N - 1))
        vol *= br["tv"].take(q >> SHAPE_BITS)  # mL of the current breath
        bands = {4129: (rg["base_th"], rg["gain_th"]), 4130: (rg["base_ab"], rg["gain_ab"])}
        out = {}
        for dt in ids:
            base, gain = bands[dt]
            x = self._hold(gain, 128.0, start, stop) * vol
            x += self._upsample(base, 128.0, start, stop)
            x += self._noise(1000 + dt, start, stop) * np.float32(0.6)
            for kind, a, b in self._artifact_samples(128.0, start, stop):
                if kind == MOTION:
                    t = np.arange(a, b) / 128.0
                    x[a - start : b - start] += 40.0 * self._noise(2000 + dt, a, b) + 80.0 * np.sin(2 * np.pi * 0.9 * t)
            np.rint(x, out=x)
            out[dt] = x.astype(np.int32)
        return out

    @cached_property
    def _step_tables(self) -> np.ndarray:
        """Trunk acceleration over a two-step stride (512 entries), per axis X, Y, Z (g per g of amplitude)."""
        x = np.arange(512) / 512.0
        sway = 0.35 * np.sin(2 * np.pi * x)  # medio-lateral, once per stride
        fore_aft = 0.5 * np.sin(4 * np.pi * x)
        vertical = np.cos(4 * np.pi * x) + 0.35 * np.cos(8 * np.pi * x)  # peaks at each step
        return np.stack([sway, fore_aft, vertical]).astype(np.float32)

    def _movement(self, start: int, stop: int, axes: tuple[int, ...]) -> dict[int, np.ndarray]:
        """Acceleration minus gravity (g) for 64 Hz samples [start, stop), per axis index 0..2."""
        steps = self._steps
        stride = self._upsample(steps["phase256"], 64.0, start, stop).astype(np.int64)
        stride &= 511
        amp = self._hold(steps["amp"], 64.0, start, stop)
        out = {}
        for axis in axes:
            m = self._step_tables[axis].take(stride)
            m *= amp
            m += self._upsample(self._fidget[axis], 64.0, start, stop)
            m += self._noise(1000 + ACC_IDS[axis], start, stop) * np.float32(0.004)
            out[axis] = m
        return out

    def _acc_chunk(self, start: int, stop: int, ids: tuple[int, ...] = ACC_IDS) -> dict[int, np.ndarray]:
        axes = tuple(ACC_IDS.index(dt) for dt in ids)
        out = {}
        for axis, m in self._movement(start, stop, axes).items():
            m += self._upsample(self._posture["gravity"][axis], 64.0, start, stop)
            m *= np.float32(256.0)
            np.rint(m, out=m)
            out[ACC_IDS[axis]] = m.astype(np.int16)
        return out

    def _activity(self, start: int, stop: int) -> np.ndarray:
        """Activity (49) for 1 Hz samples [start, stop): 1 s mean norm of acceleration minus gravity."""
        out = np.empty(max(0, stop - start), dtype=np.int64)
        step = CHUNK_S
        for a in range(start, stop, step):
            b = min(stop, a + step)
            mx, my, mz = self._movement(64 * a, 64 * b, (0, 1, 2)).values()
            mx *= mx
            mx += my * my
            mx += mz * mz
            np.sqrt(mx, out=mx)
            rows = mx.reshape(-1, 64)
            total = rows[:, 0].astype(np.float64)
            for j in range(1, 64):  # a fixed summation order, whatever the window's memory layout
                total += rows[:, j]
            out[a - start : b - start] = np.rint(total * (256.0 / 64))
        return out

    def _ppg_chunk(self, start: int, stop: int) -> np.ndarray:
        tabs = self._ppg_tables
        idx, cnt, j0, j1 = self._interval_index(tabs["pulses"], tabs["row_start"], start, stop)
        x = tabs["table"].take(idx)
        x *= np.float32(2400.0)
        x += self._upsample(tabs["baseline"], 64.0, start, stop)
        x += self._noise(1064, start, stop) * np.float32(15.0)
        for kind, a, b in self._artifact_samples(64.0, start, stop):
            if kind == MOTION:
                x[a - start : b - start] += 3000.0 * self._noise(2064, a, b)
        # Kept inside 0..32767 so signed and unsigned 16-bit readers agree.
        return np.clip(np.rint(x), 0, 32767).astype(np.int64)
