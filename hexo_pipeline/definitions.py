"""The one `Definitions` object of the project (loaded by workspace.yaml and `dagster dev`)."""

from __future__ import annotations

import dagster as dg

from .defs.activity_file_assets import inbox_files, inbox_sensor, range_exports
from .defs.dbt_assets import (daily_warehouse_schedule, dbt_resource, hexo_marts, warehouse_after_ingest_sensor,
                              warehouse_job)
from .defs.report_assets import study_report
from .defs.automation import daily_ingest_schedule, ingest_job, late_data_sensor, subjects_sensor
from .defs.resources import HexoskinResource, LakeResource
from .defs.study_assets import datatype_catalog, subjects
from .defs.study_side_assets import study_structure, subject_day_study_data
from .defs.subject_day_assets import records_and_ranges, signals

defs = dg.Definitions(
    assets=[subjects, datatype_catalog, records_and_ranges, signals, range_exports, inbox_files,
            study_structure, subject_day_study_data, hexo_marts, study_report],
    jobs=[ingest_job, warehouse_job],
    schedules=[daily_ingest_schedule, daily_warehouse_schedule],
    sensors=[subjects_sensor, late_data_sensor, inbox_sensor, warehouse_after_ingest_sensor],
    resources={"hexoskin": HexoskinResource.from_environment(), "storage": LakeResource.from_environment(),
               "dbt": dbt_resource()},
)
