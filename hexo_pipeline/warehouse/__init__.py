"""The DuckDB warehouse: dbt builds into a new file, published by atomic rename for BI readers."""

from .marts import MartsResult, build_marts, build_marts_and_report, dbt_build_args
from .publish import DBT_PROJECT_DIR, Build, PublicationError, Warehouse, build_info

__all__ = [
    "DBT_PROJECT_DIR",
    "Build",
    "MartsResult",
    "PublicationError",
    "Warehouse",
    "build_info",
    "build_marts",
    "build_marts_and_report",
    "dbt_build_args",
]
