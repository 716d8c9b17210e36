"""Hostile Hexoskin exports for the bound tests (issue 8): built in the test's tmp folder, in bounded
memory (zeros are compressed in chunks, never held whole; a folder's big file is sparse).

Also `run_measured`: a command's exit status, output and peak RSS, run in a child Python process.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import wave
import zipfile
from pathlib import Path

CHUNK = 16 * 2**20
GIB = 2**30


def wav_bytes(samples: bytes, rate: int, *, declared_frames: int | None = None) -> bytes:
    """A mono 16-bit WAV; `declared_frames` makes its data chunk header lie about its size."""
    import io

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples)
    data = bytearray(buf.getvalue())
    if declared_frames is not None:
        struct.pack_into("<I", data, 40, declared_frames * 2)  # the data chunk's size (44-byte header)
    return bytes(data)


def wav_header(rate: int, frames: int) -> bytes:
    """The 44-byte header of a mono 16-bit WAV of `frames` samples (its data follows)."""
    size = frames * 2
    return (
        b"RIFF"
        + struct.pack("<I", 36 + size)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", size)
    )


def write_zeros_member(zf: zipfile.ZipFile, name: str, n_bytes: int, head: bytes = b"") -> None:
    """A member of `head` then zeros up to `n_bytes`, deflated in chunks."""
    with zf.open(name, "w", force_zip64=True) as out:  # the zip's compression (deflate, level 1)
        out.write(head)
        left = n_bytes - len(head)
        zeros = bytes(CHUNK)
        while left > 0:
            out.write(zeros[: min(CHUNK, left)])
            left -= CHUNK


def info_json(export_dir: Path, **changes) -> bytes:
    info = json.loads((export_dir / "info.json").read_text())
    info.update(changes)
    return json.dumps(info).encode()


def wav_bomb_zip(export_dir: Path, dest: Path) -> Path:
    """The issue's case: a ~1 MB export zip whose ECG_I.wav header declares 1 GiB of zeros (and holds
    them), beside the real record's info.json and heart rate."""
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("info.json", (export_dir / "info.json").read_bytes())
        zf.writestr("heart_rate.wav", (export_dir / "heart_rate.wav").read_bytes())
        frames = (GIB - 44) // 2
        write_zeros_member(zf, "ECG_I.wav", 44 + 2 * frames, head=wav_header(256, frames))
    return dest


def hxd_bomb_zip(export_dir: Path, dest: Path) -> Path:
    """The issue's other case: an .hxd member of 1 GiB of zeros (67 M events at offset 0) for a 0-second
    record (its one WAV channel is empty)."""
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("info.json", (export_dir / "info.json").read_bytes())
        zf.writestr("heart_rate.wav", wav_header(1, 0))
        write_zeros_member(zf, "RR_interval.hxd", GIB)
    return dest


def hxd_bomb_folder(export_dir: Path, dest: Path) -> Path:
    """The same as a folder: RR_interval.hxd is a sparse 1 GiB file (its size is real, its bytes zeros)."""
    dest.mkdir(parents=True)
    (dest / "info.json").write_bytes((export_dir / "info.json").read_bytes())
    (dest / "heart_rate.wav").write_bytes(wav_header(1, 0))
    with open(dest / "RR_interval.hxd", "wb") as fh:
        fh.truncate(GIB)
    return dest


# The child's own peak: VmHWM belongs to the memory map exec made. getrusage's ru_maxrss does not: Linux
# carries it across exec, so it reports the pytest worker's peak when that was higher (5.6 GB seen).
_MEASURE = """
import json, re, sys
from hexo_pipeline.cli import main
rc = main(sys.argv[1:])
sys.stdout.flush()
hwm_kb = int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
print(json.dumps({"rc": rc, "peak_rss_mb": hwm_kb / 1024}), file=sys.stderr)
"""


def run_measured(args: list[str], *, timeout: float = 120, env: dict | None = None) -> tuple[int, str, str, float]:
    """`hexo-pipeline <args>` in a child process: (exit status, stdout, stderr, peak RSS in MB)."""
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    last = proc.stderr.strip().splitlines()[-1]
    measured = json.loads(last)
    return measured["rc"], proc.stdout, proc.stderr[: -len(last) - 1], measured["peak_rss_mb"]


LONG_RECORD_CHANNELS = {  # the raw channels of a Hexoskin record and their rates (Hz)
    "ECG_I": 256,
    "ECG_II": 256,
    "ECG_III": 256,
    "respiration_thoracic": 128,
    "respiration_abdominal": 128,
    "acceleration_X": 64,
    "acceleration_Y": 64,
    "acceleration_Z": 64,
    "heart_rate": 1,
    "heart_rate_quality": 1,
}


def long_record_folder(export_dir: Path, dest: Path, hours: float) -> Path:
    """A genuine (not hostile) export of a long record: every raw channel for `hours`, random samples,
    written one channel at a time (a 24 h record is ~90 M samples)."""
    import numpy as np

    dest.mkdir(parents=True)
    (dest / "info.json").write_bytes((export_dir / "info.json").read_bytes())
    rng = np.random.default_rng(7)
    for name, rate in LONG_RECORD_CHANNELS.items():
        frames = int(hours * 3600 * rate)
        with open(dest / f"{name}.wav", "wb") as fh:
            fh.write(wav_header(rate, frames))
            for a in range(0, frames, CHUNK):
                fh.write(rng.integers(1000, 3000, min(CHUNK, frames - a), dtype=np.int16).tobytes())
    return dest
