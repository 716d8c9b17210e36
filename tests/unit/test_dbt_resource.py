"""The project's dagster-dbt resource skips what it does not use before each dbt command."""

from __future__ import annotations

import importlib.metadata

import dagster_dbt.core.resource as dbt_core_resource
from packaging import version

from hexo_pipeline.warehouse.marts import dbt_resource


def test_the_dbt_version_comes_from_the_installed_package_without_a_subprocess(monkeypatch):
    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"dbt --version was run: {args}")

    monkeypatch.setattr(dbt_core_resource, "check_output", no_subprocess)
    dbt = dbt_resource()
    assert dbt._cli_version == version.parse(importlib.metadata.version("dbt-core"))


def test_no_dbt_adapter_is_opened_in_this_process():
    assert dbt_resource()._initialize_dbt_core_adapter(["build"]) is None
