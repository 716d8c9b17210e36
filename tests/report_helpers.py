"""Shared by the report tests: headless Chromium runs and the lakes the reports are built from."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest

from hexo_pipeline.lake.quarantine import move_to_quarantine
from hexo_pipeline.lake.store import Lake

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
STUDY_TABLES = {"_manifest", "datatypes", "study", "study_groups", "study_group_history", "study_members", "subjects"}


def browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("headless Chromium is not installed here (apt-get install -y chromium; .ci/run installs it)")


def chromium(args: list[str], page: Path, profile: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    command = [
        browser(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--hide-scrollbars",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--virtual-time-budget=5000",
        *args,
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def make_edge_cases(root: Path, start: date, days: int) -> None:
    """On a 4-subject synthetic lake (groups: control 3, intervention 1): syn003 loses every subject-day
    partition (a subject with no data), no survey response anywhere (a study without surveys), syn001's
    second day has no calendar event (a day with no schedule), and one file sits in quarantine."""
    lake = Lake(root / "lake")
    users = [f"5e7a0c1d_syn00{i}" for i in range(1, 5)]
    for dataset in sorted(p.name for p in lake.root.iterdir() if p.is_dir() and p.name not in STUDY_TABLES):
        for k in range(-1, days + 2):
            day = start + timedelta(days=k)
            if dataset == "survey_responses":
                for subject in users:
                    lake.write_partition(dataset, subject, day, None)
            else:
                lake.write_partition(dataset, users[2], day, None)
    lake.write_partition("calendar_events", users[0], start + timedelta(days=1), None)
    bad = root / "inbox" / "garbled.fit"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(b"not a fit file")
    move_to_quarantine(root, bad, "FIT header: bad magic bytes", relative="inbox/garbled.fit")
