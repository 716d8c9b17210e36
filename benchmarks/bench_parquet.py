"""Parquet write/read throughput and size: the project's tuned signal writer against pyarrow defaults.

Tuned = `write_signal_parquet` (DELTA_BINARY_PACKED ts/value, dictionary only on datatype_id, zstd,
sorting_columns, atomic temp file + fsync + rename). Defaults = `pq.write_table(table, path)`
(dictionary on every column, snappy). The same tuned options without the atomic/fsync wrapper are
timed too, so the encoding cost and the durability cost can be told apart.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from common import Report, best_of, family_table, fmt_rate, record_signals, span

from hexo_pipeline.decoders.parquet import SIGNAL_PARQUET_OPTIONS, write_signal_parquet
from hexo_sandbox.formats.data_encoders import WAV_HEADER_BYTES

ECG_LEADS = (4113, 4114, 4115)  # Astroskin: three leads at 256 Hz
VITALS = (19, 1000, 33, 1001, 36, 37, 49, 53)  # the 1 Hz channels of a Hexoskin shirt


def _case(
    report: Report, key: str, label: str, table: pa.Table, wav_bytes_per_sample: float, tmp: Path, repeat: int
) -> None:
    n = table.num_rows
    tuned, plain, default = tmp / f"{key}-tuned.parquet", tmp / f"{key}-plain.parquet", tmp / f"{key}-default.parquet"
    t_tuned, _ = best_of(lambda: write_signal_parquet(table, tuned), repeat=repeat)
    t_plain, _ = best_of(lambda: pq.write_table(table, plain, **SIGNAL_PARQUET_OPTIONS), repeat=repeat)
    t_default, _ = best_of(lambda: pq.write_table(table, default), repeat=repeat)
    b_tuned, b_default = tuned.stat().st_size / n, default.stat().st_size / n
    r_tuned, back_tuned = best_of(lambda: pq.read_table(tuned), repeat=repeat)
    r_default, back_default = best_of(lambda: pq.read_table(default), repeat=repeat)
    if not (back_tuned.equals(table) and back_default.equals(table)):
        raise AssertionError(f"{key}: Parquet round trip changed the data")

    report.add(f"{key}_samples", label, n, f"{n:,} samples")
    report.add(
        f"{key}_write_tuned_sps",
        "write tuned (write_signal_parquet)",
        n / t_tuned,
        fmt_rate(n / t_tuned),
        f"{t_tuned * 1e3:,.0f} ms, incl. atomic rename + fsync",
    )
    report.add(
        f"{key}_write_tuned_nofsync_sps",
        "write tuned options, plain pq.write_table",
        n / t_plain,
        fmt_rate(n / t_plain),
        f"{t_plain * 1e3:,.0f} ms",
    )
    report.add(
        f"{key}_write_default_sps",
        "write pyarrow defaults (dict + snappy)",
        n / t_default,
        fmt_rate(n / t_default),
        f"{t_default * 1e3:,.0f} ms",
    )
    report.add(
        f"{key}_bytes_per_sample_tuned",
        "bytes/sample tuned",
        b_tuned,
        f"{b_tuned:.3f} B",
        f"{tuned.stat().st_size:,} bytes (ts + datatype_id + value)",
    )
    report.add(
        f"{key}_bytes_per_sample_default",
        "bytes/sample defaults",
        b_default,
        f"{b_default:.3f} B",
        f"{default.stat().st_size:,} bytes",
    )
    report.add(
        f"{key}_size_ratio_default_vs_tuned",
        "size defaults / tuned",
        b_default / b_tuned,
        f"x{b_default / b_tuned:.1f}",
    )
    report.add(
        f"{key}_tuned_vs_wav",
        "size tuned / WAV (value only)",
        b_tuned / wav_bytes_per_sample,
        f"x{b_tuned / wav_bytes_per_sample:.2f}",
        f"WAV {wav_bytes_per_sample:.3f} B/sample",
    )
    report.add(
        f"{key}_read_tuned_sps",
        "read back tuned (pq.read_table)",
        n / r_tuned,
        fmt_rate(n / r_tuned),
        f"{r_tuned * 1e3:,.1f} ms",
    )
    report.add(
        f"{key}_read_default_sps",
        "read back defaults",
        n / r_default,
        fmt_rate(n / r_default),
        f"{r_default * 1e3:,.1f} ms",
    )


def run(quick: bool = False) -> Report:
    report = Report("Parquet: tuned signal writer vs pyarrow defaults (best of several runs)")
    ecg_seconds = 120.0 if quick else 3600.0
    vitals_seconds = 600.0 if quick else 86400.0
    repeat = 2 if quick else 3
    ecg = family_table(record_signals(ecg_seconds, astroskin=True), ECG_LEADS)
    vitals = family_table(record_signals(vitals_seconds), VITALS)
    # WAV: 2 bytes per sample plus the 44-byte header of each channel file.
    ecg_wav = 2 + WAV_HEADER_BYTES * len(ECG_LEADS) / ecg.num_rows
    vitals_wav = 2 + WAV_HEADER_BYTES * len(VITALS) / vitals.num_rows
    with tempfile.TemporaryDirectory(prefix="hexo-bench-parquet-") as tmp:
        _case(report, "ecg", f"ECG 3 leads x {span(ecg_seconds)} at 256 Hz", ecg, ecg_wav, Path(tmp), repeat)
        _case(
            report,
            "vitals",
            f"vitals 8 channels x {span(vitals_seconds)} at 1 Hz",
            vitals,
            vitals_wav,
            Path(tmp),
            repeat,
        )
    return report


if __name__ == "__main__":
    run().print()
