"""The lake contract (hexo_pipeline/lake/contract.py) is the one definition of the lake's datasets: the
dbt sources YAML, the ingestion modules and the decoders agree with it."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import yaml

from hexo_pipeline.decoders import schemas as decoder_schemas
from hexo_pipeline.hexoskin.datatypes import Family
from hexo_pipeline.ingest import activity_files, study_side, subject_day
from hexo_pipeline.lake import SIGNAL_DATASETS, contract
from hexo_pipeline.warehouse import DBT_PROJECT_DIR

SOURCES = DBT_PROJECT_DIR / "models" / "staging" / "lake" / "_lake__sources.yml"
HIVE_COLUMNS = {"subject": "varchar", "date": "date"}


def duckdb_type(arrow: pa.DataType) -> str:
    if pa.types.is_timestamp(arrow):
        return "timestamptz" if arrow.tz else "timestamp"
    if pa.types.is_map(arrow):
        return f"map({duckdb_type(arrow.key_type)}, {duckdb_type(arrow.item_type)})"
    return {
        pa.int64(): "bigint",
        pa.int32(): "integer",
        pa.string(): "varchar",
        pa.float64(): "double",
        pa.bool_(): "boolean",
        pa.date32(): "date",
    }[arrow]


def _sources() -> dict[str, dict]:
    doc = yaml.safe_load(SOURCES.read_text())
    (lake,) = [s for s in doc["sources"] if s["name"] == "lake"]
    return {t["name"]: t for t in lake["tables"]}


def test_dbt_sources_match_the_contract():
    problems = []
    for name, table in _sources().items():
        if name not in contract.DATASETS:
            problems.append(f"{name}: a dbt source that is not a lake dataset")
            continue
        dataset = contract.DATASETS[name]
        layout = table["config"]["meta"]["layout"]
        if layout != dataset.layout:
            problems.append(f"{name}: layout {layout} in the YAML, {dataset.layout} in the contract")
        want = {f.name: duckdb_type(f.type) for f in dataset.schema}
        if dataset.layout == contract.SUBJECT_DAY:
            want.update(HIVE_COLUMNS)
        got = {c["name"]: c["data_type"].lower() for c in table["columns"]}
        for column in sorted(set(want) | set(got)):
            if column not in got:
                problems.append(f"{name}.{column}: in the contract, not in the YAML")
            elif column not in want:
                problems.append(f"{name}.{column}: in the YAML, not in the contract")
            elif got[column] != want[column]:
                problems.append(f"{name}.{column}: {got[column]} in the YAML, {want[column]} in the contract")
    assert problems == []


def test_the_read_parquet_location_is_written_once_per_layout():
    text = SOURCES.read_text()
    assert text.count("read_parquet(") == 2, "one location for subject-day tables, one for study tables"


def test_modules_use_the_contract_schemas():
    assert subject_day.RECORDS_SCHEMA is contract.schema_of("records")
    assert subject_day.RANGES_SCHEMA is contract.schema_of("ranges")
    assert study_side.STUDY_SCHEMA is contract.schema_of("study")
    assert study_side.TRACKPOINTS_SCHEMA is contract.schema_of("trackpoints")
    assert decoder_schemas.SIGNAL_SCHEMA is contract.SIGNAL_SCHEMA
    assert decoder_schemas.ACTIVITY_TABLE_SCHEMAS is contract.ACTIVITY_TABLE_SCHEMAS
    for name, schema in activity_files.LAKE_SCHEMAS.items():
        assert schema is contract.schema_of(name)
    from hexo_pipeline.defs.study import assets as study_assets

    assert study_assets.SUBJECTS_SCHEMA is contract.schema_of("subjects")


def test_every_signal_family_is_a_dataset():
    assert set(contract.SIGNAL_FAMILIES) == {f.value for f in Family}
    for _family, name in SIGNAL_DATASETS.items():
        assert contract.dataset(name).signal and contract.dataset(name).layout == contract.SUBJECT_DAY


def test_no_module_imports_another_modules_private_helpers():
    root = Path(__file__).resolve().parents[2] / "hexo_pipeline"
    offenders = []
    for path in root.rglob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith("from .") and " import " in stripped:
                names = stripped.split(" import ", 1)[1].strip("() ")
                if any(n.strip().split(" as ")[0].startswith("_") for n in names.split(",") if n.strip()):
                    offenders.append(f"{path.relative_to(root)}: {stripped}")
    assert offenders == []


def test_resting_heart_rate_window_of_the_summaries_is_the_marts():
    """vitals_minutes carries each minute's resting-HR window; dbt's macro must use the same length."""
    from hexo_pipeline.lake.contract import RESTING_HR_WINDOW_MINUTES

    macros = (DBT_PROJECT_DIR / "macros" / "settings.sql").read_text()
    body = re.search(r"macro resting_hr_window_min\(\) -%}\s*(\d+)\s*{%-", macros)
    assert body, "macro resting_hr_window_min() not found"
    assert int(body.group(1)) == RESTING_HR_WINDOW_MINUTES
