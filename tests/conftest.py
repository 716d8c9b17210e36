"""Shared fixtures: a real sandbox server on loopback (free port), stopped by the test session."""

from __future__ import annotations

import os
import re
from dataclasses import fields
from datetime import date
from pathlib import Path

import pytest

from hexo_sandbox import FaultConfig, StudyConfig, start_sandbox

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HEXO_SHARED_DIR", REPO.parent / "shared"))

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
