"""Dagster scale study: subject x day partitions at 500 subjects x 2 years, measured with real machinery.

Everything here runs Dagster's own code on a real DagsterInstance (SQLite storage in a temporary
DAGSTER_HOME, as `dagster dev` and our runner use): the dynamic partitions store, the project's schedule
function evaluated by the scheduler daemon's `launch_scheduled_runs`, and backfills created with
`PartitionBackfill` and driven by the backfill daemon's `execute_backfill_iteration`, against a code
location (`scale_defs.py`) that uses the project's own partitions, BACKFILL policy and schedule.

    .venv/bin/python benchmarks/dagster_scale.py            # the full study (~20 min on 2 cores)
    .venv/bin/python benchmarks/dagster_scale.py --quick    # tiny sizes, for the smoke test (~1 min)
    .venv/bin/python benchmarks/dagster_scale.py --sections schedule,execute --json out.json

Storage: SQLite commits cost one or more fsyncs each (about 4 ms on this VM's disk), and Dagster writes
one "materialization planned" event per asset per partition when a run is created. So most scenarios
run with DAGSTER_HOME on tmpfs (/dev/shm, when present) to measure Dagster's CPU cost, and one scenario
is repeated on disk to show what the default local setup pays. Both are printed and labelled.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections import Counter
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from common import Report, machine, versions

HERE = Path(__file__).resolve().parent
STUDY_START = date(2024, 11, 1)
STUDY_TZ = "America/Montreal"
PLANNED_SUBSET_VAR = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"
LOG = logging.getLogger("hexo_bench.dagster_scale")


def configure_study(days: int) -> None:
    """The study calendar our partitions read at import time: `days` whole days, all in the past."""
    os.environ["HEXO_STUDY_START"] = STUDY_START.isoformat()
    os.environ["HEXO_STUDY_END"] = (STUDY_START + timedelta(days=days)).isoformat()
    os.environ["HEXO_STUDY_TZ"] = STUDY_TZ
    os.environ.pop("HEXO_STUDY_UUID", None)
    os.environ.pop(PLANNED_SUBSET_VAR, None)


def subject_names(n: int) -> list[str]:
    return [f"b0a1c2d3_sub{i:03d}" for i in range(n)]  # shaped like "<study uuid>_<id>" usernames


def fast_root() -> Path | None:
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else None


@contextmanager
def timer():
    box = {}
    t0 = time.perf_counter()
    try:
        yield box
    finally:
        box["s"] = time.perf_counter() - t0


@contextmanager
def bench_instance(root: Path | None, *, execute: bool = False, planned_subset: bool = False):
    """A persistent SQLite DagsterInstance in a fresh temporary DAGSTER_HOME under `root`.

    execute=False queues runs (QueuedRunCoordinator, no run-queue daemon): the backfill daemon's cost of
    planning and creating runs is measured without executing them. execute=True launches each run
    synchronously in this process (Dagster's own SyncInMemoryRunLauncher, as its tests do).
    """
    from dagster._core.instance_for_test import instance_for_test

    home = tempfile.mkdtemp(prefix="hexo-dagster-scale-", dir=root)
    previous = os.environ.get(PLANNED_SUBSET_VAR)
    if planned_subset:
        os.environ[PLANNED_SUBSET_VAR] = "true"
    else:
        os.environ.pop(PLANNED_SUBSET_VAR, None)
    try:
        with instance_for_test(
            temp_dir=home, synchronous_run_coordinator=execute, synchronous_run_launcher=execute
        ) as instance:
            yield instance
    finally:
        if previous is None:
            os.environ.pop(PLANNED_SUBSET_VAR, None)
        else:
            os.environ[PLANNED_SUBSET_VAR] = previous
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def workspace(instance):
    """The scale_defs code location, loaded in-process, as the daemons see it."""
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.test_utils import InProcessTestWorkspaceLoadTarget, create_test_daemon_workspace_context
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(python_file=str(HERE / "scale_defs.py"), attribute="defs", working_directory=str(HERE)),
        location_name="hexo_bench",
    )
    with create_test_daemon_workspace_context(InProcessTestWorkspaceLoadTarget(origin), instance) as ctx:
        entry = next(iter(ctx.create_request_context().get_code_location_entries().values()))
        if entry.code_location is None:
            raise RuntimeError(f"scale_defs failed to load: {entry.load_error}")
        yield ctx


def resolve_run_keys(instance, run) -> list[str]:
    """The subject-day keys a run covers: its partition, or its partition range read as Dagster does."""
    import dagster as dg
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
        PARTITION_NAME_TAG,
    )

    from hexo_pipeline.defs.partitions import subject_day_partitions

    start = run.tags.get(ASSET_PARTITION_RANGE_START_TAG)
    if start:
        rng = dg.PartitionKeyRange(start, run.tags[ASSET_PARTITION_RANGE_END_TAG])
        return [
            str(k) for k in subject_day_partitions.get_partition_keys_in_range(rng, dynamic_partitions_store=instance)
        ]
    return [run.tags[PARTITION_NAME_TAG]]


def analyze(keys_per_run: list[list[str]], target: set[str]) -> dict:
    """Run shapes: is each run a full rectangle (days x subjects), and do the runs tile the target?"""
    covered: Counter = Counter()
    shapes: Counter = Counter()
    rectangles = True
    for keys in keys_per_run:
        days = {k.split("|", 1)[0] for k in keys}
        subjects = {k.split("|", 1)[1] for k in keys}
        rectangles &= len(keys) == len(days) * len(subjects) > 0
        shapes[f"{len(days)} day(s) x {len(subjects)} subject(s)"] += 1
        covered.update(keys)
    sizes = [len(k) for k in keys_per_run] or [0]
    return {
        "runs": len(keys_per_run),
        "max_partitions_per_run": max(sizes),
        "min_partitions_per_run": min(sizes),
        "all_rectangles": rectangles,
        "exact_cover": set(covered) == target and max(covered.values(), default=1) == 1,
        "shapes": dict(shapes.most_common()),
    }


# ------------------------------------------------------------------------------------------ sections


def partition_figures(
    report: Report, root: Path | None, n_subjects: int, n_days: int, backfill_shape: tuple[int, int]
) -> None:
    import dagster as dg

    from hexo_pipeline.defs.partitions import days_partitions, subject_day_partitions, subjects_partitions

    with bench_instance(root) as instance, dg_partition_context(instance):
        names = subject_names(n_subjects)
        with timer() as t:
            instance.add_dynamic_partitions(subjects_partitions.name, names)
        report.add("add_subjects_s", f"register {n_subjects} dynamic subject keys", t["s"], f"{t['s'] * 1e3:.1f} ms")
        with timer() as t:
            days = days_partitions.get_partition_keys()
        report.add("days", "daily keys (study days)", len(days), f"{len(days)}", f"{t['s'] * 1e3:.1f} ms")
        with timer() as t:
            subjects = subjects_partitions.get_partition_keys(dynamic_partitions_store=instance)
        report.add("subject_keys_s", "subject keys from the instance", t["s"], f"{t['s'] * 1e3:.1f} ms")
        with timer() as t:
            n = subject_day_partitions.get_num_partitions()
        report.add(
            "num_partitions",
            "subject-day partitions per asset",
            n,
            f"{n:,}",
            f"{n / 100_000:.2f} x Dagster's 100,000 advice; get_num_partitions {t['s'] * 1e3:.1f} ms",
        )
        with timer() as t:
            keys = subject_day_partitions.get_partition_keys(dynamic_partitions_store=instance)
        assert len(keys) == n == len(days) * len(subjects)
        report.add(
            "enumerate_all_s",
            "enumerate every multi-partition key",
            t["s"],
            f"{t['s']:.2f} s",
            f"{n / t['s']:,.0f} keys/s",
        )
        n_sub, n_day = backfill_shape
        picked = [str(dg.MultiPartitionKey({"subject": s, "day": d})) for s in names[:n_sub] for d in days[:n_day]]
        with timer() as t:
            subset = subject_day_partitions.subset_with_partition_keys(picked)
            ranges = subset.get_partition_key_ranges(subject_day_partitions)
        report.add(
            "subset_ranges_s",
            f"subset + key ranges of {len(picked):,} keys",
            t["s"],
            f"{t['s'] * 1e3:.1f} ms",
            f"{len(ranges)} ranges",
        )


def schedule_figures(report: Report, root: Path | None, n_subjects: int, day_index: int) -> None:
    """The daily tick: the project's batched schedule vs Dagster's stock one-run-per-subject schedule."""
    import dagster as dg
    from dagster._core.storage.dagster_run import RunsFilter
    from dagster._core.test_utils import freeze_time
    from dagster._scheduler.scheduler import launch_scheduled_runs

    from hexo_pipeline.defs.partitions import subjects_partitions
    from hexo_pipeline.defs.subject_day.automation import BATCH

    tz = ZoneInfo(STUDY_TZ)
    tick = datetime.combine(STUDY_START + timedelta(days=day_index), datetime.min.time(), tz).replace(hour=4)
    yesterday = (tick - timedelta(days=1)).date().isoformat()
    with bench_instance(root) as instance, workspace(instance) as ctx:
        instance.add_dynamic_partitions(subjects_partitions.name, subject_names(n_subjects))
        import scale_defs

        for name, schedule in (("ours", scale_defs.bench_daily_schedule), ("stock", scale_defs.stock_daily_schedule)):
            context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
            with timer() as t:
                data = schedule.evaluate_tick(context)
            requests = list(data.run_requests or [])
            label = (
                f"schedule function, ours (BATCH={BATCH})"
                if name == "ours"
                else "schedule function, stock build_schedule_from_partitioned_job"
            )
            report.add(
                f"schedule_eval_{name}_s",
                label,
                t["s"],
                f"{t['s'] * 1e3:,.0f} ms",
                f"{len(requests)} run requests for {n_subjects} subjects",
            )
            report.figures[f"schedule_requests_{name}"] = len(requests)

        ours_keys = []
        for req in scale_defs.bench_daily_schedule.evaluate_tick(
            dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
        ).run_requests:
            ours_keys.append(resolve_run_keys(instance, _as_run(req)))
        target = {f"{yesterday}|{s}" for s in subject_names(n_subjects)}
        shape = analyze(ours_keys, target)
        report.add(
            "schedule_ours_rectangles",
            "  ours: every run a rectangle, exact cover",
            shape["all_rectangles"] and shape["exact_cover"],
            "yes" if shape["all_rectangles"] and shape["exact_cover"] else "NO",
            ", ".join(f"{v} x [{k}]" for k, v in shape["shapes"].items()),
        )

        location = ctx.create_request_context().get_code_location("hexo_bench")
        repo = location.get_repository("__repository__")
        variants = (
            ("ours", "daily_ingest_schedule", tick, False),
            ("ours_subset_events", "daily_ingest_schedule", tick + timedelta(days=1), True),
            ("stock", "stock_partitioned_schedule", tick, False),
        )
        for name, schedule_name, at, subset in variants:
            remote = repo.get_schedule(schedule_name)
            runs_filter = RunsFilter(tags={"dagster/schedule_name": schedule_name})
            before = instance.get_runs_count(runs_filter)
            if subset:
                os.environ[PLANNED_SUBSET_VAR] = "true"
            try:
                with freeze_time(at - timedelta(hours=1)):
                    instance.start_schedule(remote)
                with freeze_time(at + timedelta(seconds=30)), timer() as t:
                    list(launch_scheduled_runs(ctx, LOG, dg_now(), iteration_times={}))
                with freeze_time(at + timedelta(seconds=30)):
                    instance.stop_schedule(remote.get_remote_origin_id(), remote.selector_id, remote)
            finally:
                os.environ.pop(PLANNED_SUBSET_VAR, None)
            created = instance.get_runs_count(runs_filter) - before
            label = f"scheduler daemon tick, {name.replace('_subset_events', '')}"
            if subset:
                label += f", {PLANNED_SUBSET_VAR}=true"
            report.add(f"schedule_tick_{name}_s", label, t["s"], f"{t['s']:.2f} s", f"{created} runs created (queued)")
            report.figures[f"schedule_tick_{name}_runs"] = created


def dg_now() -> datetime:
    from dagster._time import get_current_datetime

    return get_current_datetime()


def _as_run(request):
    """A RunRequest seen through the same tag lookups as a DagsterRun (for resolve_run_keys)."""
    from types import SimpleNamespace

    tags = dict(request.tags or {})
    if request.partition_key:
        tags["dagster/partition"] = request.partition_key
    return SimpleNamespace(tags=tags)


def backfill_once(
    root: Path | None,
    n_subjects: int,
    shape: tuple[int, int],
    prefix: str,
    *,
    execute: bool = False,
    planned_subset: bool = False,
) -> dict:
    """Create one backfill of shape (subjects, days) over the `prefix` copy of the graph and drive the
    backfill daemon until it stops creating runs (or, with execute, until the backfill completes)."""
    import dagster as dg
    from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
    from dagster._core.storage.dagster_run import RunsFilter
    from dagster._core.storage.tags import BACKFILL_ID_TAG
    from dagster._core.utils import make_new_backfill_id
    from dagster._daemon.backfill import execute_backfill_iteration

    from hexo_pipeline.defs.partitions import days_partitions, subjects_partitions

    n_sub, n_day = shape
    with bench_instance(root, execute=execute, planned_subset=planned_subset) as instance, workspace(instance) as ctx:
        names = subject_names(n_subjects)
        instance.add_dynamic_partitions(subjects_partitions.name, names)
        days = days_partitions.get_partition_keys()[:n_day]
        keys = [str(dg.MultiPartitionKey({"subject": s, "day": d})) for s in names[:n_sub] for d in days]
        graph = ctx.create_request_context().asset_graph
        selection = sorted(k for k in graph.get_all_asset_keys() if k.path[0] == prefix)
        backfill_id = make_new_backfill_id()
        with timer() as t_create:
            backfill = PartitionBackfill.from_asset_partitions(
                backfill_id=backfill_id,
                asset_graph=graph,
                partition_names=keys,
                asset_selection=selection,
                backfill_timestamp=time.time(),
                tags={},
                dynamic_partitions_store=instance,
                all_partitions=False,
                title=f"bench {prefix}",
                description=None,
                run_config=None,
            )
            instance.add_backfill(backfill)
        iterations, n_runs, status = 0, 0, None
        with timer() as t_iter:
            while iterations < 200:
                iterations += 1
                for item in execute_backfill_iteration(ctx, LOG):
                    if item is not None and hasattr(item, "message"):
                        raise RuntimeError(f"backfill daemon error: {item.message}")
                status = instance.get_backfill(backfill_id).status
                runs_now = instance.get_runs_count(RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))
                stalled = runs_now == n_runs and iterations > 1
                n_runs = runs_now
                if status != BulkActionStatus.REQUESTED or (stalled and not execute):
                    break
        runs = instance.get_runs(RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))
        result = analyze([resolve_run_keys(instance, r) for r in runs], set(keys))
        assets_per_run = Counter(len(r.asset_selection or ()) for r in runs)
        result.update(
            target=len(keys),
            create_s=t_create["s"],
            daemon_s=t_iter["s"],
            iterations=iterations,
            status=str(status.value if status else None),
            assets_per_run=dict(assets_per_run),
            planned_events=_count_planned(instance, runs),
        )
        if execute:
            result.update(_verify_execution(instance, prefix, set(keys), runs))
            result.update(_ui_query(ctx, prefix))
            result.update(_ui_query_full_study(ctx, instance, prefix))
        return result


UI_QUERY = """
query AssetPartitions($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    __typename
    ... on AssetNode {
      partitionStats { numMaterialized numPartitions numFailed numMaterializing }
      partitionKeysByDimension { name partitionKeys }
      assetPartitionStatuses {
        __typename
        ... on MultiPartitionStatuses {
          primaryDimensionName
          ranges { primaryDimStartKey primaryDimEndKey
                   secondaryDim { __typename ... on DefaultPartitionStatuses { materializedPartitions } } }
        }
      }
    }
  }
}
"""


def _ui_query(ctx, prefix: str) -> dict:
    """What the UI's asset page asks the webserver for: partition stats, keys by dimension and the
    partition health ranges, through the real GraphQL schema (dagster_graphql), twice (cold, warm)."""
    from dagster_graphql.test.utils import execute_dagster_graphql

    out = {}
    for attempt in ("cold", "warm"):
        request = ctx.create_request_context()
        with timer() as t:
            result = execute_dagster_graphql(request, UI_QUERY, {"assetKey": {"path": [prefix, "records"]}})
        if result.errors:
            raise RuntimeError(f"GraphQL errors: {result.errors}")
        node = result.data["assetNodeOrError"]
        out[f"ui_query_{attempt}_s"] = t["s"]
    out["ui_partition_stats"] = node["partitionStats"]
    out["ui_ranges"] = len(node["assetPartitionStatuses"].get("ranges") or [])
    return out


def _count_planned(instance, runs) -> int:
    from dagster._core.events import DagsterEventType

    total = 0
    for run in runs:
        total += len(
            instance.get_records_for_run(
                run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION_PLANNED, limit=10_000
            ).records
        )
    return total


def _ui_query_full_study(ctx, instance, prefix: str) -> dict:
    """The same UI query once the WHOLE study is materialized (every subject-day of `records`).

    Materializing 365,000 x 10 partitions for real would take hours here, so Dagster's per-asset status
    cache is seeded with the subset it would have built from those events (same class, same
    serialization, stored with `update_asset_cached_status_data`, marked up to date), then the real
    GraphQL query reads it. Also timed: one serialize + deserialize of that subset, which Dagster repeats
    whenever new materializations update the cache.
    """
    import dagster as dg
    from dagster._core.storage.partition_status_cache import AssetStatusCacheValue, get_last_planned_storage_id

    from hexo_pipeline.defs.partitions import subject_day_partitions

    key = dg.AssetKey([prefix, "records"])
    with dg_partition_context(instance):
        record = next(iter(instance.get_asset_records(asset_keys=[key])))
        latest = max(
            record.asset_entry.last_materialization_storage_id or 0,
            get_last_planned_storage_id(instance, key, record) or 0,
        )
        all_keys = subject_day_partitions.get_partition_keys()
        with timer() as t_build:
            subset = subject_day_partitions.empty_subset().with_partition_keys(all_keys)
        with timer() as t_ser:
            serialized = subset.serialize()
        with timer() as t_de:
            subject_day_partitions.deserialize_subset(serialized)
        empty = subject_day_partitions.empty_subset().serialize()
        instance.update_asset_cached_status_data(
            key,
            AssetStatusCacheValue(
                latest_storage_id=latest,
                partitions_def_id=subject_day_partitions.get_serializable_unique_identifier(),
                serialized_materialized_partition_subset=serialized,
                serialized_failed_partition_subset=empty,
                serialized_in_progress_partition_subset=empty,
            ),
        )
    out = {f"full_{k}": v for k, v in _ui_query(ctx, prefix).items()}
    out.update(
        full_subset_class=type(subset).__name__,
        full_subset_bytes=len(serialized),
        full_subset_build_s=t_build["s"],
        full_subset_serialize_s=t_ser["s"],
        full_subset_deserialize_s=t_de["s"],
    )
    return out


def _verify_execution(instance, prefix: str, target: set[str], runs) -> dict:
    """After execution: every asset materialized on exactly the target partitions, and each run's body saw
    as many `context.partition_keys` as its range holds."""
    import dagster as dg
    from dagster._core.storage.dagster_run import DagsterRunStatus
    from scale_defs import SUBJECT_DAY_KEYS, prefixed

    complete = all(
        set(instance.get_materialized_partitions(prefixed(prefix, key))) == target for key in SUBJECT_DAY_KEYS
    )
    seen: Counter = Counter()
    records = instance.fetch_materializations(dg.AssetKey([prefix, "records"]), limit=10_000).records
    for rec in records:
        meta = rec.asset_materialization.metadata
        seen[(rec.run_id, int(meta["partitions"].value))] += 1
    # Each run emits one materialization per partition; the metadata holds len(context.partition_keys).
    bodies_ok = all(n == count for (_, n), count in seen.items())
    return {
        "materialized_exactly_target": complete,
        "asset_bodies_saw_their_range": bodies_ok,
        "succeeded_runs": sum(r.status == DagsterRunStatus.SUCCESS for r in runs),
    }


def full_study_plan(report: Report, root: Path | None, n_subjects: int) -> None:
    """Run requests a backfill of the WHOLE study would make, per policy (the backfill daemon's own
    chunking function on the full subset); the runs are counted, not created."""
    import dagster as dg
    from dagster._core.definitions.automation_tick_evaluation_context import (
        _build_run_requests_with_backfill_policy,
    )

    from hexo_pipeline.defs.partitions import subject_day_partitions, subjects_partitions
    from hexo_pipeline.defs.shared import BACKFILL

    with bench_instance(root) as instance:
        instance.add_dynamic_partitions(subjects_partitions.name, subject_names(n_subjects))
        with dg_partition_context(instance):
            keys = frozenset(
                str(k) for k in subject_day_partitions.get_partition_keys(dynamic_partitions_store=instance)
            )
            for name, policy in (("ours", BACKFILL), ("single", dg.BackfillPolicy.single_run())):
                with timer() as t:
                    requests = _build_run_requests_with_backfill_policy(
                        [dg.AssetKey("records")],
                        [],
                        policy,
                        keys,
                        subject_day_partitions,
                        tags={},
                        dynamic_partitions_store=instance,
                    )
                report.add(
                    f"full_study_runs_{name}",
                    f"whole-study backfill, {policy!r}",
                    len(requests),
                    f"{len(requests):,} runs",
                    f"planned in {t['s']:.2f} s",
                )
        report.add(
            "full_study_runs_none",
            "whole-study backfill, no policy",
            len(keys),
            f"{len(keys):,} runs",
            "one run per partition",
        )


@contextmanager
def dg_partition_context(instance):
    from dagster._core.definitions.partitions.context import partition_loading_context

    with partition_loading_context(dynamic_partitions_store=instance):
        yield


def backfill_figures(
    report: Report,
    root: Path | None,
    n_subjects: int,
    shapes: list[tuple[int, int]],
    *,
    counts: bool,
    execute: bool,
    disk: bool,
) -> None:
    from hexo_pipeline.defs.shared import BACKFILL

    where = "tmpfs" if root is not None else "disk"
    for shape in shapes if counts else []:
        label = f"{shape[0]} subjects x {shape[1]} days = {shape[0] * shape[1]:,} subject-days"
        for prefix, policy in (("ours", repr(BACKFILL)), ("none", "no policy"), ("single", "single_run()")):
            if prefix == "none" and shape is not shapes[0]:
                continue  # one run per subject-day whatever the shape; the first shape measures it
            r = backfill_once(root, n_subjects, shape, prefix)
            key = f"backfill_{shape[0]}x{shape[1]}_{prefix}"
            report.add(
                f"{key}_runs",
                f"{label}, {policy}",
                r["runs"],
                f"{r['runs']:,} runs",
                f"daemon {r['daemon_s']:.1f} s ({where}), {r['planned_events']:,} planned events, "
                f"{'rectangles' if r['all_rectangles'] else 'NOT rectangles'}, "
                f"{'exact cover' if r['exact_cover'] else 'NOT an exact cover'}, "
                f"max {r['max_partitions_per_run']} partitions/run, assets/run {r['assets_per_run']}",
            )
            report.figures[f"{key}_daemon_s"] = r["daemon_s"]
            report.figures[f"{key}_shapes"] = json.dumps(r["shapes"])
            report.figures[f"{key}_planned_events"] = r["planned_events"]
            print(f"    .. {key}: {r['runs']} runs, shapes {r['shapes']}", flush=True)
    shape = shapes[0]
    label = f"{shape[0]}x{shape[1]}, ours"
    r = backfill_once(root, n_subjects, shape, "ours", planned_subset=True) if counts else None
    if r:
        report.add(
            "backfill_ours_subset_events_daemon_s",
            f"{label}, {PLANNED_SUBSET_VAR}=true ({where})",
            r["daemon_s"],
            f"{r['daemon_s']:.1f} s",
            f"{r['runs']} runs, {r['planned_events']:,} planned events",
        )
    if disk and root is not None:
        for subset in (False, True):
            r = backfill_once(None, n_subjects, shape, "ours", planned_subset=subset)
            key = "backfill_ours_disk" + ("_subset_events" if subset else "")
            report.add(
                f"{key}_daemon_s",
                f"{label}, SQLite on disk" + (f", {PLANNED_SUBSET_VAR}=true" if subset else ""),
                r["daemon_s"],
                f"{r['daemon_s']:.1f} s",
                f"{r['runs']} runs, {r['planned_events']:,} planned events",
            )
    if execute:
        # The runs execute in this process; their console loggers would print every event.
        with timer() as t, open(os.devnull, "w") as null, redirect_stdout(null), redirect_stderr(null):
            r = backfill_once(root, n_subjects, shape, "ours", execute=True)
        ok = (
            r["materialized_exactly_target"]
            and r["asset_bodies_saw_their_range"]
            and r["status"].startswith("COMPLETED")
        )
        report.add(
            "backfill_execute_s",
            f"{label}, executed to completion ({where})",
            t["s"],
            f"{t['s']:.1f} s",
            f"status {r['status']}, {r['succeeded_runs']}/{r['runs']} runs succeeded, "
            f"every asset materialized on exactly the {r['target']:,} targets: "
            f"{'yes' if r['materialized_exactly_target'] else 'NO'}; bodies saw their ranges: "
            f"{'yes' if r['asset_bodies_saw_their_range'] else 'NO'}",
        )
        report.figures["backfill_execute_ok"] = ok
        stats = r["ui_partition_stats"]
        report.add(
            "ui_query_cold_s",
            "UI asset page query (GraphQL: stats, keys, health), cold",
            r["ui_query_cold_s"],
            f"{r['ui_query_cold_s']:.2f} s",
            f"{stats['numMaterialized']:,} of {stats['numPartitions']:,} partitions materialized, "
            f"{r['ui_ranges']} health ranges",
        )
        report.add(
            "ui_query_warm_s",
            "  same query, warm (status cache filled)",
            r["ui_query_warm_s"],
            f"{r['ui_query_warm_s']:.2f} s",
        )
        stats = r["full_ui_partition_stats"]
        report.add(
            "ui_full_query_cold_s",
            "UI asset page query, whole study materialized (seeded cache)",
            r["full_ui_query_cold_s"],
            f"{r['full_ui_query_cold_s']:.2f} s",
            f"{stats['numMaterialized']:,} of {stats['numPartitions']:,}; warm "
            f"{r['full_ui_query_warm_s']:.2f} s; {r['full_ui_ranges']} health ranges",
        )
        report.add(
            "ui_full_subset_bytes",
            "  status cache of one asset (serialized subset)",
            r["full_subset_bytes"],
            f"{r['full_subset_bytes'] / 1e6:.1f} MB",
            f"{r['full_subset_class']}: build {r['full_subset_build_s']:.2f} s, serialize "
            f"{r['full_subset_serialize_s']:.2f} s, deserialize {r['full_subset_deserialize_s']:.2f} s",
        )


SECTIONS = ("partitions", "schedule", "plan", "backfills", "disk", "execute")


def run(quick: bool = False, sections: tuple[str, ...] = SECTIONS) -> list[Report]:
    """Quick: 8 subjects x 30 days, a 4 x 3 backfill; full: 500 subjects x 730 days, backfills of 1,050
    and 1,200 subject-days."""
    n_subjects, n_days = (8, 30) if quick else (500, 730)
    configure_study(n_days)
    warnings.filterwarnings("ignore")
    logging.getLogger("dagster").setLevel(logging.ERROR)
    LOG.setLevel(logging.ERROR)
    sys.path.insert(0, str(HERE))
    root = fast_root()
    shapes = [(4, 3)] if quick else [(50, 21), (20, 60)]

    head = Report(f"Dagster scale study ({machine()}; {versions()})")
    head.add(
        "study",
        "study",
        f"{n_subjects}x{n_days}",
        f"{n_subjects} subjects x {n_days} days",
        f"DAGSTER_HOME on {'tmpfs ' + str(root) if root else 'disk'} unless noted",
    )
    reports = [head]
    if "partitions" in sections:
        reports.append(Report("Partitions (dynamic subjects x daily days, SQLite instance)"))
        partition_figures(reports[-1], root, n_subjects, n_days, shapes[0])
    if "schedule" in sections:
        reports.append(Report("Daily schedule tick (one day, all subjects)"))
        schedule_figures(reports[-1], root, n_subjects, day_index=n_days - 10)
    if "plan" in sections:
        reports.append(Report("Whole-study backfill: runs by policy (counted with the daemon's chunking code)"))
        full_study_plan(reports[-1], root, n_subjects)
    if {"backfills", "disk", "execute"} & set(sections):
        reports.append(Report("Backfills through the backfill daemon (runs created, queued)"))
        backfill_figures(
            reports[-1],
            root,
            n_subjects,
            shapes,
            counts="backfills" in sections,
            execute="execute" in sections,
            disk="disk" in sections and not quick,
        )
    return reports


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)} (default: all)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()
    t0 = time.perf_counter()
    sections = tuple(x.strip() for x in args.sections.split(",") if x.strip())
    if set(sections) - set(SECTIONS):
        parser.error(f"unknown sections {sorted(set(sections) - set(SECTIONS))}")
    reports = run(args.quick, sections)
    for r in reports:
        r.print()
    print(f"\n(dagster scale study: {time.perf_counter() - t0:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps({r.title: r.figures for r in reports}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
