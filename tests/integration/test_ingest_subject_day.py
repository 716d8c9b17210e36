"""Real Dagster materializations of subject-day partitions against the sandbox over HTTP."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from hexo_pipeline.defs.partitions import local_day_keys, subjects_partitions
from hexo_pipeline.defs.resources import HexoskinResource, LakeResource, StudyResource
from hexo_pipeline.defs.subject_day.assets import records_and_ranges, signals
from hexo_pipeline.hexoskin import HexoskinClient
from hexo_pipeline.lake import Lake
from hexo_pipeline.study_settings import StudySettings

pytestmark = pytest.mark.slow

STUDY = StudySettings()  # the sandbox's default study, as the pipeline sees it with no HEXO_STUDY_* set


def resources(handle, data_dir: Path) -> dict:
    owner = next(a for a in handle.info["accounts"] if a["role"] == "owner")
    hexo = HexoskinResource(
        base_url=handle.base_url,
        auth="oauth2",
        username=owner["username"],
        password=owner["password"],
        client_id=handle.info["oauth2"]["client_id"],
        client_secret=handle.info["oauth2"]["client_secret"],
    )
    return {"hexoskin": hexo, "storage": LakeResource(data_dir=str(data_dir)), "study": StudyResource.of(STUDY)}


def api_for(handle) -> HexoskinClient:
    r = resources(handle, Path("."))["hexoskin"]
    return r.client()


def materialize(handle, data_dir: Path, instance, key) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [records_and_ranges, signals],
        partition_key=key,
        instance=instance,
        resources=resources(handle, data_dir),
        raise_on_error=False,
    )


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The default sandbox study, one instance and one lake for the module."""
    from hexo_sandbox import StudyConfig, start_sandbox

    handle = start_sandbox(study=StudyConfig())
    instance = dg.DagsterInstance.ephemeral()
    subjects = [a["username"] for a in handle.info["accounts"] if a["role"] == "subject"]
    instance.add_dynamic_partitions(subjects_partitions.name, subjects)
    yield handle, instance, tmp_path_factory.mktemp("lake"), subjects
    handle.stop()


def night_record(handle) -> dict:
    """A record that crosses local midnight, with the subject's username."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(STUDY.timezone)
    with api_for(handle) as api:
        for rec in api.iter_list("record", order_by="start"):
            d0 = datetime.fromtimestamp(rec["start"] / 256, UTC).astimezone(tz).date()
            d1 = datetime.fromtimestamp((rec["end"] - 1) / 256, UTC).astimezone(tz).date()
            if d1 > d0:
                return rec
    raise AssertionError("the study has no record crossing midnight")


def test_subject_day_lands_with_values_equal_to_the_api(study):
    handle, instance, data_dir, _ = study
    rec = night_record(handle)
    subject = rec["user"]["username"]
    key = local_day_keys(subject, rec["start"], rec["end"], STUDY)[0]
    result = materialize(handle, data_dir, instance, key)
    assert result.success
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks and all(checks.values()), checks

    day = date.fromisoformat(key.keys_by_dimension["day"])
    lake = Lake(data_dir / "lake")
    vitals = lake.read_partition("signals_vitals", subject, day)
    hr = vitals.filter(pc.and_(pc.equal(vitals["datatype_id"], 19), pc.equal(vitals["record_id"], rec["id"])))
    # The binary path (zip -> WAV -> Parquet) agrees sample for sample with the API's JSON data.
    ts = hr["ts"].cast("int64").to_numpy()
    ticks = ts // 3_906_250
    with api_for(handle) as api:
        series = api.get_data([19], record=rec["id"], start=int(ticks[0]), end=int(ticks[-1]) + 1)[19]
    assert np.array_equal(series.timestamps, ticks)
    assert np.array_equal(series.values, hr["value"].to_numpy())
    records = lake.read_partition("records", subject, day)
    assert rec["id"] in records["record_id"].to_pylist()


def test_midnight_record_lands_once_per_day_and_rerun_changes_nothing(study):
    handle, instance, data_dir, _ = study
    rec = night_record(handle)
    subject = rec["user"]["username"]
    keys = local_day_keys(subject, rec["start"], rec["end"], STUDY)
    assert len(keys) == 2
    for key in keys:
        assert materialize(handle, data_dir, instance, key).success
    lake = Lake(data_dir / "lake")
    days = [date.fromisoformat(k.keys_by_dimension["day"]) for k in keys]
    duration_s = (rec["end"] - rec["start"]) // 256
    per_day = []
    for day in days:
        t = lake.read_partition("signals_vitals", subject, day)
        t = t.filter(pc.and_(pc.equal(t["datatype_id"], 19), pc.equal(t["record_id"], rec["id"])))
        per_day.append(t["ts"].cast("int64").to_numpy())
    both = np.concatenate(per_day)
    assert len(np.unique(both)) == len(both) == duration_s  # every second once, none twice
    assert per_day[0].max() < per_day[1].min()
    n_ecg = sum(
        int(pc.sum(pc.equal(batch["record_id"], rec["id"]).cast("int64")).as_py())
        for d in days
        for batch in pq.ParquetFile(lake.partition_file("signals_ecg", subject, d)).iter_batches(columns=["record_id"])
    )
    assert abs(n_ecg - (rec["end"] - rec["start"])) <= 1  # 256 Hz: one ECG sample per tick

    before = {p: _digest(p) for p in _data_files(data_dir / "lake")}
    for key in keys:
        assert materialize(handle, data_dir, instance, key).success
    after = {p: _digest(p) for p in _data_files(data_dir / "lake")}
    assert before.keys() == after.keys()
    for path in before:
        assert before[path] == after[path], path


def _data_files(lake: Path) -> list[Path]:
    """The lake's data files (the manifest under lake/_manifest records each rewrite, legitimately)."""
    return sorted(p for p in lake.rglob("*.parquet") if "_manifest" not in p.relative_to(lake).parts)


