"""A failed ingestion step is recorded where the warehouse reads it (lake.ingest_failures, issue 8 item 5):
real Dagster materializations of a subject-day against the sandbox over HTTP, first with every API request
answered 500 (the sandbox's fault injection), then against a healthy sandbox of the same study."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from test_ingest_subject_day import STUDY, api_for, resources

from hexo_pipeline.defs.partitions import local_day_keys, split_key, subjects_partitions
from hexo_pipeline.defs.subject_day.assets import records_and_ranges
from hexo_pipeline.lake import Lake

pytestmark = pytest.mark.slow


def materialize(handle, data_dir: Path, instance, key, **hexoskin) -> dg.ExecuteInProcessResult:
    res = resources(handle, data_dir)
    res["hexoskin"] = res["hexoskin"].model_copy(update=hexoskin)
    return dg.materialize(
        [records_and_ranges], partition_key=key, instance=instance, resources=res, raise_on_error=False
    )


def test_a_failed_step_is_recorded_in_the_lake_and_cleared_by_a_later_success(make_sandbox, tmp_path: Path) -> None:
    healthy = make_sandbox()
    broken = make_sandbox(rate_500=1.0)  # the same study; every /api/ request answered 500
    subjects = [a["username"] for a in healthy.info["accounts"] if a["role"] == "subject"]
    assert subjects == [a["username"] for a in broken.info["accounts"] if a["role"] == "subject"]
    with api_for(healthy) as api:
        rec = next(iter(api.iter_list("record", order_by="start")))
    key = local_day_keys(rec["user"]["username"], rec["start"], rec["end"], STUDY)[0]
    subject, day = split_key(key)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(subjects_partitions.name, subjects)
    lake = Lake.in_data_dir(tmp_path)

    failed = materialize(broken, tmp_path, instance, key, max_retries=0)
    assert not failed.success
    (row,) = lake.read_partition("ingest_failures", subject, day).to_pylist()
    assert row["step"] == "records_and_ranges"
    assert row["datasets"] == "range_metrics, ranges, records"
    assert row["error_class"] and "500" in row["message"] and "\n" not in row["message"]
    assert row["failed_at"] is not None and row["run_id"] == failed.run_id
    assert lake.read_partition("records", subject, day) is None  # nothing else was written
    entries = lake.manifest.current("ingest_failures").to_pylist()
    assert [(e["subject"], str(e["date"]), e["op"]) for e in entries] == [(subject, day.isoformat(), "write")]

    done = materialize(healthy, tmp_path, instance, key)
    assert done.success
    assert lake.read_partition("records", subject, day) is not None
    assert lake.read_partition("ingest_failures", subject, day) is None  # cleared: the day went through
    entries = lake.manifest.current("ingest_failures", include_deletes=True).to_pylist()
    assert [(e["subject"], e["op"]) for e in entries] == [(subject, "delete")]
    assert lake.manifest.current("ingest_failures").num_rows == 0
