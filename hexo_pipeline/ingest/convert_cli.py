"""`hexo-pipeline convert FILE... --out DIR`: TCX/FIT files to the lake's activity tables, without
Dagster, for a quick look at a file.

Output: `DIR/<dataset>/<file name>.parquet` for each non-empty table, datasets and columns as in the lake
(`activity_files`, `activities`, `activity_laps`, `activity_trackpoints`, `activity_rr_intervals`, and
`fit_monitoring` for monitoring FIT files, with source_kind 'convert'), so
`read_parquet('DIR/activity_trackpoints/*.parquet')` reads them all. Folders given as arguments are
searched for files. Undecodable files are reported (reason on stderr) and the
others still convert; the exit status is 1 if any file failed.

Each file is isolated: whatever goes wrong with one (undecodable bytes, an unreadable path, a full disk,
a bug) is reported on one line, `<path>: FAILED [<code>] <reason>`, and the next file is converted.
Tracebacks are printed only with --debug.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from ..decoders import DecodeError, convert_file
from ..decoders.parquet import atomic_write_parquet
from ..lake import TABLE_OPTIONS
from ..lake.contract import MONITORING_DATASET
from .activity_files import CONVERT, FILES_DATASET, lake_tables


@dataclass
class Converted:
    path: Path
    outputs: dict[str, Path]  # dataset -> Parquet file written
    rows: dict[str, int]
    summary: str
    error: Exception | None = None
    traceback: str | None = None  # kept for --debug


def expand(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        out += sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    return out


def convert_files(
    paths: Iterable[str | os.PathLike[str]], out_dir: str | os.PathLike[str], *, allow_partial: bool = False
) -> list[Converted]:
    out = Path(out_dir)
    received_at = datetime.now(UTC)
    used: set[str] = set()
    results = []
    for path in expand(paths):
        try:
            results.append(_convert_one(path, out, used, received_at, allow_partial))
        except DecodeError as exc:
            salvage = (
                " (a partial decode exists: add --partial to write it)"
                if exc.partial is not None and not allow_partial
                else ""
            )
            results.append(
                Converted(
                    path, {}, {}, f"{path}: FAILED [{exc.code}] {exc.reason}{salvage}", exc, traceback.format_exc()
                )
            )
        except Exception as exc:  # noqa: BLE001 - one file's failure must not stop the others
            reason = " ".join(str(exc).split())[:300]
            results.append(
                Converted(path, {}, {}, f"{path}: FAILED [{type(exc).__name__}] {reason}", exc, traceback.format_exc())
            )
    return results


def _convert_one(path: Path, out: Path, used: set[str], received_at: datetime, allow_partial: bool) -> Converted:
    converted = convert_file(path, allow_partial=allow_partial)
    name = path.name if path.name not in used else f"{path.name}-{converted.source.sha256[:8]}"
    tables = lake_tables(converted, source_kind=CONVERT, file_path=str(path.resolve()), received_at=received_at)
    outputs: dict[str, Path] = {}
    try:
        for dataset, table in tables.items():
            if table.num_rows:
                (out / dataset).mkdir(parents=True, exist_ok=True)
                outputs[dataset] = atomic_write_parquet(table, out / dataset / f"{name}.parquet", **TABLE_OPTIONS)
    except BaseException:
        for written in outputs.values():  # all of a file's tables or none of them
            written.unlink(missing_ok=True)
        raise
    used.add(name)
    src = converted.source
    # a monitoring file's rows are its fit_monitoring rows; an activity file has none to mention
    rows = {
        ds: t.num_rows for ds, t in tables.items() if ds != FILES_DATASET and (t.num_rows or ds != MONITORING_DATASET)
    }
    via = src.decoder + (f" (fallback: {src.fallback_reason})" if src.fallback_reason else "")
    flags = "".join([" PARTIAL" if src.partial else "", " CRC-MISMATCH" if src.crc_ok is False else ""])
    summary = (
        f"{path}: {src.format} via {via}{flags}, "
        + ", ".join(f"{n} {ds.removeprefix('activity_')}" for ds, n in rows.items())
        + f", {src.decode_seconds:.3f} s"
    )
    return Converted(path, outputs, rows, summary)


def run(
    paths: list[str],
    out_dir: str,
    *,
    allow_partial: bool = False,
    debug: bool = False,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Convert every file; 0 when all converted, 1 when some failed, 2 when there was nothing to do."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    results = convert_files(paths, out_dir, allow_partial=allow_partial)
    if not results:
        print("no files to convert", file=stderr)
        return 2
    for r in results:
        print(r.summary, file=stderr if r.error else stdout)
        if r.error is not None and debug and r.traceback:
            print(r.traceback, file=stderr)
    ok = sum(r.error is None for r in results)
    print(f"{ok} of {len(results)} files converted into {Path(out_dir).resolve()}", file=stdout)
    if ok < len(results):
        print(f"{len(results) - ok} of {len(results)} files FAILED (reasons above)", file=stderr)
    return 0 if ok == len(results) else 1
