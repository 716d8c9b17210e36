"""`hexo-sandbox` command line: serve the synthetic study over the Hexoskin-compatible API.

    hexo-sandbox serve --port 8765 --seed 7 --subjects 6 --days 5 --rate-503 0.1

On start it prints one JSON line (base URL, OAuth2 client, accounts, API keys, study); it stops cleanly
on SIGINT or SIGTERM. `python -m hexo_sandbox serve ...` is the same command.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date, datetime

from .server.faults import add_fault_arguments, fault_config_from_args
from .world.study import StudyConfig


def add_study_arguments(p: argparse.ArgumentParser) -> None:
    d = StudyConfig()
    p.add_argument("--seed", type=int, default=d.seed, help="study seed (same seed, same bytes)")
    p.add_argument("--subjects", type=int, default=d.subjects)
    p.add_argument("--days", type=int, default=d.days)
    p.add_argument("--start", type=date.fromisoformat, default=d.start, help="first study day, YYYY-MM-DD")
    p.add_argument("--timezone", default=d.timezone, help="the study's IANA time zone")
    p.add_argument(
        "--max-record-minutes",
        type=float,
        default=d.max_record_minutes,
        help="cut every record to this length (same records, days and ranges; a quick, light study)",
    )


def study_config_from_args(ns: argparse.Namespace) -> StudyConfig:
    return StudyConfig(
        seed=ns.seed,
        subjects=ns.subjects,
        days=ns.days,
        start=ns.start,
        timezone=ns.timezone,
        max_record_minutes=ns.max_record_minutes,
        now=getattr(ns, "now", None),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hexo-sandbox", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the synthetic study on loopback")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765, help="0 picks a free port (read it from the JSON line)")
    serve.add_argument(
        "--now",
        type=datetime.fromisoformat,
        default=None,
        help="fix the sandbox clock (ISO datetime with offset); default: the wall clock",
    )
    serve.add_argument("--quiet", action="store_true", help="no access log on stderr (the demo's progress bar)")
    add_study_arguments(serve)
    add_fault_arguments(serve)

    ns = parser.parse_args(argv)
    if ns.command == "serve":
        from .server.serve import serve_forever

        if ns.quiet:
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
        serve_forever(ns.host, ns.port, study_config_from_args(ns), fault_config_from_args(ns))
        return 0
    parser.error(f"unknown command {ns.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