def _digest(path: Path) -> str:
    """A digest of the file's content without the receipt time (which a re-run legitimately refreshes),
    read a batch at a time: a day of ECG decoded whole, before and after, took this test past 6 GB."""
    digest = hashlib.sha256()
    for batch in pq.ParquetFile(path).iter_batches(batch_size=1 << 20):
        if "received_at" in batch.schema.names:
            batch = batch.drop_columns(["received_at"])
        digest.update(batch.serialize())
    return digest.hexdigest()


def test_corrupt_download_fails_the_partition_and_keeps_previous_files(study, monkeypatch):
    handle, instance, data_dir, subjects = study
    rec = night_record(handle)
    subject = rec["user"]["username"]
    key = local_day_keys(subject, rec["start"], rec["end"], STUDY)[0]
    assert materialize(handle, data_dir, instance, key).success
    day = date.fromisoformat(key.keys_by_dimension["day"])
    lake = Lake(data_dir / "lake")
    previous = lake.partition_file("signals_vitals", subject, day).read_bytes()

    # The server answers 200 with bytes that are not a zip (a proxy mangling the body, a bad cache).
    real_download = HexoskinClient.download_data

    def corrupt_download(self, dest, *args, **kwargs):
        path = real_download(self, dest, *args, **kwargs)
        Path(path).write_bytes(b"PK\x03\x04 this is not really a zip" + b"\x00" * 64)
        return path

    monkeypatch.setattr(HexoskinClient, "download_data", corrupt_download)
    result = materialize(handle, data_dir, instance, key)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "undecodable downloads quarantined" in failure.event_specific_data.error.message
    assert lake.partition_file("signals_vitals", subject, day).read_bytes() == previous
    quarantined = list((data_dir / "quarantine").rglob("*.zip"))
    assert quarantined and quarantined[0].with_name(quarantined[0].name + ".reason.txt").read_text().strip()
    # The partition's other data still landed in the same run.
    assert lake.partition_file("records", subject, day).exists()


def test_late_record_triggers_exactly_its_subject_days(make_sandbox, tmp_path):
    from hexo_pipeline.defs.subject_day.automation import late_subject_days

    handle = make_sandbox(subjects=3, days=6, late_sync_rate=0.5)
    study = handle.state.study
    late = next(
        r
        for r in study.records.values()
        if (r.synced_at - datetime.fromtimestamp(r.end / 256, UTC)) > timedelta(days=1)
    )
    username = study.users[late.user_id].username
    expected = {str(k) for k in local_day_keys(username, late.start, late.end, replace(STUDY, end=None))}
    known = {u.username for u in study.subjects()}
    hexo = resources(handle, tmp_path)["hexoskin"]

    set_now(handle, late.synced_at - timedelta(minutes=1))
    _, cursor = late_subject_days(hexo, "1970-01-01T00:00:00+00:00", known, STUDY)
    set_now(handle, late.synced_at + timedelta(seconds=1))
    keys, new_cursor = late_subject_days(hexo, cursor, known, STUDY)
    assert new_cursor > cursor
    assert expected <= keys
    # Nothing else synced in that two-minute window except records ending around then.
    others = keys - expected
    for k in others:
        day = date.fromisoformat(k.split("|")[0])
        assert abs((day - late.synced_at.date()).days) <= 5


def set_now(handle, when: datetime) -> None:
    """Move the sandbox clock (records sync as time passes)."""
    if hasattr(handle, "set_now"):
        handle.set_now(when)
    else:  # the foundation sandbox: the clock lives in the study config
        from dataclasses import replace

        handle.state.study.config = replace(handle.state.study.config, now=when)
