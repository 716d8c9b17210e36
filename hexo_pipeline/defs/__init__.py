"""Dagster definitions: resources, partitions, assets with their checks, sensors and schedules."""
