"""Ground truth: what the generator knows about a window of a record, a record, or a subject's local day.

Computed from the served channels themselves (the same samples /api/data/ returns), through the signal
source's public accessors, and never from ECG: heart rate, RR intervals, breathing rate and steps are
whole-record series that cost a fraction of a second per record; the accelerometer-based activity mean is
only computed when asked.

Definitions (documented in docs/sandbox.md; the pipeline's marts are proven against them):
- A 1 Hz sample belongs to a window when its timestamp does (sample k of a record sits at start + (k+1) s);
  an event (RR, step) when its time does. Windows are half-open [t0, t1).
- worn_s: seconds of record inside the window.
- hr_mean/min/max_bpm: heart_rate (19) samples whose heart_rate_quality (1000) is 0 ("clean data").
- RR: RR_interval (18) events whose RR_interval_quality (1004) is 0 (reliable). avnn_ms and sdnn_ms
  (sample standard deviation, ddof = 1) over those; rmssd_ms over the successive differences of pairs of
  consecutive detected RR intervals of the same record that are both reliable and both inside the window
  (a pair never spans two records or a detection in between).
- br_mean_rpm: breathing_rate (33) samples whose breathing_rate_quality (1001) is 0.
- steps: step (52) events. cadence_mean_spm: cadence (53) samples above 0.
- sleep_s: overlap with the record's "sleep" segments (= its sleep ranges).
- energy_kcal: Keytel et al. (2005) energy expenditure from heart rate, weight, age and sex, summed over
  the seconds with a heart rate (the quantity of metric 139).
Values are NaN (JSON null) when nothing qualifies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

import numpy as np

from .physiology import RR_RELIABLE

TICKS = 256
KJ_PER_KCAL = 4.184


@dataclass
class Sums:
    """Additive statistics of one or more windows; `merge` then `finish`."""

    worn_s: float = 0.0
    hr_n: int = 0
    hr_sum: float = 0.0
    hr_min: float = math.inf
    hr_max: float = -math.inf
    hr_any_n: int = 0  # seconds with a heart rate, clean or not (energy)
    hr_any_sum: float = 0.0
    rr_n: int = 0
    rr_sum: float = 0.0
    rr_sumsq: float = 0.0
    diff_n: int = 0
    diff_sumsq: float = 0.0
    br_n: int = 0
    br_sum: float = 0.0
    steps: int = 0
    cad_n: int = 0
    cad_sum: float = 0.0
    sleep_s: float = 0.0
    act_n: int = 0
    act_sum: float = 0.0

    def merge(self, other: Sums) -> Sums:
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            setattr(self, f.name, min(a, b) if f.name == "hr_min" else max(a, b) if f.name == "hr_max" else a + b)
        return self

    def finish(self, profile: dict | None = None) -> dict[str, Any]:
        nan = float("nan")
        out: dict[str, Any] = {"worn_s": round(self.worn_s, 3)}
        out["hr_mean_bpm"] = self.hr_sum / self.hr_n if self.hr_n else nan
        out["hr_min_bpm"] = float(self.hr_min) if self.hr_n else nan
        out["hr_max_bpm"] = float(self.hr_max) if self.hr_n else nan
        out["rr_clean_n"] = self.rr_n
        out["avnn_ms"] = self.rr_sum / self.rr_n if self.rr_n else nan
        if self.rr_n > 1:
            var = (self.rr_sumsq - self.rr_sum**2 / self.rr_n) / (self.rr_n - 1)
            out["sdnn_ms"] = math.sqrt(max(var, 0.0))
        else:
            out["sdnn_ms"] = nan
        out["rmssd_ms"] = math.sqrt(self.diff_sumsq / self.diff_n) if self.diff_n else nan
        out["br_mean_rpm"] = self.br_sum / self.br_n if self.br_n else nan
        out["steps"] = self.steps
        out["cadence_mean_spm"] = self.cad_sum / self.cad_n if self.cad_n else nan
        out["sleep_s"] = round(self.sleep_s, 3)
        out["activity_mean_g"] = self.act_sum / self.act_n if self.act_n else nan
        out["energy_kcal"] = energy_kcal(self.hr_any_n, self.hr_any_sum, profile) if profile else nan
        return out


def energy_kcal(n_seconds: int, hr_sum: float, profile: dict) -> float:
    """Keytel (2005) kJ/min = a + b HR + c weight + d age, summed per second; linear in HR, so sums do."""
    if not n_seconds:
        return 0.0
    if profile["gender"] == "M":
        a, b, c, d = -55.0969, 0.6309, 0.1988, 0.2017
    else:
        a, b, c, d = -20.4022, 0.4472, -0.1263, 0.074
    kj_per_min = n_seconds * (a + c * profile["weight_kg"] + d * profile["age"]) + b * hr_sum
    return max(0.0, kj_per_min / 60.0 / KJ_PER_KCAL)


def window_sums(sig, segments, duration_s: float, t0_s: float, t1_s: float, *, activity: bool = False) -> Sums:
    """Sums over [t0_s, t1_s) seconds from record start of one record's signal source."""
    a, b = max(0.0, float(t0_s)), min(float(duration_s), float(t1_s))
    out = Sums()
    if b <= a:
        return out
    out.worn_s = b - a
    ids = set(sig.datatype_ids())
    n1 = sig.n_samples(19) if 19 in ids else 0
    # 1 Hz sample k sits at (k+1) s: those with a <= k+1 < b.
    k0 = min(n1, max(0, math.ceil(a) - 1))
    k1 = min(n1, max(k0, math.ceil(b) - 1))
    if 19 in ids and k1 > k0:
        hr = sig.sync_raw(19, k0, k1).astype(np.float64)
        hq = sig.sync_raw(1000, k0, k1) if 1000 in ids else np.zeros(hr.size, np.int64)
        clean = hr[(hq == 0) & (hr > 0)]
        out.hr_n, out.hr_sum = int(clean.size), float(clean.sum())
        if clean.size:
            out.hr_min, out.hr_max = float(clean.min()), float(clean.max())
        seen = hr[hr > 0]
        out.hr_any_n, out.hr_any_sum = int(seen.size), float(seen.sum())
    if 33 in ids and k1 > k0:
        br = sig.sync_raw(33, k0, k1).astype(np.float64)
        bq = sig.sync_raw(1001, k0, k1) if 1001 in ids else np.zeros(br.size, np.int64)
        clean = br[(bq == 0) & (br > 0)]
        out.br_n, out.br_sum = int(clean.size), float(clean.sum())
    if 53 in ids and k1 > k0:
        cad = sig.sync_raw(53, k0, k1).astype(np.float64)
        out.cad_n, out.cad_sum = int((cad > 0).sum()), float(cad[cad > 0].sum())
    if 18 in ids:
        _, rr = sig.events_raw(18, a, b)
        _, rq = sig.events_raw(1004, a, b)
        ok = rq == RR_RELIABLE
        rr_ms = rr.astype(np.float64) * (1000.0 / TICKS)
        good = rr_ms[ok]
        out.rr_n, out.rr_sum, out.rr_sumsq = int(good.size), float(good.sum()), float((good**2).sum())
        diffs = np.diff(rr_ms)[ok[1:] & ok[:-1]]
        out.diff_n, out.diff_sumsq = int(diffs.size), float((diffs**2).sum())
    if 52 in ids:
        out.steps = int(sig.events_raw(52, a, b)[0].size)
    for seg in segments:
        if seg.kind == "sleep":
            out.sleep_s += max(0.0, min(seg.end_s, b) - max(seg.start_s, a))
    if activity and 49 in ids and k1 > k0:
        act = sig.sync_raw(49, k0, k1).astype(np.float64) / 256.0
        out.act_n, out.act_sum = int(act.size), float(act.sum())
    return out


