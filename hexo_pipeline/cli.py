"""`hexo-pipeline` command line: the demo, the Dagster UI, file converters, export import, marts.

`hexo-pipeline sandbox ...` passes its arguments on to `hexo-sandbox` (the separate sandbox package, run
as its own process: the pipeline never imports it)."""

from __future__ import annotations

import argparse
import sys
from datetime import date

_STUDY_ARGS = ("seed", "subjects", "days", "start", "timezone", "max_record_minutes")


def _study_args(p: argparse.ArgumentParser) -> None:
    """The sandbox study's size and seed (defaults: the sandbox's own, see `hexo-sandbox serve --help`)."""
    p.add_argument("--seed", type=int, help="sandbox study seed (same seed, same bytes)")
    p.add_argument("--subjects", type=int, help="sandbox study subjects")
    p.add_argument("--days", type=int, help="sandbox study days")
    p.add_argument("--start", type=date.fromisoformat, help="sandbox study's first day, YYYY-MM-DD")
    p.add_argument("--timezone", help="sandbox study's IANA time zone")
    p.add_argument(
        "--max-record-minutes", type=float, help="cut the sandbox's records to this length (a quick, light run)"
    )


def _sandbox_serve_args(ns: argparse.Namespace) -> list[str]:
    """The study options given on this command line, as `hexo-sandbox serve` flags."""
    args: list[str] = []
    for name in _STUDY_ARGS:
        value = getattr(ns, name)
        if value is not None:
            args += [f"--{name.replace('_', '-')}", value.isoformat() if isinstance(value, date) else str(value)]
    return args


def _run_sandbox_command(args: list[str]) -> int:
    """`hexo-pipeline sandbox serve ...` = `hexo-sandbox serve ...`, in the sandbox's own process."""
    import os

    from .sandbox_process import NOT_INSTALLED, sandbox_command, sandbox_installed

    if not sandbox_installed():
        print(f"hexo-pipeline: {NOT_INSTALLED}", file=sys.stderr)
        return 2
    cmd = sandbox_command(args)
    sys.stdout.flush()
    os.execv(cmd[0], cmd)  # replaces this process: signals and the exit status are the sandbox's own
    return 0  # not reached


def main(argv: list[str] | None = None) -> int:
    """Runs a command; a failure caused by the configuration or the remote side ends in one line naming
    the cause and what to fix (`user_errors.explain`), with the traceback only under --debug."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sandbox"]:  # everything after `sandbox` is the sandbox's, --help included
        return _run_sandbox_command(argv[1:])
    debug = "--debug" in argv
    try:
        return _main([a for a in argv if a != "--debug"], debug=debug)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from .user_errors import explain

        line = explain(exc)
        if debug or line is None:
            raise
        print(f"hexo-pipeline: {line}", file=sys.stderr)
        return 2


def _main(argv: list[str], *, debug: bool = False) -> int:
    parser = argparse.ArgumentParser(
        prog="hexo-pipeline", description=__doc__, epilog="--debug (anywhere): show the traceback of a failure"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    sandbox = sub.add_parser(
        "sandbox",
        help="the Hexoskin-compatible sandbox server: runs `hexo-sandbox ARGS` (e.g. `sandbox serve --port 8765`)",
        add_help=False,
    )
    sandbox.add_argument("sandbox_args", nargs=argparse.REMAINDER, help="arguments of hexo-sandbox")

    demo = sub.add_parser("demo", help="run the pipeline against a sandbox and print where results are")
    _study_args(demo)

    convert = sub.add_parser("convert", help="convert TCX/FIT files to the lake's activity tables (Parquet)")
    convert.add_argument("files", nargs="+", metavar="FILE", help="TCX/FIT files (optionally .gz), or folders")
    convert.add_argument("--out", required=True, metavar="DIR", help="output folder: DIR/<dataset>/<file>.parquet")
    convert.add_argument("--partial", action="store_true", help="write what a truncated/damaged FIT still holds")
    convert.add_argument("--debug", action="store_true", help="print the traceback of each file that failed")

    imp = sub.add_parser("import-export", help="import a Hexoskin binary export (zip or folder) into the lake")
    imp.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="zip or folder of WAV/.hxd/CSV files with info.json, or a folder of such zips; each is imported "
        "on its own (refused files go to quarantine/import_export/)",
    )
    imp.add_argument("--subject", help="subject key (default: user_<info.json user id>)")
    imp.add_argument(
        "--timezone",
        help="time zone of the lake's days (default: the study's, $HEXO_STUDY_TZ; the marts expect the study's)",
    )
    imp.add_argument("--data-dir", help="storage root (default: $HEXO_DATA_DIR or ./data)")

    ui = sub.add_parser(
        "ui", help="the Dagster UI on the project's definitions (with a sandbox unless Hexoskin credentials are set)"
    )
    ui.add_argument("--port", type=int, default=3000)
    _study_args(ui)

    from .lake.cli import add_lake_parser
    from .report.cli import add_report_parser
    from .warehouse.marts import add_marts_parser

    add_marts_parser(sub)
    add_lake_parser(sub)
    add_report_parser(sub)

    ns = parser.parse_args(argv)
    if ns.command == "demo":
        from .demo import run_demo

        return run_demo(_sandbox_serve_args(ns))
    if ns.command == "convert":
        from .ingest.convert_cli import run

        return run(ns.files, ns.out, allow_partial=ns.partial, debug=ns.debug or debug)
    if ns.command == "import-export":
        import os

        from .ingest.export_import import run

        missing = [p for p in ns.paths if not os.path.exists(p)]
        if missing:
            print(f"hexo-pipeline import-export: {', '.join(missing)}: no such file or folder", file=sys.stderr)
            return 1

        return run(ns.paths, subject=ns.subject, tz=ns.timezone, data_dir=ns.data_dir)
    if ns.command == "marts":
        from .warehouse.marts import run_marts_command

        return run_marts_command(ns)
    if ns.command == "lake":
        from .lake.cli import run_lake_command

        return run_lake_command(ns)
    if ns.command == "report":
        from .report.cli import run_report_command

        return run_report_command(ns)
    if ns.command == "ui":
        from .runner import run_ui

        return run_ui(_sandbox_serve_args(ns), ns.port)
    parser.error(f"unknown command {ns.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
