"""Study-side data per subject-day: calendar events, survey responses, annotations and GPS, with their
checks beside them."""

import dagster as dg

from ...ingest.study_side import subject_day_tables
from ...ingest.subject_day import DayWindow, now_utc
from ..partitions import subject_day_partitions
from ..resources import HexoskinResource, LakeResource, StudyResource
from ..shared import API_POOL, API_RETRY, BACKFILL, SubjectDayRun
from .assets import GROUP, subject_for

DAY_DATASETS = ("calendar_events", "survey_responses", "annotations", "tracks", "trackpoints")
DAY_CHECKS = [
    dg.AssetCheckSpec("trackpoints_inside_day", asset="trackpoints"),
    dg.AssetCheckSpec("events_dated_on_their_day", asset="calendar_events"),
]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            name,
            group_name=GROUP,
            deps=["study_members"],
            description=f"{name.replace('_', ' ').capitalize()} per subject-day",
        )
        for name in DAY_DATASETS
    ],
    partitions_def=subject_day_partitions,
    backfill_policy=BACKFILL,
    retry_policy=API_RETRY,
    pool=API_POOL,
    check_specs=DAY_CHECKS,
)
def subject_day_study_data(
    context: dg.AssetExecutionContext, hexoskin: HexoskinResource, storage: LakeResource, study: StudyResource
):
    lake = storage.lake()
    tz = study.settings().timezone
    run = SubjectDayRun(context, DAY_DATASETS, DAY_CHECKS)
    with run.recording_failures(storage), hexoskin.client() as api:
        for key, subject_key, day in run:
            subject = subject_for(api, lake, subject_key)
            window = DayWindow.of(day, tz)
            tables = subject_day_tables(api, subject, window, now_utc())
            for name in DAY_DATASETS:
                lake.write_partition(name, subject_key, day, tables[name])
                run.count(name, tables[name])
            ts = tables["trackpoints"]["ts"].cast("int64").to_numpy()
            bad = ((ts < window.start_ns // 1000) | (ts >= window.end_ns // 1000)).sum()
            if bad:
                run.problems["trackpoints_inside_day"].append(f"{key}: {int(bad)} trackpoints outside the day")
            dates = set(tables["calendar_events"]["date"].to_pylist()) | set(
                tables["survey_responses"]["date"].to_pylist()
            )
            if dates - {day}:
                run.problems["events_dated_on_their_day"].append(
                    f"{key}: events dated {sorted(str(d) for d in dates - {day})}"
                )
    yield from run.results()
