"""When the warehouse is built: daily after the ingestion, and after each successful ingestion run."""

import dagster as dg

from ..jobs import ingest_job, warehouse_job
from ..partitions import STUDY_TIMEZONE


@dg.schedule(
    job=warehouse_job,
    cron_schedule="30 5 * * *",
    execution_timezone=STUDY_TIMEZONE,
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def daily_warehouse_schedule(context: dg.ScheduleEvaluationContext):
    """At 05:30 study time, after the 04:00 ingestion: marts and report of everything the lake holds
    (unless a build is already waiting: it will read the same lake)."""
    if build_waiting(context.instance):
        return dg.SkipReason(WAITING)
    return dg.RunRequest(run_key=context.scheduled_execution_time.strftime("%Y-%m-%d"))


WAITING = "a warehouse build is already queued: it will read everything the lake holds when it starts"


def build_waiting(instance: dg.DagsterInstance) -> bool:
    """A warehouse build not started yet (however launched: sensor, schedule or by hand). With the run
    queue's `hexo/warehouse` limit of 1, builds coalesce to at most one running and one waiting."""
    return bool(
        instance.get_run_records(
            filters=dg.RunsFilter(
                job_name=warehouse_job.name,
                statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING],
            ),
            limit=1,
        )
    )


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
    if build_waiting(context.instance):
        return dg.SkipReason(WAITING)
    return dg.RunRequest(run_key=f"after-{context.dagster_run.run_id}")
