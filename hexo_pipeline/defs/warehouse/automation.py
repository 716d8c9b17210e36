"""When the warehouse is built: daily after the ingestion, and after each successful ingestion run."""

import dagster as dg

from ..jobs import ingest_job, warehouse_job
from ..partitions import STUDY_TIMEZONE


@dg.schedule(job=warehouse_job, cron_schedule="30 5 * * *", execution_timezone=STUDY_TIMEZONE,
             default_status=dg.DefaultScheduleStatus.STOPPED)
def daily_warehouse_schedule(context: dg.ScheduleEvaluationContext):
    """At 05:30 study time, after the 04:00 ingestion: marts and report of everything the lake holds."""
    return dg.RunRequest(run_key=context.scheduled_execution_time.strftime("%Y-%m-%d"))


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[ingest_job],
    request_job=warehouse_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
)
def warehouse_after_ingest_sensor(context: dg.RunStatusSensorContext):
    """After each successful ingestion run, rebuild the marts: the incremental models read only the lake
    partitions that run (re)wrote. A build already queued will see them too, so none is stacked on it."""
    waiting = context.instance.get_run_records(
        filters=dg.RunsFilter(job_name=warehouse_job.name,
                              statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED]),
        limit=1)
    if waiting:
        return dg.SkipReason("a warehouse build is already queued: it will read this run's partitions")
    return dg.RunRequest(run_key=f"after-{context.dagster_run.run_id}")
