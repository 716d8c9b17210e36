"""`hexo-pipeline report`: render reports/<study>/index.html from the published warehouse, and with
--pdf print each one to index.pdf through headless Chromium."""

from __future__ import annotations

import argparse
import sys


def add_report_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser("report", help="render the study report(s) from the published warehouse")
    parser.add_argument("--data-dir", help="storage root (default: $HEXO_DATA_DIR or ./data)")
    parser.add_argument("--pdf", action="store_true", help="also print each report to index.pdf (headless Chromium)")
    return parser


def run_report_command(ns: argparse.Namespace) -> int:
    from ..warehouse import Warehouse
    from .pdf import PdfError, print_to_pdf
    from .render import render_study_reports

    warehouse = Warehouse.in_data_dir(ns.data_dir)
    if not warehouse.published.exists():
        print(f"no published warehouse at {warehouse.published}: run `hexo-pipeline marts` first", file=sys.stderr)
        return 1
    for path in render_study_reports(warehouse.published, warehouse.data_dir / "reports", warehouse.data_dir):
        print(f"study report: {path}")
        if ns.pdf:
            try:
                print(f"study report: {print_to_pdf(path)}")
            except PdfError as exc:
                print(f"no PDF: {exc}", file=sys.stderr)
                return 1
    return 0
