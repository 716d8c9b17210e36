"""Fault injection, driven through the project's client: 500/502/503, 429 with Retry-After, latency,
truncated bodies, reset connections, early token expiry and late-arriving data (with the sandbox clock).
Also: faults are off by default, and `sandbox serve` takes them as flags and from the environment."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from hexo_pipeline.hexoskin import HexoskinClient, HexoskinConfig
from hexo_sandbox import FaultConfig, StudyConfig, start_sandbox

FAST = {"backoff_factor": 0.01, "backoff_max_s": 0.2, "backoff_jitter_s": 0.0}


def owner(handle) -> dict:
    return next(a for a in handle.info["accounts"] if a["role"] == "owner")


def client(handle, scheme: str = "basic", **overrides) -> HexoskinClient:
    acc = owner(handle)
    cfg = {
        "base_url": handle.base_url,
        "auth": scheme,
        "username": acc["username"],
        "password": acc["password"],
        **FAST,
    }
    if scheme == "oauth2":
        cfg.update(client_id=handle.info["oauth2"]["client_id"], client_secret=handle.info["oauth2"]["client_secret"])
    cfg.update(overrides)
    return HexoskinClient(HexoskinConfig(**cfg))


@pytest.fixture(scope="module")
def clean():
    """What a fault-free sandbox of the same (default) study answers: the reference for every fault.
    A sandbox of its own: the shared one is written to by other tests."""
    handle = start_sandbox(study=StudyConfig(), faults=FaultConfig())
    try:
        with client(handle) as api:
            records = list(api.iter_list("record", page_size=4))
            hr = api.get_data(
                [19, 18], record=records[0]["id"], start=records[0]["start"], end=records[0]["start"] + 1800 * 256
            )
    finally:
        handle.stop()
    return {"records": records, "hr": hr}


def same_answers(api: HexoskinClient, clean: dict) -> None:
    """A paged list and windowed data, through the fault: exactly what the clean sandbox answered."""
    records = list(api.iter_list("record", page_size=4))
    assert records == clean["records"]
    rec = records[0]
    hr = api.get_data([19, 18], record=rec["id"], start=rec["start"], end=rec["start"] + 1800 * 256)
    for dt in (19, 18):
        assert (hr[dt].timestamps == clean["hr"][dt].timestamps).all()
        assert (hr[dt].values == clean["hr"][dt].values).all()


def test_faults_are_off_by_default(sandbox):
    assert not FaultConfig().active and not sandbox.state.fault_config.active
    assert FaultConfig.from_env({}) == FaultConfig()


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried(make_sandbox, clean, status):
    sb = make_sandbox(**{f"fault_{status}_rate": 0.25, "seed": 7})
    with client(sb, max_retries=10) as api:
        same_answers(api, clean)
    assert sb.state.faults.counts.get(str(status), 0) > 0


def test_429_carries_retry_after_and_the_client_waits(make_sandbox, clean):
    sb = make_sandbox(rate_429=0.2, retry_after_s=1)
    raw = [
        requests.get(sb.base_url + "/api/user/", auth=(owner(sb)["username"], owner(sb)["password"]), timeout=10)
        for _ in range(12)
    ]
    limited = [r for r in raw if r.status_code == 429]
    assert limited and all(r.headers["Retry-After"] == "1" for r in limited)
    with client(sb, max_retries=10, backoff_max_s=2.0) as api:
        t0 = time.monotonic()
        same_answers(api, clean)
        elapsed = time.monotonic() - t0
    n = sb.state.faults.counts["429"] - len(limited)
    assert n > 0 and elapsed >= 0.9 * n  # Retry-After: 1 honoured before each retry


def test_added_latency(make_sandbox):
    sb = make_sandbox(latency_s=0.2)
    with client(sb) as api:
        t0 = time.monotonic()
        for _ in range(3):
            api.get("user")
        assert time.monotonic() - t0 >= 0.6


def test_truncated_bodies_are_retried(make_sandbox, clean):
    """Bodies cut short (Content-Length promises more): the client must retry idempotent GETs whose body
    read fails. urllib3's Retry covers failures before the headers, not while reading the body."""
    sb = make_sandbox(truncate_rate=0.3)
    with client(sb, max_retries=10) as api:
        same_answers(api, clean)
    assert sb.state.faults.counts.get("truncate", 0) > 0


def test_reset_connections_are_retried(make_sandbox, clean):
    sb = make_sandbox(reset_rate=0.3)
    with client(sb, max_retries=10) as api:
        same_answers(api, clean)
    assert sb.state.faults.counts.get("reset", 0) > 0


