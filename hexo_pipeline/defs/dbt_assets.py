"""The dbt project as Dagster assets: every model, seed and test of dbt_project/, downstream of the lake.

One unpartitioned `@dbt_assets` (group `warehouse`): the heavy models are dbt-incremental and read only
the lake partitions whose files changed since the last build (dbt_project/macros/lake.sql), so a run
after a partitioned ingestion rebuilds what those partitions touched. dbt sources map to the lake
assets that write them (`meta.dagster_asset` in _lake__sources.yml), so the lineage runs from the
Parquet assets through every model.

The dbt build writes a new DuckDB file, published by an atomic rename once the build succeeded
(hexo_pipeline/warehouse/publish.py): BI readers of warehouse/hexo.duckdb never see a half-built mart,
and a failed build leaves the last good file published. The `duckdb_warehouse` pool (limit 1 in
dagster.yaml, or `dagster instance concurrency set duckdb_warehouse 1`) plus the warehouse's file lock
keep one builder at a time.

The manifest is produced at load time when missing or older than the project files (`dbt parse`, no
database, no network), so a fresh clone loads without a build step.
"""


import fcntl
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from ..warehouse import DBT_PROJECT_DIR, Warehouse, dbt_build_args
from ..warehouse.marts import dbt_command, dbt_executable
from .automation import ingest_job
from .partitions import STUDY
from .resources import LakeResource

GROUP = "warehouse"
POOL = "duckdb_warehouse"
_PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "models/**/*", "macros/**/*", "seeds/**/*", "tests/**/*")

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def manifest_is_stale(project: DbtProject) -> bool:
    manifest = Path(project.manifest_path)
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    root = Path(project.project_dir)
    return any(p.stat().st_mtime > built for pattern in _PROJECT_FILES for p in root.glob(pattern) if p.is_file())


def ensure_manifest(project: DbtProject) -> Path:
    """`dbt parse` when the manifest is missing or stale; serialized across processes (pytest-xdist)."""
    if manifest_is_stale(project):
        target = Path(project.target_path)
        target.mkdir(parents=True, exist_ok=True)
        with open(target / ".parse.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if manifest_is_stale(project):
                # What DbtProject.preparer does, with this environment's dbt (PATH may not hold it).
                subprocess.run(dbt_command(["parse", "--quiet", "--target-path", str(target)]), check=True)
    return Path(project.manifest_path)


ensure_manifest(dbt_project)


class HexoDbtTranslator(DagsterDbtTranslator):
    """dbt sources -> the lake assets that write them; models keep their <schema>/<name> keys."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source" and dbt_resource_props.get("source_name") == "lake":
            meta = dbt_resource_props.get("config", {}).get("meta") or dbt_resource_props.get("meta") or {}
            return dg.AssetKey(meta.get("dagster_asset") or dbt_resource_props["name"])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return GROUP


TRANSLATOR = HexoDbtTranslator()


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project, profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=dbt_executable())


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=TRANSLATOR,
    name="hexo_marts",
    pool=POOL,
)
def hexo_marts(context: dg.AssetExecutionContext, dbt: DbtCliResource, storage: LakeResource):
    """dbt build into a new DuckDB file, then publish it as warehouse/hexo.duckdb."""
    warehouse = Warehouse(storage.root)
    with warehouse.build() as build, build.environment():
        context.log.info(f"building {build.path} ({'incremental from ' + str(build.seeded_from) if build.seeded_from else 'full build'})")
        invocation = dbt.cli(dbt_build_args(), context=context, target_path=build.target_path, raise_on_error=False)
        yield from invocation.stream()
        if not invocation.is_successful():
            raise dg.Failure(
                description="dbt build failed: warehouse/hexo.duckdb still holds the last good build",
                metadata={"dbt_log": dg.MetadataValue.path(str(build.folder / "logs"))},
            )
        info = build.publish()
    context.log.info(f"published {warehouse.published}: {info}")


warehouse_job = dg.define_asset_job(
    "build_warehouse",
    selection=dg.AssetSelection.groups(GROUP, "report"),
    description="dbt build of the marts from the lake, publication of hexo.duckdb, then the study report",
)


@dg.schedule(job=warehouse_job, cron_schedule="30 5 * * *", execution_timezone=STUDY.timezone,
             default_status=dg.DefaultScheduleStatus.STOPPED)
def daily_warehouse_schedule(context: dg.ScheduleEvaluationContext):
    """At 05:30 study time, after the 04:00 ingestion: marts and report of everything the lake holds."""
    return dg.RunRequest(run_key=context.scheduled_execution_time.strftime("%Y-%m-%d"))


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[ingest_job],
    request_job=warehouse_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
)
def warehouse_after_ingest_sensor(context: dg.RunStatusSensorContext):
    """After each successful ingestion run, rebuild the marts: the incremental models read only the lake
    partitions that run (re)wrote. A build already queued will see them too, so none is stacked on it."""
    waiting = context.instance.get_run_records(
        filters=dg.RunsFilter(job_name=warehouse_job.name,
                              statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED]),
        limit=1)
    if waiting:
        return dg.SkipReason("a warehouse build is already queued: it will read this run's partitions")
    return dg.RunRequest(run_key=f"after-{context.dagster_run.run_id}")


def build_warehouse_in_process(instance: dg.DagsterInstance | None = None) -> bool:
    """Run the build_warehouse job in this process (the demo), True on success."""
    from ..definitions import defs

    result = defs.resolve_job_def(warehouse_job.name).execute_in_process(
        instance=instance or dg.DagsterInstance.get(), raise_on_error=False)
    return result.success
