"""Lake manifest at study scale: what dbt's pending-partition query costs at 500 subjects x 730 days.

A manifest snapshot of 365,000 partitions (one dataset) plus a log of 500 new partition writes (one day of
the study), then, with DuckDB as the dbt macro runs it: the current state per partition, and the pending
query against an incremental model that loaded every snapshot partition. Standalone:
`python benchmarks/lake_manifest.py` (best of 3, warm cache).
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from hexo_pipeline.lake.manifest import ENTRY_SCHEMA, Entry, Manifest, current_sql


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(subjects: int = 500, days: int = 730, new: int = 500) -> None:
    root = Path(tempfile.mkdtemp()) / "lake"
    manifest = Manifest(root)
    subs = [f"s{i:04d}" for i in range(subjects)]
    dates = [date(2025, 1, 1) + timedelta(days=d) for d in range(days)]
    at = datetime(2026, 1, 1, tzinfo=UTC)
    n = subjects * days
    snapshot = pa.table(
        {
            "dataset": ["signals_vitals"] * n,
            "subject": [s for s in subs for _ in dates],
            "date": [d for _ in subs for d in dates],
            "op": ["write"] * n,
            "file": [f"signals_vitals/subject={s}/date={d}/part-0.parquet" for s in subs for d in dates],
            "rows": [86400] * n,
            "bytes": [300_000] * n,
            "received_at": [at] * n,
            "sha256": ["0" * 64] * n,
            "written_at": [at] * n,
            "entry": ["snapshot"] * n,
        }
    ).cast(ENTRY_SCHEMA)
    folder = root / "_manifest" / "signals_vitals"
    folder.mkdir(parents=True)
    pq.write_table(snapshot, folder / "snapshot.parquet", compression="zstd")
    t0 = time.perf_counter()
    for i in range(new):
        manifest.record(
            [Entry("signals_vitals", subs[i % subjects], date(2027, 1, 1), "write", "f", 1, 1, at, "0" * 64)]
        )
    t_write = (time.perf_counter() - t0) / new
    con = duckdb.connect()
    con.execute(
        f"create table loaded as select subject as username, date as lake_date, received_at as lake_received_at "
        f"from read_parquet('{folder / 'snapshot.parquet'}')"
    )
    state = current_sql(folder)
    pending = (
        f"with lake as (select subject, date as lake_date, received_at as lake_received_at from ({state}) "
        f"where op = 'write'), loaded as (select distinct username as subject, lake_date, lake_received_at "
        f"from loaded) select count(*) from lake where not exists (select 1 from loaded where loaded.subject = "
        f"lake.subject and loaded.lake_date = lake.lake_date and loaded.lake_received_at = lake.lake_received_at)"
    )
    print(
        f"snapshot: {n:,} partitions, {(folder / 'snapshot.parquet').stat().st_size / 1e6:.2f} MB; "
        f"log: {new} files, {t_write * 1e3:.1f} ms per entry written"
    )
    print(
        f"current state per partition: {best_of(lambda: con.execute(f'select count(*) from ({state})').fetchall()):.3f} s"
    )
    print(
        f"pending partitions (dbt's query): {best_of(lambda: con.execute(pending).fetchall()):.3f} s, "
        f"{con.execute(pending).fetchall()[0][0]} pending"
    )
    t0 = time.perf_counter()
    manifest.checkpoint()
    print(f"checkpoint (fold {new} log files into the snapshot): {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
