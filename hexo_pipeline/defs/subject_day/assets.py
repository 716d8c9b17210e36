"""Subject-day assets: records and ranges, then decoded signals, with their checks beside them.

A run may cover several subject-days (a backfill batch or the demo's single run): each asset loops
over `context.partition_keys` (`SubjectDayRun`), and each subject-day is written as its own lake partition.
"""

import dagster as dg
import pyarrow as pa

from ...hexoskin import HexoskinClient
from ...ingest.signals import ingest_subject_day_signals
from ...ingest.subject_day import (
    DayWindow,
    SignalDownloadError,
    Subject,
    now_utc,
    overlapping,
    ranges_tables,
    records_table,
)
from ...ingest.summaries import SUMMARY_FAMILY
from ...lake import SIGNAL_DATASETS, Lake
from ..partitions import subject_day_partitions
from ..resources import HexoskinResource, LakeResource, StudyResource
from ..shared import API_POOL, API_RETRY, BACKFILL, SubjectDayRun

GROUP = "subject_day"


def subject_for(api: HexoskinClient, lake: Lake, key: str) -> Subject:
    """The user behind a partition key (a username): from the subjects table, else from the API."""
    table = lake.read_study_table("subjects")
    if table is not None:
        for row in table.select(["user_id", "username"]).to_pylist():
            if row["username"] == key:
                return Subject(int(row["user_id"]), key)
    users = list(api.iter_list("user", username=key))
    if not users:
        raise dg.Failure(f"subject {key!r} is not visible to this account", allow_retries=False)
    return Subject(int(users[0]["id"]), key)


# -- records and ranges ----------------------------------------------------------------------------

RECORD_ASSETS = ("records", "ranges", "range_metrics")
RECORD_CHECKS = [
    dg.AssetCheckSpec(
        "records_inside_day", asset="records", description="clipped record windows lie inside their local day"
    )
]


@dg.multi_asset(
    specs=[
        dg.AssetSpec("records", group_name=GROUP, description="Records overlapping each subject-day, clipped"),
        dg.AssetSpec("ranges", group_name=GROUP, description="Ranges (activities) overlapping each subject-day"),
        dg.AssetSpec("range_metrics", group_name=GROUP, deps=[], description="Metrics of those ranges"),
    ],
    partitions_def=subject_day_partitions,
    backfill_policy=BACKFILL,
    retry_policy=API_RETRY,
    pool=API_POOL,
    check_specs=RECORD_CHECKS,
)
def records_and_ranges(
    context: dg.AssetExecutionContext, hexoskin: HexoskinResource, storage: LakeResource, study: StudyResource
):
    lake = storage.lake()
    tz = study.settings().timezone
    run = SubjectDayRun(context, RECORD_ASSETS, RECORD_CHECKS)
    with run.recording_failures(storage), hexoskin.client() as api:
        for key, subject_key, day in run:
            subject = subject_for(api, lake, subject_key)
            window = DayWindow.of(day, tz)
            received = now_utc()
            records = records_table(overlapping(api, "record", subject, window), window, received)
            ranges, metrics = ranges_tables(overlapping(api, "range", subject, window), window, received)
            for name, table in (("records", records), ("ranges", ranges), ("range_metrics", metrics)):
                lake.write_partition(name, subject_key, day, table)
                run.count(name, table)
            run.problems["records_inside_day"] += _records_outside(records, window, key)
    yield from run.results()


def _records_outside(records: pa.Table, window: DayWindow, key: str) -> list[str]:
    out = []
    for row in records.to_pylist():
        a, b = row["day_start_at"].timestamp() * 256, row["day_end_at"].timestamp() * 256
        if a < window.start - 1 or b > window.end + 1 or b < a:
            out.append(f"{key}: record {row['record_id']} clipped to [{a}, {b}) outside the day")
    return out


# -- signals -----------------------------------------------------------------------------------------

SIGNAL_CHECKS = [
    dg.AssetCheckSpec(
        "row_counts_match_durations",
        asset="signals_vitals",
        description="samples per channel = clipped record seconds x sampling rate",
    ),
    dg.AssetCheckSpec(
        "no_duplicate_timestamps", asset="signals_ecg", description="no (channel, ts) pair twice in any family"
    ),
    dg.AssetCheckSpec(
        "timestamps_inside_day", asset="signals_ecg", description="every sample lies inside its partition's local day"
    ),
    dg.AssetCheckSpec(
        "quality_flag_coverage", asset="signals_vitals", description="every HR/BR sample has its quality flag sample"
    ),
]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            dataset,
            group_name=GROUP,
            deps=["records"],
            description=f"Decoded {family.value} channels per subject-day (raw values, UTC ts)",
        )
        for family, dataset in SIGNAL_DATASETS.items()
    ]
    + [
        dg.AssetSpec(
            name,
            group_name=GROUP,
            deps=["records"],
            description=f"Additive {name.replace('_', ' ')} statistics of the {family.value} signals, written "
            "in the same step (docs/lake.md, Summaries); what the marts read",
        )
        for name, family in SUMMARY_FAMILY.items()
    ],
    partitions_def=subject_day_partitions,
    backfill_policy=BACKFILL,
    retry_policy=API_RETRY,
    pool=API_POOL,
    check_specs=SIGNAL_CHECKS,
)
def signals(context: dg.AssetExecutionContext, hexoskin: HexoskinResource, storage: LakeResource, study: StudyResource):
    """Binary downloads of each record-day window, decoded into one Parquet dataset per channel family.

    A download that cannot be decoded is quarantined and fails the run (with the reason); its record keeps
    its previously stored rows, the other records of the subject-day and the other subject-days land.
    """
    lake = storage.lake()
    tz = study.settings().timezone
    run = SubjectDayRun(context, [*SIGNAL_DATASETS.values(), *SUMMARY_FAMILY], SIGNAL_CHECKS)
    failures: list[str] = []
    with run.recording_failures(storage), hexoskin.client() as api:
        for key, subject_key, day in run:
            window = DayWindow.of(day, tz)
            records = lake.read_partition("records", subject_key, day)
            if records is None:
                records = records_table([], window, now_utc())
            quarantine = storage.quarantine / "signals" / f"subject={subject_key}" / f"date={day.isoformat()}"
            try:
                result = ingest_subject_day_signals(api, lake, subject_key, window, records, now_utc(), quarantine)
            except SignalDownloadError as exc:
                failures.append(f"{key}: {exc}")
                run.fail(subject_key, day, exc)
                context.log.error(f"{key}: signals not updated: {exc}")
                continue
            for dataset, rows in result.rows.items():
                run.count(dataset, rows)
            for name, found in result.problems(key, records, window).items():
                run.problems[name] += found
    yield from run.results(metadata={"quarantined": len(failures)})
    if failures:
        raise dg.Failure(
            description="undecodable downloads quarantined:\n" + "\n".join(failures),
            metadata={"failures": "\n".join(failures)},
            allow_retries=False,
        )
