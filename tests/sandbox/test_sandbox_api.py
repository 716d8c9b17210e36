"""The sandbox's Tastypie semantics and authentication, over real HTTP with plain `requests`."""

from __future__ import annotations

import hashlib
import json
import select
import subprocess
import sys
import time
from datetime import UTC
from urllib.parse import parse_qs, urlsplit

import requests

from hexo_sandbox.world.study import StudyConfig, build_study


def owner(handle) -> tuple[str, str]:
    acc = next(a for a in handle.info["accounts"] if a["role"] == "owner")
    return acc["username"], acc["password"]


def subject(handle, n: int = 0) -> dict:
    return [a for a in handle.info["accounts"] if a["role"] == "subject"][n]


def get(handle, path: str, auth=None, **params):
    return requests.get(handle.base_url + path, params=params, auth=auth or owner(handle), timeout=30)


# -- lists, paging, filters, ordering ---------------------------------------------------------------


def test_list_meta_defaults_and_limit_zero(sandbox):
    body = get(sandbox, "/api/datatype/").json()
    meta = body["meta"]
    assert meta["limit"] == 20 and meta["offset"] == 0 and meta["previous"] is None
    assert meta["total_count"] > 20 and len(body["objects"]) == 20
    assert meta["next"].startswith("/api/datatype/?") and "offset=20" in meta["next"]
    everything = get(sandbox, "/api/datatype/", limit=0).json()
    assert len(everything["objects"]) == meta["total_count"] and everything["meta"]["next"] is None
    ecg = next(o for o in everything["objects"] if o["dataid"] == 4113)
    assert ecg == {
        "dataid": 4113,
        "hexo_freq": 1,
        "info": ecg["info"],
        "name": "ECG_I",
        "resource_uri": "/api/datatype/4113/",
    }


def test_paging_a_list_longer_than_1000_with_next(make_sandbox):
    big = make_sandbox(subjects=24, days=24)
    first = get(big, "/api/record/", limit=5000).json()  # capped at the maximum page size
    total = first["meta"]["total_count"]
    assert total > 1000 and first["meta"]["limit"] == 1000 and len(first["objects"]) == 1000
    ids, starts, url = [], [], "/api/record/?limit=1000&order_by=-start"
    while url:
        page = requests.get(big.base_url + url, auth=owner(big), timeout=30).json()
        ids += [o["id"] for o in page["objects"]]
        starts += [o["start"] for o in page["objects"]]
        url = page["meta"]["next"]
        if url:
            assert "order_by=-start" in url  # next keeps the other parameters
    assert len(ids) == len(set(ids)) == total
    assert starts == sorted(starts, reverse=True)


