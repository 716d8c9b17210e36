"""`hexo-pipeline marts`: build the dbt marts from whatever the lake holds and publish hexo.duckdb.

The same `dbt build` of dbt_project/ that the Dagster dbt assets run (hexo_pipeline/defs/dbt_assets.py),
in a build file published by an atomic rename (publish.py). For scripts and for the importer's users,
who have a lake but no Dagster.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from .publish import DBT_PROJECT_DIR, PublicationError, Warehouse, run_results_summary


def dbt_executable() -> str:
    """The dbt of this environment (next to the running Python), else the one on PATH."""
    beside = Path(sys.executable).with_name("dbt")
    if beside.exists():
        return str(beside)
    found = shutil.which("dbt")
    if not found:
        raise FileNotFoundError("dbt is not installed in this environment (pip install -e .)")
    return found


def dbt_build_args(*, full_refresh: bool = False, select: str | None = None) -> list[str]:
    """The dbt arguments of a marts build, shared by the CLI and the Dagster asset."""
    args = ["build"]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", select]
    return args


def dbt_command(args: list[str]) -> list[str]:
    return [dbt_executable(), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]


@dataclass
class MartsResult:
    published: Path | None
    seconds: float
    seeded: bool
    results: dict[str, int] = field(default_factory=dict)
    report: Path | None = None  # the first study report, when rendered
    returncode: int = 0


def build_marts(data_dir: str | os.PathLike[str] | None = None, *, full_refresh: bool = False,
                select: str | None = None, docs: bool = False, out: TextIO | None = None) -> MartsResult:
    """Run `dbt build` into a new build file and publish it; on failure the last good file stays."""
    out = out or sys.stdout
    warehouse = Warehouse.in_data_dir(data_dir)
    t0 = time.monotonic()
    with warehouse.build(full_refresh=full_refresh) as build:
        env = {**os.environ, **build.env}
        proc = subprocess.run(dbt_command(dbt_build_args(full_refresh=full_refresh, select=select)),
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out.write(proc.stdout)
        results = run_results_summary(build.target_path)
        if proc.returncode != 0:
            return MartsResult(None, time.monotonic() - t0, build.seeded_from is not None, results,
                               returncode=proc.returncode)
        if docs:
            docs_proc = subprocess.run(dbt_command(["docs", "generate", "--no-compile"]), env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            out.write(docs_proc.stdout)
            if docs_proc.returncode == 0:
                _copy_docs(build.target_path, warehouse.root / "docs")
        build.publish()
        return MartsResult(warehouse.published, time.monotonic() - t0, build.seeded_from is not None, results)


def build_marts_and_report(data_dir: str | os.PathLike[str] | None = None, **kwargs) -> MartsResult:
    """build_marts, then reports/<study>/index.html for every study of the published file."""
    from ..report import render_study_reports

    result = build_marts(data_dir, **kwargs)
    if result.published is not None:
        reports = render_study_reports(result.published, Warehouse.in_data_dir(data_dir).data_dir / "reports")
        result.report = reports[0] if reports else None
    return result


def _copy_docs(target: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("index.html", "manifest.json", "catalog.json"):
        if (target / name).exists():
            shutil.copyfile(target / name, dest / name)


# -- command line -------------------------------------------------------------------------------------

def add_marts_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser("marts", help="build the dbt marts from the lake and publish warehouse/hexo.duckdb")
    parser.add_argument("--data-dir", help="storage root (default: $HEXO_DATA_DIR or ./data)")
    parser.add_argument("--full-refresh", action="store_true", help="rebuild every model from the whole lake")
    parser.add_argument("--select", help="dbt selection (default: every model, seed and test)")
    parser.add_argument("--docs", action="store_true", help="also write the dbt docs to warehouse/docs/")
    parser.add_argument("--no-report", action="store_true", help="do not render the study report")
    return parser


def run_marts_command(ns: argparse.Namespace) -> int:
    try:
        result = build_marts(ns.data_dir, full_refresh=ns.full_refresh, select=ns.select, docs=ns.docs)
    except PublicationError as exc:
        print(f"marts not published: {exc}", file=sys.stderr)
        return 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(result.results.items()))
    if result.published is None:
        print(f"dbt build failed ({summary}); the last published warehouse is unchanged", file=sys.stderr)
        return result.returncode or 1
    mode = "incremental" if result.seeded else "full"
    print(f"marts published: {result.published}  ({mode} build, {result.seconds:.1f} s; {summary})")
    if not ns.no_report:
        from ..report import render_study_reports

        for path in render_study_reports(result.published, Warehouse.in_data_dir(ns.data_dir).data_dir / "reports"):
            print(f"study report:   {path}")
    return 0
