"""The sandbox at size (behaviour only; the speed figures are `make bench`'s, benchmarks/bench_sandbox.py):
- one subject-day of every raw channel as a binary zip, served over HTTP, is the zip the server's code
  generates (Hexoskin and Astroskin);
- a sandbox process serving a 50 subjects x 30 days study's lists, a few zips and truth stays under a
  generous memory ceiling."""

from __future__ import annotations

import json
import select
import subprocess
import sys
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from hexo_pipeline.hexoskin import datatypes
from hexo_pipeline.hexoskin.timestamps import day_bounds_ticks

ALL_RAW = ",".join(str(i) for i in datatypes.HEXOSKIN_IDS + datatypes.ASTROSKIN_EXTRA_IDS)
ZIP = {"Accept": "application/octet-stream"}


def owner_auth(info: dict) -> tuple[str, str]:
    acc = next(a for a in info["accounts"] if a["role"] == "owner")
    return acc["username"], acc["password"]


def subject_day_zip(base_url: str, auth, user_id: int, day: date, tz: str) -> int:
    t0, t1 = day_bounds_ticks(day, ZoneInfo(tz))
    with requests.get(
        base_url + "/api/data/",
        params={"user": user_id, "start": t0, "end": t1, "datatype__in": ALL_RAW},
        headers=ZIP,
        auth=auth,
        timeout=600,
        stream=True,
    ) as r:
        assert r.status_code == 200
        return sum(len(block) for block in r.iter_content(1 << 20))  # as the client downloads: 1 MiB reads


def _generate_only(state, user_id: int, day: date) -> int:
    """Server side alone: the zip generated (signals from scratch) and written nowhere."""
    from hexo_sandbox.formats import data_encoders
    from hexo_sandbox.server.api_data import _zip_parts

    state._signals.clear()
    t0, t1 = day_bounds_ticks(day, state.study.tz)
    windows = [
        (r, max(t0, r.start), min(t1, r.end))
        for r in sorted(state.study.records.values(), key=lambda r: r.start)
        if r.user_id == user_id and r.start < t1 and r.end > t0
    ]
    ids = [int(i) for i in ALL_RAW.split(",")]
    return sum(len(c) for c in data_encoders.iter_data_zip(_zip_parts(state, windows, ids, "/api/data/")))


@pytest.mark.slow
def test_subject_day_zip_over_http_is_the_generated_zip(make_sandbox):
    sb = make_sandbox(subjects=4, days=3)
    study = sb.state.study
    auth = owner_auth(sb.info)
    kinds = set()
    for user in study.subjects():
        days = sorted({study.local_date(r.start) for r in study.records.values() if r.user_id == user.id})
        day = max(days, key=lambda d: _generate_only(sb.state, user.id, d))
        size = _generate_only(sb.state, user.id, day)
        sb.state._signals.clear()  # cold caches, as a first download meets them
        http_size = subject_day_zip(sb.base_url, auth, user.id, day, study.config.timezone)
        assert size > 10e6  # hours of every raw channel
        assert abs(http_size - size) < 10_000  # (info.json holds the request path)
        kinds.add(user.astroskin)
    assert kinds == {False, True}  # Hexoskin and Astroskin subjects both served


def _rss_mb(pid: int, key: str) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return float("nan")


@pytest.mark.slow
def test_50_subjects_30_days_peak_memory():
    proc = subprocess.Popen(
        [sys.executable, "-m", "hexo_sandbox", "serve", "--port", "0", "--quiet", "--subjects", "50", "--days", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert select.select([proc.stdout], [], [], 300)[0], "no JSON start line within 300 s"
        info = json.loads(proc.stdout.readline())
        base, auth = info["base_url"], owner_auth(info)

        def pages(path: str, **params) -> int:
            n, url, params = 0, path, {**params, "limit": 1000}
            while url:
                page = requests.get(base + url, params=params, auth=auth, timeout=600).json()
                n += len(page["objects"])
                url, params = page["meta"]["next"], {}
            return n

        assert pages("/api/record/") > 2000
        assert (
            len(requests.get(base + "/api/range/", params={"limit": 100}, auth=auth, timeout=600).json()["objects"])
            == 100
        )
        assert pages("/api/calendar/") > 3000
        assert pages("/api/surveyresponse/") > 0
        assert pages("/api/studymember/") == 50
        assert requests.get(base + "/api/track/", params={"limit": 100}, auth=auth, timeout=600).ok
        assert pages("/api/trackpoint/", track=1) > 0
        start = date.fromisoformat(info["study"]["start"])
        for i, uid in enumerate((101, 104, 150)):
            assert subject_day_zip(base, auth, uid, start + timedelta(days=5 + i), info["study"]["timezone"]) > 0
        truth = requests.get(base + "/sandbox/truth/subject-days", params={"user": 101}, timeout=600).json()
        assert len(truth) >= 25  # a month of days, minus the days the subject did not wear the shirt
        peak = _rss_mb(proc.pid, "VmHWM")
        assert peak < 1024, f"peak RSS {peak:.0f} MB"  # only metadata and small results stay in memory
    finally:
        proc.terminate()
        assert proc.wait(timeout=60) == 0
