"""The graph of the project's `Definitions` as plain data, for tests/unit/definitions_snapshot.json.

Regenerate the snapshot after an intended change to assets, checks, jobs, schedules or sensors:

    .venv/bin/python tests/unit/snapshot_definitions.py > tests/unit/definitions_snapshot.json

and review the diff. Settings that follow the environment (the study's time zone and first day) are
left out, so the snapshot is the same on every machine.
"""

from __future__ import annotations

import json
import sys

import dagster as dg


def definitions_snapshot(defs: dg.Definitions) -> dict:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        if not node.is_materializable:
            continue
        partitions = node.partitions_def
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "partitions": type(partitions).__name__ if partitions else None,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
        }
    checks = sorted(f"{c.asset_key.to_user_string()}:{c.name}" for c in graph.asset_check_keys)
    jobs = {
        job.name: sorted(k.to_user_string() for k in job.selection.resolve(graph))
        for job in sorted(defs.jobs or [], key=lambda j: j.name)
    }
    schedules = {
        s.name: {"cron": s.cron_schedule, "job": s.job_name, "default_status": s.default_status.value}
        for s in sorted(defs.schedules or [], key=lambda s: s.name)
    }
    sensors = {}
    for s in sorted(defs.sensors or [], key=lambda s: s.name):
        sensors[s.name] = {
            "jobs": sorted(t.job_name for t in s.targets),
            "default_status": s.default_status.value,
            "minimum_interval_seconds": s.minimum_interval_seconds,
        }
    return {"assets": assets, "asset_checks": checks, "jobs": jobs, "schedules": schedules, "sensors": sensors}


if __name__ == "__main__":
    from hexo_pipeline.warehouse.marts import prepare_dbt_project

    prepare_dbt_project()
    from hexo_pipeline.definitions import defs

    json.dump(definitions_snapshot(defs), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
