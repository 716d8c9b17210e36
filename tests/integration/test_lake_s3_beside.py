"""What lives beside the lake follows it to object storage (HEXO_LAKE_URL=s3://bucket/prefix): the
quarantine (files and their reason records, read by dbt) and the range exports; and several machines may
write the same partition without a shared lock. Against moto's S3 server on 127.0.0.1 (test_lake_s3.py's
S3Server), the sandbox over HTTP and a real dbt build."""

from __future__ import annotations

import io
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow.compute as pc
import pytest
from test_ingest_activity_files import STUDY, _a_subject_day_with_ranges, _resources
from test_lake_manifest import DAY, records
from test_lake_s3 import BUCKET, S3Server

from hexo_pipeline.defs.resources import LakeResource
from hexo_pipeline.ingest import activity_files as af
from hexo_pipeline.ingest.activity_files import ingest_range_exports
from hexo_pipeline.ingest.subject_day import DayWindow, ranges_tables
from hexo_pipeline.lake import Lake, quarantined, storage, verify_lake
from hexo_pipeline.lake.quarantine import move_to_quarantine, quarantine_root
from hexo_pipeline.study_settings import StudySettings
from hexo_pipeline.warehouse.marts import build_marts

pytestmark = pytest.mark.slow  # moto, dbt builds

pytest.importorskip("moto.server")


@pytest.fixture(scope="module")
def s3():
    # fsspec keeps one S3FileSystem per set of arguments: one made for another module's server (another
    # port, now stopped) would be reused here, and ours must not outlive this module either.
    s3fs = pytest.importorskip("s3fs")
    s3fs.S3FileSystem.clear_instance_cache()
    server = S3Server()
    server.start()
    server.client().create_bucket(Bucket=BUCKET)
    yield server
    server.stop()
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture
def data(s3, monkeypatch, tmp_path) -> Path:
    """The environment of a deployment whose lake is a fresh prefix of the bucket; returns HEXO_DATA_DIR."""
    for key, value in s3.env.items():
        monkeypatch.setenv(key, value)
    root = tmp_path / "data"
    monkeypatch.setenv("HEXO_DATA_DIR", str(root))
    monkeypatch.setenv("HEXO_LAKE_URL", f"s3://{BUCKET}/{uuid.uuid4().hex[:8]}")
    return root


def _prefix() -> str:
    return os.environ["HEXO_LAKE_URL"].split(f"{BUCKET}/", 1)[1]


def _stamp(s3: S3Server, key: str) -> tuple:
    head = s3.client().head_object(Bucket=BUCKET, Key=key)
    return head["ETag"], head["LastModified"]


def _local_files(root: Path) -> list[str]:
    """What the data dir holds besides the lake's lock files (the local state of a remote lake)."""
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not p.relative_to(root).parts[0].startswith(".")
    )


