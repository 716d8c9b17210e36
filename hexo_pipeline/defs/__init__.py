"""Dagster definitions, one folder per domain; hexo_pipeline/definitions.py loads every module here.

- `study/`: the study's subjects, catalogs and structure (unpartitioned), and the subjects sensor;
- `subject_day/`: records, ranges, signals and study-side data per subject-day, the daily schedule and
  the late-data sensor;
- `activity_files/`: TCX/FIT range exports per subject-day and the inbox with its sensor;
- `warehouse/`: the dbt marts, the study report, their schedule and sensor;
- `jobs.py` (explicit asset selections), `partitions.py`, `resources.py`, `shared.py` (pools, policies,
  the subject-day loop).

Module-level Dagster objects are picked up by `load_definitions_from_package_module`: keep asset specs
inside the decorators (a module-level list of `AssetSpec`s would be loaded as assets too).
"""
