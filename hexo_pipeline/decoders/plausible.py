"""Checks of decoded numbers before they reach Arrow: finite and inside a plausible range for the column.

Damaged or hostile files carry `inf`, `nan`, 1e309 or -99999999999 where a heart rate or a distance
belongs; Arrow would refuse them with a generic error (or store them). Each activity column has limits
wide enough for any real recording (a run on Everest, a 3-year timer, a track cyclist's 2,500 W) and a
value outside them is a `DecodeError(code="implausible_value")` naming the column, row and value.
Checks are vectorised (numpy), one pass per column.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa

from hexo_pipeline.decoders.errors import DecodeError

# column -> (lowest, highest) accepted; the same names in trackpoints, laps and activities.
LIMITS: dict[str, tuple[float, float]] = {
    "latitude_deg": (-90.0, 90.0),
    "longitude_deg": (-180.0, 180.0),
    "altitude_m": (-12_000.0, 100_000.0),
    "distance_m": (0.0, 1e8),  # 100,000 km in one file
    "heart_rate_bpm": (0, 300),
    "avg_hr_bpm": (0, 300),
    "max_hr_bpm": (0, 300),
    "cadence": (0, 1_000),
    "speed_mps": (0.0, 1_000.0),
    "max_speed_mps": (0.0, 1_000.0),
    "watts": (0, 100_000),
    "temperature_c": (-100.0, 100.0),
    "total_time_s": (0.0, 1e8),  # ~3 years
    "elapsed_time_s": (0.0, 1e8),
    "calories": (0, 10_000_000),
    # monitoring counters restart daily: no day holds 10 million steps or 100 million cycles
    "steps_cumulative": (0, 10_000_000),
    "cycles_cumulative": (0, 1e8),
}


def number(text: str | None, column: str) -> float | None:
    """Element text -> float (None when absent or blank); DecodeError for text that is not a finite
    number in the column's limits. Accepts what XML Schema's xsd:double/xsd:int writers produce."""
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except (ValueError, OverflowError):
        raise DecodeError(f"bad number for {column}: {_show(text)}", code="implausible_value") from None
    _check_scalar(value, column)
    return value


def integer(text: str | None, column: str) -> int | None:
    """Like `number`, rounded to an int (lenient writers put "72.0")."""
    value = number(text, column)
    return None if value is None else int(round(value))


def _check_scalar(value: float, column: str) -> None:
    if not math.isfinite(value):
        raise DecodeError(f"bad number for {column}: {value} is not finite", code="implausible_value")
    lo, hi = LIMITS.get(column, (-math.inf, math.inf))
    if not lo <= value <= hi:
        raise DecodeError(f"bad number for {column}: {value:g} is outside [{lo:g}, {hi:g}]", code="implausible_value")


def check_columns(columns: dict[str, Any], table: str, names: Iterable[str] | None = None) -> None:
    """Every listed column (lists with None, numpy arrays with NaN or Arrow arrays with nulls for
    missing) is finite and within its limits. Raises DecodeError naming the first offending row."""
    for name in names or columns:
        if name not in LIMITS or name not in columns:
            continue
        values = columns[name]
        if isinstance(values, (pa.Array, pa.ChunkedArray)):
            arr = values.cast(pa.float64()).to_numpy(zero_copy_only=False)  # nulls -> NaN
        elif isinstance(values, np.ndarray):
            arr = values.astype(np.float64, copy=False)
        else:
            arr = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        if arr.size == 0:
            continue
        lo, hi = LIMITS[name]
        bad = ~np.isnan(arr) & ~((arr >= lo) & (arr <= hi))  # NaN is "missing"; inf fails the range
        if bad.any():
            row = int(np.argmax(bad))
            raise DecodeError(
                f"{table}.{name} row {row}: {arr[row]:g} is outside the plausible range [{lo:g}, {hi:g}]",
                code="implausible_value",
            )


def finite_items(values: dict[str, float]) -> list[tuple[str, float]] | None:
    """Extension channels keep finite values only (they have no declared unit to range-check)."""
    out = [(k, v) for k, v in values.items() if math.isfinite(v)]
    return out or None


def _show(text: str) -> str:
    text = text.strip()
    return repr(text if len(text) <= 40 else text[:40] + "...")
