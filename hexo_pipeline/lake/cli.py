"""`hexo-pipeline lake ...`: check the lake, rebuild or fold its manifest, compact closed months."""

from __future__ import annotations

import argparse
import sys

from .compaction import compact_lake
from .store import Lake
from .verify import rebuild_manifest, verify_lake


def add_lake_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser("lake", help="check the Parquet lake, maintain its manifest, compact closed months")
    parser.add_argument("--data-dir", help="storage root (default: $HEXO_DATA_DIR or ./data)")
    lake_sub = parser.add_subparsers(dest="lake_command", required=True)
    verify = lake_sub.add_parser("verify", help="files and manifest agree; every file readable (exit 1 if not)")
    verify.add_argument("--deep", action="store_true", help="read every file's Parquet footer")
    manifest = lake_sub.add_parser("manifest", help="fold the manifest log into its snapshot, or rebuild it")
    manifest.add_argument(
        "--rebuild", action="store_true", help="record every file the lake holds (a lake written before the manifest)"
    )
    compact = lake_sub.add_parser("compact", help="one file per subject-month for closed months")
    compact.add_argument("--before", required=True, metavar="YYYY-MM", help="compact the months before this one")
    compact.add_argument("--dataset", action="append", help="only this dataset (repeatable)")
    return parser


def run_lake_command(ns: argparse.Namespace) -> int:
    from ..warehouse.publish import Warehouse

    warehouse = Warehouse.in_data_dir(ns.data_dir)
    lake = Lake(warehouse.lake)
    if ns.lake_command == "verify":
        problems = verify_lake(lake, deep=ns.deep)
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"lake {lake.root}: {len(problems)} problem(s)")
        return 1 if problems else 0
    if ns.lake_command == "manifest":
        with warehouse.lock():
            if ns.rebuild:
                print(f"manifest rebuilt: {rebuild_manifest(lake.manifest)} partition entries")
            else:
                lake.manifest.checkpoint()
                print("manifest log folded into its snapshots")
        return 0
    if ns.lake_command == "compact":
        try:
            with warehouse.lock():  # no dbt build reads the lake while months move
                report = compact_lake(lake, ns.before, ns.dataset)
        except (ValueError, KeyError) as exc:
            print(f"lake compact: {exc}", file=sys.stderr)
            return 2
        print(
            f"compacted {report.months} subject-month(s) from {report.files_removed} daily file(s): {report.datasets}"
        )
        return 0
    return 2
