"""The study settings: read from the environment in one place, the same values in Dagster and dbt."""

from __future__ import annotations

from datetime import date

import dagster as dg

from hexo_pipeline.defs.resources import StudyResource
from hexo_pipeline.study_settings import DEFAULT_STUDY_START, StudySettings


def test_from_environment_reads_every_variable(monkeypatch):
    for var, value in {
        "HEXO_STUDY_START": "2025-01-06",
        "HEXO_STUDY_TZ": "Asia/Tokyo",
        "HEXO_STUDY_END": "2025-03-03",
        "HEXO_STUDY_UUID": "abc",
        "HEXO_VALID_DAY_MIN_MINUTES": "480",
        "HEXO_VALID_HOUR_MIN_MINUTES": "45",
    }.items():
        monkeypatch.setenv(var, value)
    assert StudySettings.from_environment() == StudySettings(
        start=date(2025, 1, 6),
        timezone="Asia/Tokyo",
        end=date(2025, 3, 3),
        uuid="abc",
        valid_day_min_minutes=480,
        valid_hour_min_minutes=45,
    )


def test_unset_variables_keep_the_defaults(monkeypatch):
    for var in (
        "HEXO_STUDY_START",
        "HEXO_STUDY_TZ",
        "HEXO_STUDY_END",
        "HEXO_STUDY_UUID",
        "HEXO_VALID_DAY_MIN_MINUTES",
        "HEXO_VALID_HOUR_MIN_MINUTES",
    ):
        monkeypatch.delenv(var, raising=False)
    study = StudySettings.from_environment()
    assert study == StudySettings()
    assert study.first_day == DEFAULT_STUDY_START
    assert study.dbt_vars("/lake") == {
        "lake_root": "/lake",
        "study_timezone": "America/Montreal",
        "study_start": "",
        "study_end": "",
        "valid_day_min_minutes": 600,
        "valid_hour_min_minutes": 30,
    }


def test_the_resource_gives_the_same_settings_from_env_vars(monkeypatch):
    monkeypatch.setenv("HEXO_STUDY_START", "2025-01-06")
    monkeypatch.setenv("HEXO_STUDY_TZ", "Asia/Tokyo")
    monkeypatch.setenv("HEXO_VALID_DAY_MIN_MINUTES", "480")
    monkeypatch.delenv("HEXO_STUDY_END", raising=False)
    resource = StudyResource.from_environment()

    @dg.asset
    def probe(study: StudyResource) -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"settings": repr(study.settings())})

    result = dg.materialize([probe], resources={"study": resource})
    seen = result.asset_materializations_for_node("probe")[0].metadata["settings"].value
    assert seen == repr(StudySettings.from_environment())
    assert StudyResource.of(StudySettings.from_environment()).settings() == StudySettings.from_environment()
