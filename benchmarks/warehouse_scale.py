"""`make bench-scale`: the warehouse build at study scale, against a hand-written DuckDB query.

    .venv/bin/python benchmarks/warehouse_scale.py --subjects 500 --days 730 --json scale.json
    .venv/bin/python benchmarks/warehouse_scale.py --quick          # 6 x 20, a smoke run

Writes a summary lake of N x D (scale_lake.py: closed months compacted, as a two-year study has them),
then measures, each as its own `hexo-pipeline marts` process (wall time and peak RSS of the process tree):
- the full build + publish (fresh warehouse);
- a no-change rebuild;
- the daily build after one new day for every subject;
- the day after (when the new day brought a compacted lake its first daily files, the staging views were
  bound again over every file; the day after shows the build without that);
- one late subject-day (re-ingested inside a compacted month);
- the published file's size and the p50/p95 of the README's BI queries on it;
- the same core figures as `fct_subject_day` (worn minutes, valid day, heart rate, RMSSD) computed by one
  hand-written DuckDB query straight over the summaries, the floor dbt is compared with.
  And every statistic fct_subject_day merges, by one hand-written query to a table: what reading the
  summaries at the marts' width costs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import machine, versions  # noqa: E402
from scale_lake import ScaleSpec, files_in, write_days, write_scale_lake  # noqa: E402

from hexo_pipeline.lake import contract  # noqa: E402

MEMORY_LIMIT = "4GB"
# The README's example queries (a test runs the same blocks against the demo warehouse).
BI_QUERIES = {
    "adherence per subject": "select username, group_name, adherence_pct, wear_hours_per_day, days_with_data, "
    "valid_days from marts.rpt_study_adherence order by group_name, username",
    "group trends per day": "select local_date, group_name, hr_mean_bpm, rmssd_ms from marts.agg_group_day "
    "order by local_date, group_name",
    "valid days per subject": "select subject_id, count(*) filter (where is_valid_day) as valid_days, count(*) as days "
    "from marts.fct_subject_day group by subject_id order by subject_id",
}

# The core of fct_subject_day by hand: worn minutes and the valid day (>= 600 worn minutes), the clean
# heart-rate mean and RMSSD of each subject-day, straight from the summaries (no dbt, no incremental state).
DIRECT_QUERY = """
with minutes as (
    select subject, date, sum(worn_samples_n) / 60.0 as worn_minutes,
           sum(hr_clean_sum) / nullif(sum(hr_clean_n), 0) as hr_mean_bpm
    from {vitals_minutes}
    group by all
),
hrv as (
    select subject, date, sqrt(sum(diff_sumsq) / nullif(sum(diff_n), 0)) as rmssd_ms
    from {hrv_windows}
    group by all
)
select count(*), count(*) filter (where worn_minutes >= 600), avg(hr_mean_bpm), avg(rmssd_ms)
from minutes left join hrv using (subject, date)
"""


# The same, at the width of fct_subject_day: every statistic the marts merge per subject-day (the 1 Hz vitals,
# the resting heart rate from the ingested windows, the RR and step sums), written to a table as dbt writes
# its models. Not the floor the issue names (that is DIRECT_QUERY): a measure of what reading the summaries
# at the marts' width costs, so the report can tell the scans the marts need from dbt's own overhead.
def _statistics(schema: pa.Schema) -> list[str]:
    """A summary dataset's additive statistic columns (docs/lake.md: counts, sums, sums of squares, min, max),
    from the lake contract; the resting-HR window terms (hr_window_*) are not additive and are read apart."""
    additive = ("_n", "_sum", "_sumsq", "_min", "_max")
    return [f.name for f in schema if f.name.endswith(additive) and not f.name.startswith("hr_window_")]


VITALS_STATISTICS = _statistics(contract.VITALS_MINUTES_SCHEMA)
HRV_SUMS = _statistics(contract.HRV_WINDOWS_SCHEMA)


def _merge(column: str) -> str:
    kind = "min" if column.endswith("_min") else "max" if column.endswith("_max") else "sum"
    return f"{kind}({column}) as {column}"


DIRECT_QUERY_WIDE = (
    """
