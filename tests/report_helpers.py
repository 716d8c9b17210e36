"""Shared by the report tests: headless Chromium runs and the lakes the reports are built from."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pyarrow.compute as pc
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


SUMMARY_DATASETS = ("vitals_minutes", "hrv_windows", "steps_minutes", "astroskin_minutes", "sleep_positions")
SIGNAL_QUARANTINE = "BadZipFile: File is not a zip file"


def make_edge_cases(root: Path, start: date, days: int) -> None:
    """On a 4-subject synthetic lake (groups: control 3, intervention 1): syn003 loses every subject-day
    partition (a subject with no data), no survey response anywhere (a study without surveys), syn001's
    second day has no calendar event (a day with no schedule), one inbox file sits in quarantine; and, for
    the completeness marts: syn002's second day keeps its records but loses its signals and summaries (a
    failed signals step), syn001's third day has a signal download in quarantine (its earlier files stay),
    syn004's third day keeps its summaries but not its signal files (a lake of summaries only, as
    benchmarks/scale_lake.py writes: not a gap), and one range of syn001 reports a heart rate of 400 bpm (a
    warn-severity check fails)."""
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
    for dataset in sorted(p.name for p in lake.root.iterdir() if p.is_dir()):
        if dataset.startswith("signals_") or dataset in SUMMARY_DATASETS:
            lake.write_partition(dataset, users[1], start + timedelta(days=1), None)
        if dataset.startswith("signals_"):
            lake.write_partition(dataset, users[3], start + timedelta(days=2), None)
    zipped = root / "record_7.zip"
    zipped.write_bytes(b"PK\x03\x04 cut short")
    third = (start + timedelta(days=2)).isoformat()
    move_to_quarantine(
        root, zipped, SIGNAL_QUARANTINE, relative=f"signals/subject={users[0]}/date={third}/record_7.zip"
    )
    for k in range(days):
        metrics = lake.read_partition("range_metrics", users[0], start + timedelta(days=k))
        if metrics is not None:
            hr = pc.if_else(pc.equal(metrics["metric_id"], 44), 400.0, metrics["value"])
            table = metrics.set_column(metrics.schema.get_field_index("value"), "value", hr)
            lake.write_partition("range_metrics", users[0], start + timedelta(days=k), table)
            break