def test_quarantined_files_and_reasons_are_objects_beside_the_lake_and_dbt_reads_them(s3, data, tmp_path, monkeypatch):
    assert str(quarantine_root(data)) == os.environ["HEXO_LAKE_URL"] + "/_quarantine"
    assert str(LakeResource(data_dir=str(data), lake_url=os.environ["HEXO_LAKE_URL"]).quarantine).endswith(
        "/_quarantine"
    )
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    moved = {}
    for relative, reason in [
        (f"signals/subject=5e7a0c1d_syn001/date={DAY}/record_7.zip", "DecodeError [truncated]: cut short"),
        ("inbox/garbled.fit", "FIT header: bad magic bytes"),
        ("inbox/5e7a0c1d_syn002/gone.tcx", "no_data: no timestamp"),
    ]:
        src = incoming / Path(relative).name
        src.write_bytes(b"not decodable")
        moved[relative] = move_to_quarantine(data, src, reason, relative=relative)
        assert not src.exists(), "moved, not copied"
    folder = incoming / "export_dir"  # an export folder refused whole (import-export)
    (folder / "sub").mkdir(parents=True)
    (folder / "info.json").write_text("{}")
    (folder / "sub" / "RR_interval.hxd").write_bytes(b"bomb")
    move_to_quarantine(data, folder, "[too_large] RR_interval.hxd", relative="import_export/20260306T000000-export_dir")
    assert not folder.exists()
    prefix = _prefix()
    keys = set(s3.keys(prefix + "/_quarantine/"))
    exported = f"{prefix}/_quarantine/import_export/20260306T000000-export_dir"
    assert {f"{exported}/info.json", f"{exported}/sub/RR_interval.hxd", f"{exported}.reason.txt"} <= keys
    assert quarantined(data, "import_export") == {"20260306T000000-export_dir": "[too_large] RR_interval.hxd"}
    for relative in moved:
        assert {f"{prefix}/_quarantine/{relative}", f"{prefix}/_quarantine/{relative}.reason.txt"} <= keys
    assert not _local_files(data), "nothing of the quarantine on the local disk"
    # A reason whose file is gone (deleted once looked at) no longer counts.
    s3.client().delete_object(Bucket=BUCKET, Key=f"{prefix}/_quarantine/inbox/5e7a0c1d_syn002/gone.tcx")
    assert quarantined(data, "inbox") == {"garbled.fit": "FIT header: bad magic bytes"}
    assert quarantined(data, "signals") == {
        f"subject=5e7a0c1d_syn001/date={DAY}/record_7.zip": "DecodeError [truncated]: cut short"
    }

    # A real dbt build (profile output lake_s3) of rpt_quarantine and what it needs reads the records from
    # the bucket (tests whose models are not built are left out).
    monkeypatch.setenv("DBT_INDIRECT_SELECTION", "cautious")
    Lake.in_data_dir().write_partition("records", "5e7a0c1d_syn001", DAY, records(1))
    log = io.StringIO()
    result = build_marts(select="+rpt_quarantine", study=StudySettings(timezone="America/Montreal"), out=log)
    assert result.returncode == 0 and result.published is not None, log.getvalue()[-3000:]
    with duckdb.connect(str(result.published), read_only=True) as con:
        rows = con.sql(
            "select area, file, username, lake_date, reason, quarantined_at is not null "
            "from marts.rpt_quarantine order by area, file"
        ).fetchall()
    assert rows == [
        ("import_export", "20260306T000000-export_dir", None, None, "[too_large] RR_interval.hxd", True),
        ("inbox", "garbled.fit", None, None, "FIT header: bad magic bytes", True),
        (
            "signals",
            f"subject=5e7a0c1d_syn001/date={DAY}/record_7.zip",
            "5e7a0c1d_syn001",
            DAY,
            "DecodeError [truncated]: cut short",
            True,
        ),
    ]


