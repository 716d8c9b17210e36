"""When subject-days are ingested: the daily schedule and the late-data sensor."""

import os
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import pyarrow.compute as pc

from ...lake import Lake
from ...study_settings import StudySettings
from ..jobs import ingest_job
from ..partitions import STUDY_TIMEZONE, local_day_keys, subjects_partitions
from ..resources import NOT_CONFIGURED, HexoskinResource, LakeResource, StudyResource

# Subjects per run for the daily schedule: one run per batch keeps run counts sane for large cohorts.
BATCH = int(os.environ.get("HEXO_SUBJECTS_PER_RUN", "25"))


@dg.sensor(job=ingest_job, minimum_interval_seconds=600, default_status=dg.DefaultSensorStatus.RUNNING)
def late_data_sensor(
    context: dg.SensorEvaluationContext, hexoskin: HexoskinResource, storage: LakeResource, study: StudyResource
):
    """Re-materializes exactly the subject-days whose records arrived or changed since the cursor.

    The cursor is the newest `last_modified` seen (kept by Dagster). Garments sync days late, and a
    record may grow after a first sync: both bump `last_modified`, so neither is missed. On its first
    tick the cursor starts from the lake (`lake_cursor`): what the lake already holds is not fetched again.
    """
    if not hexoskin.configured:
        return dg.SkipReason(NOT_CONFIGURED)
    cursor = context.cursor or lake_cursor(storage.lake())
    known = set(context.instance.get_dynamic_partitions(subjects_partitions.name))
    try:
        keys, newest = late_subject_days(hexoskin, cursor, known, study.settings())
    except dg.Failure as failure:
        return dg.SkipReason(failure.description)
    if not keys:
        return dg.SensorResult(skip_reason=f"no record of a known subject modified after {cursor}", cursor=newest)
    requests = [dg.RunRequest(partition_key=k, run_key=f"{k}@{newest}") for k in sorted(keys)]
    return dg.SensorResult(run_requests=requests, cursor=newest)


def lake_cursor(lake: Lake, now: datetime | None = None) -> str:
    """Where the late-data sensor starts: the newest `received_at` of the lake's records (every record
    modified before it was fetched in that state), or now for an empty lake (the history is a backfill's
    job, not the sensor's). Read from the manifest, one row per partition."""
    received = lake.manifest.current("records").column("received_at")
    newest = pc.max(received).as_py() if len(received) else None
    newest = newest or now or datetime.now(UTC)
    return newest.astimezone(UTC).isoformat()


def late_subject_days(
    hexoskin: HexoskinResource, cursor: str, known: set[str], study: StudySettings
) -> tuple[set[str], str]:
    """Subject-day keys touched by records modified after `cursor`, and the new cursor."""
    keys: set[str] = set()
    newest = cursor
    with hexoskin.client() as api:
        for rec in api.iter_list("record", last_modified__gt=cursor, order_by="last_modified"):
            user = rec.get("user") or {}
            username = user.get("username") if isinstance(user, dict) else None
            newest = max(newest, rec.get("last_modified") or newest)
            if username not in known or rec.get("end") is None:
                continue
            for key in local_day_keys(username, rec["start"], rec["end"], study):
                keys.add(str(key))
    return keys, newest


@dg.schedule(
    job=ingest_job,
    cron_schedule="0 4 * * *",
    execution_timezone=STUDY_TIMEZONE,
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def daily_ingest_schedule(context: dg.ScheduleEvaluationContext):
    """At 04:00 study time, ingest yesterday for every subject, BATCH subjects per run."""
    tz = ZoneInfo(STUDY_TIMEZONE)
    yesterday = (context.scheduled_execution_time.astimezone(tz) - timedelta(days=1)).date()
    subjects = context.instance.get_dynamic_partitions(subjects_partitions.name)
    for i in range(0, len(subjects), BATCH):
        batch = subjects[i : i + BATCH]
        yield dg.RunRequest(
            run_key=f"{yesterday}-batch-{i // BATCH}",
            tags={
                "dagster/asset_partition_range_start": f"{yesterday.isoformat()}|{batch[0]}",
                "dagster/asset_partition_range_end": f"{yesterday.isoformat()}|{batch[-1]}",
            },
        )
