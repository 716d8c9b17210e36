"""Speed and memory, measured (printed, not asserted, except a generous memory ceiling):
- one subject-day of every raw channel as a binary zip, generated and served (Hexoskin and Astroskin);
- the peak RSS of a sandbox process serving a 50 subjects x 30 days study's lists and a few zips.
Run with `pytest -m slow -s tests/test_sandbox_perf.py` to see the figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
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


def subject_day_zip(base_url: str, auth, user_id: int, day: date, tz: str) -> tuple[float, int]:
    t0, t1 = day_bounds_ticks(day, ZoneInfo(tz))
    start = time.perf_counter()
    with requests.get(base_url + "/api/data/", params={"user": user_id, "start": t0, "end": t1,
                      "datatype__in": ALL_RAW}, headers=ZIP, auth=auth, timeout=120, stream=True) as r:
        assert r.status_code == 200
        size = sum(len(block) for block in r.iter_content(1 << 20))  # as the client downloads: 1 MiB reads
    return time.perf_counter() - start, size


def _generate_only(state, user_id: int, day: date) -> tuple[float, int]:
    """Server side alone: the zip generated (signals from scratch) and written nowhere."""
    from hexo_pipeline.sandbox import formats
    from hexo_pipeline.sandbox.api_data import _zip_parts

    state._signals.clear()
    t0, t1 = day_bounds_ticks(day, state.study.tz)
    windows = [(r, max(t0, r.start), min(t1, r.end)) for r in sorted(state.study.records.values(), key=lambda r: r.start)
               if r.user_id == user_id and r.start < t1 and r.end > t0]
    ids = [int(i) for i in ALL_RAW.split(",")]
    start = time.process_time()  # CPU seconds of this process: the figure on one core, whatever the load
    size = sum(len(c) for c in formats.iter_data_zip(_zip_parts(state, windows, ids, "/api/data/")))
    return time.process_time() - start, size


@pytest.mark.slow
def test_subject_day_zip_speed(make_sandbox):
    sb = make_sandbox(subjects=4, days=3)
    study = sb.state.study
    auth = owner_auth(sb.info)
    print()
    for user in study.subjects():
        days = sorted({study.local_date(r.start) for r in study.records.values() if r.user_id == user.id})
        day = max(days, key=lambda d: _generate_only(sb.state, user.id, d)[1])
        gen_s, size = _generate_only(sb.state, user.id, day)
        sb.state._signals.clear()
        http_s, http_size = subject_day_zip(sb.base_url, auth, user.id, day, study.config.timezone)
        assert abs(http_size - size) < 10_000  # (info.json holds the request path)
        kind = "Astroskin" if user.astroskin else "Hexoskin"
        print(f"subject-day zip, every raw channel, {kind} {user.username} {day}: {size / 1e6:.1f} MB; "
              f"generated in {gen_s:.2f} s of CPU, generated and served over HTTP in {http_s:.2f} s wall (cold caches)")


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/<pid>/stat fields 14 and 15)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int, key: str) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return float("nan")


@pytest.mark.slow
def test_50_subjects_30_days_peak_memory():
    code = ("from hexo_pipeline.sandbox.server import serve_forever;"
            "from hexo_pipeline.sandbox import StudyConfig, FaultConfig;"
            "serve_forever('127.0.0.1', 0, StudyConfig(subjects=50, days=30), FaultConfig())")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        ready = time.perf_counter() - t0
        base, auth = info["base_url"], owner_auth(info)
        after_start = _rss_mb(proc.pid, "VmRSS")
        timings = {}

        def timed(label: str, fn):
            s, cpu = time.perf_counter(), _cpu_s(proc.pid)
            result = fn()
            timings[label] = (time.perf_counter() - s, _cpu_s(proc.pid) - cpu)
            return result

        def pages(path: str, **params) -> int:
            n, url, params = 0, path, {**params, "limit": 1000}
            while url:
                page = requests.get(base + url, params=params, auth=auth, timeout=600).json()
                n += len(page["objects"])
                url, params = page["meta"]["next"], {}
            return n

        n_records = timed("all records (3 pages)", lambda: pages("/api/record/"))
        timed("range list, first 100 (metrics computed)",
              lambda: requests.get(base + "/api/range/", params={"limit": 100}, auth=auth, timeout=600).json())
        n_events = timed("calendar, every event", lambda: pages("/api/calendar/"))
        timed("survey responses", lambda: pages("/api/surveyresponse/"))
        timed("study members", lambda: pages("/api/studymember/"))
        timed("tracks, first 100", lambda: requests.get(base + "/api/track/", params={"limit": 100}, auth=auth,
                                                          timeout=600).json())
        timed("trackpoints of one track", lambda: pages("/api/trackpoint/", track=1))
        start = date.fromisoformat(info["study"]["start"])
        for i, uid in enumerate((101, 104, 150)):
            timed(f"subject-day zip {uid}", lambda: subject_day_zip(base, auth, uid, start + timedelta(days=5 + i),
                                                                      info["study"]["timezone"]))
        timed("truth, one subject, 30 days",
              lambda: requests.get(base + "/sandbox/truth/subject-days", params={"user": 101}, timeout=600).json())
        peak = _rss_mb(proc.pid, "VmHWM")
        print(f"\n50 x 30 study: {n_records} records, {n_events} calendar events; ready in {ready:.1f} s; "
              f"RSS after start {after_start:.0f} MB; peak RSS {peak:.0f} MB")
        for label, (seconds, cpu) in timings.items():
            print(f"  {label}: {seconds:.2f} s wall, server CPU {cpu:.2f} s")
        assert peak < 1024, f"peak RSS {peak:.0f} MB"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
