"""End to end: one subject-day of every channel through the real ingestion path, no Dagster.

sandbox (in-process, real HTTP on loopback) -> `records_table(overlapping(...))` -> `fetch_signals`
(binary zip download per record, decode, clip, sort) -> `Lake.write_partition` for each family.

It runs in a child process, so the peak RSS is this path's own (plus the in-process sandbox that
generates the signals, which shares the process and the 2 cores: the figure is an upper bound for the
pipeline side). The Arrow memory pool's peak is reported too: that part is the pipeline's tables only.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import Report, current_rss_mb, fmt_rate, peak_rss_mb

QUICK_WINDOW_S = 600  # --quick: the first 10 minutes of one record instead of a whole day


def _child(quick: bool) -> dict:
    from datetime import timedelta

    import pyarrow as pa

    from hexo_pipeline.decoders import read_exports
    from hexo_pipeline.hexoskin import HexoskinClient, HexoskinConfig
    from hexo_pipeline.ingest.subject_day import (
        SIGNAL_DATATYPES, DayWindow, Subject, fetch_signals, now_utc, overlapping, records_table,
    )
    from hexo_pipeline.lake import SIGNAL_DATASETS, Lake
    from hexo_pipeline.sandbox import StudyConfig, start_sandbox

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    study = StudyConfig(subjects=4, days=3)
    t0 = time.perf_counter()
    handle = start_sandbox(study=study)
    startup_s = time.perf_counter() - t0
    info = handle.info
    owner = next(a for a in info["accounts"] if a["role"] == "owner")
    subjects = [a for a in info["accounts"] if a["role"] == "subject"]
    config = HexoskinConfig(base_url=handle.base_url, auth="oauth2", client_id=info["oauth2"]["client_id"],
                            client_secret=info["oauth2"]["client_secret"], username=owner["username"],
                            password=owner["password"])
    try:
        with HexoskinClient(config) as api, tempfile.TemporaryDirectory(prefix="hexo-bench-e2e-") as tmp:
            # Pick the subject-day with the most recorded hours (listing records is one cheap call each).
            best = None
            for account in subjects:
                subject = Subject(int(account["user_id"]), account["username"])
                for d in range(study.days):
                    window = DayWindow.of(study.start + timedelta(days=d), study.timezone)
                    records = records_table(overlapping(api, "record", subject, window), window, now_utc())
                    hours = sum(records.column("day_duration_s").to_pylist()) / 3600
                    if best is None or hours > best[0]:
                        best = (hours, subject, window, records)
            hours, subject, window, records = best
            if quick:  # a short window inside the first record: same code path, small bytes
                first = records.slice(0, 1)
                a = max(first.column("start_ticks")[0].as_py(), window.start)
                window = DayWindow(window.day, a, a + QUICK_WINDOW_S * 256)
                records = records_table(overlapping(api, "record", subject, window), window, now_utc())
                hours = sum(records.column("day_duration_s").to_pylist()) / 3600
            lake = Lake(Path(tmp) / "lake")
            pool = pa.default_memory_pool()
            rss_before = current_rss_mb()
            t1 = time.perf_counter()
            tables = fetch_signals(api, records, window, now_utc(), Path(tmp) / "quarantine")
            t2 = time.perf_counter()
            rss_after_fetch = current_rss_mb()
            for family, dataset in SIGNAL_DATASETS.items():
                lake.write_partition(dataset, subject.key, window.day, tables.get(family), signal=True)
            t3 = time.perf_counter()
            peak_rss, arrow_peak = peak_rss_mb(), pool.max_memory() / 2**20
            # Where the fetch time goes: the same zips fetched again (untimed: the sandbox's caches are warm
            # now), then decoded alone; the rest of fetch is the server generating bytes, HTTP, clip, sort.
            zips = []
            for rec in records.to_pylist():
                a = max(rec["start_ticks"], window.start) - 256
                b = min(rec["end_ticks"], window.end) + 256
                zips.append(Path(tmp) / f"record_{rec['record_id']}.zip")
                api.download_data(zips[-1], SIGNAL_DATATYPES, record=rec["record_id"], start=a, end=b)
            t5 = time.perf_counter()
            for path in zips:
                read_exports(path)
            t6 = time.perf_counter()
            files = [p for p in (Path(tmp) / "lake").rglob("*.parquet") if "_manifest" not in p.parts]
            return {
                "subject_day": f"{subject.key} {window.day}",
                "records": records.num_rows,
                "recorded_hours": hours,
                "samples": sum(t.num_rows for t in tables.values()),
                "samples_by_family": {f.value: t.num_rows for f, t in tables.items()},
                "fetch_decode_s": t2 - t1,
                "write_s": t3 - t2,
                "total_s": t3 - t1,
                "lake_bytes": sum(f.stat().st_size for f in files),
                "lake_files": len(files),
                "rss_before_mb": rss_before,
                "rss_after_fetch_mb": rss_after_fetch,
                "peak_rss_mb": peak_rss,
                "arrow_pool_peak_mb": arrow_peak,
                "download_bytes": sum(p.stat().st_size for p in zips),
                "decode_s": t6 - t5,
                "sandbox_startup_s": startup_s,
            }
    finally:
        handle.stop()


def run(quick: bool = False) -> Report:
    cmd = [sys.executable, __file__, "--child"] + (["--quick"] if quick else [])
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).parent)
    if done.returncode:
        raise RuntimeError(f"end-to-end child failed:\n{done.stderr[-4000:]}")
    r = json.loads(done.stdout.strip().splitlines()[-1])
    n, total = r["samples"], r["total_s"]
    report = Report("End to end: one subject-day, sandbox -> fetch_signals -> Lake.write_partition")
    report.add("subject_day", "subject-day (most recorded hours of 4 x 3)" if not quick else "window (--quick)",
               r["subject_day"], r["subject_day"],
               f"{r['records']} records, {r['recorded_hours']:.2f} h recorded")
    report.add("samples", "samples (all families)", n, f"{n:,}",
               ", ".join(f"{k} {v:,}" for k, v in r["samples_by_family"].items()))
    report.add("total_s", "seconds: download + decode + clip + write", total, f"{total:.2f} s",
               f"fetch+decode {r['fetch_decode_s']:.2f} s, write {r['write_s']:.2f} s")
    report.add("samples_per_s", "throughput", n / total, fmt_rate(n / total),
               "sandbox generation shares the 2 cores")
    report.add("decode_s", "  of which decoding the zips (read_exports, timed alone)", r["decode_s"],
               f"{r['decode_s']:.2f} s", f"{r['download_bytes'] / 1e6:,.0f} MB of zip, "
               f"{n / r['decode_s'] / 1e6:,.1f} M samples/s")
    rest = r["fetch_decode_s"] - r["decode_s"]
    report.add("server_http_clip_s", "  rest of fetch: sandbox generation + HTTP + clip/sort", rest,
               f"{rest:.2f} s", "derived: fetch minus decode")
    report.add("bytes_per_sample", "lake bytes/sample (7 families, with lineage cols)",
               r["lake_bytes"] / max(n, 1), f"{r['lake_bytes'] / max(n, 1):.3f} B",
               f"{r['lake_bytes'] / 1e6:,.1f} MB in {r['lake_files']} files")
    report.add("peak_rss_mb", "peak RSS of the process", r["peak_rss_mb"], f"{r['peak_rss_mb']:,.0f} MB",
               f"before the day {r['rss_before_mb']:,.0f} MB, after fetch {r['rss_after_fetch_mb']:,.0f} MB")
    report.add("arrow_pool_peak_mb", "peak Arrow memory (pipeline tables)", r["arrow_pool_peak_mb"],
               f"{r['arrow_pool_peak_mb']:,.0f} MB")
    report.add("sandbox_startup_s", "sandbox startup (not in the total)", r["sandbox_startup_s"],
               f"{r['sandbox_startup_s']:.2f} s")
    return report


if __name__ == "__main__":
    if "--child" in sys.argv:
        print(json.dumps(_child("--quick" in sys.argv)))
    else:
        run("--quick" in sys.argv).print()
