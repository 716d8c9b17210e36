"""Fetch one subject-day from the API and turn it into lake tables (no Dagster here).

A subject-day is the local day [00:00, 24:00) in the study's time zone. Everything that overlaps it is
fetched and clipped to it: a record crossing midnight contributes its samples before midnight to one
day and the rest to the next, each sample exactly once (ts in [day start, day end)).
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from ..decoders import DecodeError, read_exports
from ..decoders.parquet import is_sorted_by_id_then_ts
from ..hexoskin import HexoskinClient
from ..hexoskin.datatypes import ASTROSKIN_EXTRA_IDS, HEXOSKIN_IDS, Family
from ..hexoskin.fields import parse_iso as _iso
from ..hexoskin.fields import related_id as _id
from ..hexoskin.timestamps import TICKS_PER_SECOND, day_bounds_ticks, from_ticks
from ..lake.contract import RANGE_METRICS_SCHEMA, RANGES_SCHEMA, RECORDS_SCHEMA, TS
from ..lake.quarantine import quarantine_file

SIGNAL_DATATYPES: tuple[int, ...] = HEXOSKIN_IDS + ASTROSKIN_EXTRA_IDS
NS_PER_TICK = 1_000_000_000 // TICKS_PER_SECOND * 1  # 3,906,250 ns: exact


@dataclass(frozen=True)
class Subject:
    user_id: int
    key: str  # the partition key: the Hexoskin username (`<study uuid>_<id>` in studies)


@dataclass(frozen=True)
class DayWindow:
    day: date
    start: int  # ticks, inclusive
    end: int  # ticks, exclusive

    @classmethod
    def of(cls, day: date, tz: str | ZoneInfo) -> DayWindow:
        zone = ZoneInfo(tz) if isinstance(tz, str) else tz
        start, end = day_bounds_ticks(day, zone)
        return cls(day, start, end)

    @property
    def start_ns(self) -> int:
        return self.start * NS_PER_TICK

    @property
    def end_ns(self) -> int:
        return self.end * NS_PER_TICK


class SignalDownloadError(Exception):
    """A record's binary download could not be decoded; the file went to quarantine."""

    def __init__(self, record_id: int, reason: str, quarantined: Path | None):
        super().__init__(f"record {record_id}: {reason}" + (f" (quarantined at {quarantined})" if quarantined else ""))
        self.record_id = record_id
        self.reason = reason
        self.quarantined = quarantined


def now_utc() -> datetime:
    return datetime.now(UTC)


def _dt(ticks: int | None) -> datetime | None:
    return None if ticks is None else from_ticks(ticks)


# -- records and ranges ------------------------------------------------------------------------------


def overlapping(client: HexoskinClient, resource: str, subject: Subject, window: DayWindow) -> list[dict]:
    """Objects of a subject that overlap the day: start < day end and end > day start."""
    objs = client.iter_list(
        resource, user=subject.user_id, start__lt=window.end, end__gt=window.start, order_by="start"
    )
    return [o for o in objs if o.get("end") is not None]


def records_table(records: Iterable[dict], window: DayWindow, received_at: datetime) -> pa.Table:
    rows = []
    for rec in records:
        a, b = max(rec["start"], window.start), min(rec["end"], window.end)
        rows.append(
            {
                "record_id": int(rec["id"]),
                "user_id": _id(rec["user"]),
                "start_at": _dt(rec["start"]),
                "end_at": _dt(rec["end"]),
                "start_ticks": int(rec["start"]),
                "end_ticks": int(rec["end"]),
                "day_start_at": _dt(a),
                "day_end_at": _dt(b),
                "duration_s": (rec["end"] - rec["start"]) / TICKS_PER_SECOND,
                "day_duration_s": (b - a) / TICKS_PER_SECOND,
                "device": _id_str(rec.get("device")),
                "status": rec.get("status"),
                "last_modified": _iso(rec.get("last_modified")),
                "received_at": received_at,
            }
        )
    return pa.Table.from_pylist(rows, schema=RECORDS_SCHEMA)


def _id_str(value: Any) -> str | None:
    if value is None:
        return None
    return str(value).rstrip("/").rsplit("/", 1)[-1]


