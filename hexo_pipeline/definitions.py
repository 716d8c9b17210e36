"""The one `Definitions` object of the project (loaded by workspace.yaml and `dagster dev`): every asset,
check, job, schedule and sensor found in the `defs` package, with the project's resources.

Adding an asset, sensor or job means adding it to a module under defs/; nothing is listed here. The dbt
manifest must exist first (`hexo_pipeline.warehouse.marts.prepare_dbt_project()`; `dagster dev` parses
the project itself).
"""

from __future__ import annotations

import warnings

import dagster as dg

from . import defs as defs_package
from .defs.resources import project_resources
from .defs.shared import asset_conventions
from .distributed import project_executor

with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.PreviewWarning)  # the package loader is "preview" in Dagster 1.13
    # HEXO_EXECUTOR=celery: steps on Celery workers (distributed.py); else Dagster's default executor
    defs = dg.load_definitions_from_package_module(
        defs_package, resources=project_resources(), executor=project_executor()
    ).map_asset_specs(func=asset_conventions)  # owners, kinds, tags; lake path and schema
