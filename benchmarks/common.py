"""Shared helpers of the benchmarks: timing, synthetic signals from the sandbox's physiology, printing."""

from __future__ import annotations

import platform
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# One synthetic record start (2027-01-15 08:00 UTC) in HexoTimestamp ticks; the physiology only uses
# relative time, so the value matters only for the absolute timestamps of the Parquet tables.
RECORD_START_TICKS = 1_800_000_000 * 256


def best_of(fn: Callable[[], Any], *, repeat: int, min_time_s: float = 0.0) -> tuple[float, Any]:
    """Fastest wall time of `repeat` calls (at least `min_time_s` spent in total), and the last result.

    The minimum is the usual estimator for micro-benchmarks: noise only ever adds time.
    """
    best = float("inf")
    result = None
    spent = 0.0
    runs = 0
    while runs < repeat or spent < min_time_s:
        t0 = time.perf_counter()
        result = fn()
        dt = time.perf_counter() - t0
        best = min(best, dt)
        spent += dt
        runs += 1
    return best, result


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def current_rss_mb() -> float:
    """Current resident set size (Linux /proc; falls back to the peak elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * resource.getpagesize() / (1024 * 1024)
    except OSError:
        return peak_rss_mb()


def machine() -> str:
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{platform.machine()} {cores} cores, Python {platform.python_version()}, {platform.system()}"


def versions() -> str:
    import duckdb
    import pyarrow

    parts = [f"numpy {np.__version__}", f"pyarrow {pyarrow.__version__}", f"duckdb {duckdb.__version__}"]
    try:
        import dagster

        parts.append(f"dagster {dagster.__version__}")
    except ImportError:  # pragma: no cover
        pass
    return ", ".join(parts)


def record_signals(duration_s: float, *, seed: int = 7, astroskin: bool = False):
    """A sandbox `RecordSignals` of `duration_s` seconds: sedentary, a walk, then rest (realistic mix)."""
    from hexo_sandbox.world.physiology import RecordSignals, RecordSpec, Segment

    third = duration_s / 3
    segments = (
        Segment(0, third, "sedentary"),
        Segment(third, 2 * third, "walk"),
        Segment(2 * third, duration_s, "rest"),
    )
    spec = RecordSpec(
        record_id=1,
        seed=seed,
        start_ticks=RECORD_START_TICKS,
        duration_s=duration_s,
        astroskin=astroskin,
        segments=segments,
    )
    return RecordSignals(spec)


def span(seconds: float) -> str:
    return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds / 60:g} min"


def fmt_rate(x: float) -> str:
    """Samples (or rows) per second, human-sized."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:,.1f} {unit}/s"
    return f"{x:,.0f} /s"


@dataclass
class Report:
    """Figures of one section, printed as aligned `name  value  note` lines, kept for --json."""

    title: str
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    figures: dict[str, float | int | str] = field(default_factory=dict)

    def add(self, key: str, label: str, value: float | int | str, shown: str, note: str = "") -> None:
        self.figures[key] = value
        self.rows.append((label, shown, note))

    def print(self) -> None:
        print(f"\n== {self.title}")
        if not self.rows:
            return
        w0 = max(len(r[0]) for r in self.rows)
        w1 = max(len(r[1]) for r in self.rows)
        for label, shown, note in self.rows:
            line = f"  {label:<{w0}}  {shown:>{w1}}"
            print(f"{line}  {note}" if note else line, flush=True)


def family_table(signals, datatype_ids: tuple[int, ...]):
    """A long signal table (SIGNAL_SCHEMA: ts, datatype_id, value), sorted by (datatype_id, ts), of the
    synchronous channels `datatype_ids` of a `RecordSignals`: what the decoders hand to the lake."""
    import pyarrow as pa

    from hexo_pipeline.decoders import hexoskin_binary as hb
    from hexo_pipeline.decoders.schemas import SIGNAL_SCHEMA
    from hexo_pipeline.hexoskin import datatypes as catalog

    start_ns = hb.ticks_to_ns(RECORD_START_TICKS)
    ids, stamps, values = [], [], []
    for dt_id in sorted(datatype_ids):
        dt = catalog.get(dt_id)
        n = signals.n_samples(dt_id)
        stamps.append(start_ns + hb.synchronous_offsets_ns(n, dt.rate_hz, at_period_end=dt.first_sample_at_period))
        ids.append(np.full(n, dt_id, dtype=np.int32))
        values.append(signals.sync_raw(dt_id, 0, n).astype(np.int64))
    return pa.Table.from_arrays(
        [
            pa.array(np.concatenate(stamps), SIGNAL_SCHEMA.field("ts").type),
            pa.array(np.concatenate(ids)),
            pa.array(np.concatenate(values)),
        ],
        schema=SIGNAL_SCHEMA,
    )
