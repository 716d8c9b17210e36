"""Ground truth (/sandbox/truth/...): its shape, and its numbers recomputed independently from what the
API serves (the project's client over HTTP), with the definitions docs/sandbox.md states."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import requests

from hexo_pipeline.hexoskin import HexoskinClient, HexoskinConfig
from hexo_pipeline.hexoskin.timestamps import day_bounds_ticks
from hexo_sandbox.server.app import create_app

DAY_KEYS = {
    "user_id",
    "username",
    "date",
    "worn_s",
    "hr_mean_bpm",
    "hr_min_bpm",
    "hr_max_bpm",
    "rmssd_ms",
    "sdnn_ms",
    "avnn_ms",
    "br_mean_rpm",
    "rr_clean_n",
    "steps",
    "sleep_s",
    "energy_kcal",
    "events_scheduled",
    "events_done",
    "survey_answered",
    "survey_answers",
}


def owner(handle) -> dict:
    return next(a for a in handle.info["accounts"] if a["role"] == "owner")


def truth(handle, path: str, **params):
    r = requests.get(handle.base_url + path, params=params, timeout=120)  # loopback: no credentials needed
    assert r.status_code == 200, r.text
    return r.json()


def test_subject_days_shape_and_coverage(sandbox):
    rows = truth(sandbox, "/sandbox/truth/subject-days")
    assert rows and all(set(r) == DAY_KEYS for r in rows)
    members = {m.user_id: m for m in sandbox.state.study.memberships.values()}
    for uid, m in members.items():
        days = [r["date"] for r in rows if r["user_id"] == uid]
        expected = [(m.onboarding + timedelta(days=i)).isoformat() for i in range((m.end_date - m.onboarding).days + 1)]
        assert days == expected
    worn = [r for r in rows if r["worn_s"] > 0]
    assert worn and any(r["worn_s"] == 0 and r["hr_mean_bpm"] is None for r in rows), "missed days"
    assert all(40 < r["hr_mean_bpm"] < 130 and r["hr_min_bpm"] <= r["hr_mean_bpm"] <= r["hr_max_bpm"] for r in worn)
    assert any(r["sleep_s"] > 3600 for r in rows) and any(r["survey_answered"] for r in rows)
    one = truth(sandbox, "/sandbox/truth/subject-days", user=rows[0]["username"], date=rows[1]["date"])
    assert one == [next(r for r in rows if r["user_id"] == rows[0]["user_id"] and r["date"] == rows[1]["date"])]
    span = truth(
        sandbox, "/sandbox/truth/subject-days", user=rows[0]["user_id"], start=rows[0]["date"], end=rows[1]["date"]
    )
    assert [r["date"] for r in span] == [rows[0]["date"], rows[1]["date"]]


def test_subject_day_truth_matches_an_independent_computation_from_the_api(sandbox):
    rows = truth(sandbox, "/sandbox/truth/subject-days")
    row = max((r for r in rows if r["sleep_s"] > 0), key=lambda r: r["worn_s"])  # a day with a midnight record
    acc = owner(sandbox)
    tz = ZoneInfo(sandbox.info["study"]["timezone"])
    t0, t1 = day_bounds_ticks(date.fromisoformat(row["date"]), tz)
    cfg = HexoskinConfig(base_url=sandbox.base_url, auth="basic", username=acc["username"], password=acc["password"])
    with HexoskinClient(cfg) as api:
        recs = list(api.iter_list("record", user=row["user_id"], start__lt=t1, end__gt=t0))
        assert any(r["start"] < t0 or r["end"] > t1 for r in recs), "a record crosses a day boundary"
        hr, hq, br, bq, rr_all, _ok_all, steps = [], [], [], [], [], [], 0
        diffs = []
        for rec in recs:
            a, b = max(t0, rec["start"]), min(t1, rec["end"])
            d = api.get_data([19, 1000, 33, 1001, 18, 1004, 52], record=rec["id"], start=a, end=b)
            hr += list(d[19].values)
            hq += list(d[1000].values)
            br += list(d[33].values)
            bq += list(d[1001].values)
            rr, ok = d[18].values * 1000, d[1004].values == 0  # JSON carries seconds
            rr_all += list(rr[ok])
            diffs += list(np.diff(rr)[ok[1:] & ok[:-1]])  # successive pairs within one record only
            steps += len(d[52].values)
        ranges = list(api.iter_list("range", user=row["user_id"], activitytype=12, start__lt=t1, end__gt=t0))
        events = list(api.iter_list("calendar", user=row["user_id"], date=row["date"]))
        answers = list(api.iter_list("surveyresponse", user=row["user_id"], date=row["date"]))
    hr, hq, br, bq = map(np.asarray, (hr, hq, br, bq))
    clean = hr[(hq == 0) & (hr > 0)]
    worn = sum(min(t1, r["end"]) - max(t0, r["start"]) for r in recs) / 256
    assert row["worn_s"] == pytest.approx(worn, abs=1e-3)
    assert row["hr_mean_bpm"] == pytest.approx(clean.mean(), abs=1e-6)
    assert (row["hr_min_bpm"], row["hr_max_bpm"]) == (clean.min(), clean.max())
    assert row["br_mean_rpm"] == pytest.approx(br[(bq == 0) & (br > 0)].mean(), abs=1e-6)
    assert row["rr_clean_n"] == len(rr_all)
    assert row["sdnn_ms"] == pytest.approx(np.std(rr_all, ddof=1), abs=1e-4)
    assert row["avnn_ms"] == pytest.approx(np.mean(rr_all), abs=1e-6)
    assert row["rmssd_ms"] == pytest.approx(np.sqrt(np.mean(np.square(diffs))), abs=1e-4)
    assert row["steps"] == steps
    sleep = sum(min(t1, r["end"]) - max(t0, r["start"]) for r in ranges) / 256
    assert row["sleep_s"] == pytest.approx(sleep, abs=1.0)
    assert row["events_scheduled"] == len(events) and row["events_done"] == sum(e["done"] for e in events)
    assert row["survey_answered"] == bool(answers)
    if answers:
        assert row["survey_answers"] == answers[0]["answers"]


def test_record_truth_is_the_whole_record_and_agrees_with_the_record_metrics(sandbox):
    rows = truth(sandbox, "/sandbox/truth/records")
    assert {r["record_id"] for r in rows} == set(sandbox.state.study.records)
    row = rows[0]
    acc = owner(sandbox)
    rec = requests.get(
        sandbox.base_url + f"/api/record/{row['record_id']}/",
        params={"include_metrics": "44,71,12"},
        auth=(acc["username"], acc["password"]),
        timeout=60,
    ).json()
    metrics = {m["id"]: m["value"] for m in rec["metrics"]}
    assert metrics[44] == pytest.approx(row["hr_mean_bpm"], abs=1e-5)
    assert metrics[71] == row["steps"] and metrics[12] == pytest.approx(row["br_mean_rpm"], abs=1e-5)
    assert row["worn_s"] == (rec["end"] - rec["start"]) / 256
    assert truth(sandbox, "/sandbox/truth/records", record=row["record_id"]) == [row]


def test_truth_needs_no_ecg_and_is_cached(make_sandbox):
    sb = make_sandbox(subjects=2, days=2)
    truth(sb, "/sandbox/truth/subject-days")
    signals = list(sb.state._signals.values())
    assert signals and all("_ecg_tables" not in s.__dict__ for s in signals)
    assert all("_activity" not in s.__dict__ for s in signals)
    cached = dict(sb.state._truth_days)
    truth(sb, "/sandbox/truth/subject-days")
    assert sb.state._truth_days == cached


def test_truth_off_loopback_needs_the_owner_or_an_admin(make_sandbox):
    """Off loopback (a WSGI call with another client address): owner or admin credentials required."""
    sb = make_sandbox(subjects=1, days=1)
    web = create_app(sb.state).test_client()
    remote = {"REMOTE_ADDR": "10.1.2.3"}
    assert web.get("/sandbox/truth/subject-days", environ_base=remote).status_code == 401
    accs = {a["role"]: a for a in sb.info["accounts"]}
    subject = accs["subject"]
    headers = lambda a: {
        "Authorization": "Basic " + __import__("base64").b64encode(f"{a['username']}:{a['password']}".encode()).decode()
    }
    assert web.get("/sandbox/truth/subject-days", environ_base=remote, headers=headers(subject)).status_code == 403
    assert (
        web.get("/sandbox/truth/subject-days", environ_base=remote, headers=headers(accs["admin"])).status_code == 200
    )
    assert web.post("/sandbox/clock", json={"now": None}, environ_base=remote).status_code == 401


def test_truth_ignores_the_clock(make_sandbox):
    sb = make_sandbox(subjects=2, days=2)
    before = truth(sb, "/sandbox/truth/subject-days")
    sb.set_now(datetime(2026, 10, 5, tzinfo=UTC))  # nothing synced yet
    acc = owner(sb)
    assert (
        requests.get(sb.base_url + "/api/record/", auth=(acc["username"], acc["password"]), timeout=10).json()[
            "objects"
        ]
        == []
    )
    sb.state._truth_days.clear()
    assert truth(sb, "/sandbox/truth/subject-days") == before
