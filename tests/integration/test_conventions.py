"""Ecosystem conventions: every asset carries owners, kinds and tags; lake assets their path and column
schema; every mart column is described; `dg check defs` loads the project; dbt runs from dbt_project/."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import yaml

from hexo_pipeline.definitions import defs
from hexo_pipeline.lake.contract import DATASETS

REPO = Path(__file__).resolve().parents[2]


def test_every_asset_has_owners_kinds_and_tags():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if not node.is_materializable:
            continue
        assert node.owners, key
        assert node.kinds, key
        assert {"layer", "domain"} <= set(node.tags), key


def test_lake_assets_show_their_path_and_contract_schema():
    graph = defs.resolve_asset_graph()
    records = graph.get(dg.AssetKey("records"))
    schema = records.metadata["dagster/column_schema"]
    assert [c.name for c in schema.columns] == DATASETS["records"].schema.names
    assert all(c.type for c in schema.columns)
    assert str(records.metadata["lake_path"].value).endswith("lake/records")
    lake_assets = [
        k
        for k in graph.get_all_asset_keys()
        if graph.get(k).tags.get("layer") == "lake" and k.to_user_string() in DATASETS
    ]
    assert len(lake_assets) > 20
    assert all("dagster/column_schema" in graph.get(k).metadata for k in lake_assets)


def test_every_mart_column_is_described():
    undescribed = []
    for path in sorted((REPO / "dbt_project" / "models" / "marts").glob("*.yml")):
        for model in yaml.safe_load(path.read_text()).get("models") or []:
            if not (model.get("description") or "").strip():
                undescribed.append(model["name"])
            for column in model.get("columns") or []:
                if not (column.get("description") or "").strip():
                    undescribed.append(f"{model['name']}.{column['name']}")
    assert not undescribed, f"describe these in dbt_project/models/marts/<model>.yml: {undescribed}"


def test_dg_check_defs_loads_the_project(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEXO_", "DAGSTER_"))}
    env["HEXO_DATA_DIR"] = str(tmp_path)  # no API: the definitions still load (sensors would skip)
    dg_cli = Path(sys.executable).with_name("dg")
    run = subprocess.run([str(dg_cli), "check", "defs"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "All definitions loaded successfully" in run.stdout + run.stderr


def test_the_profile_folder_for_dbt_by_hand_exists(tmp_path, monkeypatch):
    from hexo_pipeline.warehouse.marts import dev_build_folder, prepare_dbt_project

    monkeypatch.setenv("HEXO_DATA_DIR", str(tmp_path))
    prepare_dbt_project()
    assert dev_build_folder() == tmp_path.resolve() / "warehouse" / "dev"
    assert dev_build_folder().is_dir()
    profile = (REPO / "dbt_project" / "profiles.yml").read_text()
    assert "/warehouse/dev/hexo.duckdb" in profile