create or replace temp table direct_subject_day as
with minutes as (
    select subject, date, count(*) filter (where worn_samples_n > 0) as worn_minutes, """
    + ", ".join(_merge(c) for c in VITALS_STATISTICS)
    + """,
           min(hr_window_minute_means_sum / nullif(hr_window_clean_minutes_n, 0))
               filter (where hr_window_clean_minutes_n >= 30) as resting_hr_bpm
    from {vitals_minutes}
    group by all
),
hrv as (
    select subject, date, """
    + ", ".join(_merge(c) for c in HRV_SUMS)
    + """
    from {hrv_windows}
    group by all
),
steps as (
    select subject, date, sum(steps) as steps from {steps_minutes} group by all
)
select * from minutes left join hrv using (subject, date) left join steps using (subject, date)
"""
)


def lake_table_sql(lake: Path, dataset: str) -> str:
    """A dataset's daily files and compacted months as one relation (as dbt's lake_relation reads it)."""
    parts = []
    if any((lake / dataset).glob("subject=*/date=*/*.parquet")):
        parts.append(
            f"select * from read_parquet('{lake}/{dataset}/subject=*/date=*/*.parquet', "
            "hive_partitioning = true, union_by_name = true)"
        )
    if any((lake / dataset).glob("subject=*/month=*/*.parquet")):
        parts.append(
            f"select * exclude (month) from read_parquet('{lake}/{dataset}/subject=*/month=*/*.parquet', "
            "hive_partitioning = true, union_by_name = true)"
        )
    return "(" + " union all by name ".join(parts) + ")"


def run_marts(data_dir: Path, *extra: str) -> dict:
    """One `hexo-pipeline marts` process; wall time and the peak RSS of its process tree."""
    cli = Path(sys.executable).with_name("hexo-pipeline")
    cmd = [str(cli), "marts", "--data-dir", str(data_dir), "--no-report", "--no-docs", *extra]  # the build alone
    # A wrapper process so RUSAGE_CHILDREN covers exactly this build (dbt and DuckDB included).
    wrapper = (
        "import json, resource, subprocess, sys, time; t0 = time.perf_counter(); "
        "p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True); "
        "print(json.dumps({'rc': p.returncode, 's': time.perf_counter() - t0, "
        "'rss_kb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, 'out': p.stdout[-3000:]}))"
    )
    env = {
        **os.environ,
        "HEXO_DATA_DIR": str(data_dir),
        "HEXO_DUCKDB_MEMORY_LIMIT": MEMORY_LIMIT,
        "HEXO_STUDY_TZ": "UTC",
    }
    proc = subprocess.run([sys.executable, "-c", wrapper, *cmd], env=env, stdout=subprocess.PIPE, text=True, check=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["rc"] != 0:
        raise SystemExit(f"marts build failed (exit {result['rc']}):\n{result['out']}")
    return {"s": result["s"], "rss_mb": result["rss_kb"] / 1024}


def bi_latency(published: Path, repeat: int) -> dict[str, float]:
    """p50/p95 over every README query, each run `repeat` times on a read-only connection, as a BI tool."""
    times: list[float] = []
    with duckdb.connect(str(published), read_only=True) as con:
        for sql in BI_QUERIES.values():
            con.execute(sql).fetchall()  # warm the file cache once, as a dashboard open does
            for _ in range(repeat):
                t0 = time.perf_counter()
                con.execute(sql).fetchall()
                times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return {"p50_ms": statistics.median(times), "p95_ms": times[int(0.95 * (len(times) - 1))]}


def direct_query(lake: Path, template: str = DIRECT_QUERY) -> float:
    """Seconds of one hand-written query (DIRECT_QUERY or DIRECT_QUERY_WIDE) over the lake's summaries."""
    datasets = ("vitals_minutes", "hrv_windows", "steps_minutes")
    sql = template.format(**{name: lake_table_sql(lake, name) for name in datasets if "{" + name + "}" in template})
    with duckdb.connect(config={"memory_limit": MEMORY_LIMIT}) as con:
        con.execute("set enable_progress_bar = false")  # a connection option in DuckDB 2.0, not a global one
        t0 = time.perf_counter()
        con.execute(sql).fetchall()
        return time.perf_counter() - t0


