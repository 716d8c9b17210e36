"""Activity files into the lake: every real file dropped into the inbox (Dagster asset, checks, sensor,
quarantine), and each range's TCX/FIT exports downloaded from the sandbox over HTTP and checked against
the API's own data for the range (HR samples, GPS trackpoints, laps)."""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest

from hexo_pipeline.decoders import convert_file
from hexo_pipeline.defs.activity_files.assets import inbox_files, inbox_sensor, range_exports
from hexo_pipeline.defs.partitions import subject_day_key
from hexo_pipeline.defs.resources import HexoskinResource, LakeResource, StudyResource
from hexo_pipeline.defs.subject_day.assets import records_and_ranges
from hexo_pipeline.hexoskin.timestamps import from_ticks
from hexo_pipeline.ingest import activity_files as af
from hexo_pipeline.ingest.activity_files import DATASETS, LAKE_SCHEMAS, ingest_inbox, ingest_range_exports, list_inbox
from hexo_pipeline.lake import Lake
from hexo_pipeline.runner import sandbox_environment
from hexo_pipeline.study_settings import StudySettings

STUDY = StudySettings()  # the sandbox's default study, as the pipeline sees it with no HEXO_STUDY_* set
PACIFIC = ZoneInfo("America/Los_Angeles")
SEMICIRCLE = 180.0 / 2**31
INVALID = {
    "activity-settings-corruptheader.fit": "invalid_header",
    "activity-settings-nodata.fit": "no_data",
    "activity-unexpected-eof.fit": "truncated",
}
SUBJECT = "fieldwatch_07"  # inbox/<subject>/ folder convention for the FIT files


@pytest.fixture(autouse=True)
def quiet_server_log():
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


@pytest.fixture
def real(shared_dir: Path) -> Path:
    return shared_dir / "reference" / "real_files"


def real_files(real: Path) -> list[Path]:
    return sorted(
        p for sub in ("fit", "tcx", "fit_invalid") for p in (real / sub).iterdir() if p.suffix in (".fit", ".tcx")
    )


def drop_into_inbox(real: Path, root: Path) -> dict[str, Path]:
    """FIT files of real devices go to inbox/<subject>/, TCX and damaged FIT to the inbox top (subject
    unknown). Returns inbox-relative path -> original file."""
    placed = {}
    for src in real_files(real):
        rel = f"{SUBJECT}/{src.name}" if src.parent.name == "fit" else src.name
        dest = root / "inbox" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        placed[f"inbox/{rel}"] = src
    return placed


