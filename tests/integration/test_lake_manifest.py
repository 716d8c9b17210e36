"""The lake manifest, its checks, compaction and quarantine, over real Parquet files and real processes."""

from __future__ import annotations

import multiprocessing
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hexo_pipeline.cli import main as cli_main
from hexo_pipeline.lake import Lake, compact_lake, quarantine_file, quarantined, verify_lake
from hexo_pipeline.lake.contract import RECORDS_SCHEMA, SIGNAL_LAKE_SCHEMA
from hexo_pipeline.lake.manifest import file_sha256

DAY = date(2026, 3, 6)
T0 = datetime(2026, 3, 7, 4, 0, tzinfo=UTC)


def records(n: int, received: datetime = T0, first_id: int = 1) -> pa.Table:
    start = datetime(2026, 3, 6, 12, tzinfo=UTC)
    rows = [
        {
            "record_id": first_id + i,
            "user_id": 7,
            "start_at": start,
            "end_at": start + timedelta(hours=1),
            "start_ticks": 0,
            "end_ticks": 256 * 3600,
            "day_start_at": start,
            "day_end_at": start + timedelta(hours=1),
            "duration_s": 3600.0,
            "day_duration_s": 3600.0,
            "device": "HX1",
            "status": "ok",
            "last_modified": start,
            "received_at": received,
        }
        for i in range(n)
    ]
    return pa.Table.from_pylist(rows, schema=RECORDS_SCHEMA)


def vitals(n: int, received: datetime = T0) -> pa.Table:
    ts = pa.array([1_772_800_000_000_000_000 + i * 1_000_000_000 for i in range(n)], pa.int64())
    return pa.table(
        {
            "ts": ts.cast(pa.timestamp("ns", tz="UTC")),
            "datatype_id": pa.array([19] * n, pa.int32()),
            "value": pa.array(range(n), pa.int64()),
            "record_id": pa.array([1] * n, pa.int64()),
            "received_at": pa.array([received] * n, pa.timestamp("us", tz="UTC")),
        },
        schema=SIGNAL_LAKE_SCHEMA,
    )


def test_every_write_and_delete_is_recorded_with_its_file_facts(tmp_path):
    lake = Lake(tmp_path / "lake")
    path = lake.write_partition("records", "s1", DAY, records(3))
    (entry,) = lake.manifest.current("records").to_pylist()
    assert (entry["subject"], entry["date"], entry["op"], entry["rows"]) == ("s1", DAY, "write", 3)
    assert entry["file"] == "records/subject=s1/date=2026-03-06/part-0.parquet"
    assert entry["bytes"] == path.stat().st_size and entry["sha256"] == file_sha256(path)
    assert entry["received_at"] == T0
    later = T0 + timedelta(hours=1)
    lake.write_partition("records", "s1", DAY, records(2, later))
    lake.write_partition("signals_vitals", "s1", DAY, vitals(5))
    (entry,) = lake.manifest.current("records").to_pylist()
    assert (entry["rows"], entry["received_at"]) == (2, later)
    lake.write_partition("records", "s1", DAY, None)
    assert lake.manifest.current("records").num_rows == 0
    assert lake.manifest.current("records", include_deletes=True).column("op").to_pylist() == ["delete"]
    lake.manifest.checkpoint()
    assert not list((lake.manifest.root / "records" / "log").glob("*.parquet"))
    assert lake.manifest.current("records").num_rows == 0
    assert lake.manifest.current("signals_vitals").column("rows").to_pylist() == [5]
    assert verify_lake(lake, deep=True) == []


def _writer(root: str, subject: str, n: int) -> None:
    lake = Lake(root)
    for i in range(n):
        lake.write_partition("records", subject, DAY + timedelta(days=i % 5), records(1 + i % 3))
        lake.write_partition("records", "shared", DAY, records(1 + i % 3, first_id=100 + i))


def test_two_writer_processes_never_lose_an_entry(tmp_path):
    root = tmp_path / "lake"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(root), s, 20)) for s in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    lake = Lake(root)
    logs = list((lake.manifest.root / "records" / "log").glob("*.parquet"))
    assert len(logs) == 2 * 20 * 2, "one log file per partition write, none overwritten"
    current = lake.manifest.current("records")
    assert sorted(set(zip(current.column("subject").to_pylist(), current.column("date").to_pylist()))) == sorted(
        {(s, DAY + timedelta(days=i)) for s in ("a", "b") for i in range(5)} | {("shared", DAY)}
    )
    # the shared partition's entry is the file that is there (the last writer's)
    shared = [e for e in current.to_pylist() if e["subject"] == "shared"][0]
    assert shared["sha256"] == file_sha256(root / shared["file"])
    lake.manifest.checkpoint()
    assert lake.manifest.current("records").num_rows == current.num_rows
    assert verify_lake(lake, deep=True) == []


def test_checks_name_missing_unrecorded_changed_and_unreadable_files(tmp_path, monkeypatch):
    lake = Lake(tmp_path / "lake")
    for i in range(3):
        lake.write_partition("records", "s1", DAY + timedelta(days=i), records(2))
    lake.write_study_table("subjects", pa.table({"user_id": pa.array([7], pa.int64()), "username": ["s1"]}))
    assert verify_lake(lake) == []
    base = lake.root / "records" / "subject=s1"
    (base / "date=2026-03-06" / "part-0.parquet").unlink()  # missing
    shutil.copytree(base / "date=2026-03-07", base / "date=2026-03-20")  # unrecorded
    (base / "date=2026-03-08" / "part-0.parquet").write_bytes(b"PAR1 half")  # changed + unreadable
    # a writer that crashed between its file and its manifest entry
    monkeypatch.setattr(lake.manifest, "record", lambda entries: (_ for _ in ()).throw(OSError("crash")))
    with pytest.raises(OSError):
        lake.write_partition("records", "s2", DAY, records(1))
    monkeypatch.undo()
    found = {(p.kind, p.path.relative_to(lake.root).as_posix()) for p in verify_lake(lake)}
    assert found == {
        ("missing_file", "records/subject=s1/date=2026-03-06/part-0.parquet"),
        ("unrecorded_file", "records/subject=s1/date=2026-03-20/part-0.parquet"),
        ("unreadable_file", "records/subject=s1/date=2026-03-08/part-0.parquet"),
        ("unrecorded_file", "records/subject=s2/date=2026-03-06/part-0.parquet"),
    }
    lines = [str(p) for p in verify_lake(lake)]
    assert all("\n" not in line and str(lake.root) in line for line in lines)
    # the CLI exits 1 and prints them
    assert cli_main(["lake", "--data-dir", str(tmp_path), "verify"]) == 1


