"""End to end: one subject-day of every channel through the real ingestion path, no Dagster.

Two child processes, so each peak RSS is its own:
1. prepare: the sandbox (in-process, real HTTP on loopback) serves the study; the subject-day with the
   most recorded hours is chosen and each record's binary zip is downloaded once (the server's signal
   generation is not the pipeline's cost, so it stays out of the timings);
2. ingest: `ingest_subject_day_signals` (download = copy of the cached zip to the temp folder, decode
   channel by channel, clip, staged Parquet per family, summaries, atomic commit), timed; with
   `--legacy`, the previous path instead: `fetch_signals` (whole day decoded into one table per
   family, sorted) then `Lake.write_partition` per family.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import Report, fmt_rate, peak_rss_mb

QUICK_WINDOW_S = 600  # --quick: the first 10 minutes of one record instead of a whole day


def _prepare(quick: bool, folder: Path) -> dict:
    from datetime import timedelta

    import pyarrow.parquet as pq

    from hexo_pipeline.hexoskin import HexoskinClient, HexoskinConfig
    from hexo_pipeline.ingest.subject_day import (
        SIGNAL_DATATYPES,
        DayWindow,
        Subject,
        now_utc,
        overlapping,
        records_table,
    )
    from hexo_sandbox import StudyConfig, start_sandbox

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    study = StudyConfig(subjects=4, days=3)
    t0 = time.perf_counter()
    handle = start_sandbox(study=study)
    startup_s = time.perf_counter() - t0
    info = handle.info
    owner = next(a for a in info["accounts"] if a["role"] == "owner")
    subjects = [a for a in info["accounts"] if a["role"] == "subject"]
    config = HexoskinConfig(
        base_url=handle.base_url,
        auth="oauth2",
        client_id=info["oauth2"]["client_id"],
        client_secret=info["oauth2"]["client_secret"],
        username=owner["username"],
        password=owner["password"],
    )
    try:
        with HexoskinClient(config) as api:
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
            t1 = time.perf_counter()
            for rec in records.to_pylist():
                a = max(rec["start_ticks"], window.start) - 256
                b = min(rec["end_ticks"], window.end) + 256
                api.download_data(
                    folder / f"record_{rec['record_id']}.zip", SIGNAL_DATATYPES, record=rec["record_id"], start=a, end=b
                )
            download_s = time.perf_counter() - t1
            pq.write_table(records, folder / "records.parquet")
    finally:
        handle.stop()
    return {
        "subject": subject.key,
        "day": window.day.isoformat(),
        "start": window.start,
        "end": window.end,
        "records": records.num_rows,
        "recorded_hours": hours,
        "sandbox_startup_s": startup_s,
        "sandbox_download_s": download_s,
        "download_bytes": sum(p.stat().st_size for p in folder.glob("record_*.zip")),
    }


class CachedDownloads:
    """A stand-in for the API client: `download_data` copies the zip the prepare step downloaded."""

    def __init__(self, folder: Path):
        self.folder = folder

    def download_data(self, dest, datatypes, *, record, **_) -> Path:
        shutil.copyfile(self.folder / f"record_{record}.zip", dest)
        return Path(dest)


def _ingest(folder: Path, legacy: bool) -> dict:
    from datetime import date

    import pyarrow as pa
    import pyarrow.parquet as pq

    from hexo_pipeline.ingest.signals import ingest_subject_day_signals
    from hexo_pipeline.ingest.subject_day import DayWindow, fetch_signals, now_utc
    from hexo_pipeline.lake import SIGNAL_DATASETS, Lake

    manifest = json.loads((folder / "manifest.json").read_text())
    window = DayWindow(date.fromisoformat(manifest["day"]), manifest["start"], manifest["end"])
    records = pq.read_table(folder / "records.parquet")
    api = CachedDownloads(folder)
    with tempfile.TemporaryDirectory(prefix="hexo-bench-e2e-") as tmp:
        lake = Lake(Path(tmp) / "lake")
        pool = pa.default_memory_pool()
        t0, c0 = time.perf_counter(), time.process_time()
        if legacy:
            tables = fetch_signals(api, records, window, now_utc(), Path(tmp) / "quarantine")
            for family, dataset in SIGNAL_DATASETS.items():
                lake.write_partition(dataset, manifest["subject"], window.day, tables.get(family), signal=True)
            rows = {SIGNAL_DATASETS[f]: t.num_rows for f, t in tables.items()}
        else:
            result = ingest_subject_day_signals(
                api, lake, manifest["subject"], window, records, now_utc(), Path(tmp) / "quarantine"
            )
            rows = dict(result.rows)
        total_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
        signal_files = [f for f in (Path(tmp) / "lake").rglob("*.parquet") if f.parts[-4].startswith("signals_")]
        return {
            "samples": sum(n for d, n in rows.items() if d.startswith("signals_")),
            "samples_by_family": {d[len("signals_") :]: n for d, n in rows.items() if d.startswith("signals_")},
            "summary_rows": {d: n for d, n in rows.items() if not d.startswith("signals_")},
            "total_s": total_s,
            "cpu_s": cpu_s,
            "lake_bytes": sum(f.stat().st_size for f in signal_files),
            "lake_files": len(signal_files),
            "peak_rss_mb": peak_rss_mb(),
            "arrow_pool_peak_mb": pool.max_memory() / 2**20,
        }


def _child(args: list[str]) -> dict:
    python = [sys.executable, __file__]
    cwd = Path(__file__).parent
    with tempfile.TemporaryDirectory(prefix="hexo-bench-zips-") as tmp:
        prep = subprocess.run(
            python + ["--prepare", tmp] + (["--quick"] if "--quick" in args else []),
            capture_output=True,
            text=True,
            cwd=cwd,
        )
        if prep.returncode:
            raise RuntimeError(f"prepare failed:\n{prep.stderr[-4000:]}")
        manifest = json.loads(prep.stdout.strip().splitlines()[-1])
        (Path(tmp) / "manifest.json").write_text(json.dumps(manifest))
        out = dict(manifest)
        for mode in ["new"] + (["legacy"] if "--legacy" in args else []):
            done = subprocess.run(
                python + ["--ingest", tmp] + (["--legacy"] if mode == "legacy" else []),
                capture_output=True,
                text=True,
                cwd=cwd,
            )
            if done.returncode:
                raise RuntimeError(f"ingest ({mode}) failed:\n{done.stderr[-4000:]}")
            out[mode] = json.loads(done.stdout.strip().splitlines()[-1])
        return out


def run(quick: bool = False, legacy: bool = False) -> Report:
    r = _child((["--quick"] if quick else []) + (["--legacy"] if legacy else []))
    new = r["new"]
    n, total = new["samples"], new["total_s"]
    report = Report("End to end: one subject-day, cached downloads -> ingest_subject_day_signals -> lake")
    report.add(
        "subject_day",
        "subject-day (most recorded hours of 4 x 3)" if not quick else "window (--quick)",
        f"{r['subject']} {r['day']}",
        f"{r['subject']} {r['day']}",
        f"{r['records']} records, {r['recorded_hours']:.2f} h recorded",
    )
    report.add(
        "samples",
        "samples (all families)",
        n,
        f"{n:,}",
        ", ".join(f"{k} {v:,}" for k, v in new["samples_by_family"].items()),
    )
    report.add(
        "total_s",
        "seconds: copy zip + decode + clip + write + summaries",
        total,
        f"{total:.2f} s",
        "sandbox generation excluded (zips downloaded beforehand)",
    )
    report.add(
        "samples_per_s",
        "throughput (pipeline side, wall clock)",
        n / total,
        fmt_rate(n / total),
        f"{new['cpu_s']:.2f} CPU-s in all threads; the machine's other load slows the wall clock",
    )
    report.add(
        "samples_per_cpu_s",
        "throughput per CPU-second",
        n / new["cpu_s"],
        fmt_rate(n / new["cpu_s"]),
        "what one core does alone (Parquet encoding runs in 2 threads beside decoding)",
    )
    summary_rows = sum(new["summary_rows"].values())
    report.add(
        "summary_rows",
        "summary rows written beside the signals",
        summary_rows,
        f"{summary_rows:,}",
        ", ".join(f"{k} {v:,}" for k, v in new["summary_rows"].items()),
    )
    report.add(
        "bytes_per_sample",
        "lake bytes/sample (signal families, with lineage cols)",
        new["lake_bytes"] / max(n, 1),
        f"{new['lake_bytes'] / max(n, 1):.3f} B",
        f"{new['lake_bytes'] / 1e6:,.1f} MB in {new['lake_files']} files",
    )
    report.add("peak_rss_mb", "peak RSS of the ingesting process", new["peak_rss_mb"], f"{new['peak_rss_mb']:,.0f} MB")
    report.add(
        "arrow_pool_peak_mb", "peak Arrow memory", new["arrow_pool_peak_mb"], f"{new['arrow_pool_peak_mb']:,.0f} MB"
    )
    if "legacy" in r:
        old = r["legacy"]
        report.add(
            "legacy_total_s",
            "previous path (fetch_signals + write_partition): seconds",
            old["total_s"],
            f"{old['total_s']:.2f} s",
            f"{fmt_rate(old['samples'] / old['total_s'])}, "
            f"{old['cpu_s']:.2f} CPU-s = {fmt_rate(old['samples'] / old['cpu_s'])} per CPU-second",
        )
        report.add("legacy_peak_rss_mb", "previous path: peak RSS", old["peak_rss_mb"], f"{old['peak_rss_mb']:,.0f} MB")
        report.add(
            "speedup", "speed-up over the previous path", old["total_s"] / total, f"x{old['total_s'] / total:.2f}"
        )
    report.add(
        "download_mb",
        "zip bytes",
        r["download_bytes"] / 1e6,
        f"{r['download_bytes'] / 1e6:,.0f} MB",
        f"sandbox generated and served them in {r['sandbox_download_s']:.2f} s (not in the total)",
    )
    report.add(
        "sandbox_startup_s",
        "sandbox startup (not in the total)",
        r["sandbox_startup_s"],
        f"{r['sandbox_startup_s']:.2f} s",
    )
    return report


if __name__ == "__main__":
    if "--prepare" in sys.argv:
        print(json.dumps(_prepare("--quick" in sys.argv, Path(sys.argv[sys.argv.index("--prepare") + 1]))))
    elif "--ingest" in sys.argv:
        print(json.dumps(_ingest(Path(sys.argv[sys.argv.index("--ingest") + 1]), "--legacy" in sys.argv)))
    else:
        run("--quick" in sys.argv, "--legacy" in sys.argv).print()