def run(subjects: int, days: int, workdir: Path, lake_from: Path | None = None) -> dict:
    spec = ScaleSpec(subjects=subjects, days=days)
    data = workdir / "data"
    figures: dict = {"subject_days": subjects * days, "subjects": subjects, "days": days}

    t0 = time.perf_counter()
    if lake_from:  # a lake written earlier for the same size: hard links, since writers replace files whole
        # The lake only: the source's warehouse (state file, published marts) must not be shared, or this
        # "full" build would be incremental and DuckDB would write the source's state file in place.
        data.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", "-al", str(lake_from / "lake"), str(data / "lake")], check=True)
        for lock in (data / "lake").rglob("*.lock"):  # a hard-linked lock file is the original's lock: unlink
            lock.unlink()
        counts = {"reused": str(lake_from)}
    else:
        counts = write_scale_lake(data, spec)
    figures["lake_write_s"] = time.perf_counter() - t0
    figures["lake_files"] = files_in(data / "lake")
    figures["lake_mb"] = sum(p.stat().st_size for p in (data / "lake").rglob("*") if p.is_file()) / 1e6
    print(
        f"  lake: {figures['lake_files']:,} files, {figures['lake_mb']:,.0f} MB, written in "
        f"{figures['lake_write_s']:.0f} s ({', '.join(f'{k} {v}' for k, v in counts.items())})",
        flush=True,
    )

    full = run_marts(data)
    figures["full_build_s"], figures["full_build_peak_rss_mb"] = full["s"], full["rss_mb"]
    _progress("full build + publish", full, data)
    return incremental_builds(spec, data, figures, new_day=days)


