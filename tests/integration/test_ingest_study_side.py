"""Study-side assets materialized against the sandbox: structure, group history, calendar, surveys, GPS."""

from datetime import date

import dagster as dg
import pytest
from test_ingest_subject_day import STUDY, api_for, resources

from hexo_pipeline.defs.partitions import local_day_keys, subjects_partitions
from hexo_pipeline.defs.study.assets import study_structure
from hexo_pipeline.defs.subject_day.study_data import subject_day_study_data
from hexo_pipeline.lake import Lake

pytestmark = pytest.mark.slow


def test_study_structure_and_a_subject_day(sandbox, tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    subjects = [a["username"] for a in sandbox.info["accounts"] if a["role"] == "subject"]
    instance.add_dynamic_partitions(subjects_partitions.name, subjects)
    res = resources(sandbox, tmp_path)
    assert dg.materialize([study_structure], instance=instance, resources=res).success
    lake = Lake(tmp_path / "lake")
    members = lake.read_study_table("study_members").to_pylist()
    assert {m["user_id"] for m in members} == {a["user_id"] for a in sandbox.info["accounts"] if a["role"] == "subject"}
    history = lake.read_study_table("study_group_history").to_pylist()
    moved = [
        u for u in {h["user_id"] for h in history} if len({h["group_id"] for h in history if h["user_id"] == u}) > 1
    ]
    assert moved, "one subject was reassigned to another group"
    assert len(lake.read_study_table("study_groups")) >= 2

    with api_for(sandbox) as api:
        point = api.list_page("trackpoint", limit=1)["objects"][0]
        user = api.get(point["user"])

    key = local_day_keys(user["username"], point["timestamp"], point["timestamp"] + 1, STUDY)[0]
    result = dg.materialize(
        [study_structure, subject_day_study_data],
        partition_key=key,
        instance=instance,
        resources=res,
        selection=[subject_day_study_data],
    )
    assert result.success
    assert all(c.passed for c in result.get_asset_check_evaluations())
    day = date.fromisoformat(key.keys_by_dimension["day"])
    with api_for(sandbox) as api:
        expected_events = list(api.iter_list("calendar", user=user["id"], date=day.isoformat()))
        expected_points = api.list_page("trackpoint", limit=1, user=user["id"])["meta"]["total_count"]
    events = lake.read_partition("calendar_events", user["username"], day)
    assert sorted(events["event_id"].to_pylist()) == sorted(e["id"] for e in expected_events)
    assert [e["done"] for e in sorted(expected_events, key=lambda e: e["id"])] == [
        r["done"] for r in sorted(events.to_pylist(), key=lambda r: r["event_id"])
    ]
    points = lake.read_partition("trackpoints", user["username"], day)
    assert 0 < points.num_rows <= expected_points
    assert lake.read_partition("tracks", user["username"], day).num_rows >= 1
