"""Lake layout: what one file per subject-day-family costs cohort queries, against compacted daily files.

Two layouts of the same synthetic vitals-like rows (8 channels at 1 Hz; columns as the lake writes them:
ts, datatype_id, value, record_id, received_at; the tuned signal Parquet options):

- `per_subject_day`: today's layout, `signals_vitals/subject=<s>/date=<d>/part-0.parquet`
  (subjects x days files);
- `daily_compacted`: `signals_vitals/date=<d>/part-0.parquet`, all subjects of a day in one file with a
  `subject` column, sorted by (subject, datatype_id, ts) (days files).

DuckDB reads both with `read_parquet(glob, hive_partitioning = true)`, as dbt does. Timings are best of 3
with a warm OS page cache (repeated queries), so they measure per-file overhead, not disk reads.

    .venv/bin/python benchmarks/lake_layout.py                 # 100 subjects x 50 days: 5,000 vs 50 files
    .venv/bin/python benchmarks/lake_layout.py --quick         # 10 x 5
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from common import Report, best_of, machine, versions

from hexo_pipeline.decoders.parquet import SIGNAL_PARQUET_OPTIONS
from hexo_pipeline.lake import SIGNAL_DATASETS

VITALS = (19, 1000, 33, 1001, 36, 37, 49, 53)
START = date(2025, 3, 3)
TS = pa.timestamp("ns", tz="UTC")
RECEIVED = pa.timestamp("us", tz="UTC")
STUDY_SUBJECTS, STUDY_DAYS = 500, 730


def subject_day_table(rng: np.random.Generator, day: date, hours: float, record_id: int) -> pa.Table:
    """Vitals-like rows of one subject-day: `hours` of wear starting 08:00 UTC, 8 channels at 1 Hz."""
    n = int(hours * 3600)
    start_ns = int(datetime(day.year, day.month, day.day, 8, tzinfo=UTC).timestamp()) * 10**9
    ts = start_ns + (np.arange(1, n + 1, dtype=np.int64) * 10**9)
    ids, stamps, values = [], [], []
    for i, dt_id in enumerate(sorted(VITALS)):  # rows sorted by (datatype_id, ts), as the lake writes them
        # Slow random walks of small integers (HR, BR, ...) or flags that are mostly 0 (quality channels).
        if dt_id >= 1000:
            v = (rng.random(n) < 0.03).astype(np.int64) * 16
        else:
            v = 60 + 10 * i + np.cumsum(rng.integers(-1, 2, n)) // 8
        ids.append(np.full(n, dt_id, np.int32))
        stamps.append(ts)
        values.append(v.astype(np.int64))
    rows = n * len(VITALS)
    received = np.full(rows, np.datetime64(datetime(2026, 1, 1, 0, 0), "us"))
    return pa.Table.from_arrays(
        [
            pa.array(np.concatenate(stamps), TS),
            pa.array(np.concatenate(ids)),
            pa.array(np.concatenate(values)),
            pa.array(np.full(rows, record_id, np.int64)),
            pa.array(received, RECEIVED),
        ],
        names=["ts", "datatype_id", "value", "record_id", "received_at"],
    )


def lake_options(extra_dictionary: tuple[str, ...] = ()) -> dict:
    options = dict(SIGNAL_PARQUET_OPTIONS)
    options["use_dictionary"] = ["datatype_id", "record_id", "received_at", *extra_dictionary]
    return options


def build(root: Path, subjects: int, days: int, hours: float) -> dict:
    """Write both layouts; returns counts, sizes and the compaction time (read a day's files, write one)."""
    rng = np.random.default_rng(7)
    small = root / "per_subject_day" / "signals_vitals"
    compact = root / "daily_compacted" / "signals_vitals"
    names = [f"b0a1c2d3_sub{i:03d}" for i in range(subjects)]
    t_small = t_compact = 0.0
    rows = 0
    for d in range(days):
        day = START + timedelta(days=d)
        t0 = time.perf_counter()
        for s, name in enumerate(names):
            table = subject_day_table(rng, day, hours, record_id=d * subjects + s)
            folder = small / f"subject={name}" / f"date={day.isoformat()}"
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, folder / "part-0.parquet", **lake_options())
            rows += table.num_rows
        t_small += time.perf_counter() - t0
        # Compaction as a daily job would do it: read the day's subject files back, one sorted file out.
        t0 = time.perf_counter()
        parts = []
        for name in names:
            t = pq.read_table(small / f"subject={name}" / f"date={day.isoformat()}" / "part-0.parquet")
            parts.append(t.append_column("subject", pa.array([name] * t.num_rows, pa.string())))
        day_table = pa.concat_tables(parts)  # already sorted by subject, then (datatype_id, ts)
        folder = compact / f"date={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        options = lake_options(("subject",))
        options["sorting_columns"] = [pq.SortingColumn(5), pq.SortingColumn(1), pq.SortingColumn(0)]
        pq.write_table(day_table, folder / "part-0.parquet", **options)
        t_compact += time.perf_counter() - t0
    files_small = list(small.rglob("*.parquet"))
    files_compact = list(compact.rglob("*.parquet"))
    return {
        "rows": rows,
        "names": names,
        "files_small": len(files_small),
        "files_compact": len(files_compact),
        "bytes_small": sum(f.stat().st_size for f in files_small),
        "bytes_compact": sum(f.stat().st_size for f in files_compact),
        "write_small_s": t_small,
        "compact_s": t_compact,
        "glob_small": str(small / "*" / "*" / "*.parquet"),
        "glob_compact": str(compact / "*" / "*.parquet"),
    }


