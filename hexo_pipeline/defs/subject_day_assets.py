"""Subject-day assets: records and ranges, then decoded signals, with their checks beside them.

A run may cover several subject-days (a backfill batch or the demo's single run): each asset loops
over `context.partition_keys`, and each subject-day is written as its own lake partition.
"""


from collections import Counter
from datetime import date

import dagster as dg
import pyarrow as pa

from ..hexoskin import HexoskinClient
from ..ingest.signals import ingest_subject_day_signals
from ..ingest.subject_day import (
    DayWindow, SignalDownloadError, Subject, now_utc, overlapping, ranges_tables, records_table,
)
from ..lake import SIGNAL_DATASETS, Lake
from .partitions import STUDY, split_key, subject_day_partitions
from .resources import HexoskinResource, LakeResource

API_POOL = "hexoskin_api"  # concurrency pool: bounds parallel API-facing steps across runs
API_RETRY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
# A backfill of N subject-days becomes ceil(N / 50) runs instead of N (docs/architecture.md).
BACKFILL = dg.BackfillPolicy.multi_run(max_partitions_per_run=50)
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
    check_specs=[dg.AssetCheckSpec("records_inside_day", asset="records",
                                   description="clipped record windows lie inside their local day")],
)
def records_and_ranges(context: dg.AssetExecutionContext, hexoskin: HexoskinResource, storage: LakeResource):
    lake = storage.lake()
    counts: Counter = Counter()
    problems: list[str] = []
    with hexoskin.client() as api:
        for key in context.partition_keys:
            subject_key, day = split_key(key)
            subject = subject_for(api, lake, subject_key)
            window = DayWindow.of(day, STUDY.timezone)
            received = now_utc()
            records = records_table(overlapping(api, "record", subject, window), window, received)
            ranges, metrics = ranges_tables(overlapping(api, "range", subject, window), window, received)
            lake.write_partition("records", subject_key, day, records)
            lake.write_partition("ranges", subject_key, day, ranges)
            lake.write_partition("range_metrics", subject_key, day, metrics)
            counts.update(records=records.num_rows, ranges=ranges.num_rows, range_metrics=metrics.num_rows)
            problems += _records_outside(records, window, key)
    meta = {"partitions": len(context.partition_keys)}
    for asset in ("records", "ranges", "range_metrics"):
        yield dg.MaterializeResult(asset_key=asset, metadata={**meta, "rows": counts[asset]})
    yield dg.AssetCheckResult(check_name="records_inside_day", asset_key="records", passed=not problems,
                              metadata={"problems": "\n".join(problems[:20]) or "none"})


def _records_outside(records: pa.Table, window: DayWindow, key: str) -> list[str]:
    out = []
    for row in records.to_pylist():
        a, b = row["day_start_at"].timestamp() * 256, row["day_end_at"].timestamp() * 256
        if a < window.start - 1 or b > window.end + 1 or b < a:
            out.append(f"{key}: record {row['record_id']} clipped to [{a}, {b}) outside the day")
    return out


# -- signals -----------------------------------------------------------------------------------------

SIGNAL_SPECS = [
    dg.AssetSpec(dataset, group_name=GROUP, deps=["records"],
                 description=f"Decoded {family.value} channels per subject-day (raw values, UTC ts)")
    for family, dataset in SIGNAL_DATASETS.items()
]
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
    specs=SIGNAL_SPECS,
    partitions_def=subject_day_partitions,
    backfill_policy=BACKFILL,
    retry_policy=API_RETRY,
    pool=API_POOL,
    check_specs=SIGNAL_CHECKS,
)
def signals(context: dg.AssetExecutionContext, hexoskin: HexoskinResource, storage: LakeResource):
    """Binary downloads of each record-day window, decoded into one Parquet dataset per channel family.

    A download that cannot be decoded is quarantined and fails the run (with the reason), leaving that
    subject-day's previous signal files untouched; the other subject-days of the run still land.
    """
    lake = storage.lake()
    totals: Counter = Counter()
    issues: dict[str, list[str]] = {c.name: [] for c in SIGNAL_CHECKS}
    failures: list[str] = []
    with hexoskin.client() as api:
        for key in context.partition_keys:
            subject_key, day = split_key(key)
            window = DayWindow.of(day, STUDY.timezone)
            records = lake.read_partition("records", subject_key, day)
            if records is None:
                records = records_table([], window, now_utc())
            quarantine = storage.quarantine / "signals" / f"subject={subject_key}" / f"date={day.isoformat()}"
            try:
                result = ingest_subject_day_signals(api, lake, subject_key, window, records, now_utc(), quarantine)
            except SignalDownloadError as exc:
                failures.append(f"{key}: {exc}")
                context.log.error(f"{key}: signals not updated: {exc}")
                continue
            totals.update(result.rows)
            for name, found in result.problems(key, records, window).items():
                issues[name] += found
    meta = {"partitions": len(context.partition_keys), "quarantined": len(failures)}
    for dataset in SIGNAL_DATASETS.values():
        yield dg.MaterializeResult(asset_key=dataset, metadata={**meta, "rows": totals[dataset]})
    for spec in SIGNAL_CHECKS:
        found = issues[spec.name]
        yield dg.AssetCheckResult(check_name=spec.name, asset_key=spec.asset_key, passed=not found,
                                  metadata={"problems": "\n".join(found[:20]) or "none", "count": len(found)})
    if failures:
        raise dg.Failure(description="undecodable downloads quarantined:\n" + "\n".join(failures),
                         metadata={"failures": "\n".join(failures)}, allow_retries=False)


def local_day_keys(subject: str, start_ticks: int, end_ticks: int, first: date, last: date | None) -> list[dg.MultiPartitionKey]:
    """Subject-day keys a [start, end) span touches (in the study's time zone), within the study."""
    from datetime import datetime, timedelta, timezone
    from zoneinfo import ZoneInfo

    from .partitions import subject_day_key

    tz = ZoneInfo(STUDY.timezone)
    d0 = datetime.fromtimestamp(start_ticks / 256, tz=timezone.utc).astimezone(tz).date()
    d1 = datetime.fromtimestamp(max(start_ticks, end_ticks - 1) / 256, tz=timezone.utc).astimezone(tz).date()
    keys = []
    day = d0
    while day <= d1:
        if day >= first and (last is None or day < last):
            keys.append(subject_day_key(subject, day))
        day += timedelta(days=1)
    return keys