def ranges_tables(ranges: Iterable[dict], window: DayWindow, received_at: datetime) -> tuple[pa.Table, pa.Table]:
    rows, metrics = [], []
    for rg in ranges:
        a, b = max(rg["start"], window.start), min(rg["end"], window.end)
        rows.append(
            {
                "range_id": int(rg["id"]),
                "user_id": _id(rg["user"]),
                "name": rg.get("name"),
                "activitytype_id": _id(rg.get("activitytype")),
                "trainingroutine_id": _id(rg.get("trainingroutine")),
                "rank": int(rg.get("rank") or 0),
                "parent_id": _id(rg.get("parent")),
                "status": rg.get("status"),
                "start_at": _dt(rg["start"]),
                "end_at": _dt(rg["end"]),
                "start_ticks": int(rg["start"]),
                "end_ticks": int(rg["end"]),
                "day_start_at": _dt(a),
                "day_end_at": _dt(b),
                "duration_s": (rg["end"] - rg["start"]) / TICKS_PER_SECOND,
                "last_modified": _iso(rg.get("last_modified")),
                "received_at": received_at,
            }
        )
        for m in rg.get("metrics") or []:
            value = m.get("value")
            metrics.append(
                {
                    "range_id": int(rg["id"]),
                    "metric_id": _id(m.get("resource_uri")) if "id" not in m else int(m["id"]),
                    "name": m.get("name"),
                    "unit": (m.get("unit") or {}).get("si_short"),
                    "value": float(value) if isinstance(value, (int, float)) else None,
                    "received_at": received_at,
                }
            )
    return (
        pa.Table.from_pylist(rows, schema=RANGES_SCHEMA),
        pa.Table.from_pylist(metrics, schema=RANGE_METRICS_SCHEMA),
    )


# -- signals ----------------------------------------------------------------------------------------


def fetch_signals(
    client: HexoskinClient,
    records: pa.Table,
    window: DayWindow,
    received_at: datetime,
    quarantine_dir: Path,
) -> dict[Family, pa.Table]:
    """Download, decode and clip every record's signals for the day; one long table per family, in memory.

    The whole-day reference path (tests, `bench_e2e.py --legacy`); ingestion streams instead, in
    bounded memory, with `signals.ingest_subject_day_signals`, which writes the same rows.

    Each record's zip is requested for its part of the day widened by one second on both sides (the
    server's window semantics for binary downloads are not documented), then decoded rows are kept
    only where ts lies in [day start, day end). All-or-nothing: if any record's download cannot be
    decoded, it is quarantined and SignalDownloadError is raised, so the caller keeps the previous
    files of the partition instead of publishing a day with a record missing.
    """
    parts: dict[Family, list[pa.Table]] = {}
    with tempfile.TemporaryDirectory(prefix="hexo-signals-") as tmp:
        for rec in records.to_pylist():
            record_id = rec["record_id"]
            a = max(rec["start_ticks"], window.start) - TICKS_PER_SECOND
            b = min(rec["end_ticks"], window.end) + TICKS_PER_SECOND
            zip_path = Path(tmp) / f"record_{record_id}.zip"
            client.download_data(zip_path, SIGNAL_DATATYPES, record=record_id, start=a, end=b)
            try:
                exports = read_exports(zip_path)
            except (DecodeError, zipfile.BadZipFile, OSError, ValueError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
                dest = quarantine_file(zip_path, quarantine_dir / zip_path.name, reason)
                raise SignalDownloadError(record_id, reason, dest) from exc
            for export in exports:
                for family, table in export.tables.items():
                    clipped = _clip(table, window, rec)
                    if clipped.num_rows:
                        parts.setdefault(family, []).append(_with_lineage(clipped, record_id, received_at))
    return {family: _sorted(pa.concat_tables(tables)) for family, tables in parts.items()}


def _clip(table: pa.Table, window: DayWindow, rec: dict) -> pa.Table:
    ts = table.column("ts").cast(pa.int64()).to_numpy()
    lo = max(window.start_ns, rec["start_ticks"] * NS_PER_TICK)
    # A 1 Hz sample may sit exactly at the record end ((k+1)/fs); samples past it are padding.
    hi_record = rec["end_ticks"] * NS_PER_TICK
    keep = (ts >= lo) & (ts < window.end_ns) & (ts <= hi_record)
    return table if keep.all() else table.filter(pa.array(keep))


def _with_lineage(table: pa.Table, record_id: int, received_at: datetime) -> pa.Table:
    n = table.num_rows
    received = np.full(n, np.datetime64(received_at.replace(tzinfo=None), "us"))
    return table.append_column("record_id", pa.array(np.full(n, record_id, np.int64))).append_column(
        "received_at", pa.array(received, TS)
    )


def _sorted(table: pa.Table) -> pa.Table:
    # Each record's table is already sorted; only a day with several records needs a sort.
    if is_sorted_by_id_then_ts(table):
        return table
    return table.sort_by([("datatype_id", "ascending"), ("ts", "ascending")])
