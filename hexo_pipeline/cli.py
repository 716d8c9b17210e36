"""`hexo-pipeline` command line: the sandbox server, the demo, file converters, export import, marts."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from datetime import date, datetime

from .sandbox.faults import add_fault_arguments, fault_config_from_args
from .sandbox.study import StudyConfig


def _study_args(p: argparse.ArgumentParser) -> None:
    d = StudyConfig()
    p.add_argument("--seed", type=int, default=d.seed, help="study seed (same seed, same bytes)")
    p.add_argument("--subjects", type=int, default=d.subjects)
    p.add_argument("--days", type=int, default=d.days)
    p.add_argument("--start", type=date.fromisoformat, default=d.start, help="first study day, YYYY-MM-DD")
    p.add_argument("--timezone", default=d.timezone, help="the study's IANA time zone")


def _study_config(ns: argparse.Namespace) -> StudyConfig:
    return StudyConfig(seed=ns.seed, subjects=ns.subjects, days=ns.days, start=ns.start, timezone=ns.timezone)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hexo-pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sandbox = sub.add_parser("sandbox", help="the Hexoskin-compatible sandbox server")
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", required=True)
    serve = sandbox_sub.add_parser("serve", help="serve the synthetic study on loopback")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--now", type=datetime.fromisoformat, default=None,
                       help="fix the sandbox clock (ISO datetime with offset); default: the wall clock")
    _study_args(serve)
    add_fault_arguments(serve)

    demo = sub.add_parser("demo", help="run the pipeline against a sandbox and print where results are")
    _study_args(demo)

    convert = sub.add_parser("convert", help="convert TCX/FIT files to the lake's activity tables (Parquet)")
    convert.add_argument("files", nargs="+", metavar="FILE", help="TCX/FIT files (optionally .gz), or folders")
    convert.add_argument("--out", required=True, metavar="DIR", help="output folder: DIR/<dataset>/<file>.parquet")
    convert.add_argument("--partial", action="store_true", help="write what a truncated/damaged FIT still holds")

    imp = sub.add_parser("import-export", help="import a Hexoskin binary export (zip or folder) into the lake")
    imp.add_argument("path", metavar="PATH", help="zip or folder of WAV/.hxd/CSV files with info.json")
    imp.add_argument("--subject", help="subject key (default: user_<info.json user id>)")
    imp.add_argument("--timezone", help="local-day time zone (default: $HEXO_STUDY_TZ or UTC)")
    imp.add_argument("--data-dir", help="storage root (default: $HEXO_DATA_DIR or ./data)")

    ui = sub.add_parser("ui", help="the Dagster UI on the project's definitions (with a sandbox unless "
                                   "Hexoskin credentials are set)")
    ui.add_argument("--port", type=int, default=3000)
    _study_args(ui)

    from .lake.cli import add_lake_parser
    from .warehouse.marts import add_marts_parser

    add_marts_parser(sub)
    add_lake_parser(sub)

    ns = parser.parse_args(argv)
    if ns.command == "sandbox" and ns.sandbox_command == "serve":
        from .sandbox.server import serve_forever

        serve_forever(ns.host, ns.port, replace(_study_config(ns), now=ns.now), fault_config_from_args(ns))
        return 0
    if ns.command == "demo":
        from .demo import run_demo

        return run_demo(_study_config(ns))
    if ns.command == "convert":
        from .ingest.convert_cli import run

        return run(ns.files, ns.out, allow_partial=ns.partial)
    if ns.command == "import-export":
        from .ingest.export_import import run

        return run(ns.path, subject=ns.subject, tz=ns.timezone, data_dir=ns.data_dir)
    if ns.command == "marts":
        from .warehouse.marts import run_marts_command

        return run_marts_command(ns)
    if ns.command == "lake":
        from .lake.cli import run_lake_command

        return run_lake_command(ns)
    if ns.command == "ui":
        from .runner import run_ui

        return run_ui(_study_config(ns), ns.port)
    parser.error(f"unknown command {ns.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
