"""Decode throughput: the project's WAV/.hxd decoders against the vendor's per-sample struct loop and a
bare numpy.frombuffer.

Inputs are made by the sandbox: the physiology model generates the samples, `data_encoders.wav_bytes`
and `data_encoders.hxd_bytes` lay them out exactly as the Hexoskin binary download does (44-byte WAV
header, int16 PCM; .hxd = 16-byte "<Qq" records). Every contender returns the same raw values, checked
equal.
"""

from __future__ import annotations

import io
import struct

import numpy as np
from common import Report, best_of, fmt_rate, record_signals, span

from hexo_pipeline.decoders import hexoskin_binary as hb
from hexo_pipeline.hexoskin import datatypes as catalog
from hexo_sandbox.formats import data_encoders

ECG_I = 4113
RR_INTERVAL = 18


def vendor_wav_loop(data: bytes) -> list[int]:
    """The vendor's example (seed doc, "Decode WAV file"): skip the header, then struct.Struct("h")
    on 2 bytes at a time from the file object. Little-endian made explicit ("<h", same on x86)."""
    sample = struct.Struct("<h")
    out = []
    with io.BytesIO(data) as fh:
        fh.read(44)
        chunk = fh.read(2)
        while chunk:
            out.append(sample.unpack(chunk)[0])
            chunk = fh.read(2)
    return out


def vendor_hxd_loop(data: bytes) -> list[tuple[int, int]]:
    """The vendor's example for .hxd: struct.Struct("Qq") on 16 bytes at a time."""
    record = struct.Struct("<Qq")
    out = []
    with io.BytesIO(data) as fh:
        chunk = fh.read(16)
        while chunk:
            out.append(record.unpack(chunk))
            chunk = fh.read(16)
    return out


# Every numpy contender hands back owned int64 arrays, as the ingestion does (`.astype(np.int64)`):
# a bare frombuffer view is O(1) whatever the size, so timing the view alone would measure nothing.


def project_wav(data: bytes, signed: bool) -> np.ndarray:
    return hb.decode_wav(data, signed=signed).values.astype(np.int64)


def frombuffer_wav(data: bytes) -> np.ndarray:
    """The floor: the PCM bytes after the fixed 44-byte header, no header parsing or checks at all."""
    return np.frombuffer(data, dtype="<i2", offset=data_encoders.WAV_HEADER_BYTES).astype(np.int64)


