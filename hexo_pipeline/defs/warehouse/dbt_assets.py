"""The dbt project as Dagster assets: every model, seed and test of dbt_project/, downstream of the lake.

One unpartitioned `@dbt_assets` (group `warehouse`): the heavy models are dbt-incremental and read only
the lake partitions whose files changed since the last build (dbt_project/macros/lake.sql), so a run
after a partitioned ingestion rebuilds what those partitions touched; `full_refresh` in the launchpad's
run config rebuilds every model from the whole lake. dbt sources map to the lake assets that write them
(`meta.dagster_asset` in _lake__sources.yml), so the lineage runs from the Parquet assets through every
model.

The dbt build writes a new DuckDB file, published by an atomic rename once the build succeeded
(hexo_pipeline/warehouse/publish.py): BI readers of warehouse/hexo.duckdb never see a half-built mart,
and a failed build leaves the last good file published. The `duckdb_warehouse` pool (limit 1 in
dagster.yaml, or `dagster instance concurrency set duckdb_warehouse 1`) plus the warehouse's file lock
keep one builder at a time. dbt runs through `hexo_pipeline.warehouse.marts.run_dbt`, as for
`hexo-pipeline marts`.

The manifest: under `dagster dev` the project is parsed when the definitions load (as `prepare_if_dev`); elsewhere
`prepare_dbt_project()` has written it (the command line, the demo and the tests call it first).
"""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from ...warehouse import Warehouse
from ...warehouse.marts import DBT_PROJECT, dbt_build_args, prepare_dbt_project, run_dbt
from ...warehouse.publish import FAILED_BUILD_LOG
from ..resources import LakeResource, StudyResource
from ..shared import WAREHOUSE_POOL

GROUP = "warehouse"
POOL = WAREHOUSE_POOL

if DBT_PROJECT.preparer.using_dagster_dev():  # DBT_PROJECT.prepare_if_dev(), with this environment's dbt
    prepare_dbt_project()
if not DBT_PROJECT.manifest_path.exists():
    raise FileNotFoundError(
        f"no dbt manifest at {DBT_PROJECT.manifest_path}: call "
        "hexo_pipeline.warehouse.marts.prepare_dbt_project() before loading the definitions"
    )


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


class MartsConfig(dg.Config):
    full_refresh: bool = False  # rebuild every model from the whole lake (dbt --full-refresh)


@dbt_assets(
    manifest=DBT_PROJECT.manifest_path,
    project=DBT_PROJECT,
    dagster_dbt_translator=TRANSLATOR,
    name="hexo_marts",
    pool=POOL,
)
def hexo_marts(
    context: dg.AssetExecutionContext,
    config: MartsConfig,
    dbt: DbtCliResource,
    storage: LakeResource,
    study: StudyResource,
):
    """dbt build into a new DuckDB file, then publish it as warehouse/hexo.duckdb."""
    warehouse = Warehouse(storage.root)
    settings = study.settings()
    with warehouse.build(full_refresh=config.full_refresh, settings=settings.dbt_vars(warehouse.lake)) as build:
        # a run of some of the marts (a subset picked in the UI) leaves the subject-scoped models' marks alone
        build.complete = not context.is_subset
        context.log.info(
            f"building {build.path} ({'incremental from ' + str(build.seeded_from) if build.seeded_from else 'full build'})"
        )
        invocation = run_dbt(
            dbt_build_args(full_refresh=config.full_refresh, incremental=build.seeded_from is not None),
            build,
            settings,
            dbt=dbt,
            context=context,
        )
        yield from invocation.stream()
        if not invocation.is_successful():
            raise dg.Failure(
                description="dbt build failed: warehouse/hexo.duckdb still holds the last good build",
                metadata={"dbt_log": dg.MetadataValue.path(str(warehouse.root / FAILED_BUILD_LOG))},
            )
        info = build.publish()
    context.log.info(f"published {warehouse.published}: {info}")
