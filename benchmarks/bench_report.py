"""Study report render time at study scale (the target: <= 10 s for 100 subjects x 180 days).

    python benchmarks/bench_report.py --data-dir /tmp/scale [--subjects 100 --days 180] [--repeat 3]

Uses the published warehouse of --data-dir; when there is none, writes a summary lake with
benchmarks/scale_lake.py (`write_scale_lake`) and builds the marts first (minutes, not timed). Times
reading the marts (`load_study`) and rendering the page (`render_html`: every plot and table), best of
--repeat; prints the figures and the page's size.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import best_of  # noqa: E402


def build(data_dir: Path, subjects: int, days: int) -> Path:
    import scale_lake

    from hexo_pipeline.study_settings import StudySettings
    from hexo_pipeline.warehouse.marts import build_marts

    spec = scale_lake.ScaleSpec(subjects=subjects, days=days)
    scale_lake.write_scale_lake(data_dir, spec)
    study = StudySettings(start=spec.start, end=spec.end, timezone="UTC", uuid=scale_lake.STUDY_UUID)
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
    p.add_argument("--repeat", type=int, default=3)
    ns = p.parse_args(argv)

    import matplotlib  # noqa: F401  (import time is not render time)

    from hexo_pipeline.report.data import connect, load_study, studies
    from hexo_pipeline.report.render import render_html

    published = ns.data_dir / "warehouse" / "hexo.duckdb"
    if not published.exists():
        t0 = time.perf_counter()
        published = build(ns.data_dir, ns.subjects, ns.days)
        print(f"built the warehouse in {time.perf_counter() - t0:.0f} s (not timed)")
    con = connect(published)
    try:
        study = studies(con)[0]
        load_s, data = best_of(lambda: load_study(con, study, ns.data_dir), repeat=ns.repeat)
    finally:
        con.close()
    render_s, html = best_of(lambda: render_html(data), repeat=ns.repeat)
    print(
        f"study {study}: {len(data.subjects)} subjects x {data.days['local_date'].nunique()} days "
        f"({len(data.days)} subject-days)"
    )
    print(f"load_study  {load_s:6.2f} s")
    print(f"render_html {render_s:6.2f} s   page {len(html) / 1e6:.1f} MB")
    print(f"total       {load_s + render_s:6.2f} s   (target <= 10 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
