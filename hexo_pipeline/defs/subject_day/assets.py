"""Subject-day assets: records and ranges, then decoded signals, with their checks beside them.

A run may cover several subject-days (a backfill batch or the demo's single run): each asset loops
over `context.partition_keys` (`SubjectDayRun`), and each subject-day is written as its own lake partition.
"""

import dagster as dg
import numpy as np
import pyarrow as pa

from ...hexoskin import HexoskinClient
from ...hexoskin.datatypes import BY_ID, Family
from ...ingest.subject_day import (
    DayWindow, SignalDownloadError, Subject, duplicate_timestamps, fetch_signals, now_utc, overlapping,
    ranges_tables, records_table, rows_outside,
)
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
RECORD_CHECKS = [dg.AssetCheckSpec("records_inside_day", asset="records",
                                   description="clipped record windows lie inside their local day")]


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
def records_and_ranges(context: dg.AssetExecutionContext, hexoskin: HexoskinResource, storage: LakeResource,
                       study: StudyResource):
    lake = storage.lake()
    tz = study.settings().timezone
    run = SubjectDayRun(context, RECORD_ASSETS, RECORD_CHECKS)
    with hexoskin.client() as api:
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
    dg.AssetCheckSpec("row_counts_match_durations", asset="signals_vitals",
                      description="samples per channel = clipped record seconds x sampling rate"),
    dg.AssetCheckSpec("no_duplicate_timestamps", asset="signals_ecg",
                      description="no (channel, ts) pair twice in any family"),
    dg.AssetCheckSpec("timestamps_inside_day", asset="signals_ecg",
                      description="every sample lies inside its partition's local day"),
    dg.AssetCheckSpec("quality_flag_coverage", asset="signals_vitals",
                      description="every HR/BR sample has its quality flag sample"),
]


@dg.multi_asset(
    specs=[dg.AssetSpec(dataset, group_name=GROUP, deps=["records"],
                        description=f"Decoded {family.value} channels per subject-day (raw values, UTC ts)")
           for family, dataset in SIGNAL_DATASETS.items()],
    partitions_def=subject_day_partitions,
    backfill_policy=BACKFILL,
    retry_policy=API_RETRY,
    pool=API_POOL,
    check_specs=SIGNAL_CHECKS,
)
def signals(context: dg.AssetExecutionContext, hexoskin: HexoskinResource, storage: LakeResource,
            study: StudyResource):
    """Binary downloads of each record-day window, decoded into one Parquet dataset per channel family.

    A download that cannot be decoded is quarantined and fails the run (with the reason), leaving that
    subject-day's previous signal files untouched; the other subject-days of the run still land.
    """
    lake = storage.lake()
    tz = study.settings().timezone
    run = SubjectDayRun(context, list(SIGNAL_DATASETS.values()), SIGNAL_CHECKS)
    failures: list[str] = []
    with hexoskin.client() as api:
        for key, subject_key, day in run:
            window = DayWindow.of(day, tz)
            records = lake.read_partition("records", subject_key, day)
            if records is None:
                records = records_table([], window, now_utc())
            quarantine = storage.quarantine / "signals" / f"subject={subject_key}" / f"date={day.isoformat()}"
            try:
                tables = fetch_signals(api, records, window, now_utc(), quarantine)
            except SignalDownloadError as exc:
                failures.append(f"{key}: {exc}")
                context.log.error(f"{key}: signals not updated: {exc}")
                continue
            for family, dataset in SIGNAL_DATASETS.items():
                table = tables.get(family)
                lake.write_partition(dataset, subject_key, day, table, signal=True)
                run.count(dataset, table)
            _check_subject_day(key, tables, records, window, run.problems)
    yield from run.results(metadata={"quarantined": len(failures)})
    if failures:
        raise dg.Failure(description="undecodable downloads quarantined:\n" + "\n".join(failures),
                         metadata={"failures": "\n".join(failures)}, allow_retries=False)


# Allowed difference between expected and stored samples per channel and record: the first/last sample
# of a clipped window may fall on either side of the boundary.
COUNT_TOLERANCE = 2


def _check_subject_day(key: str, tables: dict[Family, pa.Table], records: pa.Table, window: DayWindow,
                       issues: dict[str, list[str]]) -> None:
    for family, table in tables.items():
        if (dups := duplicate_timestamps(table)):
            issues["no_duplicate_timestamps"].append(f"{key} {family.value}: {dups} duplicate timestamps")
        if (outside := rows_outside(table, window)):
            issues["timestamps_inside_day"].append(f"{key} {family.value}: {outside} samples outside the day")
        counts = _counts_by_record_and_channel(table)
        for rec in records.to_pylist():
            seconds = (min(rec["end_ticks"], window.end) - max(rec["start_ticks"], window.start)) / 256
            for dt_id, n in counts.get(rec["record_id"], {}).items():
                dt = BY_ID.get(dt_id)
                if dt is None or not dt.synchronous or dt.rate_hz < 1:
                    continue
                expected = seconds * dt.rate_hz
                if abs(n - expected) > COUNT_TOLERANCE + 1e-9:
                    issues["row_counts_match_durations"].append(
                        f"{key} record {rec['record_id']} {dt.name}: {n} samples, expected {expected:.0f}")
    vitals = counts_of(tables.get(Family.VITALS))
    for channel, quality in ((19, 1000), (33, 1001)):
        if vitals.get(channel, 0) != vitals.get(quality, 0):
            issues["quality_flag_coverage"].append(
                f"{key}: {vitals.get(channel, 0)} samples of {channel} but {vitals.get(quality, 0)} flags ({quality})")


def counts_of(table: pa.Table | None) -> dict[int, int]:
    if table is None:
        return {}
    ids, n = np.unique(table.column("datatype_id").to_numpy(), return_counts=True)
    return dict(zip(ids.tolist(), n.tolist()))


def _counts_by_record_and_channel(table: pa.Table) -> dict[int, dict[int, int]]:
    counts = table.group_by(["record_id", "datatype_id"]).aggregate([([], "count_all")])
    out: dict[int, dict[int, int]] = {}
    for r, d, c in zip(*(counts.column(i).to_pylist() for i in ("record_id", "datatype_id", "count_all"))):
        out.setdefault(r, {})[d] = c
    return out
