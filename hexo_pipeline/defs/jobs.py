"""The project's jobs, each an explicit selection of asset definitions (not of group names)."""

import dagster as dg

from .activity_files.assets import range_exports
from .subject_day.assets import records_and_ranges, signals
from .subject_day.study_data import subject_day_study_data
from .warehouse.dbt_assets import hexo_marts
from .warehouse.report import study_report

# Everything fetched per subject-day: the ingestion job, its schedule and the late-data sensor.
SUBJECT_DAY_ASSETS = dg.AssetSelection.assets(records_and_ranges, signals, subject_day_study_data, range_exports)
WAREHOUSE_ASSETS = dg.AssetSelection.assets(hexo_marts, study_report)
# Run tags the run queue limits (tag_concurrency_limits in the dagster.yaml hexo_pipeline/runner.py writes):
# few API-facing runs at once, and one warehouse build at a time whoever launched it.
API_RUN_TAG = "hexo/api"
WAREHOUSE_RUN_TAG = "hexo/warehouse"

ingest_job = dg.define_asset_job(
    "ingest_subject_days",
    selection=SUBJECT_DAY_ASSETS,
    description="Records, ranges, decoded signals, activity exports and study-side data for subject-days",
    tags={API_RUN_TAG: "subject_day"},
)

warehouse_job = dg.define_asset_job(
    "build_warehouse",
    selection=WAREHOUSE_ASSETS,
    description="dbt build of the marts from the lake, publication of hexo.duckdb, then the study report",
    tags={WAREHOUSE_RUN_TAG: "build"},
    # the dbt build stays in the run's own process, next to the warehouse file, even when the
    # subject-day steps go to Celery workers (HEXO_EXECUTOR=celery, docs/deploy.md)
    executor_def=dg.multi_or_in_process_executor,
)
