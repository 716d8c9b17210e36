"""The one `Definitions` object of the project (loaded by workspace.yaml and `dagster dev`)."""

from __future__ import annotations

import dagster as dg

from .defs.automation import daily_ingest_schedule, ingest_job, late_data_sensor, subjects_sensor
from .defs.resources import HexoskinResource, LakeResource
from .defs.study_assets import datatype_catalog, subjects
from .defs.subject_day_assets import records_and_ranges, signals

defs = dg.Definitions(
    assets=[subjects, datatype_catalog, records_and_ranges, signals],
    jobs=[ingest_job],
    schedules=[daily_ingest_schedule],
    sensors=[subjects_sensor, late_data_sensor],
    resources={"hexoskin": HexoskinResource.from_environment(), "storage": LakeResource.from_environment()},
)
