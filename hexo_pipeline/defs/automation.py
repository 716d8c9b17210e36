"""Sensors and schedules: subjects registry, late-data detection, and the daily run."""


import os
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import dagster as dg

from ..hexoskin.timestamps import to_ticks
from .partitions import STUDY, subjects_partitions
from .resources import HexoskinResource
from .study_assets import is_study_subject
from .subject_day_assets import local_day_keys

ingest_job = dg.define_asset_job(
    "ingest_subject_days",
    selection=dg.AssetSelection.groups("subject_day"),
    description="Records, ranges and decoded signals for subject-days",
)

# Subjects per run for the daily schedule: one run per batch keeps run counts sane for large cohorts.
BATCH = int(os.environ.get("HEXO_SUBJECTS_PER_RUN", "25"))


@dg.sensor(minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.RUNNING)
def subjects_sensor(context: dg.SensorEvaluationContext, hexoskin: HexoskinResource):
    """Adds new study subjects to the `subjects` partition dimension (removed ones are kept)."""
    with hexoskin.client() as api:
        names = [u["username"] for u in api.iter_list("user", order_by="id")
                 if u.get("username") and is_study_subject(u["username"])]
    known = set(context.instance.get_dynamic_partitions(subjects_partitions.name))
    new = [n for n in names if n not in known]
    if not new:
        return dg.SkipReason(f"{len(known)} subjects, none new")
    return dg.SensorResult(dynamic_partitions_requests=[subjects_partitions.build_add_request(new)])


@dg.sensor(job=ingest_job, minimum_interval_seconds=600, default_status=dg.DefaultSensorStatus.RUNNING)
def late_data_sensor(context: dg.SensorEvaluationContext, hexoskin: HexoskinResource):
    """Re-materializes exactly the subject-days whose records arrived or changed since the cursor.

    The cursor is the newest `last_modified` seen (kept by Dagster). Garments sync days late, and a
    record may grow after a first sync: both bump `last_modified`, so neither is missed.
    """
    cursor = context.cursor or "1970-01-01T00:00:00+00:00"
    known = set(context.instance.get_dynamic_partitions(subjects_partitions.name))
    keys, newest = late_subject_days(hexoskin, cursor, known)
    if not keys:
        return dg.SkipReason(f"no record modified after {cursor}")
    requests = [dg.RunRequest(partition_key=k, run_key=f"{k}@{newest}") for k in sorted(keys)]
    return dg.SensorResult(run_requests=requests, cursor=newest)


def late_subject_days(hexoskin: HexoskinResource, cursor: str, known: set[str]) -> tuple[set[str], str]:
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
            for key in local_day_keys(username, rec["start"], rec["end"], STUDY.start, STUDY.end):
                keys.add(str(key))
    return keys, newest


@dg.schedule(job=ingest_job, cron_schedule="0 4 * * *", execution_timezone=STUDY.timezone,
             default_status=dg.DefaultScheduleStatus.STOPPED)
def daily_ingest_schedule(context: dg.ScheduleEvaluationContext):
    """At 04:00 study time, ingest yesterday for every subject, BATCH subjects per run."""
    tz = ZoneInfo(STUDY.timezone)
    yesterday = (context.scheduled_execution_time.astimezone(tz) - timedelta(days=1)).date()
    subjects = context.instance.get_dynamic_partitions(subjects_partitions.name)
    for i in range(0, len(subjects), BATCH):
        batch = subjects[i:i + BATCH]
        yield dg.RunRequest(
            run_key=f"{yesterday}-batch-{i // BATCH}",
            tags={
                "dagster/asset_partition_range_start": f"{yesterday.isoformat()}|{batch[0]}",
                "dagster/asset_partition_range_end": f"{yesterday.isoformat()}|{batch[-1]}",
            },
        )
