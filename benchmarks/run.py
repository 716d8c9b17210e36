"""`make bench`: decode, Parquet, end-to-end ingestion and sandbox figures, printed with their ratios.

    .venv/bin/python benchmarks/run.py                   # decode parquet e2e sandbox (a minute or two on 2 cores)
    .venv/bin/python benchmarks/run.py --quick           # small sizes (the smoke test)
    .venv/bin/python benchmarks/run.py dagster layout    # the scale study behind docs/architecture.md
    .venv/bin/python benchmarks/run.py --json out.json   # also keep the figures

Sections: decode (bench_decode.py), parquet (bench_parquet.py), e2e (bench_e2e.py), sandbox
(bench_sandbox.py: the sandbox server's generation, zips and a 50 x 30 study served), and, not run by
default because they take minutes, dagster (dagster_scale.py) and layout (lake_layout.py).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import Report, machine, versions  # noqa: E402

DEFAULT_SECTIONS = ("decode", "parquet", "e2e", "sandbox")
ALL_SECTIONS = DEFAULT_SECTIONS + ("dagster", "layout")


def _dagster(quick: bool) -> list[Report]:
    """In a child process: the study sets HEXO_STUDY_* before the project's partitions are imported."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "dagster.json"
        cmd = [sys.executable, str(HERE / "dagster_scale.py"), "--json", str(out)] + (["--quick"] if quick else [])
        subprocess.run(cmd, check=True, cwd=HERE)
        figures = json.loads(out.read_text())
    # The child printed its own tables; keep the figures for --json.
    return [Report(title, figures=values) for title, values in figures.items()]


def run_sections(sections: list[str], quick: bool) -> list[Report]:
    reports: list[Report] = []
    for name in sections:
        t0 = time.perf_counter()
        if name == "decode":
            import bench_decode

            new = [bench_decode.run(quick)]
        elif name == "parquet":
            import bench_parquet

            new = [bench_parquet.run(quick)]
        elif name == "e2e":
            import bench_e2e

            new = [bench_e2e.run(quick)]
        elif name == "sandbox":
            import bench_sandbox

            new = [bench_sandbox.run(quick)]
        elif name == "layout":
            import lake_layout

            new = [lake_layout.run(quick)]
        elif name == "dagster":
            new = _dagster(quick)
        else:  # main() validated the names
            raise ValueError(name)
        for report in new:
            if report.rows:
                report.print()
        print(f"  ({name}: {time.perf_counter() - t0:.1f} s)", flush=True)
        reports += new
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="hexo-pipeline benchmarks (make bench)")
    parser.add_argument(
        "sections",
        nargs="*",
        metavar="section",
        help=f"any of {', '.join(ALL_SECTIONS)} (default: {' '.join(DEFAULT_SECTIONS)})",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, seconds not minutes (smoke test)")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    args = parser.parse_args(argv)
    sections = args.sections or list(DEFAULT_SECTIONS)
    unknown = [s for s in sections if s not in ALL_SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(ALL_SECTIONS)}")
    print(f"hexo-pipeline benchmarks{' (--quick)' if args.quick else ''}: {machine()}")
    print(f"  {versions()}")
    t0 = time.perf_counter()
    reports = run_sections(sections, args.quick)
    print(f"\ntotal {time.perf_counter() - t0:.1f} s")
    if args.json:
        args.json.write_text(json.dumps({r.title: r.figures for r in reports}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
