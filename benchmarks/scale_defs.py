"""A code location shaped exactly like hexo_pipeline's subject-day graph, with trivial bodies, for the
Dagster scale study (dagster_scale.py).

The graph is cloned from the project's own `Definitions` at import time: every multi-asset partitioned by
`subject_day_partitions` (records and ranges, signals, range exports, study-side day data: today 20
assets and 10 checks in 4 multi-assets), with the same asset specs, dependencies between them, checks,
pool, partitions and backfill policy. Only the bodies are trivial: they report one materialization per
asset (with `len(context.partition_keys)` as metadata) and a passing result per check, and touch no API.
Dependencies on study-level assets are left out (a subject-day backfill does not select them).

Three copies differ only by backfill policy, under key prefixes: `ours` (each asset's policy from the
project, i.e. BACKFILL), `none` (no policy: one run per partition) and `single` (single_run()). The study
calendar comes from the HEXO_STUDY_* variables, which dagster_scale.py sets before this module loads.
"""

import dagster as dg

from hexo_pipeline.warehouse.marts import prepare_dbt_project

prepare_dbt_project()  # the dbt manifest the project's definitions load
from hexo_pipeline.definitions import defs as project_defs  # noqa: E402
from hexo_pipeline.defs.jobs import ingest_job  # noqa: E402
from hexo_pipeline.defs.partitions import subject_day_partitions  # noqa: E402
from hexo_pipeline.defs.subject_day.automation import daily_ingest_schedule  # noqa: E402

OURS = object()  # sentinel: keep the project's own policy of each multi-asset
POLICIES = {"ours": OURS, "none": None, "single": dg.BackfillPolicy.single_run()}

SUBJECT_DAY_ASSETS = [
    a for a in project_defs.assets if isinstance(a, dg.AssetsDefinition) and a.partitions_def == subject_day_partitions
]
SUBJECT_DAY_KEYS = sorted({spec.key for a in SUBJECT_DAY_ASSETS for spec in a.specs})


def prefixed(prefix: str, key: dg.AssetKey) -> dg.AssetKey:
    return dg.AssetKey([prefix, *key.path])


def _clone(original: dg.AssetsDefinition, prefix: str, policy) -> dg.AssetsDefinition:
    specs = [
        dg.AssetSpec(
            prefixed(prefix, s.key),
            group_name=f"{prefix}_{s.group_name}",
            deps=[prefixed(prefix, d.asset_key) for d in s.deps if d.asset_key in SUBJECT_DAY_KEYS],
        )
        for s in original.specs
    ]
    checks = [dg.AssetCheckSpec(c.name, asset=prefixed(prefix, c.asset_key)) for c in original.check_specs]

    @dg.multi_asset(
        name=f"{prefix}_{original.node_def.name}",
        specs=specs,
        check_specs=checks,
        partitions_def=subject_day_partitions,
        backfill_policy=original.backfill_policy if policy is OURS else policy,
        pool=original.node_def.pool,
    )
    def trivial(context: dg.AssetExecutionContext):
        n = len(context.partition_keys)
        for spec in specs:
            yield dg.MaterializeResult(asset_key=spec.key, metadata={"partitions": n})
        for check in checks:
            yield dg.AssetCheckResult(check_name=check.name, asset_key=check.asset_key, passed=True)

    return trivial


ASSETS = [_clone(a, prefix, policy) for prefix, policy in POLICIES.items() for a in SUBJECT_DAY_ASSETS]

# The project's job and schedule, pointed at the `ours` copy of the same selection.
_ingest_keys = ingest_job.selection.resolve(project_defs.resolve_asset_graph())
bench_ingest_job = dg.define_asset_job(
    "bench_ingest_subject_days",
    selection=dg.AssetSelection.assets(*[prefixed("ours", k) for k in SUBJECT_DAY_KEYS if k in _ingest_keys]),
    partitions_def=subject_day_partitions,
)
bench_daily_schedule = daily_ingest_schedule.with_updated_job(bench_ingest_job)
# Dagster's stock alternative: one run per subject for the latest day (reference notes 2.9).
stock_daily_schedule = dg.build_schedule_from_partitioned_job(
    bench_ingest_job, name="stock_partitioned_schedule", hour_of_day=4
)

# In-process executor: the bodies are trivial, so a subprocess per step would only time Python start-up.
defs = dg.Definitions(
    assets=ASSETS,
    jobs=[bench_ingest_job],
    schedules=[bench_daily_schedule, stock_daily_schedule],
    executor=dg.in_process_executor,
)
