"""Study report render time at study scale (targets, issue 10: <= 10 s for 100 subjects x 180 days,
<= 60 s for 500 x 730).

    python benchmarks/bench_report.py --data-dir /tmp/scale [--subjects 100 --days 180] [--repeat 3]
    python benchmarks/bench_report.py --data-dir /tmp/scale500 --study-scale --repeat 1    # 500 x 730
    python benchmarks/bench_report.py --data-dir /tmp/scale --tile 5x4 --repeat 1   # 500 x 720, render only
    python benchmarks/bench_report.py --data-dir /tmp/ws/data ...   # a `warehouse_scale.py --workdir /tmp/ws` run

--data-dir may hold a published warehouse (used as is), a lake without one (scale_lake.py or
warehouse_scale.py wrote it: the marts are built on it first), or nothing (a summary lake of --subjects x
--days is written with benchmarks/scale_lake.py, then the marts are built). Lake and build take minutes and
are not timed; the build's dbt memory is HEXO_DUCKDB_MEMORY_LIMIT (default here: 4GB). Times reading the
marts (`load_study`) and rendering the page (`render_html`: every plot and table), best of --repeat; prints
the figures, the render's CPU time (about its wall time on a quiet machine), the load average and the page's
size, and writes the page to <data-dir>/reports/<study>/index.html for a look.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import best_of  # noqa: E402

STUDY_SCALE = (500, 730)
TILE_SHIFT_DAYS = 182  # 26 weeks: tiled weeks still start on Mondays
TILE_DATES = ("local_date", "week_start", "last_data_date", "first_study_date", "last_study_date")
TILE_LABELS = ("subject_label", "username", "subject_code")


def tile(data, subjects: int, times: int):
    """A render-only stand-in for a larger study: the loaded marts' frames repeated `subjects` times over
    subjects (ids and labels made distinct) and `times` times over time (dates shifted by 26 weeks)."""
    import dataclasses

    import pandas as pd

    def frame(f: pd.DataFrame, by_subject: bool = True, by_time: bool = True) -> pd.DataFrame:
        if not len(f):
            return f
        parts = []
        for c in range(subjects if by_subject else 1):
            for t in range(times if by_time else 1):
                g = f.copy()
                if c:
                    if "subject_id" in g:
                        g["subject_id"] = g["subject_id"] + 1_000_000 * c
                    for col in set(TILE_LABELS) & set(g.columns):
                        g[col] = g[col].astype(str) + f"-{c}"
                if t:
                    for col in set(TILE_DATES) & set(g.columns):
                        g[col] = (pd.to_datetime(g[col]) + pd.Timedelta(days=TILE_SHIFT_DAYS * t)).dt.date
                parts.append(g)
        return pd.concat(parts, ignore_index=True)

    return dataclasses.replace(
        data,
        subjects=frame(data.subjects, by_time=False),
        adherence=frame(data.adherence, by_time=False),
        days=frame(data.days),
        attention=frame(data.attention, by_time=False),
        subject_weeks=frame(data.subject_weeks),
        group_weeks=frame(data.group_weeks, by_subject=False),
        comparison=frame(data.comparison, by_subject=False),
        issues=frame(data.issues, by_time=False),
    )


def build(data_dir: Path, subjects: int, days: int) -> Path:
    """The marts of data_dir's lake (written first at subjects x days when there is none)."""
    import scale_lake

    from hexo_pipeline.study_settings import StudySettings
    from hexo_pipeline.warehouse.marts import build_marts

    spec = scale_lake.ScaleSpec(subjects=subjects, days=days)
    if (data_dir / "lake" / "_manifest").is_dir():
        print(f"using the lake already in {data_dir / 'lake'}", flush=True)
    else:
        t0 = time.perf_counter()
        scale_lake.write_scale_lake(data_dir, spec)
        print(f"wrote a {subjects} x {days} lake in {time.perf_counter() - t0:.0f} s (not timed)", flush=True)
    study = StudySettings(start=spec.start, end=spec.end, timezone="UTC", uuid=scale_lake.STUDY_UUID)
    os.environ.setdefault("HEXO_DUCKDB_MEMORY_LIMIT", "4GB")
    with open(data_dir / "dbt.log", "a") as out:
        result = build_marts(data_dir, study=study, out=out)
    if result.published is None:
        raise SystemExit(f"dbt build failed: see {data_dir / 'dbt.log'}")
    return result.published


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--subjects", type=int, default=100)
    p.add_argument("--days", type=int, default=180)
    p.add_argument(
        "--study-scale",
        action="store_true",
        help=f"{STUDY_SCALE[0]} subjects x {STUDY_SCALE[1]} days (overrides --subjects/--days; target 60 s)",
    )
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument(
        "--tile",
        metavar="SxT",
        help="render-only stand-in: the loaded marts repeated S times over subjects and T times over time "
        "(26-week shifts), e.g. 5x4 turns 100 x 180 into 500 x 720 without building its marts",
    )
    ns = p.parse_args(argv)
    subjects, days = STUDY_SCALE if ns.study_scale else (ns.subjects, ns.days)

    import matplotlib  # noqa: F401  (import time is not render time)

    from hexo_pipeline.report.data import connect, load_study, studies
    from hexo_pipeline.report.render import render_html, render_study_report

    ns.data_dir.mkdir(parents=True, exist_ok=True)
    published = ns.data_dir / "warehouse" / "hexo.duckdb"
    if not published.exists():
        t0 = time.perf_counter()
        published = build(ns.data_dir, subjects, days)
        print(f"built the warehouse in {time.perf_counter() - t0:.0f} s (not timed)", flush=True)
    con = connect(published)
    try:
        study = studies(con)[0]
        load_s, data = best_of(lambda: load_study(con, study), repeat=ns.repeat)
    finally:
        con.close()
    cpu0 = time.process_time()
    if ns.tile:
        data = tile(data, *(int(x) for x in ns.tile.lower().split("x")))
        print(f"tiled {ns.tile}: render only (load_study timed on the untiled marts)")
    render_s, html = best_of(lambda: render_html(data), repeat=ns.repeat)
    render_cpu_s = (time.process_time() - cpu0) / ns.repeat  # mean CPU: what a quiet machine's wall time would be
    page = render_study_report(data, ns.data_dir / ("reports-tiled" if ns.tile else "reports"))
    gaps = int(data.gap_counts["subject_days"].sum()) if len(data.gap_counts) else 0
    print(
        f"study {study}: {len(data.subjects)} subjects x {data.days['local_date'].nunique()} days "
        f"({len(data.days)} subject-days; {gaps} completeness gaps, {len(data.quarantine)} quarantined files, "
        f"{len(data.checks)} checks warned or failed)"
    )
    print(f"load_study  {load_s:6.2f} s")
    print(f"render_html {render_s:6.2f} s   page {len(html) / 1e6:.1f} MB   (CPU {render_cpu_s:.2f} s per render)")
    target_s = 10 if len(data.days) <= 100 * 180 else 60  # issue 10: 100 x 180 in 10 s, 500 x 730 in 60 s
    print(f"total       {load_s + render_s:6.2f} s   (target <= {target_s} s)")
    print(
        "load avg    " + " ".join(f"{x:.1f}" for x in os.getloadavg()) + "   (1, 5, 15 min; the machine may be shared)"
    )
    print(f"page        {page}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
