"""How dbt runs, for the Dagster dbt assets, `hexo-pipeline marts` and the tests alike.

`DBT_PROJECT` is the dbt project as dagster-dbt knows it; `prepare_dbt_project()` writes its manifest
(`dbt parse`) when missing or older than the project files (under `dagster dev`, the dbt assets module
calls it when the definitions load, as `DbtProject.prepare_if_dev()` would). `run_dbt()` is the one dbt invocation: `DbtCliResource.cli` inside a
warehouse build (publish.py), with the study settings as `--vars`. `build_marts()` is the command line's
whole build: it publishes the file, or leaves the last good one in place when dbt fails.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.metadata
import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from dagster_dbt import DbtCliInvocation, DbtCliResource, DbtProject
from packaging import version

from ..study_settings import StudySettings
from .publish import DBT_PROJECT_DIR, Build, PublicationError, Warehouse, run_results_summary

if TYPE_CHECKING:
    import dagster as dg

_PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "models/**/*", "macros/**/*", "seeds/**/*", "tests/**/*")


def dbt_executable() -> str:
    """The dbt of this environment (next to the running Python), else the one on PATH."""
    beside = Path(sys.executable).with_name("dbt")
    if beside.exists():
        return str(beside)
    found = shutil.which("dbt")
    if not found:
        raise FileNotFoundError("dbt is not installed in this environment (pip install -e .)")
    return found


DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


class HexoDbtCliResource(DbtCliResource):
    """dagster-dbt's resource without two costs paid before every dbt command (~4.8 s of a 40 s incremental
    build at study scale, measured): a `dbt --version` subprocess, when the dbt beside this Python is the
    installed dbt-core package, and a dbt adapter opened in this process, which dagster-dbt only uses for
    `fetch_row_counts()` / `fetch_column_metadata()` (this project calls neither: dbt's own run results
    carry what the assets report)."""

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable) == Path(sys.executable).with_name("dbt"):
            return version.parse(importlib.metadata.version("dbt-core"))
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None


def dbt_resource(project: DbtProject = DBT_PROJECT) -> DbtCliResource:
    return HexoDbtCliResource(project_dir=project, profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=dbt_executable())


def manifest_is_stale(project: DbtProject = DBT_PROJECT) -> bool:
    manifest = Path(project.manifest_path)
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    root = Path(project.project_dir)
    return any(p.stat().st_mtime > built for pattern in _PROJECT_FILES for p in root.glob(pattern) if p.is_file())


def prepare_dbt_project(project: DbtProject = DBT_PROJECT) -> Path:
    """The manifest the dbt assets load, parsed again when missing or stale (no database, no network):
    what `DbtProject.prepare_if_dev()` does under `dagster dev`, with this environment's dbt (PATH may not
    hold it). Called before the definitions load by the command line, the demo and the tests."""
    if manifest_is_stale(project):
        dbt_resource(project).cli(["parse", "--quiet"], target_path=Path(project.target_path)).wait()
    dev_build_folder().mkdir(parents=True, exist_ok=True)
    return Path(project.manifest_path)


def dev_build_folder() -> Path:
    """Where dbt_project/profiles.yml puts a `dbt build` run by hand from dbt_project/ (never published):
    created here so `cd dbt_project && dbt build` (or `dbt docs generate`) works after the demo."""
    root = os.environ.get("HEXO_DATA_DIR")
    return (Path(root) if root else Path(DBT_PROJECT_DIR).parent / "data").resolve() / "warehouse" / "dev"


def dbt_build_args(*, full_refresh: bool = False, select: str | None = None, incremental: bool = False) -> list[str]:
    """The dbt arguments of a marts build, shared by the CLI and the Dagster asset. An `incremental` build (the
    state database kept: the dbt project is the one of the last published build, whose build ran the unit
    tests) leaves the unit tests out: they test the models' SQL on fixed rows, not the lake, and cost seconds
    each at study scale (compiling an incremental model under test queries the state)."""
    args = ["build"]
    if full_refresh:
        args.append("--full-refresh")
    if incremental and not full_refresh:
        args += ["--exclude-resource-type", "unit_test"]
    if select:
        args += ["--select", select]
    return args


def run_dbt(
    args: Sequence[str],
    build: Build,
    study: StudySettings,
    *,
    dbt: DbtCliResource | None = None,
    context: dg.AssetExecutionContext | None = None,
) -> DbtCliInvocation:
    """Start dbt (`DbtCliResource.cli`) on `build`'s file with the study settings as `--vars`; the caller
    streams or waits. The one way this project runs dbt."""
    dbt = dbt or dbt_resource()
    dbt_vars = json.dumps(study.dbt_vars(build.warehouse.lake))
    with build.environment():  # dbt's process inherits the build's file and lake paths
        return dbt.cli(
            [*args, "--vars", dbt_vars], context=context, target_path=build.target_path, raise_on_error=False
        )


@dataclass
class MartsResult:
    published: Path | None
    seconds: float
    seeded: bool
    results: dict[str, int] = field(default_factory=dict)
    report: Path | None = None  # the first study report, when rendered
    returncode: int = 0
    unchanged: bool = False  # nothing to do: the published marts already reflect this lake and project


def build_marts(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    full_refresh: bool = False,
    select: str | None = None,
    docs: bool = False,
    out: TextIO | None = None,
    study: StudySettings | None = None,
) -> MartsResult:
    """Run `dbt build` into a new build file and publish it; on failure the last good file stays.
    `study` defaults to the environment's settings."""
    out = out or sys.stdout
    study = study or StudySettings.from_environment()
    prepare_dbt_project()
    warehouse = Warehouse.in_data_dir(data_dir)
    t0 = time.monotonic()
    with warehouse.build(full_refresh=full_refresh, settings=study.dbt_vars(warehouse.lake)) as build:
        build.inputs = hashlib.sha256(
            json.dumps([study.dbt_vars(build.warehouse.lake), select, docs], sort_keys=True).encode()
        ).hexdigest()[:16]
        if not full_refresh and select is None and build.is_current():
            return MartsResult(warehouse.published, time.monotonic() - t0, True, unchanged=True)
        build.complete = select is None
        args = dbt_build_args(full_refresh=full_refresh, select=select, incremental=build.seeded_from is not None)
        # Warnings and errors only (failing tests included): the outcome comes from run_results.json, and
        # dbt's per-node info events cost ~5 s of a 27 s demo build (measured). The Dagster asset keeps them:
        # dagster-dbt makes its materializations and check results from those events.
        invocation = run_dbt([*args, "--log-level", "warn"], build, study)
        _write_log(invocation, out)
        results = run_results_summary(build.target_path)
        if not invocation.is_successful():
            return MartsResult(
                None,
                time.monotonic() - t0,
                build.seeded_from is not None,
                results,
                returncode=invocation.process.returncode or 1,
            )
        if docs:
            docs_run = run_dbt(["docs", "generate", "--no-compile", "--static"], build, study)
            _write_log(docs_run, out)
            if docs_run.is_successful():
                _copy_docs(build.target_path, warehouse.root / "docs")
        build.publish()
        return MartsResult(warehouse.published, time.monotonic() - t0, build.seeded_from is not None, results)