def test_filter_operators_on_records(sandbox):
    records = get(sandbox, "/api/record/", limit=0).json()["objects"]
    starts = sorted(r["start"] for r in records)
    mid = starts[len(starts) // 2]
    user_id = records[0]["user"]["id"]
    cases = {
        "start": (lambda r: r["start"] == mid, {"start": mid}),
        "start__exact": (lambda r: r["start"] == mid, {"start__exact": mid}),
        "start__gt": (lambda r: r["start"] > mid, {"start__gt": mid}),
        "start__gte": (lambda r: r["start"] >= mid, {"start__gte": mid}),
        "start__lt": (lambda r: r["start"] < mid, {"start__lt": mid}),
        "start__lte": (lambda r: r["start"] <= mid, {"start__lte": mid}),
        "start__range": (lambda r: starts[2] <= r["start"] <= mid, {"start__range": f"{starts[2]},{mid}"}),
        "id__in": (
            lambda r: r["id"] in {records[0]["id"], records[3]["id"]},
            {"id__in": f"{records[0]['id']},{records[3]['id']}"},
        ),
        "user shorthand": (lambda r: r["user"]["id"] == user_id, {"user": user_id}),
        "user URI": (lambda r: r["user"]["id"] == user_id, {"user": f"/api/user/{user_id}/"}),
        "user__exact URI": (lambda r: r["user"]["id"] == user_id, {"user__exact": f"/api/user/{user_id}/"}),
    }
    for label, (keep, params) in cases.items():
        got = {o["id"] for o in get(sandbox, "/api/record/", limit=0, **params).json()["objects"]}
        expected = {r["id"] for r in records if keep(r)}
        assert expected, label
        assert got == expected, label


def test_filter_on_datetime_and_ordering(sandbox):
    records = get(sandbox, "/api/record/", limit=0).json()["objects"]
    cut = sorted(r["last_modified"] for r in records)[len(records) // 3]
    got = get(sandbox, "/api/record/", limit=0, last_modified__gte=cut).json()["objects"]
    assert {o["id"] for o in got} == {r["id"] for r in records if r["last_modified"] >= cut}
    desc = get(sandbox, "/api/record/", limit=0, order_by="-start").json()["objects"]
    assert [o["start"] for o in desc] == sorted((r["start"] for r in records), reverse=True)
    multi = get(sandbox, "/api/range/", limit=0, order_by="user,-start").json()["objects"]
    keys = [(o["user"], -o["start"]) for o in multi]
    assert keys == sorted(keys)


def test_errors_are_json_with_the_right_status(sandbox):
    cases = [
        (get(sandbox, "/api/record/", bogus__gte=3), 400, "does not allow filtering"),
        (get(sandbox, "/api/record/", start__startswith=3), 400, "not an allowed filter"),
        (get(sandbox, "/api/record/", order_by="-firmware_rev"), 400, "ordering"),
        (get(sandbox, "/api/record/", start__gte="yesterday"), 400, "not an integer"),
        (get(sandbox, "/api/record/999999999/"), 404, "No record"),
        (get(sandbox, "/api/nothing/"), 404, "No resource"),
        (requests.delete(sandbox.base_url + "/api/record/", auth=owner(sandbox), timeout=10), 405, "not allowed"),
        (requests.put(sandbox.base_url + "/api/record/", json={}, auth=owner(sandbox), timeout=10), 405, "not allowed"),
        (
            requests.post(sandbox.base_url + "/api/datatype/19/", json={}, auth=owner(sandbox), timeout=10),
            405,
            "not allowed",
        ),
        (
            requests.put(
                sandbox.base_url + "/api/range/999999999/", json={"name": "x"}, auth=owner(sandbox), timeout=10
            ),
            404,
            "No range",
        ),
    ]
    for response, status, fragment in cases:
        assert response.status_code == status, response.text
        assert response.headers["Content-Type"].startswith("application/json")
        assert fragment in response.json()["error"]


def test_detail_and_put_patch(sandbox):
    rg = get(sandbox, "/api/range/", limit=1).json()["objects"][0]
    detail = get(sandbox, rg["resource_uri"]).json()
    assert detail == rg
    assert detail["user"].startswith("/api/user/") and detail["metrics"]
    r = requests.patch(sandbox.base_url + rg["resource_uri"], json={"note": "checked"}, auth=owner(sandbox), timeout=10)
    assert r.status_code == 202 and r.json()["note"] == "checked"
    assert get(sandbox, rg["resource_uri"]).json()["note"] == "checked"


# -- permissions ------------------------------------------------------------------------------------


def test_a_subject_sees_only_its_own_data(sandbox):
    me, other = subject(sandbox, 0), subject(sandbox, 1)
    auth = (me["username"], me["password"])
    users = get(sandbox, "/api/user/", auth=auth).json()["objects"]
    assert [u["id"] for u in users] == [me["user_id"]]
    records = get(sandbox, "/api/record/", auth=auth, limit=0).json()["objects"]
    assert records and {r["user"]["id"] for r in records} == {me["user_id"]}
    theirs = get(sandbox, "/api/record/", limit=0, user=other["user_id"]).json()["objects"][0]
    assert get(sandbox, theirs["resource_uri"], auth=auth).status_code == 404
    owner_users = get(sandbox, "/api/user/", limit=0).json()["objects"]
    assert {me["user_id"], other["user_id"]} <= {u["id"] for u in owner_users}


# -- authentication ---------------------------------------------------------------------------------


def _token(handle, **form):
    o = handle.info["oauth2"]
    return requests.post(o["token_url"], data=form, auth=(o["client_id"], o["client_secret"]), timeout=10)


def test_oauth2_password_refresh_and_expiry(make_sandbox):
    # 3 s: long enough that a loaded CI machine uses a fresh token before it expires, short enough to wait out
    sb = make_sandbox(token_lifetime_s=3.0)
    user, pw = owner(sb)
    tok = _token(sb, grant_type="password", username=user, password=pw, scope="readonly").json()
    assert tok["token_type"] == "Bearer" and tok["scope"] == "readonly"
    bearer = {"Authorization": f"Bearer {tok['access_token']}"}
    assert requests.get(sb.base_url + "/api/user/", headers=bearer, timeout=10).status_code == 200
    time.sleep(3.2)
    expired = requests.get(sb.base_url + "/api/user/", headers=bearer, timeout=10)
    assert expired.status_code == 401 and "expired" in expired.json()["error"]
    new = _token(sb, grant_type="refresh_token", refresh_token=tok["refresh_token"]).json()
    bearer = {"Authorization": f"Bearer {new['access_token']}"}
    assert requests.get(sb.base_url + "/api/user/", headers=bearer, timeout=10).status_code == 200
    # A refresh token is single-use.
    assert _token(sb, grant_type="refresh_token", refresh_token=tok["refresh_token"]).status_code == 400


def test_oauth2_readonly_token_cannot_write(sandbox):
    user, pw = owner(sandbox)
    tok = _token(sandbox, grant_type="password", username=user, password=pw, scope="readonly").json()
    bearer = {"Authorization": f"Bearer {tok['access_token']}"}
    rg = requests.get(sandbox.base_url + "/api/range/?limit=1", headers=bearer, timeout=10).json()["objects"][0]
    denied = requests.patch(sandbox.base_url + rg["resource_uri"], json={"note": "x"}, headers=bearer, timeout=10)
    assert denied.status_code == 403


def test_oauth2_rejects_bad_client_and_bad_password(sandbox):
    user, _ = owner(sandbox)
    o = sandbox.info["oauth2"]
    bad_client = requests.post(
        o["token_url"],
        data={"grant_type": "password", "username": user, "password": "x"},
        auth=(o["client_id"], "wrong"),
        timeout=10,
    )
    assert bad_client.status_code == 401
    assert _token(sandbox, grant_type="password", username=user, password="wrong").status_code == 400
    assert (
        requests.get(sandbox.base_url + "/api/user/", headers={"Authorization": "Bearer nope"}, timeout=10).status_code
        == 401
    )


def test_oauth2_authorization_code_grant(sandbox):
    user, pw = owner(sandbox)
    o = sandbox.info["oauth2"]
    redirect = "https://example.org/callback"
    r = requests.get(
        o["authorize_url"],
        params={
            "response_type": "code",
            "client_id": o["client_id"],
            "redirect_uri": redirect,
            "state": "xyz",
            "scope": "readwrite",
        },
        auth=(user, pw),
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code == 302
    loc = urlsplit(r.headers["Location"])
    q = parse_qs(loc.query)
    assert loc.netloc == "example.org" and q["state"] == ["xyz"]
    tok = _token(sandbox, grant_type="authorization_code", code=q["code"][0], redirect_uri=redirect)
    assert tok.status_code == 200 and tok.json()["scope"] == "readwrite"
    again = _token(sandbox, grant_type="authorization_code", code=q["code"][0], redirect_uri=redirect)
    assert again.status_code == 400  # codes are single-use


def _signed(handle, path: str, ts: int | None = None, secret: str | None = None, basic=None):
    key = handle.info["api_keys"][0]
    ts = int(time.time()) if ts is None else ts
    url = handle.base_url + path
    sig = hashlib.sha1(f"{secret or key['private']}{ts}{url}".encode()).hexdigest()
    headers = {"X-HEXOAPIKEY": key["public"], "X-HEXOTIMESTAMP": str(ts), "X-HEXOAPISIGNATURE": sig}
    return requests.get(url, headers=headers, auth=basic, timeout=10)


def test_api_key_signature_over_the_full_url(sandbox):
    ok = _signed(sandbox, "/api/record/?limit=2&datatype__in=19%2C33&user=101")
    assert ok.status_code == 400  # signature accepted; datatype is no record filter
    assert "datatype" in ok.json()["error"]
    assert _signed(sandbox, "/api/record/?limit=2&user=101").status_code == 200
    assert _signed(sandbox, "/api/user/", secret="wrong").status_code == 401
    stale = _signed(sandbox, "/api/user/", ts=int(time.time()) - 3600)
    assert stale.status_code == 401 and "stale" in stale.json()["error"]
    # Key plus Basic: the key names the application, Basic the user.
    me = subject(sandbox, 0)
    users = _signed(sandbox, "/api/user/", basic=(me["username"], me["password"])).json()["objects"]
    assert [u["id"] for u in users] == [me["user_id"]]


def test_missing_and_wrong_basic_credentials(sandbox):
    assert requests.get(sandbox.base_url + "/api/user/", timeout=10).status_code == 401
    assert get(sandbox, "/api/user/", auth=("nobody", "x")).status_code == 401
    user, _ = owner(sandbox)
    assert get(sandbox, "/api/user/", auth=(user, "wrong")).status_code == 401


def test_discovery_index_and_schema(sandbox):
    index = get(sandbox, "/api/").json()
    assert index["record"] == {"list_endpoint": "/api/record/", "schema": "/api/record/schema/"}
    schema = get(sandbox, "/api/record/schema/").json()
    assert schema["ordering"] == ["id", "start", "end", "device", "user", "last_modified"]
    assert schema["allowed_list_http_methods"] == ["get", "post"]
    assert "include_metrics" in schema["filtering"] and "start_date" in schema["fields"]


# -- determinism and the command line ---------------------------------------------------------------


def test_same_seed_same_study_and_different_seed_differs():
    a, b = build_study(StudyConfig(seed=3)), build_study(StudyConfig(seed=3))
    assert [(r.id, r.start, r.end) for r in a.records.values()] == [(r.id, r.start, r.end) for r in b.records.values()]
    c = build_study(StudyConfig(seed=4))
    assert [(r.start, r.end) for r in a.records.values()] != [(r.start, r.end) for r in c.records.values()]


def test_study_has_the_wear_patterns_a_real_study_has():
    study = build_study(StudyConfig(seed=7, subjects=6, days=10))
    tz = study.tz
    from datetime import datetime

    def local_day(ticks):
        return datetime.fromtimestamp(ticks / 256, tz=UTC).astimezone(tz).date()

    recs = list(study.records.values())
    crossing = [r for r in recs if local_day(r.start) != local_day(r.end - 1)]
    assert crossing, "a record crosses midnight"
    assert any(r.duration_s < 15 * 60 for r in recs), "short records"
    assert any(r.partial_end for r in recs), "records that grow after a first sync"
    late = [r for r in recs if (r.synced_at - datetime.fromtimestamp(r.end / 256, tz=UTC)).days >= 1]
    assert late, "records that sync days late"
    days_with_data = {(r.user_id, local_day(r.start)) for r in recs}
    assert len(days_with_data) < 6 * 10, "missed days"
    kinds = {rg.kind for rg in study.ranges.values()}
    assert {"sleep", "rest", "walk", "run"} <= kinds


def test_short_records_keep_the_days_and_their_ranges():
    """max_record_minutes cuts every record, not the study: the same records on the same days, ranges inside
    them (sleeps, rest tests), the same study life."""
    full, short = (
        StudyConfig(seed=7, subjects=6, days=4),
        StudyConfig(seed=7, subjects=6, days=4, max_record_minutes=20),
    )
    a, b = build_study(full), build_study(short)
    assert all(r.duration_s <= 20 * 60 for r in b.records.values())
    assert max(r.duration_s for r in a.records.values()) > 10 * 3600
    assert [(r.id, r.user_id, a.local_date(r.start)) for r in a.records.values()] == [
        (r.id, r.user_id, b.local_date(r.start)) for r in b.records.values()
    ]
    kinds = {rg.kind for rg in b.ranges.values()}
    assert {"sleep", "rest"} <= kinds
    for rg in b.ranges.values():
        rec = b.records[rg.record_id]
        assert rec.start <= rg.start < rg.end <= rec.end
    assert len(b.survey_responses) == len(a.survey_responses)


def test_serve_command_prints_json_and_exits_on_sigterm(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "hexo_sandbox", "serve", "--port", str(port), "--seed", "7"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # (how fast it gets ready is a benchmark figure: benchmarks/bench_sandbox.py)
        assert select.select([proc.stdout], [], [], 120)[0], "no JSON start line within 120 s"
        info = json.loads(proc.stdout.readline())
        assert info["base_url"] == f"http://127.0.0.1:{port}"
        assert set(info) >= {"base_url", "oauth2", "accounts", "api_keys"}
        assert set(info["oauth2"]) >= {"client_id", "client_secret", "token_url"}
        acc = info["accounts"][0]
        r = requests.get(info["base_url"] + "/api/user/", auth=(acc["username"], acc["password"]), timeout=10)
        assert r.status_code == 200
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0
    assert json.loads(proc.stderr.read().splitlines()[-1]) == {"stopped": info["base_url"]}


def test_record_cap_passes_from_the_demo_command_line_to_the_sandbox_study():
    """`hexo-pipeline demo --max-record-minutes 20` starts `hexo-sandbox serve --max-record-minutes 20`,
    which serves a study whose records last at most 20 minutes."""
    import argparse

    from hexo_pipeline.cli import _sandbox_serve_args, _study_args
    from hexo_sandbox.cli import add_study_arguments, study_config_from_args

    demo = argparse.ArgumentParser()
    _study_args(demo)
    flags = _sandbox_serve_args(demo.parse_args(["--subjects", "2", "--max-record-minutes", "20"]))
    assert flags == ["--subjects", "2", "--max-record-minutes", "20.0"]
    serve = argparse.ArgumentParser()
    add_study_arguments(serve)
    config = study_config_from_args(serve.parse_args(flags))
    assert (config.subjects, config.max_record_minutes) == (2, 20.0)
    assert all(r.duration_s <= 20 * 60 for r in build_study(config).records.values())
    assert study_config_from_args(serve.parse_args([])).max_record_minutes is None