def test_early_token_expiry_is_survived_by_refreshing(make_sandbox):
    sb = make_sandbox(early_expiry_s=1.0)  # expires_in still says 3600
    o = sb.info["oauth2"]
    tok = requests.post(
        o["token_url"],
        data={"grant_type": "password", "username": owner(sb)["username"], "password": owner(sb)["password"]},
        auth=(o["client_id"], o["client_secret"]),
        timeout=10,
    ).json()
    assert tok["expires_in"] == 3600
    time.sleep(1.1)
    dead = requests.get(
        sb.base_url + "/api/user/", headers={"Authorization": f"Bearer {tok['access_token']}"}, timeout=10
    )
    assert dead.status_code == 401
    with client(sb, "oauth2") as api:
        first = api.token["access_token"] if api.get("user") else None
        time.sleep(1.1)
        assert api.get("user")["objects"]  # 401, one refresh, replayed
        assert api.token["access_token"] != first


def test_late_arriving_data_with_the_sandbox_clock(make_sandbox):
    """Records that sync days late are absent at first, then appear; some are first seen half-synced and
    grow; last_modified moves with each sync, so `last_modified__gt=<cursor>` finds every change."""
    sb = make_sandbox(subjects=6, days=4, late_data_rate=0.5)
    study = sb.state.study
    late = [
        r for r in study.records.values() if r.synced_at - datetime.fromtimestamp(r.end / 256, UTC) > timedelta(days=1)
    ]
    assert len(late) >= 4 and any(r.partial_end for r in late)
    end = datetime.combine(study.end_date, datetime.min.time(), tzinfo=study.tz) + timedelta(days=1, hours=6)
    sb.set_now(end)
    with client(sb) as api:
        first = {r["id"]: r for r in api.iter_list("record")}
        cursor = max(r["last_modified"] for r in first.values())
        unseen = {
            r.id for r in late if r.synced_at > end and (r.partial_synced_at is None or r.partial_synced_at > end)
        }
        assert unseen and unseen & set(first) == set()
        grown = [r for r in late if r.partial_synced_at and r.partial_synced_at <= end < r.synced_at]
        for r in grown:
            assert first[r.id]["end"] == r.partial_end and first[r.id]["status"] == "syncing"
        sb.set_now(end + timedelta(days=5))
        changed = {r["id"]: r for r in api.iter_list("record", last_modified__gt=cursor)}
        assert {r.id for r in late if r.synced_at > end} <= set(changed)
        for r in grown:
            assert changed[r.id]["end"] == r.end > first[r.id]["end"] and changed[r.id]["status"] == "complete"
        assert len(list(api.iter_list("record"))) == len(study.records)


def test_the_clock_endpoint_from_loopback(make_sandbox):
    sb = make_sandbox(subjects=1, days=1)
    assert requests.get(sb.base_url + "/sandbox/clock", timeout=10).json()["fixed"] is False
    r = requests.post(sb.base_url + "/sandbox/clock", json={"now": "2026-10-05T12:00:00+00:00"}, timeout=10)
    assert r.json() == {"now": "2026-10-05T12:00:00+00:00", "fixed": True}
    assert (
        requests.get(
            sb.base_url + "/api/record/", auth=(owner(sb)["username"], owner(sb)["password"]), timeout=10
        ).json()["meta"]["total_count"]
        == 0
    )  # nothing synced yet
    assert requests.post(sb.base_url + "/sandbox/clock", json={"later": 1}, timeout=10).status_code == 400
    assert requests.post(sb.base_url + "/sandbox/clock", json={"now": None}, timeout=10).json()["fixed"] is False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("how", ["flag", "env"])
def test_serve_takes_faults_as_flags_and_from_the_environment(how):
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "hexo_pipeline.cli",
        "sandbox",
        "serve",
        "--port",
        str(port),
        "--subjects",
        "1",
        "--days",
        "1",
    ]
    env = dict(os.environ)
    if how == "flag":
        cmd += ["--rate-503", "1", "--retry-after-s", "3"]
    else:
        env.update(HEXO_SANDBOX_RATE_503="1", HEXO_SANDBOX_RETRY_AFTER_S="3")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        info = json.loads(proc.stdout.readline())
        acc = info["accounts"][0]
        r = requests.get(info["base_url"] + "/api/user/", auth=(acc["username"], acc["password"]), timeout=10)
        assert r.status_code == 503 and r.headers["Retry-After"] == "3"
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