def profile_of(user, year: int) -> dict:
    """What Keytel needs, with the age in `year` (the study's)."""
    return {"gender": user.gender, "weight_kg": user.weight_kg, "age": year - int(user.date_of_birth[:4])}


def json_number(value: Any, digits: int = 6) -> Any:
    """NaN -> None, floats rounded (same bytes for the same seed)."""
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, digits)
    return value


def day_row(
    user, day: date, sums: Sums, events_scheduled: int, events_done: int, response: dict | None
) -> dict[str, Any]:
    stats = sums.finish(profile_of(user, day.year))
    return {
        "user_id": user.id,
        "username": user.username,
        "date": day.isoformat(),
        "worn_s": stats["worn_s"],
        **{
            k: json_number(stats[k])
            for k in ("hr_mean_bpm", "hr_min_bpm", "hr_max_bpm", "rmssd_ms", "sdnn_ms", "avnn_ms", "br_mean_rpm")
        },
        "rr_clean_n": stats["rr_clean_n"],
        "steps": stats["steps"],
        "sleep_s": stats["sleep_s"],
        "energy_kcal": json_number(stats["energy_kcal"], 3),
        "events_scheduled": events_scheduled,
        "events_done": events_done,
        "survey_answered": response is not None,
        "survey_answers": response,
    }