def project_hxd(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    records = hb.decode_hxd(data)
    return records["offset_ticks"].astype(np.int64), records["value"].astype(np.int64)


def frombuffer_hxd(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    records = np.frombuffer(data, dtype=hb.HXD_DTYPE)
    return records["offset_ticks"].astype(np.int64), records["value"].astype(np.int64)


def run(quick: bool = False) -> Report:
    report = Report("Decode throughput (raw values out; best of several runs)")
    wav_seconds = 120.0 if quick else 3600.0  # 1 h of 256 Hz ECG = 921,600 samples
    hxd_seconds = 600.0 if quick else 86400.0  # a subject-day of RR intervals (~110k beats)

    ecg_dt = catalog.get(ECG_I)
    signals = record_signals(wav_seconds)
    ecg = signals.sync_raw(ECG_I, 0, signals.n_samples(ECG_I))
    wav = data_encoders.wav_bytes(ecg, ecg_dt.rate_hz)
    rr_ticks, rr_values = record_signals(hxd_seconds).events_raw(RR_INTERVAL, 0, hxd_seconds)
    hxd = data_encoders.hxd_bytes(rr_ticks, rr_values)
    n_wav, n_hxd = ecg.size, rr_ticks.size

    repeat = 3 if quick else 7
    t_proj, decoded = best_of(lambda: project_wav(wav, ecg_dt.signed), repeat=repeat, min_time_s=0.2)
    t_ts, _ = best_of(
        lambda: hb.synchronous_offsets_ns(n_wav, ecg_dt.rate_hz, at_period_end=False), repeat=repeat, min_time_s=0.2
    )
    t_np, viewed = best_of(lambda: frombuffer_wav(wav), repeat=repeat, min_time_s=0.2)
    t_loop, looped = best_of(lambda: vendor_wav_loop(wav), repeat=1 if not quick else 2)
    if not (np.array_equal(decoded, ecg) and np.array_equal(viewed, ecg) and np.array_equal(np.asarray(looped), ecg)):
        raise AssertionError("WAV decoders disagree")

    report.add(
        "wav_samples", f"WAV ECG_I, {span(wav_seconds)} at 256 Hz", n_wav, f"{n_wav:,} samples", f"{len(wav):,} bytes"
    )
    report.add(
        "wav_project_sps",
        "project decode_wav",
        n_wav / t_proj,
        fmt_rate(n_wav / t_proj),
        f"{t_proj * 1e3:.2f} ms (wave header parse, frombuffer, int64)",
    )
    report.add(
        "wav_timestamps_sps",
        "  + ns timestamps (synchronous_offsets_ns)",
        n_wav / (t_proj + t_ts),
        fmt_rate(n_wav / (t_proj + t_ts)),
        f"{(t_proj + t_ts) * 1e3:.2f} ms",
    )
    report.add(
        "wav_frombuffer_sps",
        "bare numpy.frombuffer",
        n_wav / t_np,
        fmt_rate(n_wav / t_np),
        f"{t_np * 1e3:.2f} ms (int64)",
    )
    report.add(
        "wav_struct_sps",
        "vendor struct.Struct('h') loop",
        n_wav / t_loop,
        fmt_rate(n_wav / t_loop),
        f"{t_loop * 1e3:,.0f} ms",
    )
    report.add("wav_ratio_vs_struct", "speed-up: project over struct loop", t_loop / t_proj, f"x{t_loop / t_proj:,.0f}")
    report.add(
        "wav_ratio_vs_frombuffer",
        "project speed / bare frombuffer speed",
        t_np / t_proj,
        f"{t_np / t_proj:.2f}",
        "(1.0 = no overhead over bare numpy)",
    )

    t_proj, (p_ticks, p_values) = best_of(lambda: project_hxd(hxd), repeat=repeat, min_time_s=0.2)
    t_np, viewed = best_of(lambda: frombuffer_hxd(hxd), repeat=repeat, min_time_s=0.2)
    t_loop, looped = best_of(lambda: vendor_hxd_loop(hxd), repeat=1 if not quick else 2)
    loop_arr = np.asarray(looped, dtype=np.int64).reshape(-1, 2)
    if not (
        np.array_equal(p_values, rr_values)
        and np.array_equal(p_ticks, rr_ticks)
        and np.array_equal(viewed[1], rr_values)
        and np.array_equal(loop_arr[:, 1], rr_values)
        and np.array_equal(loop_arr[:, 0], rr_ticks)
    ):
        raise AssertionError(".hxd decoders disagree")

    report.add(
        "hxd_events", f".hxd RR_interval, {span(hxd_seconds)}", n_hxd, f"{n_hxd:,} events", f"{len(hxd):,} bytes"
    )
    report.add(
        "hxd_project_sps",
        "project decode_hxd",
        n_hxd / t_proj,
        fmt_rate(n_hxd / t_proj),
        f"{t_proj * 1e6:.1f} us (frombuffer, size/offset checks, int64)",
    )
    report.add(
        "hxd_frombuffer_sps", "bare numpy.frombuffer", n_hxd / t_np, fmt_rate(n_hxd / t_np), f"{t_np * 1e6:.1f} us"
    )
    report.add(
        "hxd_struct_sps",
        "vendor struct.Struct('Qq') loop",
        n_hxd / t_loop,
        fmt_rate(n_hxd / t_loop),
        f"{t_loop * 1e3:,.1f} ms",
    )
    report.add("hxd_ratio_vs_struct", "speed-up: project over struct loop", t_loop / t_proj, f"x{t_loop / t_proj:,.0f}")
    report.add(
        "hxd_ratio_vs_frombuffer", "project speed / bare frombuffer speed", t_np / t_proj, f"{t_np / t_proj:.2f}"
    )
    return report


if __name__ == "__main__":
    run().print()