def _normalized(rows: list[tuple]) -> list[tuple]:
    return sorted(tuple(round(v, 6) if isinstance(v, float) else v for v in row) for row in rows)


def queries(subject: str, day: str) -> dict[str, str]:
    src = "read_parquet('{glob}', hive_partitioning = true)"
    return {
        "count(*) (footers only)": f"select count(*) from {src}",
        "cohort: rows and mean by channel": f"select datatype_id, count(*), avg(value) from {src} group by all",
        "cohort: daily mean HR per subject": f"select subject, date, avg(value) from {src} "
        f"where datatype_id = 19 group by all",
        "one subject, whole study, HR": f"select count(*), avg(value) from {src} "
        f"where subject = '{subject}' and datatype_id = 19",
        "one day, all subjects": f"select count(*), avg(value) from {src} where date = '{day}'",
    }


def run(
    quick: bool = False, subjects: int | None = None, days: int | None = None, hours: float | None = None
) -> Report:
    import duckdb

    subjects = subjects or (10 if quick else 100)
    days = days or (5 if quick else 50)
    hours = hours or (0.5 if quick else 2.0)
    report = Report(
        f"Lake layout: {subjects} subjects x {days} days of vitals, {hours:g} h/day ({machine()}; {versions()})"
    )
    with tempfile.TemporaryDirectory(prefix="hexo-bench-layout-") as tmp:
        built = build(Path(tmp), subjects, days, hours)
        n_small, n_compact = built["files_small"], built["files_compact"]
        report.add("rows", "rows (samples)", built["rows"], f"{built['rows']:,}")
        report.add(
            "files_small",
            "files, one per subject-day",
            n_small,
            f"{n_small:,}",
            f"{built['bytes_small'] / 1e6:,.1f} MB, {built['bytes_small'] / n_small / 1e3:,.0f} kB/file, "
            f"written in {built['write_small_s']:.1f} s",
        )
        report.add(
            "files_compact",
            "files, one per day (compacted)",
            n_compact,
            f"{n_compact:,}",
            f"{built['bytes_compact'] / 1e6:,.1f} MB, {built['bytes_compact'] / n_compact / 1e6:,.1f} MB/file",
        )
        report.add(
            "compact_s_per_day",
            "compaction cost per day (read + write)",
            built["compact_s"] / days,
            f"{built['compact_s'] / days * 1e3:,.0f} ms",
            f"for {subjects} subjects",
        )
        con = duckdb.connect()
        subject, day = built["names"][subjects // 2], (START + timedelta(days=days // 2)).isoformat()
        t_glob, _ = best_of(
            lambda: con.execute(f"select count(*) from glob('{built['glob_small']}')").fetchall(), repeat=3
        )
        report.add("glob_small_s", "DuckDB glob() of the subject-day files", t_glob, f"{t_glob * 1e3:,.0f} ms")
        for label, sql in queries(subject, day).items():
            key = label.split(":")[0].replace(" ", "_").replace("(", "").replace(")", "").replace(",", "")
            t_s, r_s = best_of(lambda: con.execute(sql.format(glob=built["glob_small"])).fetchall(), repeat=3)
            t_c, r_c = best_of(lambda: con.execute(sql.format(glob=built["glob_compact"])).fetchall(), repeat=3)
            if _normalized(r_s) != _normalized(r_c):
                raise AssertionError(f"layouts disagree on {label!r}")
            report.add(
                f"q_{key}_{len(report.rows)}",
                label,
                t_s / t_c,
                f"{t_s * 1e3:,.0f} vs {t_c * 1e3:,.0f} ms",
                f"x{t_s / t_c:.1f} slower on {n_small:,} files",
            )
            report.figures[f"q_{len(report.rows)}_small_s"] = t_s
            report.figures[f"q_{len(report.rows)}_compact_s"] = t_c
        # dbt's incremental models find changed partitions with parquet_metadata over the whole glob
        # (dbt_project/macros/lake.sql, lake_partition_state_sql): the same SQL on both layouts.
        state_sql = (
            "select regexp_extract(file_name, 'subject=([^/]+)/date=', 1) as subject, "
            "regexp_extract(file_name, '/date=([0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}})/', 1) as lake_date, "
            "max(cast(stats_max as timestamptz)) from parquet_metadata('{glob}') "
            "where path_in_schema = 'received_at' group by all"
        )
        t_ms, _ = best_of(lambda: con.execute(state_sql.format(glob=built["glob_small"])).fetchall(), repeat=3)
        t_mc, _ = best_of(lambda: con.execute(state_sql.format(glob=built["glob_compact"])).fetchall(), repeat=3)
        report.add(
            "dbt_state_scan_ratio",
            "dbt incremental state scan (parquet_metadata)",
            t_ms / t_mc,
            f"{t_ms * 1e3:,.0f} vs {t_mc * 1e3:,.0f} ms",
            f"{t_ms / n_small * 1e3:.3f} ms per file",
        )
        report.figures["dbt_state_scan_small_s"] = t_ms
        report.figures["dbt_state_scan_compact_s"] = t_mc
        # Per-file overhead of a full read (count(*) reads only footers), extrapolated to a 500 x 730 study.
        t_count_s, _ = best_of(
            lambda: con.execute(
                f"select count(*) from read_parquet('{built['glob_small']}', hive_partitioning = true)"
            ).fetchall(),
            repeat=3,
        )
        t_count_c, _ = best_of(
            lambda: con.execute(
                f"select count(*) from read_parquet('{built['glob_compact']}', hive_partitioning = true)"
            ).fetchall(),
            repeat=3,
        )
        per_file_ms = (t_count_s - t_count_c) / max(n_small - n_compact, 1) * 1e3
        per_family = STUDY_SUBJECTS * STUDY_DAYS
        report.add(
            "per_file_overhead_ms",
            "DuckDB overhead per extra file (count(*))",
            per_file_ms,
            f"{per_file_ms:.3f} ms",
            "measured",
        )
        report.add(
            "study_files",
            f"files at {STUDY_SUBJECTS} x {STUDY_DAYS}, one per subject-day-family",
            per_family * len(SIGNAL_DATASETS),
            f"{per_family * len(SIGNAL_DATASETS):,}",
            f"{per_family:,} per family; daily compaction: {STUDY_DAYS:,} per family",
        )
        report.add(
            "study_overhead_s",
            "inferred file overhead of one cohort query, one family",
            per_file_ms * per_family / 1e3,
            f"{per_file_ms * per_family / 1e3:,.0f} s",
            f"{per_family:,} files x measured per-file cost (extrapolated, not measured)",
        )
        report.add(
            "study_state_scan_s",
            "inferred dbt state scan at that size, one dataset",
            t_ms / n_small * per_family,
            f"{t_ms / n_small * per_family:,.0f} s",
            "per incremental model and build (extrapolated, not measured)",
        )
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--subjects", type=int)
    parser.add_argument("--days", type=int)
    parser.add_argument("--hours", type=float, help="hours of wear per subject-day")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report = run(args.quick, args.subjects, args.days, args.hours)
    report.print()
    if args.json:
        args.json.write_text(json.dumps({report.title: report.figures}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
