"""The benchmarks keep running: `make bench`'s entry point at tiny sizes, and the scale study's quick mode.

They run as child processes, exactly as `make bench` does (the in-process sandbox binds a free loopback
port and is stopped by the benchmark). The assertions are the benchmarks' own claims at small size, so a
regression that breaks a claim (or a benchmark) fails here, not months later in `make bench`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # the benchmarks, small

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "benchmarks"


def _run(args: list[str], out: Path, timeout: int) -> dict:
    done = subprocess.run(
        [sys.executable, *args, "--json", str(out)], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return json.loads(out.read_text())


def _section(figures: dict, prefix: str) -> dict:
    return next(values for title, values in figures.items() if title.startswith(prefix))


def test_make_bench_entry_point_quick(tmp_path: Path) -> None:
    figures = _run([str(BENCH / "run.py"), "--quick"], tmp_path / "bench.json", timeout=240)

    decode = _section(figures, "Decode")
    assert decode["wav_project_sps"] > 10 * decode["wav_struct_sps"]
    assert decode["hxd_project_sps"] > 10 * decode["hxd_struct_sps"]

    parquet = _section(figures, "Parquet")
    assert parquet["ecg_bytes_per_sample_tuned"] < parquet["ecg_bytes_per_sample_default"]
    assert parquet["ecg_bytes_per_sample_tuned"] < 2.0  # smaller than the WAV it came from

    e2e = _section(figures, "End to end")
    assert e2e["samples"] > 100_000 and e2e["total_s"] > 0
    assert e2e["peak_rss_mb"] > 0 and e2e["bytes_per_sample"] < 2.0

    sandbox = _section(figures, "Sandbox")
    assert sandbox["serve_ready_s"] > 0 and sandbox["serve_peak_rss_mb"] >= sandbox["serve_rss_after_start_mb"] > 0
    assert sandbox["zip_generate_cpu_s_hexoskin"] > 0 and sandbox["zip_generate_cpu_s_astroskin"] > 0
