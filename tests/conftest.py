"""Shared fixtures: a real sandbox server on loopback (free port), stopped by the test session; the dbt
marts built for a study calendar (hexo-pipeline marts' own function)."""

from __future__ import annotations

import os
import re
from dataclasses import fields
from datetime import date, timedelta
from pathlib import Path

import pytest

from hexo_pipeline.study_settings import StudySettings
from hexo_pipeline.warehouse.marts import MartsResult, build_marts, prepare_dbt_project
from hexo_sandbox import FaultConfig, StudyConfig, start_sandbox

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HEXO_SHARED_DIR", REPO.parent / "shared"))


def pytest_configure(config: pytest.Config) -> None:
    """The dbt manifest the Dagster definitions load, before any test module imports them (under xdist
    the controller runs this first, so the workers find it fresh); DuckDB capped for every dbt build of
    the session (dbt_project/profiles.yml reads it), so the four workers of `make test` stay well inside the
    machine."""
    os.environ.setdefault("HEXO_DUCKDB_MEMORY_LIMIT", "2GB")
    # One dbt thread and one DuckDB thread per build: `make test` already runs four workers on two cores, and
    # more threads per build only add contention (the reproducibility test sets its own thread count).
    os.environ.setdefault("HEXO_DBT_THREADS", "1")
    os.environ.setdefault("HEXO_DUCKDB_THREADS", "1")
    prepare_dbt_project()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow (end-to-end) tests first, in their collection order. `make test` runs xdist's `loadfile`
    scheduler without reordering: it hands out one test file at a time, in this order, to the worker that is
    free, so the long files start side by side at once, the short ones fill the gaps, and a module-scoped
    fixture (a dbt build, the demo) is built on one worker only. (The default `load` scheduler sends
    consecutive chunks of ~90 tests ahead of time: measured, two of four workers sat idle for the last 10
    minutes while the other two worked through chunks of end-to-end tests. `loadgroup` would keep only the
    fixture's tests together, but xdist 3.8 cannot group under pytest 9: it renames a node attribute that
    pytest 9 no longer reads.)"""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


TEST_MEMORY_BUDGET_MB = 4096  # the team's rule: every test under 4 GB


def _peak_rss_mb() -> float | None:
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:  # not Linux: no per-test measurement
        return None
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


@pytest.fixture(autouse=True)
def _memory_budget():
    """Fails a test whose own process peaked past the budget: the peak is reset before each test
    (writing 5 to /proc/self/clear_refs resets VmHWM). Child processes are not counted here: DuckDB's
    memory_limit caps dbt, and the tests that bound a child measure it themselves."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        yield
        return
    yield
    peak = _peak_rss_mb()
    assert peak is None or peak < TEST_MEMORY_BUDGET_MB, f"this test's process peaked at {peak:.0f} MB"


_STUDY_FIELDS = {f.name for f in fields(StudyConfig)}
_FAULT_FIELDS = {f.name for f in fields(FaultConfig)}


def _split_options(options: dict) -> tuple[StudyConfig, FaultConfig]:
    study, faults = {}, {}
    for key, value in options.items():
        m = re.fullmatch(r"fault_(\d{3})_rate", key)
        key = f"rate_{m.group(1)}" if m else key
        if key in _STUDY_FIELDS:
            study[key] = date.fromisoformat(value) if key == "start" and isinstance(value, str) else value
        elif key in _FAULT_FIELDS:
            faults[key] = value
        else:
            raise TypeError(f"unknown sandbox option {key!r}")
    return StudyConfig(**study), FaultConfig(**faults)


@pytest.fixture(scope="session")
def sandbox():
    """The default demo-sized study, shared by tests that only read."""
    handle = start_sandbox(study=StudyConfig(), faults=FaultConfig())
    yield handle
    handle.stop()


@pytest.fixture
def make_sandbox():
    """Factory for a fresh sandbox with its own study size or faults; all are stopped after the test."""
    started = []

    def _make(**options):
        study, faults = _split_options(options)
        handle = start_sandbox(study=study, faults=faults)
        started.append(handle)
        return handle

    yield _make
    for handle in started:
        handle.stop()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is absent")
    return SHARED


def study_calendar(start: date, days: int | None = None, timezone: str = "America/Montreal") -> StudySettings:
    """A study of `days` days from `start` (`days=None`: no start or end known to dbt)."""
    if days is None:
        return StudySettings(timezone=timezone)
    return StudySettings(start=start, end=start + timedelta(days=days), timezone=timezone)


@pytest.fixture(scope="session")
def build_warehouse():
    """`build_warehouse(data_dir, study, log_name="dbt.log", must_publish=True, **build_marts options)`:
    the marts of a data dir built for `study` by hexo-pipeline marts' own function, dbt's log in
    data_dir/log_name; by default asserts the build was published (the log's tail otherwise)."""

    def _build(
        data_dir: Path, study: StudySettings, *, log_name: str = "dbt.log", must_publish: bool = True, **options
    ) -> MartsResult:
        log = Path(data_dir) / log_name
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a") as out:
            result = build_marts(data_dir, study=study, out=out, **options)
        if must_publish:
            assert result.published is not None, log.read_text()[-3000:]
        return result

    return _build