def test_rebuild_records_a_lake_written_before_the_manifest(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.write_partition("records", "s1", DAY, records(2))
    lake.write_partition("signals_vitals", "s1", DAY, vitals(4))
    shutil.rmtree(lake.manifest.root)
    assert {p.kind for p in verify_lake(lake)} == {"unrecorded_file"}
    assert cli_main(["lake", "--data-dir", str(tmp_path), "manifest", "--rebuild"]) == 0
    assert verify_lake(lake, deep=True) == []
    (entry,) = lake.manifest.current("records").to_pylist()
    assert (entry["rows"], entry["received_at"]) == (2, T0)


def test_compaction_keeps_every_row_once_and_every_partition_state(tmp_path):
    lake = Lake(tmp_path / "lake")
    days = [date(2026, 3, 1) + timedelta(days=i) for i in range(0, 31, 3)] + [date(2026, 4, 2)]
    written = {}
    for i, day in enumerate(days):
        table = records(1 + i % 4, T0 + timedelta(minutes=i), first_id=100 * i)
        lake.write_partition("records", "s1", day, table)
        written[day] = table
    lake.write_partition("signals_vitals", "s1", days[0], vitals(3))
    before = {(e["date"], e["received_at"], e["rows"]) for e in lake.manifest.current("records").to_pylist()}

    assert cli_main(["lake", "--data-dir", str(tmp_path), "compact", "--before", "2026-04"]) == 0
    month = lake.root / "records" / "subject=s1" / "month=2026-03" / "part-0.parquet"
    assert month.exists()
    assert sorted(p.parent.name for p in (lake.root / "records" / "subject=s1").glob("date=*/*.parquet")) == [
        "date=2026-04-02"
    ], "March's daily files are gone, April (open) is untouched"
    assert (lake.root / "signals_vitals" / "subject=s1" / "date=2026-03-01").exists(), "signals are not compactable"
    after = lake.manifest.current("records").to_pylist()
    assert {(e["date"], e["received_at"], e["rows"]) for e in after} == before, "dbt sees no partition change"
    assert {e["file"] for e in after if e["date"].month == 3} == {"records/subject=s1/month=2026-03/part-0.parquet"}
    assert pq.read_table(month).num_rows == sum(written[d].num_rows for d in days if d.month == 3)
    for day in days:
        assert lake.read_partition("records", "s1", day).equals(written[day])
    assert verify_lake(lake, deep=True) == []

    # re-writing a day of a compacted month takes it out of the month file: each row stays in one file
    new = records(5, T0 + timedelta(days=3), first_id=9000)
    lake.write_partition("records", "s1", days[1], new)
    assert lake.read_partition("records", "s1", days[1]).equals(new)
    assert days[1] not in pq.read_table(month).column("date").to_pylist()
    lake.write_partition("records", "s1", days[2], None)
    assert lake.read_partition("records", "s1", days[2]) is None
    assert verify_lake(lake, deep=True) == []
    # compacting again folds the re-written day back in
    report = compact_lake(lake, "2026-04")
    assert report.months == 1 and report.files_removed == 1
    assert lake.read_partition("records", "s1", days[1]).equals(new)
    state = {e["date"]: e for e in lake.manifest.current("records").to_pylist()}
    assert days[2] not in state and state[days[1]]["rows"] == 5
    assert verify_lake(lake, deep=True) == []
    with pytest.raises(ValueError, match="YYYY-MM"):
        compact_lake(lake, "2026-4")


def test_one_quarantine_function_moves_the_file_and_writes_its_reason(tmp_path):
    src = tmp_path / "in" / "bad.fit"
    src.parent.mkdir()
    src.write_bytes(b"not a fit file")
    dest = quarantine_file(src, tmp_path / "quarantine" / "inbox" / "alice" / "bad.fit", "bad_header: no FIT header")
    assert not src.exists() and dest.read_bytes() == b"not a fit file"
    reason = Path(str(dest) + ".reason.txt").read_text().splitlines()
    assert reason[0] == "bad_header: no FIT header" and reason[1].startswith("quarantined_at: ")
    assert quarantined(tmp_path, "inbox") == {"alice/bad.fit": "bad_header: no FIT header"}


def test_marts_refuses_to_build_on_a_lake_that_fails_its_check(tmp_path, capsys):
    lake = Lake(tmp_path / "lake")
    lake.write_partition("records", "s1", DAY, records(2))
    stray = lake.root / "records" / "subject=s1" / "date=2026-03-07" / "part-0.parquet"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"PAR1 half a file")
    assert cli_main(["marts", "--data-dir", str(tmp_path), "--no-report"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("marts not published: lake check failed") and str(stray) in err[0]
    assert not (tmp_path / "warehouse" / "hexo.duckdb").exists()
    assert not (tmp_path / "warehouse" / "state").exists(), "dbt never ran"