def _write_log(invocation: DbtCliInvocation, out: TextIO) -> None:
    """dbt's log messages to `out` (dagster-dbt prints each event's message on sys.stdout)."""
    with contextlib.redirect_stdout(out):
        for _ in invocation.stream_raw_events():
            pass
    invocation.wait()


def build_marts_and_report(data_dir: str | os.PathLike[str] | None = None, **kwargs) -> MartsResult:
    """build_marts, then reports/<study>/index.html for every study of the published file."""
    from ..report import render_study_reports

    result = build_marts(data_dir, **kwargs)
    if result.published is not None:
        reports = render_study_reports(result.published, Warehouse.in_data_dir(data_dir).data_dir / "reports")
        result.report = reports[0] if reports else None
    return result


def _copy_docs(target: Path, dest: Path) -> None:
    """The dbt docs site next to the warehouse: warehouse/docs/index.html is dbt's static page (manifest and
    catalog inlined), so it opens from the file system without a server."""
    dest.mkdir(parents=True, exist_ok=True)
    for source, name in (
        ("static_index.html", "index.html"),
        ("manifest.json", "manifest.json"),
        ("catalog.json", "catalog.json"),
    ):
        if (target / source).exists():
            shutil.copyfile(target / source, dest / name)


# -- command line -------------------------------------------------------------------------------------


def add_marts_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser("marts", help="build the dbt marts from the lake and publish warehouse/hexo.duckdb")
    parser.add_argument("--data-dir", help="storage root (default: $HEXO_DATA_DIR or ./data)")
    parser.add_argument("--full-refresh", action="store_true", help="rebuild every model from the whole lake")
    parser.add_argument("--select", help="dbt selection (default: every model, seed and test)")
    parser.add_argument(
        "--no-docs",
        dest="docs",
        action="store_false",
        help="do not publish the dbt docs site (warehouse/docs/index.html)",
    )
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
    if result.unchanged:
        print(
            f"marts unchanged: {result.published} already reflects the lake and the dbt project "
            f"({result.seconds:.1f} s; --full-refresh rebuilds anyway)"
        )
        _warn_gaps(result.published)
        return 0
    mode = "incremental" if result.seeded else "full"
    print(f"marts published: {result.published}  ({mode} build, {result.seconds:.1f} s; {summary})")
    docs = result.published.parent / "docs" / "index.html"
    if ns.docs and docs.exists():
        print(f"dbt docs:       {docs}")
    if not ns.no_report:
        from ..report import render_study_reports

        for path in render_study_reports(result.published, Warehouse.in_data_dir(ns.data_dir).data_dir / "reports"):
            print(f"study report:   {path}")
    _warn_gaps(result.published)
    return 0


def _warn_gaps(published: Path) -> None:
    """Name what the published marts lack (missing datasets, quarantined files, checks that warned); a
    warning only: the exit code stays that of the build."""
    from .gaps import completeness_gaps, gaps_warning

    warning = gaps_warning(completeness_gaps(published))
    if warning:
        print(warning, file=sys.stderr)
