"""The sandbox server's speed and memory (figures quoted in docs/sandbox.md, "Speed and memory").

- signal generation: one Hexoskin subject-hour of every raw channel (`RecordSignals`, no I/O);
- one subject-day of every raw channel as the binary zip, generated in-process by the server's own code
  path (cold caches), for a Hexoskin and an Astroskin subject: CPU seconds (the figure on one core);
- `hexo-sandbox serve` in its own process, as the demo starts it: seconds until its JSON start line, RSS
  after start, then lists, subject-day zips over HTTP and a month of truth, with the server's CPU per
  request and its peak RSS. Full run: a 50 subjects x 30 days study; --quick: 4 x 3 and 1-hour zips.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import requests
from common import Report

ZIP = {"Accept": "application/octet-stream"}


def _all_raw() -> list[int]:
    from hexo_pipeline.hexoskin import datatypes

    return list(datatypes.HEXOSKIN_IDS + datatypes.ASTROSKIN_EXTRA_IDS)


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/<pid>/stat fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int, key: str) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    return float("nan")


def _subject_hour(report: Report, quick: bool) -> None:
    from hexo_pipeline.hexoskin import datatypes as dtc
    from hexo_sandbox.world.physiology import RecordSignals, RecordSpec, Segment

    seconds = 600 if quick else 3600
    half = seconds // 2
    spec = RecordSpec(
        1, 77, 382085877327, seconds, False, (Segment(0, half, "sedentary"), Segment(half, seconds, "walk"))
    )
    t0 = time.perf_counter()
    sig = RecordSignals(spec)
    values = 0
    for dt in sig.datatype_ids():
        if dtc.get(dt).rate_hz is None:
            values += sig.events_raw(dt, 0, sig.duration_s)[0].size
        else:
            values += sig.sync_raw(dt, 0, sig.n_samples(dt)).size
    elapsed = time.perf_counter() - t0
    report.add(
        "subject_hour_generate_s",
        f"signals, Hexoskin subject-{'10 min' if quick else 'hour'}, every raw channel",
        elapsed,
        f"{elapsed:.3f} s",
        f"{values:,} values",
    )


def _generated_zips(report: Report, quick: bool) -> None:
    """The zip /api/data/ serves for one subject-day, generated with no HTTP (signals from scratch)."""
    from hexo_sandbox import StudyConfig
    from hexo_sandbox.formats import data_encoders
    from hexo_sandbox.server.api_data import _zip_parts
    from hexo_sandbox.server.state import build_state

    state = build_state(StudyConfig(subjects=4, days=3))
    study = state.study
    ids = _all_raw()
    for astroskin in (False, True):
        user = next(u for u in study.subjects() if u.astroskin == astroskin)
        records = sorted((r for r in study.records.values() if r.user_id == user.id), key=lambda r: r.start)
        day = max(
            {study.local_date(r.start) for r in records},
            key=lambda d: sum(r.end - r.start for r in records if study.local_date(r.start) == d),
        )
        day_records = [r for r in records if study.local_date(r.start) == day]
        t0 = day_records[0].start if quick else _day_start_ticks(day, study.tz)  # quick: the first record's hour
        t1 = t0 + (3600 if quick else 86400) * 256
        windows = [(r, max(t0, r.start), min(t1, r.end)) for r in records if r.start < t1 and r.end > t0]
        state._signals.clear()
        start = time.process_time()
        size = sum(len(c) for c in data_encoders.iter_data_zip(_zip_parts(state, windows, ids, "/api/data/")))
        cpu = time.process_time() - start
        kind = "Astroskin" if astroskin else "Hexoskin"
        report.add(
            f"zip_generate_cpu_s_{kind.lower()}",
            f"subject-{'hour' if quick else 'day'} zip, {kind}, generated (cold)",
            cpu,
            f"{cpu:.2f} s CPU",
            f"{size / 1e6:.1f} MB stored",
        )


def _day_start_ticks(day: date, tz: ZoneInfo) -> int:
    from hexo_pipeline.hexoskin.timestamps import day_bounds_ticks

    return day_bounds_ticks(day, tz)[0]


def _served(report: Report, quick: bool) -> None:
    """`hexo-sandbox serve` as the demo runs it; every figure over real HTTP on loopback."""
    subjects, days = (4, 3) if quick else (50, 30)
    cmd = [
        sys.executable,
        "-m",
        "hexo_sandbox",
        "serve",
        "--port",
        "0",
        "--quiet",
        "--subjects",
        str(subjects),
        "--days",
        str(days),
    ]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        if not select.select([proc.stdout], [], [], 600)[0]:
            raise RuntimeError("hexo-sandbox serve printed no start line in 600 s")
        info = json.loads(proc.stdout.readline())
        ready = time.perf_counter() - t0
        label = f"{subjects} x {days} study"
        report.add(
            "serve_ready_s",
            f"{label}: `hexo-sandbox serve` ready",
            ready,
            f"{ready:.2f} s",
            "process start to JSON line",
        )
        after_start = _rss_mb(proc.pid, "VmRSS")
        report.add("serve_rss_after_start_mb", f"{label}: RSS after start", after_start, f"{after_start:.0f} MB")
        base = info["base_url"]
        owner = next(a for a in info["accounts"] if a["role"] == "owner")
        auth = (owner["username"], owner["password"])

        def timed(key: str, label_: str, fn) -> None:
            wall, cpu = time.perf_counter(), _cpu_s(proc.pid)
            note = fn()
            wall, cpu = time.perf_counter() - wall, _cpu_s(proc.pid) - cpu
            report.add(
                f"serve_{key}_s",
                f"{label}: {label_}",
                wall,
                f"{wall:.2f} s",
                f"server CPU {cpu:.2f} s{'; ' + note if note else ''}",
            )

        def pages(path: str, **params) -> str:
            n, url, params = 0, path, {**params, "limit": 1000}
            while url:
                page = requests.get(base + url, params=params, auth=auth, timeout=600).json()
                n += len(page["objects"])
                url, params = page["meta"]["next"], {}
            return f"{n:,} objects"

        def first(path: str, n: int) -> str:
            requests.get(base + path, params={"limit": n}, auth=auth, timeout=600).raise_for_status()
            return ""

        timed("records", "all records", lambda: pages("/api/record/"))
        timed("ranges_100", "first 100 ranges (metrics computed)", lambda: first("/api/range/", 100))
        timed("calendar", "calendar, every event", lambda: pages("/api/calendar/"))
        timed("surveyresponses", "survey responses", lambda: pages("/api/surveyresponse/"))
        timed("studymembers", "study members", lambda: pages("/api/studymember/"))
        timed("tracks_100", "first 100 tracks", lambda: first("/api/track/", 100))
        timed("trackpoints", "trackpoints of one track", lambda: pages("/api/trackpoint/", track=1))
        start = date.fromisoformat(info["study"]["start"])
        tz = ZoneInfo(info["study"]["timezone"])
        subject_ids = [a["user_id"] for a in info["accounts"] if a["role"] == "subject"]
        span_s = 3600 if quick else 86400
        ids = ",".join(str(i) for i in _all_raw())
        for i, uid in enumerate(subject_ids[:1] if quick else subject_ids[:3]):
            if quick:  # an hour from the subject's first record
                t_start = requests.get(
                    base + "/api/record/", params={"user": uid, "order_by": "start", "limit": 1}, auth=auth, timeout=600
                ).json()["objects"][0]["start"]
            else:
                t_start = _day_start_ticks(start + timedelta(days=5 + i), tz)
            params = {"user": uid, "start": t_start, "end": t_start + span_s * 256, "datatype__in": ids}

            def fetch(params=params) -> str:
                with requests.get(
                    base + "/api/data/", params=params, headers=ZIP, auth=auth, timeout=600, stream=True
                ) as r:
                    r.raise_for_status()
                    size = sum(len(block) for block in r.iter_content(1 << 20))
                return f"{size / 1e6:.1f} MB"

            timed(f"zip_{uid}", f"subject-{'hour' if quick else 'day'} zip, user {uid}, over HTTP", fetch)
        timed(
            "truth",
            f"truth, one subject, {days} days",
            lambda: (
                requests.get(
                    base + "/sandbox/truth/subject-days", params={"user": subject_ids[0]}, timeout=600
                ).raise_for_status()
                or ""
            ),
        )
        peak = _rss_mb(proc.pid, "VmHWM")
        report.add("serve_peak_rss_mb", f"{label}: peak RSS", peak, f"{peak:.0f} MB")
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def run(quick: bool = False) -> Report:
    report = Report("Sandbox server (generation, zips, a served study)")
    _subject_hour(report, quick)
    _generated_zips(report, quick)
    _served(report, quick)
    return report


if __name__ == "__main__":
    run("--quick" in sys.argv).print()