def incremental_builds(spec: ScaleSpec, data: Path, figures: dict, new_day: int) -> dict:
    """The no-change run, the daily build (day `new_day` for every subject), the late subject-day, the
    publication and the BI queries, on a data dir whose warehouse a full build published."""
    nochange = run_marts(data)
    figures["nochange_build_s"], figures["nochange_peak_rss_mb"] = nochange["s"], nochange["rss_mb"]
    _progress("no-change run", nochange, data)

    received = datetime.now(UTC).replace(microsecond=0)
    write_days(data, spec, [new_day], range(spec.subjects), received)  # one new day for every subject
    daily = run_marts(data)
    figures["daily_build_s"], figures["daily_peak_rss_mb"] = daily["s"], daily["rss_mb"]
    _progress("one new day, every subject", daily, data)

    # The day after. A new day that brings the first daily files to a lake of compacted months only (the scale
    # lake's state: every month compacted) changes the SQL of the staging views over the lake, which are then
    # bound again over every file (macros/views.sql); a lake that already has daily files, as it has most days
    # of a month, does not: this build shows that case.
    write_days(data, spec, [new_day + 1], range(spec.subjects), received)
    steady = run_marts(data)
    figures["daily_next_day_build_s"], figures["daily_next_day_peak_rss_mb"] = steady["s"], steady["rss_mb"]
    _progress("the next day, every subject", steady, data)

    late_day = spec.days // 3  # inside a compacted month
    write_days(data, spec, [late_day], [spec.subjects // 2], received + timedelta(hours=1))  # one late subject-day
    late = run_marts(data)
    figures["late_day_build_s"], figures["late_peak_rss_mb"] = late["s"], late["rss_mb"]
    _progress("one late subject-day", late, data)

    published = data / "warehouse" / "hexo.duckdb"
    figures["published_mb"] = published.stat().st_size / 1e6
    bi = bi_latency(published, repeat=20)
    figures["bi_p50_ms"], figures["bi_p95_ms"] = bi["p50_ms"], bi["p95_ms"]
    figures["direct_query_s"] = min(direct_query(data / "lake") for _ in range(2))
    figures["direct_query_wide_s"] = min(direct_query(data / "lake", DIRECT_QUERY_WIDE) for _ in range(2))
    return figures


def rerun(subjects: int, days: int, workdir: Path) -> dict:
    """The incremental builds again on a workdir an earlier run left (its lake, state and published marts): no
    lake copy, no full build. The "new day" is the run's new day (`days`) fetched again for every subject (a
    later received_at: the same 500 partitions to load; the day after it, `days` + 1, again too): scale_lake's
    ids leave room for `days` + 3 days per subject (a night record of day `days` + 1 ends the day after), so a
    later day would reuse the next subject's record ids."""
    spec = ScaleSpec(subjects=subjects, days=days)
    data = workdir / "data"
    if not (data / "warehouse" / "hexo.duckdb").exists():
        raise SystemExit(f"--rerun: no published warehouse under {data} (run once with --workdir first)")
    figures: dict = {"subject_days": subjects * days, "subjects": subjects, "days": days, "rerun": True}
    figures["lake_files"] = files_in(data / "lake")
    return incremental_builds(spec, data, figures, new_day=days)


def _progress(label: str, build: dict, data: Path | None = None) -> None:
    """Each build's figures as soon as they are measured (a long run is readable before it ends), with the
    dbt nodes that took longest (dbt's run_results.json, kept beside the data dir as run_results_<label>)."""
    print(f"  {label}: {build['s']:,.1f} s, peak {build['rss_mb']:,.0f} MB", flush=True)
    results = data / "warehouse" / "last_build" / "run_results.json" if data else None
    if results and results.exists():
        slug = label.replace(" ", "_").replace(",", "").replace("+", "and")
        kept = data.parent / f"run_results_{slug}.json"
        shutil.copyfile(results, kept)
        nodes = json.loads(kept.read_text())["results"]
        slowest = sorted(nodes, key=lambda n: -n["execution_time"])[:6]
        total = sum(n["execution_time"] for n in nodes)
        print(
            f"    dbt: {len(nodes)} nodes, {total:,.1f} s of node time; slowest: "
            + ", ".join(f"{n['unique_id'].split('.')[-1]} {n['execution_time']:.1f} s" for n in slowest),
            flush=True,
        )


def print_table(f: dict) -> None:
    d = f["direct_query_s"]
    full = (
        []
        if "full_build_s" not in f
        else [  # not in a --rerun
            (
                "full build + publish",
                f"{f['full_build_s']:,.1f} s",
                f"x{f['full_build_s'] / d:.1f} direct",
                f"peak {f['full_build_peak_rss_mb']:,.0f} MB",
            )
        ]
    )
    rows = full + [
        (
            "no-change rebuild",
            f"{f['nochange_build_s']:,.1f} s",
            f"x{f['nochange_build_s'] / d:.1f} direct",
            f"peak {f['nochange_peak_rss_mb']:,.0f} MB",
        ),
        (
            "one new day, every subject",
            f"{f['daily_build_s']:,.1f} s",
            f"x{f['daily_build_s'] / d:.1f} direct",
            f"peak {f['daily_peak_rss_mb']:,.0f} MB",
        ),
        (
            "  the next day, every subject",
            f"{f['daily_next_day_build_s']:,.1f} s",
            f"x{f['daily_next_day_build_s'] / d:.1f} direct",
            f"peak {f['daily_next_day_peak_rss_mb']:,.0f} MB",
        ),
        (
            "one late subject-day",
            f"{f['late_day_build_s']:,.1f} s",
            f"x{f['late_day_build_s'] / d:.1f} direct",
            f"peak {f['late_peak_rss_mb']:,.0f} MB",
        ),
        ("hand-written DuckDB query", f"{d:,.1f} s", "x1.0", "same summaries"),
        (
            "  the same, every statistic",
            f"{f['direct_query_wide_s']:,.1f} s",
            f"x{f['direct_query_wide_s'] / d:.1f} direct",
            "fct_subject_day's width",
        ),
        ("published file", f"{f['published_mb']:,.1f} MB", "", ""),
        ("BI queries (README)", f"p50 {f['bi_p50_ms']:,.1f} ms", f"p95 {f['bi_p95_ms']:,.1f} ms", ""),
    ]
    print(f"\nwarehouse at {f['subjects']} subjects x {f['days']} days ({f['subject_days']:,} subject-days)")
    for row in rows:
        print(f"  {row[0]:<30} {row[1]:>14} {row[2]:>16} {row[3]:>18}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="warehouse build at study scale (make bench-scale)")
    parser.add_argument("--subjects", type=int, default=100)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--quick", action="store_true", help="6 subjects x 20 days (smoke run)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--workdir", type=Path, help="keep the lake and warehouse here (default: a temp dir)")
    parser.add_argument(
        "--lake-from",
        type=Path,
        help="a data dir holding a lake written by an earlier run of the same size (hard-linked, not rewritten)",
    )
    parser.add_argument(
        "--rerun",
        action="store_true",
        help="only the no-change, daily and late builds, again, on the --workdir of an earlier run (no full build)",
    )
    args = parser.parse_args(argv)
    if args.lake_from and not (args.lake_from / "lake").is_dir():
        parser.error(f"--lake-from {args.lake_from}: no lake/ there (give the data dir of an earlier run)")
    subjects, days = (6, 20) if args.quick else (args.subjects, args.days)
    print(f"warehouse scale benchmark: {machine()}\n  {versions()}", flush=True)
    if args.rerun:
        if not args.workdir:
            parser.error("--rerun needs --workdir")
        figures = rerun(subjects, days, args.workdir)
    elif args.workdir:
        shutil.rmtree(args.workdir, ignore_errors=True)
        args.workdir.mkdir(parents=True)
        figures = run(subjects, days, args.workdir, args.lake_from)
    else:
        with tempfile.TemporaryDirectory(prefix="hexo-scale-") as tmp:
            figures = run(subjects, days, Path(tmp), args.lake_from)
    print_table(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