def lake_dataset(root: Path, name: str) -> pa.Table:
    return ds.dataset(root / "lake" / name, format="parquet", partitioning="hive").to_table()


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every file under the lake, exports, inbox and quarantine: sha256 and mtime."""
    out = {}
    for area in ("lake", "exports", "inbox", "quarantine"):
        for p in sorted((root / area).rglob("*")) if (root / area).exists() else []:
            if p.is_file():
                out[str(p.relative_to(root))] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
    return out


def checks(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def pacific(text: str) -> datetime:
    day, mon, dd, hms, abbr, year = text.split()
    return datetime.strptime(f"{day} {mon} {dd} {hms} {year}", "%a %b %d %H:%M:%S %Y").replace(tzinfo=PACIFIC)


# ------------------------------------------------------------------------------------------- inbox
def test_every_real_file_through_the_inbox_asset(real: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HEXO_INBOX_SETTLE_S", "0")
    placed = drop_into_inbox(real, tmp_path)
    assert len(placed) == 12
    storage = LakeResource(data_dir=str(tmp_path))
    instance = dg.DagsterInstance.ephemeral()

    result = dg.materialize(
        [inbox_files], instance=instance, resources={"storage": storage, "study": StudyResource.of(STUDY)}
    )
    assert result.success  # quarantined files never fail the run
    decoded = checks(result)["inbox_files_decoded"]
    assert decoded.passed is False and decoded.severity == dg.AssetCheckSeverity.ERROR
    problems = decoded.metadata["problems"].value
    for name, code in INVALID.items():  # each named, with its code and reason
        assert f"inbox/{name}: quarantined [{code}]" in problems
        moved = tmp_path / "quarantine" / "inbox" / name
        assert moved.read_bytes() == (real / "fit_invalid" / name).read_bytes()
        reason = moved.with_name(name + ".reason.txt").read_text()
        assert (
            reason.startswith(f"{code}: ") and "sha256: " in reason and "partial decode holds 14 trackpoints" in reason
        )
        assert not (tmp_path / "inbox" / name).exists()
    assert decoded.metadata["quarantined_total"].value == 3
    assert "activity-filecrc.fit: fitdecode (fitparse FitCRCError" in decoded.metadata["decoded_by_fallback"].value

    files = lake_dataset(tmp_path, "activity_files")
    assert files.num_rows == 9
    landed = {r["file_path"]: r for r in files.to_pylist()}
    assert set(landed) == set(placed) - {f"inbox/{n}" for n in INVALID}
    for file_path, row in landed.items():
        src = placed[file_path]
        expected = convert_file(src)
        assert row["sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
        assert (row["decoder"], row["format"], row["source_kind"]) == (
            expected.source.decoder,
            expected.source.format,
            "inbox",
        )
        assert row["n_trackpoints"] == expected.trackpoints.num_rows
        assert row["n_rr_intervals"] == expected.rr_intervals.num_rows
        in_subject_folder = src.parent.name == "fit"
        assert row["subject"] == (SUBJECT if in_subject_folder else "_inbox")  # hive partition
        assert row["subject_username"] == (SUBJECT if in_subject_folder else None)  # the column
        start = expected.activities["start_time"][0].as_py().astimezone(ZoneInfo(STUDY.timezone)).date()
        assert row["date"] == start.isoformat()
    crc = landed["inbox/activity-filecrc.fit"]
    assert (crc["decoder"], crc["crc_ok"]) == ("fitdecode", False) and "FitCRCError" in crc["fallback_reason"]
    assert landed[f"inbox/{SUBJECT}/sample_mulitple_header.fit"]["n_activities"] == 5

    # Every table: the lake schema, and one row per decoded row of every file.
    for name in DATASETS:
        table = lake_dataset(tmp_path, name)
        assert table.drop_columns(["subject", "date"]).schema.remove_metadata().equals(LAKE_SCHEMAS[name])
    tp = lake_dataset(tmp_path, "activity_trackpoints")
    assert tp.num_rows == 2809 + 15 + 21 + 17 + 1773 + 14 + 486 + 384 + 384
    no_hr = tp.filter(pc.equal(tp["file_path"], "inbox/no_hr.tcx"))
    assert no_hr.num_rows == 384 and pc.sum(pc.is_null(no_hr["latitude_deg"])).as_py() == 1  # time-only kept
    rr = lake_dataset(tmp_path, "activity_rr_intervals")
    assert rr.num_rows == 113 + 62 + 126 and pc.all(rr["rr_plausible"]).as_py()
    assert checks(result)["inbox_rr_intervals_plausible"].passed


@pytest.mark.parametrize("stem", ["garmin-edge-820-bike", "garmin-fenix-5-run", "garmin-fenix-5-walk"])
def test_inbox_trackpoints_equal_the_expected_csv(real: Path, tmp_path: Path, stem: str) -> None:
    dest = tmp_path / "inbox" / SUBJECT / f"{stem}.fit"
    dest.parent.mkdir(parents=True)
    shutil.copyfile(real / "fit" / f"{stem}.fit", dest)
    report = ingest_inbox(tmp_path, tz=STUDY.timezone)
    assert [o.status for o in report.outcomes] == ["landed"]
    got = lake_dataset(tmp_path, "activity_trackpoints").to_pylist()
    with open(real / "fit" / f"{stem}-records.csv", newline="") as fh:
        expected = list(csv.DictReader(fh))
    assert len(got) == len(expected) > 10
    for row, exp in zip(got, expected, strict=True):
        assert row["time"] == pacific(exp["timestamp"])
        assert row["heart_rate_bpm"] == int(exp["heart_rate"])
        assert row["latitude_deg"] == pytest.approx(int(exp["position_lat"]) * SEMICIRCLE, abs=1e-12)
        assert row["longitude_deg"] == pytest.approx(int(exp["position_long"]) * SEMICIRCLE, abs=1e-12)
        assert row["distance_m"] == pytest.approx(float(exp["distance"]), abs=1e-9)
        assert row["file_path"] == f"inbox/{SUBJECT}/{stem}.fit" and row["subject_username"] == SUBJECT


def test_inbox_rerun_changes_nothing_and_changes_are_merged(real: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HEXO_INBOX_SETTLE_S", "0")
    drop_into_inbox(real, tmp_path)
    storage = LakeResource(data_dir=str(tmp_path))
    instance = dg.DagsterInstance.ephemeral()
    assert dg.materialize(
        [inbox_files], instance=instance, resources={"storage": storage, "study": StudyResource.of(STUDY)}
    ).success
    before = snapshot(tmp_path)

    again = dg.materialize(
        [inbox_files], instance=instance, resources={"storage": storage, "study": StudyResource.of(STUDY)}
    )
    assert snapshot(tmp_path) == before  # not a byte, not an mtime
    meta = again.asset_materializations_for_node("inbox_files")[0].metadata
    assert meta["files_unchanged"].value == 9 and "files_landed" not in meta
    assert checks(again)["inbox_files_decoded"].passed is False  # the quarantine is still there

    # A forced reconversion (decoder upgrade) also lands identical data: nothing written.
    forced = dg.materialize(
        [inbox_files],
        instance=instance,
        resources={"storage": storage, "study": StudyResource.of(STUDY)},
        run_config={"ops": {"inbox_files": {"config": {"reprocess": True}}}},
    )
    assert forced.success and snapshot(tmp_path) == before

    # A changed file replaces its own rows; a copy under another name is a duplicate; a moved file's
    # rows follow it; a deleted file's rows stay.
    inbox = tmp_path / "inbox"
    hr_62 = (real / "tcx" / "test.tcx").read_text().replace("<Value>62</Value>", "<Value>63</Value>", 1)
    (inbox / "no_hr.tcx").write_text(hr_62)  # changed bytes
    shutil.copyfile(real / "tcx" / "cross-country-skiing_activity_1.tcx", inbox / "copy.tcx")
    (inbox / "other").mkdir()
    shutil.move(inbox / SUBJECT / "garmin-fenix-5-walk.fit", inbox / "other" / "walk.fit")
    (inbox / SUBJECT / "garmin-edge-820-bike.fit").unlink()
    report = ingest_inbox(tmp_path, tz=STUDY.timezone)
    status = {o.file_path: o.status for o in report.outcomes}
    assert status["inbox/no_hr.tcx"] == "landed" and status["inbox/copy.tcx"] == "duplicate"
    assert status["inbox/other/walk.fit"] == "landed"
    files = {r["file_path"]: r for r in lake_dataset(tmp_path, "activity_files").to_pylist()}
    assert f"inbox/{SUBJECT}/garmin-fenix-5-walk.fit" not in files
    assert files["inbox/other/walk.fit"]["subject"] == "other"
    assert f"inbox/{SUBJECT}/garmin-edge-820-bike.fit" in files  # kept
    assert "inbox/copy.tcx" not in files
    tp = lake_dataset(tmp_path, "activity_trackpoints")
    changed = tp.filter(pc.equal(tp["file_path"], "inbox/no_hr.tcx"))
    assert changed.num_rows == 384 and changed["heart_rate_bpm"].null_count == 1  # HR now, 1 time-only
    assert changed["heart_rate_bpm"][0].as_py() == 63
    assert tp.num_rows == 2809 + 15 + 21 + 17 + 1773 + 14 + 486 + 384 + 384


def test_unsettled_and_hidden_files_wait(real: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copyfile(real / "tcx" / "test.tcx", inbox / "test.tcx")
    shutil.copyfile(real / "tcx" / "no_hr.tcx", inbox / ".hidden.tcx")
    shutil.copyfile(real / "tcx" / "no_hr.tcx", inbox / "copying.tcx.part")
    report = ingest_inbox(tmp_path, tz=STUDY.timezone, settle_s=3600)
    assert [(o.file_path, o.status) for o in report.outcomes] == [("inbox/test.tcx", "pending")]
    assert not (tmp_path / "lake").exists()
    report = ingest_inbox(tmp_path, tz=STUDY.timezone, settle_s=0)
    assert [(o.file_path, o.status) for o in report.outcomes] == [("inbox/test.tcx", "landed")]


def test_inbox_sensor_requests_runs_on_new_or_changed_files(real: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HEXO_INBOX_SETTLE_S", "0")
    storage = LakeResource(data_dir=str(tmp_path))
    instance = dg.DagsterInstance.ephemeral()

    def tick(cursor):
        ctx = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"storage": storage})
        return inbox_sensor(ctx)

    first = tick(None)  # no inbox yet: remember that, no run
    assert not first.run_requests and first.cursor
    (tmp_path / "inbox").mkdir()
    shutil.copyfile(real / "fit" / "garmin-fenix-5-run.fit", tmp_path / "inbox" / "run.fit")
    second = tick(first.cursor)
    assert len(second.run_requests) == 1 and second.cursor != first.cursor
    job = inbox_sensor.targets[0].resolvable_to_job
    assert list(job.selection.resolve([inbox_files])) == [dg.AssetKey("inbox_files")]
    assert isinstance(tick(second.cursor), dg.SkipReason)
    os.utime(tmp_path / "inbox" / "run.fit", ns=(1, 1))  # touched: the content may have changed
    third = tick(second.cursor)
    assert len(third.run_requests) == 1
    monkeypatch.setenv("HEXO_INBOX_SETTLE_S", "3600")  # a copy under way is not picked up yet
    shutil.copyfile(real / "fit" / "garmin-fenix-5-walk.fit", tmp_path / "inbox" / "walk.fit")
    ready, pending = list_inbox(tmp_path / "inbox", settle_s=3600)
    assert [f.relative for f in ready] == ["run.fit"] and [f.relative for f in pending] == ["walk.fit"]
    assert isinstance(tick(third.cursor), dg.SkipReason)


# -------------------------------------------------------------------------- range exports (sandbox)
def _resources(handle, root: Path) -> dict:
    env = sandbox_environment(handle.info)
    hexoskin = HexoskinResource(
        base_url=env["HEXO_API_URL"],
        auth="oauth2",
        username=env["HEXO_USERNAME"],
        password=env["HEXO_PASSWORD"],
        client_id=env["HEXO_CLIENT_ID"],
        client_secret=env["HEXO_CLIENT_SECRET"],
    )
    return {"hexoskin": hexoskin, "storage": LakeResource(data_dir=str(root)), "study": StudyResource.of(STUDY)}


def _a_subject_day_with_ranges(api) -> tuple[str, object, list[dict]]:
    tz = ZoneInfo(STUDY.timezone)
    top = [r for r in api.iter_list("range", order_by="start") if not r.get("rank")]
    first = top[0]
    user = api.get(first["user"])
    day = from_ticks(first["start"]).astimezone(tz).date()
    same = [r for r in top if r["user"] == first["user"] and from_ticks(r["start"]).astimezone(tz).date() == day]
    return user["username"], day, same


@pytest.mark.slow
def test_range_exports_round_trip_through_dagster(make_sandbox, tmp_path: Path) -> None:
    handle = make_sandbox(subjects=1, days=2)
    resources = _resources(handle, tmp_path)
    with resources["hexoskin"].client() as api:
        username, day, ranges = _a_subject_day_with_ranges(api)
        instance = dg.DagsterInstance.ephemeral()
        instance.add_dynamic_partitions("subjects", [username])
        key = subject_day_key(username, day)
        result = dg.materialize(
            [records_and_ranges, range_exports], partition_key=str(key), instance=instance, resources=resources
        )
        assert result.success
        assert all(e.passed for e in result.get_asset_check_evaluations())
        lake = Lake(tmp_path / "lake")
        files = lake.read_partition("activity_files", username, day)
        assert files.num_rows == 2 * len(ranges) >= 4
        tp = lake.read_partition("activity_trackpoints", username, day)
        laps = lake.read_partition("activity_laps", username, day)
        ranges_part = lake.read_partition("ranges", username, day)
        for rg in ranges:
            rid = int(rg["id"])
            for fmt in ("tcx", "fit"):
                kept = tmp_path / "exports" / f"subject={username}" / f"date={day}" / f"range_{rid}.{fmt}"
                row = files.filter(pc.and_(pc.equal(files["range_id"], rid), pc.equal(files["format"], fmt)))
                assert row["sha256"][0].as_py() == hashlib.sha256(kept.read_bytes()).hexdigest()
            tcx = tp.filter(pc.and_(pc.equal(tp["range_id"], rid), pc.equal(tp["format"], "tcx")))
            fit = tp.filter(pc.and_(pc.equal(tp["range_id"], rid), pc.equal(tp["format"], "fit")))
            # TCX: one trackpoint per 1 Hz heart-rate sample the API serves for the range, same values.
            hr = api.get_data([19], range=rid)[19]
            assert tcx.num_rows == hr.timestamps.size
            tcx_ticks = np.rint(tcx["time"].cast(pa.int64()).to_numpy() * 256 / 1e6).astype(np.int64)
            assert np.array_equal(tcx_ticks, hr.timestamps)
            api_hr = np.where(hr.values > 0, hr.values, np.nan)
            tcx_hr = tcx["heart_rate_bpm"].to_numpy(zero_copy_only=False).astype(float)
            assert np.array_equal(np.isnan(tcx_hr), np.isnan(api_hr))
            assert np.allclose(tcx_hr[~np.isnan(tcx_hr)], np.rint(api_hr[~np.isnan(api_hr)]))
            # GPS: FIT holds exactly the API's trackpoints of the range; TCX has a position at each.
            points = list(api.iter_list("trackpoint", range=rid, order_by="time"))
            assert fit.num_rows == len(points)
            assert pc.sum(pc.is_valid(tcx["latitude_deg"])).as_py() == len(points)
            if points:
                lon, lat = np.array([p["position"] for p in points]).T
                assert np.allclose(fit["latitude_deg"].to_numpy(), lat, atol=1e-6)
                assert np.allclose(fit["longitude_deg"].to_numpy(), lon, atol=1e-6)
                with_pos = tcx.filter(pc.is_valid(tcx["latitude_deg"]))
                assert np.allclose(with_pos["latitude_deg"].to_numpy(), lat, atol=1e-6)
            # Laps: the range's rank-1 children, or one lap.
            children = pc.sum(pc.equal(ranges_part["parent_id"], rid)).as_py() or 0
            for fmt in ("tcx", "fit"):
                n = pc.sum(pc.and_(pc.equal(laps["range_id"], rid), pc.equal(laps["format"], fmt))).as_py()
                assert n == max(children, 1)

        before = snapshot(tmp_path)
        again = dg.materialize([range_exports], partition_key=str(key), instance=instance, resources=resources)
        assert again.success and snapshot(tmp_path) == before  # re-run changes nothing
        meta = again.asset_materializations_for_node("range_exports")[0].metadata
        assert meta["partitions_unchanged"].value == 1


def test_undecodable_download_is_quarantined_and_the_rest_lands(make_sandbox, tmp_path: Path, monkeypatch) -> None:
    """The server answers a FIT request with something that is not FIT (here: JSON, as a server that
    ignores Accept would): that file is quarantined with its reason, the TCX files still land, and
    Dagster shows a failed check naming the file."""
    handle = make_sandbox(subjects=1, days=2)
    monkeypatch.setitem(af.ACCEPT, "fit", "application/json")
    resources = _resources(handle, tmp_path)
    with resources["hexoskin"].client() as api:
        username, day, ranges = _a_subject_day_with_ranges(api)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("subjects", [username])
    result = dg.materialize(
        [records_and_ranges, range_exports],
        partition_key=str(subject_day_key(username, day)),
        instance=instance,
        resources=resources,
    )
    assert result.success
    check = checks(result)["range_exports_decoded"]
    assert check.passed is False
    problems = check.metadata["problems"].value
    q = tmp_path / "quarantine" / "range_exports" / f"subject={username}" / f"date={day}"
    for rg in ranges:
        name = f"range_{rg['id']}.fit"
        assert f"{name}: quarantined [unsupported_format]" in problems
        assert (q / name).read_bytes().startswith(b"{")
        assert (q / f"{name}.reason.txt").read_text().startswith("unsupported_format: neither FIT")
    files = Lake(tmp_path / "lake").read_partition("activity_files", username, day)
    assert sorted(files["format"].to_pylist()) == ["tcx"] * len(ranges)


def test_range_rows_and_inbox_rows_share_a_partition(make_sandbox, real: Path, tmp_path: Path) -> None:
    """Inbox files of a known subject land in the same subject-day partitions as range exports; each
    writer replaces only its own rows."""
    handle = make_sandbox(subjects=1, days=2)
    resources = _resources(handle, tmp_path)
    with resources["hexoskin"].client() as api:
        username, day, ranges = _a_subject_day_with_ranges(api)
        rg = ranges[0]
        tz = ZoneInfo(STUDY.timezone)
        from hexo_pipeline.ingest.subject_day import DayWindow, ranges_tables

        table, _ = ranges_tables([api.get_detail("range", rg["id"])], DayWindow.of(day, tz), datetime.now(UTC))
        first = ingest_range_exports(api, table, subject=username, day=day, tz=tz, data_root=tmp_path, formats=("tcx",))
        assert [o.status for o in first.outcomes] == ["landed"]
    # A real TCX, its start moved onto the same local day, dropped into inbox/<username>/.
    text = (real / "tcx" / "test.tcx").read_text().replace("2012-12-26", day.isoformat())
    (tmp_path / "inbox" / username).mkdir(parents=True)
    (tmp_path / "inbox" / username / "watch.tcx").write_text(text)
    ingest_inbox(tmp_path, tz=tz)
    lake = Lake(tmp_path / "lake")
    kinds = lake.read_partition("activity_files", username, day)["source_kind"].to_pylist()
    assert sorted(kinds) == ["inbox", "range_export"]
    with resources["hexoskin"].client() as api:  # the range side again: inbox row kept
        ingest_range_exports(api, table, subject=username, day=day, tz=tz, data_root=tmp_path, formats=("tcx",))
        ingest_range_exports(api, table.slice(0, 0), subject=username, day=day, tz=tz, data_root=tmp_path)
    assert lake.read_partition("activity_files", username, day)["source_kind"].to_pylist() == ["inbox"]
    assert not any((tmp_path / "exports").rglob("range_*"))  # a deleted range's exports go too


def test_a_bad_download_never_replaces_a_good_export(make_sandbox, tmp_path: Path, monkeypatch) -> None:
    handle = make_sandbox(subjects=1, days=2)
    resources = _resources(handle, tmp_path)
    tz = ZoneInfo(STUDY.timezone)
    from hexo_pipeline.ingest.subject_day import DayWindow, ranges_tables

    with resources["hexoskin"].client() as api:
        username, day, ranges = _a_subject_day_with_ranges(api)
        table, _ = ranges_tables([api.get_detail("range", ranges[0]["id"])], DayWindow.of(day, tz), datetime.now(UTC))
        good = ingest_range_exports(api, table, subject=username, day=day, tz=tz, data_root=tmp_path, formats=("fit",))
        assert [o.status for o in good.outcomes] == ["landed"]
        before = snapshot(tmp_path)
        monkeypatch.setitem(af.ACCEPT, "fit", "application/json")
        bad = ingest_range_exports(api, table, subject=username, day=day, tz=tz, data_root=tmp_path, formats=("fit",))
    (outcome,) = bad.outcomes
    assert outcome.status == "quarantined" and "the previous export" in outcome.reason
    assert bad.failures == [outcome]
    after = snapshot(tmp_path)
    quarantined = {k for k in after if k.startswith("quarantine/")}
    assert {k: v for k, v in after.items() if k not in quarantined} == before  # export and rows kept
    assert len(quarantined) == 2 and not list((tmp_path / "exports").rglob(".*.part"))


# --------------------------------------------------------------------------- monitoring FIT files
def test_monitoring_files_land_in_fit_monitoring_by_subject_day(tmp_path: Path) -> None:
    """A Garmin monitoring file (fit-tool-built: no real one is in ../shared) crossing local midnight lands
    in two subject-days of `fit_monitoring`, recorded in the manifest; a second file of the same day is
    merged and the deltas are recomputed over both; a new version of the first file replaces its rows in
    both days; `convert` writes the same rows."""
    from monitoring_fit import build_monitoring_fit, day_across_midnight

    from hexo_pipeline.ingest.convert_cli import convert_files

    tz = "America/Chicago"  # UTC-5 in March: the device's offset too
    start = datetime(2026, 3, 14, 2, 0, tzinfo=UTC)  # 21:00 local
    samples = day_across_midnight(start, hours=4)
    evening = [s for s in samples if s.at < start + timedelta(hours=2, minutes=50)]
    later = [s for s in samples if s not in evening]
    folder = tmp_path / "inbox" / SUBJECT
    folder.mkdir(parents=True)
    (folder / "evening.fit").write_bytes(build_monitoring_fit(evening, utc_offset_s=-5 * 3600, start=start))
    (folder / "night.fit").write_bytes(
        build_monitoring_fit(later, utc_offset_s=-5 * 3600, start=start + timedelta(hours=2, minutes=50))
    )

    report = ingest_inbox(tmp_path, tz=tz)
    assert [o.status for o in report.outcomes] == ["landed", "landed"], [o.describe() for o in report.outcomes]
    mon = lake_dataset(tmp_path, "fit_monitoring")
    assert mon.drop_columns(["subject", "date"]).schema.remove_metadata().equals(LAKE_SCHEMAS["fit_monitoring"])
    assert set(mon["subject"].to_pylist()) == {SUBJECT}
    assert sorted(set(mon["date"].to_pylist())) == ["2026-03-13", "2026-03-14"]
    for row in mon.to_pylist():  # each row in the subject-day of its own local time
        assert row["date"] == row["timestamp"].astimezone(ZoneInfo(tz)).date().isoformat()
    assert mon.filter(pc.is_valid(mon["heart_rate_bpm"])).num_rows == 240
    # the whole day's steps once, though the day came in two files: deltas sum to each type's last counter
    for kind in ("walking", "running"):
        sent = [s for s in samples if s.activity_type == kind]
        rows = mon.filter(pc.equal(mon["activity_type"], kind))
        for day in ("2026-03-13", "2026-03-14"):
            of_day = [s.cumulative for s in sent if (s.at - timedelta(hours=5)).date().isoformat() == day]
            got = pc.sum(rows.filter(pc.equal(rows["date"], day))["steps"]).as_py()
            assert got == max(of_day), (kind, day)
    files = lake_dataset(tmp_path, "activity_files")
    assert sorted(files["n_monitoring"].to_pylist()) == sorted(
        [len([s for s in evening]), len([s for s in later])]
    ) and files["n_activities"].to_pylist() == [0, 0]
    lake = Lake.in_data_dir(tmp_path)
    recorded = {(e["subject"], str(e["date"])) for e in lake.manifest.current("fit_monitoring").to_pylist()}
    assert recorded == {(SUBJECT, "2026-03-13"), (SUBJECT, "2026-03-14")}

    # a new version of the evening file, cut before midnight: its rows leave the second day
    short = [s for s in evening if s.at < start + timedelta(hours=2)]
    (folder / "evening.fit").write_bytes(build_monitoring_fit(short, utc_offset_s=-5 * 3600, start=start))
    ingest_inbox(tmp_path, tz=tz)
    mon = lake_dataset(tmp_path, "fit_monitoring")
    by_file = {p: mon.filter(pc.equal(mon["file_path"], p)) for p in set(mon["file_path"].to_pylist())}
    assert set(by_file[f"inbox/{SUBJECT}/evening.fit"]["date"].to_pylist()) == {"2026-03-13"}
    assert by_file[f"inbox/{SUBJECT}/evening.fit"].num_rows == len(short)

    converted = convert_files([folder / "night.fit"], tmp_path / "out")
    assert converted[0].error is None and converted[0].rows["fit_monitoring"] == len(later)
    assert "fit_monitoring" in converted[0].outputs