def test_range_exports_and_their_quarantine_are_objects_beside_the_lake(make_sandbox, s3, data, monkeypatch):
    """Range exports are kept under `_exports/`, a rerun uploads nothing, a bad download is quarantined
    under `_quarantine/` while the kept export still lands, and a deleted range's exports go."""
    handle = make_sandbox(subjects=1, days=2)
    resources = _resources(handle, data)
    tz = ZoneInfo(STUDY.timezone)
    prefix = _prefix()
    with resources["hexoskin"].client() as api:
        username, day, ranges = _a_subject_day_with_ranges(api)
        table, _ = ranges_tables([api.get_detail("range", ranges[0]["id"])], DayWindow.of(day, tz), datetime.now(UTC))
        rid = ranges[0]["id"]
        folder = f"{prefix}/_exports/subject={username}/date={day}"

        first = ingest_range_exports(api, table, subject=username, day=day, tz=tz, data_root=data)
        assert sorted(o.status for o in first.outcomes) == ["landed", "landed"]
        assert sorted(s3.keys(folder + "/")) == [f"{folder}/range_{rid}.fit", f"{folder}/range_{rid}.tcx"]
        lake = Lake.in_data_dir(data)
        files = lake.read_partition("activity_files", username, day)
        for fmt in ("tcx", "fit"):
            row = files.filter(pc.equal(files["format"], fmt))
            assert row["file_path"][0].as_py() == f"exports/subject={username}/date={day}/range_{rid}.{fmt}"
            stored = storage.file_facts(storage.beside_lake("exports", data) / row["file_path"][0].as_py()[8:])
            assert row["sha256"][0].as_py() == stored.sha256
        stamp = _stamp(s3, f"{folder}/range_{rid}.fit")

        again = ingest_range_exports(api, table, subject=username, day=day, tz=tz, data_root=data)
        assert sorted(o.status for o in again.outcomes) == ["unchanged", "unchanged"]
        assert _stamp(s3, f"{folder}/range_{rid}.fit") == stamp, "not uploaded again"

        monkeypatch.setitem(af.ACCEPT, "fit", "application/json")
        bad = ingest_range_exports(api, table, subject=username, day=day, tz=tz, data_root=data, formats=("fit",))
        (outcome,) = bad.outcomes
        assert outcome.status == "quarantined" and "the previous export" in outcome.reason
        q = f"{prefix}/_quarantine/range_exports/subject={username}/date={day}/range_{rid}.fit"
        assert set(s3.keys(q)) == {q, q + ".reason.txt"}
        assert quarantined(data, "range_exports")[f"subject={username}/date={day}/range_{rid}.fit"].startswith(
            "unsupported_format"
        )
        assert _stamp(s3, f"{folder}/range_{rid}.fit") == stamp, "the kept export is left as it was"
        kept = lake.read_partition("activity_files", username, day)
        assert sorted(kept["format"].to_pylist()) == ["fit"], "the kept FIT export still lands"

        ingest_range_exports(api, table.slice(0, 0), subject=username, day=day, tz=tz, data_root=data)
    assert s3.keys(folder + "/") == [], "a deleted range's exports go too"
    assert lake.read_partition("activity_files", username, day) is None
    assert not _local_files(data), "exports and quarantine are not on the local disk"
    assert verify_lake(lake, deep=True) == []


# -- several machines writing one partition ------------------------------------------------------------


def _other_machine(root: Path, machine: Path) -> Lake:
    """The same remote lake as seen from another machine: its own local lock files."""
    other = Lake(root)
    other.locks = machine / ".lake_locks"
    other.manifest.locks = other.locks
    return other


@pytest.mark.parametrize("when", ["before A's entry", "after A's entry"])
@pytest.mark.parametrize("b_rows", [5, 0], ids=["B replaces", "B deletes"])
def test_an_object_replaced_by_another_machine_gets_the_latest_entry(s3, data, tmp_path, monkeypatch, when, b_rows):
    """Machine B writes (or deletes) a partition between machine A's upload and A's check of it: the race
    the per-machine locks cannot prevent. A sees that the object is no longer its upload and records
    what is there. The latest entry describes the stored object (last writer wins) and the lake verifies;
    without the check, A's entry (2 rows) would be the latest over B's object."""
    lake_a = Lake.in_data_dir()
    lake_b = _other_machine(lake_a.root, tmp_path / "machine-b")
    record_a = lake_a.manifest.record
    interleaved = []

    def b_writes():
        interleaved.append(lake_b.write_partition("records", "s1", DAY, records(b_rows) if b_rows else None))

    def record_with_b(entries):
        if not interleaved and when == "before A's entry":
            b_writes()
        recorded = record_a(entries)
        if not interleaved:
            b_writes()
        return recorded

    monkeypatch.setattr(lake_a.manifest, "record", record_with_b)
    lake_a.write_partition("records", "s1", DAY, records(2))
    assert interleaved
    latest = lake_a.manifest.current("records", include_deletes=True).to_pylist()
    path = lake_a.partition_file("records", "s1", DAY)
    if b_rows:
        assert [e["rows"] for e in latest] == [b_rows], "the latest entry is B's object, A's bytes are gone"
        assert latest[0]["sha256"] == storage.file_facts(path).sha256
        assert lake_a.read_partition("records", "s1", DAY).num_rows == b_rows
    else:
        assert [e["op"] for e in latest] == ["delete"] and not path.exists()
    prefix = _prefix()
    assert len(s3.keys(f"{prefix}/_manifest/records/log/")) == 3, "B's entry, A's entry, then A's correction"
    assert verify_lake(lake_a, deep=True) == []
