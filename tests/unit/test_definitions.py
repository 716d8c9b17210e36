"""The project's Dagster definitions: they load, and their graph is the committed snapshot.

A change to assets, checks, jobs, schedules or sensors shows as a diff of definitions_snapshot.json;
regenerate it with `.venv/bin/python tests/unit/snapshot_definitions.py > tests/unit/definitions_snapshot.json`.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
from snapshot_definitions import definitions_snapshot

SNAPSHOT = Path(__file__).with_name("definitions_snapshot.json")


def test_definitions_match_the_committed_snapshot():
    from hexo_pipeline.definitions import defs

    assert json.loads(SNAPSHOT.read_text()) == definitions_snapshot(defs), (
        "the Dagster graph changed: review it, then regenerate tests/unit/definitions_snapshot.json "
        "(see tests/unit/snapshot_definitions.py)"
    )


def test_every_job_resolves_and_every_resource_is_provided():
    from hexo_pipeline.definitions import defs

    repo = defs.get_repository_def()  # fails on a missing resource or an unresolvable selection
    assert {j.name for j in repo.get_all_jobs()} >= {"ingest_subject_days", "build_warehouse"}
    assert defs.resolve_job_def("ingest_subject_days").partitions_def is not None


def test_full_refresh_is_in_the_dbt_assets_run_config():
    from hexo_pipeline.definitions import defs

    marts = defs.resolve_assets_def(dg.AssetKey(["marts", "fct_subject_day"]))
    fields = marts.op.config_schema.config_type.fields
    assert "full_refresh" in fields and fields["full_refresh"].default_value is False
