"""Study-side assets: the study's structure (unpartitioned) and per subject-day calendar, surveys,
annotations and GPS, with their checks beside them."""

from collections import Counter

import dagster as dg
import pyarrow.compute as pc

from ..ingest.study_side import study_tables, subject_day_tables
from ..ingest.subject_day import DayWindow, now_utc
from .partitions import STUDY, split_key, subject_day_partitions
from .resources import HexoskinResource, LakeResource
from .subject_day_assets import API_POOL, API_RETRY, BACKFILL, subject_for

STUDY_DATASETS = ("study", "study_groups", "study_members", "study_group_history")
DAY_DATASETS = ("calendar_events", "survey_responses", "annotations", "tracks", "trackpoints")


@dg.multi_asset(
    specs=[dg.AssetSpec(name, group_name="study", description=f"The study's {name.replace('_', ' ')}")
           for name in STUDY_DATASETS],
    pool=API_POOL,
    retry_policy=API_RETRY,
    check_specs=[dg.AssetCheckSpec("every_member_has_a_group", asset="study_members")],
)
def study_structure(hexoskin: HexoskinResource, storage: LakeResource):
    """Study, groups, memberships (onboarding date, current group) and the group history."""
    with hexoskin.client() as api:
        tables = study_tables(api, now_utc(), STUDY.uuid)
    lake = storage.lake()
    for name in STUDY_DATASETS:
        lake.write_study_table(name, tables[name])
        yield dg.MaterializeResult(asset_key=name, metadata={"rows": tables[name].num_rows})
    members = tables["study_members"]
    missing = members.filter(pc.is_null(members["group_id"])).column("user_id").to_pylist()
    yield dg.AssetCheckResult(check_name="every_member_has_a_group", asset_key="study_members",
                              passed=not missing, severity=dg.AssetCheckSeverity.WARN,
                              metadata={"members_without_group": str(missing)})


@dg.multi_asset(
    specs=[dg.AssetSpec(name, group_name="subject_day", deps=["study_members"],
                        description=f"{name.replace('_', ' ').capitalize()} per subject-day")
           for name in DAY_DATASETS],
    partitions_def=subject_day_partitions,
    backfill_policy=BACKFILL,
    retry_policy=API_RETRY,
    pool=API_POOL,
    check_specs=[dg.AssetCheckSpec("trackpoints_inside_day", asset="trackpoints"),
                 dg.AssetCheckSpec("events_dated_on_their_day", asset="calendar_events")],
)
def subject_day_study_data(context: dg.AssetExecutionContext, hexoskin: HexoskinResource, storage: LakeResource):
    lake = storage.lake()
    rows: Counter = Counter()
    outside, misdated = [], []
    with hexoskin.client() as api:
        for key in context.partition_keys:
            subject_key, day = split_key(key)
            subject = subject_for(api, lake, subject_key)
            window = DayWindow.of(day, STUDY.timezone)
            tables = subject_day_tables(api, subject, window, now_utc())
            for name in DAY_DATASETS:
                lake.write_partition(name, subject_key, day, tables[name])
                rows[name] += tables[name].num_rows
            ts = tables["trackpoints"]["ts"].cast("int64").to_numpy()
            bad = ((ts < window.start_ns // 1000) | (ts >= window.end_ns // 1000)).sum()
            if bad:
                outside.append(f"{key}: {int(bad)} trackpoints outside the day")
            dates = set(tables["calendar_events"]["date"].to_pylist()) | set(tables["survey_responses"]["date"].to_pylist())
            if dates - {day}:
                misdated.append(f"{key}: events dated {sorted(str(d) for d in dates - {day})}")
    for name in DAY_DATASETS:
        yield dg.MaterializeResult(asset_key=name, metadata={"partitions": len(context.partition_keys),
                                                             "rows": rows[name]})
    yield dg.AssetCheckResult(check_name="trackpoints_inside_day", asset_key="trackpoints", passed=not outside,
                              metadata={"problems": "\n".join(outside[:20]) or "none"})
    yield dg.AssetCheckResult(check_name="events_dated_on_their_day", asset_key="calendar_events",
                              passed=not misdated, metadata={"problems": "\n".join(misdated[:20]) or "none"})
