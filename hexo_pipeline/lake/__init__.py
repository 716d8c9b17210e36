"""The Parquet lake: its contract (datasets, layouts, schemas), storage, manifest, quarantine, compaction
and checks. docs/lake.md describes it; `from hexo_pipeline.lake import Lake, SIGNAL_DATASETS` as before."""

from __future__ import annotations

from ..hexoskin.datatypes import Family
from . import contract
from .compaction import compact_lake
from .contract import DATASETS, STUDY, SUBJECT_DAY, Dataset
from .manifest import Entry, Manifest
from .quarantine import move_to_quarantine, quarantine_file, quarantined
from .store import PART_FILE, STUDY_FILE, TABLE_OPTIONS, Lake, LakeFile, data_dir, lake_files
from .verify import Problem, verify_lake

SIGNAL_DATASETS: dict[Family, str] = {family: f"signals_{family.value}" for family in Family}

__all__ = [
    "DATASETS",
    "PART_FILE",
    "SIGNAL_DATASETS",
    "STUDY",
    "STUDY_FILE",
    "SUBJECT_DAY",
    "TABLE_OPTIONS",
    "Dataset",
    "Entry",
    "Lake",
    "LakeFile",
    "Manifest",
    "Problem",
    "compact_lake",
    "contract",
    "data_dir",
    "lake_files",
    "move_to_quarantine",
    "quarantine_file",
    "quarantined",
    "verify_lake",
]
