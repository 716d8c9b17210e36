"""The resources a study's data hangs on, over HTTP: records, ranges and their metrics, laps, training
routines, activity attributes, annotations (the seed's POST), tracks and trackpoints, reports, OAuth
clients and tokens, bundles, devices, per-datatype endpoints and the Astroskin channels."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
import requests

from hexo_sandbox.world.routes import GAITS


def account(handle, role: str, n: int = 0) -> tuple[str, str]:
    acc = [a for a in handle.info["accounts"] if a["role"] == role][n]
    return acc["username"], acc["password"]


def get(handle, path: str, auth=None, headers=None, **params):
    r = requests.get(
        handle.base_url + path, params=params, auth=auth or account(handle, "owner"), headers=headers or {}, timeout=60
    )
    assert r.status_code == 200, r.text
    return r.json()


def all_objects(handle, path: str, **params) -> list[dict]:
    out, url = [], path
    params = {**params, "limit": 1000}
    while url:
        page = get(handle, url, **params)
        out += page["objects"]
        url, params = page["meta"]["next"], {}
    return out


def uid_of(uri: str) -> int:
    return int(uri.rstrip("/").rpartition("/")[2])


@pytest.fixture(scope="module")
def ranges(sandbox) -> list[dict]:
    return get(sandbox, "/api/range/", limit=0)["objects"]


# -- records ------------------------------------------------------------------------------------------


def test_records_status_and_include_metrics(sandbox):
    recs = get(sandbox, "/api/record/", limit=0, include_metrics="44,12,71")["objects"]
    assert {r["status"] for r in recs} <= {"complete", "syncing"}
    r = max(recs, key=lambda r: r["end"] - r["start"])
    assert [m["id"] for m in r["metrics"]] == [44, 12, 71]
    hr = r["metrics"][0]
    assert hr["name"] == "heartrate_avg" and hr["unit"]["si_short"] == "bpm" and 40 < hr["value"] < 140
    assert r["start_date"].endswith("+00:00") and "." not in r["start_date"]  # whole seconds, as the seed
    assert datetime.fromisoformat(r["start_date"]).timestamp() == r["start"] // 256
    assert "metrics" not in get(sandbox, r["resource_uri"])


# -- ranges: activity types, metrics, laps ----------------------------------------------------------------


def test_ranges_of_several_activity_types_with_their_default_metrics(ranges):
    by_type = {}
    for rg in ranges:
        by_type.setdefault(rg["activitytype"], []).append(rg)
    assert set(by_type) >= {
        "/api/activitytype/12/",
        "/api/activitytype/106/",
        "/api/activitytype/10/",
        "/api/activitytype/11/",
    }
    defaults = {
        "/api/activitytype/10/": [44, 71, 139],  # Running, the seed's example
        "/api/activitytype/11/": [44, 71, 139],
        "/api/activitytype/106/": [44, 12, 180, 182, 1080],
        "/api/activitytype/12/": [44, 47, 12, 180, 182, 1080, 1032],
    }
    for at, ids in defaults.items():
        for rg in by_type[at]:
            assert [m["id"] for m in rg["metrics"]] == ids, rg["name"]
    rest = [rg for rg in by_type["/api/activitytype/106/"] if rg["rank"] == 0]
    hrv = {m["name"]: m["value"] for m in rest[0]["metrics"]}
    assert 0.2 < hrv["AVNN"] < 1.5 and 0.005 < hrv["SDNN"] < 0.3 and 3 < hrv["RMSSD"] < 150
    sleep = by_type["/api/activitytype/12/"][0]
    metrics = {m["name"]: m["value"] for m in sleep["metrics"]}
    assert metrics["SleepTotalTime"] == pytest.approx(
        sum(int(x) * f for x, f in zip(sleep["duration"].split(":"), (3600, 60, 1))), abs=1
    )


def test_include_metrics_appends_to_the_defaults(sandbox, ranges):
    run = next(r for r in ranges if r["activitytype"] == "/api/activitytype/10/" and r["rank"] == 0)
    more = get(sandbox, run["resource_uri"], include_metrics="1,44,17")
    assert [m["id"] for m in more["metrics"]] == [44, 71, 139, 1, 17]
    cadence = next(m["value"] for m in more["metrics"] if m["id"] == 17)
    assert 140 < cadence < 200  # running steps per minute


def test_runs_have_rank_1_laps(sandbox, ranges):
    runs = [r for r in ranges if r["activitytype"] == "/api/activitytype/10/" and r["rank"] == 0]
    laps = {r["resource_uri"]: r for r in ranges if r["rank"] == 1}
    assert runs and laps
    for run in runs:
        children = [laps[u] for u in run["ranges"]]
        assert children and all(c["parent"] == run["resource_uri"] for c in children)
        assert children[0]["start"] == run["start"] and children[-1]["end"] == run["end"]
        assert all(a["end"] == b["start"] for a, b in zip(children, children[1:]))
    assert get(sandbox, "/api/range/", rank=1, limit=0)["meta"]["total_count"] == len(laps)
    top = get(sandbox, "/api/range/", rank=0, limit=0)["objects"]
    assert all(r["parent"] is None for r in top)


def test_sleep_ranges_carry_sleep_positions(sandbox, ranges):
    sleep = next(r for r in ranges if r["activitytype"] == "/api/activitytype/12/")
    pos = get(sandbox, "/api/sleepposition/", range=sleep["id"], flat=1)
    assert len(pos) >= 2 and {v for _, v in pos} <= {1, 2, 3, 4} and len({v for _, v in pos}) >= 2


def test_training_routines_and_activity_types(sandbox):
    rockport = get(sandbox, "/api/trainingroutine/1011/")
    assert rockport["metadata"] == {"geo": True} and rockport["activitytype"] == "/api/activitytype/101/"
    assert rockport["steps"][0]["duration_type"] == "distance" and rockport["steps"][0]["duration_value"] == 1609
    jog = get(sandbox, "/api/trainingroutine/6/")
    assert jog["activitytype"] == "/api/activitytype/10/" and jog["metadata"]["geo"] is True
    rest = get(sandbox, "/api/trainingroutine/1012/")
    assert rest["metadata"]["geo"] is False and rest["steps"][0]["duration_value"] == 300
    running = get(sandbox, "/api/activitytype/10/")
    assert running["default_metrics"] == ["/api/metric/44/", "/api/metric/71/", "/api/metric/139/"]
    assert get(sandbox, "/api/trainingroutine/", activitytype=10)["meta"]["total_count"] == 1


def test_activity_attributes_and_values(sandbox, ranges):
    attrs = get(sandbox, "/api/activityattribute/")["objects"]
    assert [(a["name"], a["unit"]["si_short"]) for a in attrs] == [("distance", "km"), ("fatigue", ""), ("energy", "J")]
    values = get(sandbox, "/api/activityattributevalue/", limit=0)["objects"]
    assert values
    by_range = {r["resource_uri"]: r for r in ranges}
    for v in values:
        rg = by_range[v["range"]]
        assert rg["activitytype"] in ("/api/activitytype/10/", "/api/activitytype/11/")
        typed = next(a for a in rg["activityattributes"] if a["resource_uri"] == v["activityattribute"])
        assert typed["value"] == v["value"]
    fatigue = get(sandbox, "/api/activityattributevalue/", activityattribute=2, value__gte=1)["objects"]
    assert fatigue and all(1 <= v["value"] <= 10 for v in fatigue)


# -- annotations ------------------------------------------------------------------------------------------


def test_annotation_post_as_in_the_seed(make_sandbox):
    sb = make_sandbox(subjects=2, days=2)
    me = next(a for a in sb.info["accounts"] if a["role"] == "subject")
    auth = (me["username"], me["password"])
    before = get(sb, "/api/annotation/", auth=auth)["meta"]["total_count"]
    body = {"datatype": "4096", "start": 123456, "user": me["user_id"], "annotation": "Hey guys!"}
    r = requests.post(sb.base_url + "/api/annotation/", json=body, auth=auth, timeout=10)
    assert r.status_code == 201, r.text
    got = r.json()
    assert r.headers["Location"] == got["resource_uri"] == f"/api/annotation/{got['id']}/"
    assert {k: got[k] for k in ("annotation", "datatype", "record", "start", "start_date", "user")} == {
        "annotation": "Hey guys!",
        "datatype": "/api/datatype/4096/",
        "record": None,
        "start": 123456,
        "start_date": "1970-01-01T00:08:02+00:00",
        "user": f"/api/user/{me['user_id']}/",
    }
    assert isinstance(got["last_update"], int) and got["last_modified"]
    assert get(sb, "/api/annotation/", auth=auth)["meta"]["total_count"] == before + 1
    # inside a record, the annotation is attached to it
    rec = get(sb, "/api/record/", auth=auth, limit=1)["objects"][0]
    inside = requests.post(
        sb.base_url + "/api/annotation/", json={**body, "start": rec["start"] + 2560}, auth=auth, timeout=10
    ).json()
    assert inside["record"] == rec["resource_uri"]
    other = next(a for a in sb.info["accounts"] if a["role"] == "subject" and a["user_id"] != me["user_id"])
    denied = requests.post(
        sb.base_url + "/api/annotation/", json={**body, "user": other["user_id"]}, auth=auth, timeout=10
    )
    assert denied.status_code == 400  # another subject's user is not even visible


def test_generated_annotations_are_filterable_by_user_and_time(sandbox):
    notes = get(sandbox, "/api/annotation/", limit=0)["objects"]
    assert notes
    a = notes[0]
    same = get(sandbox, "/api/annotation/", user=uid_of(a["user"]), start__gte=a["start"], start__lt=a["start"] + 1)
    assert [n["id"] for n in same["objects"]] == [a["id"]]
    assert a["record"] is not None and a["datatype"] == "/api/datatype/4096/"


# -- GPS ----------------------------------------------------------------------------------------------


def test_walks_and_runs_have_tracks_with_plausible_routes(sandbox, ranges):
    tracks = get(sandbox, "/api/track/", limit=0)["objects"]
    with_gps = {
        r["resource_uri"]
        for r in ranges
        if r["rank"] == 0 and r["activitytype"] in ("/api/activitytype/10/", "/api/activitytype/11/")
    }
    assert {t["range"] for t in tracks} == with_gps
    by_range = {r["resource_uri"]: r for r in ranges}
    for t in tracks:
        rg = by_range[t["range"]]
        hours = (rg["end"] - rg["start"]) / 256 / 3600
        speed = t["distance"] / 1000 / hours
        assert (3.5 < speed < 6.5) if rg["activitytype"].endswith("/11/") else (8.0 < speed < 14.5), (t, speed)


def test_trackpoint_speed_follows_the_cadence(sandbox, ranges):
    for kind, at in (("walk", "/api/activitytype/11/"), ("run", "/api/activitytype/10/")):
        rg = next(r for r in ranges if r["activitytype"] == at and r["rank"] == 0)
        track = get(sandbox, "/api/track/", range=rg["id"])["objects"][0]
        points = all_objects(sandbox, "/api/trackpoint/", track=track["id"])
        cadence = get(sandbox, "/api/cadence/", range=rg["id"], flat=1)
        ts_c = np.array([t for t, _ in cadence])
        cad = np.array([v for _, v in cadence], dtype=float)
        ts_p = np.array([p["timestamp"] for p in points])
        j = np.searchsorted(ts_c, ts_p, side="left")  # the cadence sample at or just after each point
        ok = j < ts_c.size
        assert np.all(ts_c[j[ok]] - ts_p[ok] < 256)
        speed = np.array([p["speed"] for p in points])[ok]
        expected = cad[j[ok]] * GAITS[kind].step_length_m / 60
        assert np.allclose(speed, expected, atol=0.001), kind
        assert len(points) > 0.9 * (rg["end"] - rg["start"]) / 256  # a few seconds without GPS fix


def test_trackpoint_time_filters_as_hexotimestamp_and_iso_and_meta(sandbox):
    track = get(sandbox, "/api/track/")["objects"][0]
    page = get(sandbox, "/api/trackpoint/", track=track["id"], limit=50)
    assert page["meta"]["total_tracks"] == 1
    assert page["meta"]["distance"] == {track["resource_uri"]: track["distance"]}
    pts = page["objects"]
    a, b = pts[10], pts[30]
    assert a["time"] == datetime.fromtimestamp(a["timestamp"] / 256, tz=UTC).replace(tzinfo=None).isoformat()
    assert a["timestamp"] % 256 == 0  # GPS points on whole seconds
    by_ts = get(
        sandbox, "/api/trackpoint/", track=track["id"], timestamp__range=f"{a['timestamp']},{b['timestamp']}", limit=0
    )
    by_iso = get(sandbox, "/api/trackpoint/", track=track["id"], time__range=f"{a['time']},{b['time']}", limit=0)
    between = [p for p in pts if a["timestamp"] <= p["timestamp"] <= b["timestamp"]]
    assert by_ts["objects"] == by_iso["objects"] == between and len(between) >= 15
    assert (
        get(sandbox, "/api/trackpoint/", track=track["id"], time__gt=b["time"], limit=1)["objects"][0]["id"] > b["id"]
    )
    assert get(sandbox, a["resource_uri"]) == a
    user = uid_of(track["user"])
    several = get(sandbox, "/api/trackpoint/", user=user, limit=1)["meta"]
    assert several["total_tracks"] == len(get(sandbox, "/api/track/", user=user, limit=0)["objects"])
    assert len(several["distance"]) == several["total_tracks"]


# -- report, account, device, bundles, oauth ---------------------------------------------------------------


def test_report_for_a_record_matches_the_record_metrics(sandbox):
    rec = get(sandbox, "/api/record/", limit=1, include_metrics="1,44")["objects"][0]
    report = get(sandbox, "/api/report/", include_metrics="1,44", record=rec["id"])
    assert report["timeranges"] == [{"end": rec["end"], "start": rec["start"], "user": rec["user"]["resource_uri"]}]
    assert [(m["id"], m["value"]) for m in report["metrics"]] == [(m["id"], m["value"]) for m in rec["metrics"]]
    assert (
        requests.get(
            sandbox.base_url + "/api/report/", params={"record": rec["id"]}, auth=account(sandbox, "owner"), timeout=10
        ).status_code
        == 400
    )


def test_account_is_only_the_authenticated_user(sandbox):
    me = account(sandbox, "subject", 1)
    body = get(sandbox, "/api/account/", auth=me)
    assert body["meta"]["total_count"] == 1
    acc = body["objects"][0]
    assert (
        acc["username"] == me[0]
        and acc["is_staff"] is False
        and acc["profile"]["resource_uri"].startswith("/api/profile/")
    )


def test_devices_by_serial(sandbox):
    devices = get(sandbox, "/api/device/")["objects"]
    assert devices and all(d["resource_uri"] == f"/api/device/{d['deviceid']}/" for d in devices)
    rec = get(sandbox, "/api/record/", limit=1)["objects"][0]
    assert get(sandbox, rec["device"])["deviceid"] == rec["dev_id"]


def test_coach_bundle_permission_and_revocation(make_sandbox):
    sb = make_sandbox(subjects=4, days=2)
    coach = account(sb, "coach")
    perms = get(sb, "/api/bundle_permission/", auth=coach)["objects"]
    athletes = {p["user_target"] for p in perms}
    assert perms and all(p["user_allowed"].endswith("/3/") and p["bundle"] == "/api/bundle/1/" for p in perms)
    seen = {r["user"]["resource_uri"] for r in get(sb, "/api/record/", auth=coach, limit=0)["objects"]}
    assert seen and seen <= athletes
    # the athlete revokes it: the coach sees nothing of that athlete any more
    athlete_uri = sorted(athletes)[0]
    athlete = next(a for a in sb.info["accounts"] if f"/api/user/{a['user_id']}/" == athlete_uri)
    mine = get(sb, "/api/bundle_permission/", auth=(athlete["username"], athlete["password"]))["objects"]
    r = requests.delete(
        sb.base_url + mine[0]["resource_uri"], auth=(athlete["username"], athlete["password"]), timeout=10
    )
    assert r.status_code == 204
    users = {u["resource_uri"] for u in get(sb, "/api/user/", auth=coach)["objects"]}
    assert athlete_uri not in users
    # and grants it again
    r = requests.post(
        sb.base_url + "/api/bundle_permission/",
        json={"bundle": "/api/bundle/1/", "user_allowed": "/api/user/3/"},
        auth=(athlete["username"], athlete["password"]),
        timeout=10,
    )
    assert r.status_code == 201 and r.json()["user_target"] == athlete_uri
    assert athlete_uri in {u["resource_uri"] for u in get(sb, "/api/user/", auth=coach)["objects"]}


def test_oauth_client_redirect_uris_and_tokens(make_sandbox):
    sb = make_sandbox(subjects=1, days=1)
    owner = account(sb, "owner")
    client = get(sb, "/api/oauthclient/")["objects"][0]
    assert client["client_id"] == sb.info["oauth2"]["client_id"]
    bad = requests.patch(
        sb.base_url + client["resource_uri"], json={"redirect_uris": ["http://example.org/cb"]}, auth=owner, timeout=10
    )
    assert bad.status_code == 400 and "Plain-text" in bad.json()["error"]
    ok = requests.patch(
        sb.base_url + client["resource_uri"], json={"redirect_uris": ["https://example.org/cb"]}, auth=owner, timeout=10
    )
    assert ok.status_code == 202 and ok.json()["redirect_uris"] == ["https://example.org/cb"]
    subject = account(sb, "subject")
    assert get(sb, "/api/oauthclient/", auth=subject)["objects"] == []
    o = sb.info["oauth2"]
    tok = requests.post(
        o["token_url"],
        data={"grant_type": "password", "username": owner[0], "password": owner[1], "scope": "readwrite"},
        auth=(o["client_id"], o["client_secret"]),
        timeout=10,
    ).json()
    bearer = {"Authorization": f"Bearer {tok['access_token']}"}
    tokens = requests.get(sb.base_url + "/api/oauth2token/", headers=bearer, timeout=10).json()["objects"]
    assert len(tokens) == 1 and tokens[0]["scopes"] == "readwrite" and 0 < tokens[0]["expires_in"] <= 3600
    gone = requests.delete(sb.base_url + tokens[0]["resource_uri"], headers=bearer, timeout=10)
    assert gone.status_code == 204
    assert requests.get(sb.base_url + "/api/user/", headers=bearer, timeout=10).status_code == 401


# -- per-datatype endpoints and Astroskin channels ----------------------------------------------------------


def test_per_datatype_endpoints_share_the_data_schema(sandbox):
    rec = get(sandbox, "/api/record/", limit=1)["objects"][0]
    t0, t1 = rec["start"], rec["start"] + 600 * 256
    via_data = get(sandbox, "/api/data/", datatype=19, record=rec["id"], start=t0, end=t1)
    via_hr = get(sandbox, "/api/heartrate/", record=rec["id"], start=t0, end=t1)
    assert via_hr == via_data
    flat = get(sandbox, "/api/heartrate/", record=rec["id"], start=t0, end=t1, flat=1)
    assert flat == via_data[0]["data"]["19"]
    values = get(sandbox, "/api/heartrate/", record=rec["id"], start=t0, end=t1, flat=1, no_timestamps=1)
    assert values == [v for _, v in flat]
    assert get(sandbox, "/api/schema/".replace("schema", "heartrate") + "schema/") == get(sandbox, "/api/data/schema/")
    acc = get(sandbox, "/api/acc/", record=rec["id"], start=t0, end=t0 + 256)[0]["data"]
    assert set(acc) == {"4145", "4146", "4147"} and all(len(v) == 64 for v in acc.values())
    empty = get(sandbox, "/api/hrvlf/", record=rec["id"], start=t0, end=t1)
    assert empty[0]["data"] == {}


def test_astroskin_subjects_carry_spo2_ppg_ptt_pressure_temperature_and_their_quality(sandbox):
    astro = next(d for d in get(sandbox, "/api/device/")["objects"] if d["deviceid"].startswith("ASTRO"))
    rec = next(r for r in get(sandbox, "/api/record/", limit=0)["objects"] if r["dev_id"] == astro["deviceid"])
    t0 = rec["start"] + 60 * 256
    data = get(
        sandbox,
        "/api/data/",
        datatype__in="66,1002,64,97,98,1005,81,1003,4114,4115",
        record=rec["id"],
        start=t0,
        end=t0 + 120 * 256,
    )[0]["data"]
    assert set(data) == {"66", "1002", "64", "97", "98", "1005", "81", "1003", "4114", "4115"}
    spo2 = np.array([v for _, v in data["66"]])
    assert 85 <= spo2.min() and spo2.max() <= 100
    temp = np.array([v for _, v in data["81"]])
    assert 30 < temp.mean() < 37
    ptt = np.array([v for _, v in data["97"]])
    assert 0.12 <= ptt.min() and ptt.max() <= 0.45 and len(ptt) > 60
    assert len(data["64"]) == 120 * 64
    hexo = next(r for r in get(sandbox, "/api/record/", limit=0)["objects"] if r["dev_id"].startswith("HXSKIN"))
    plain = get(
        sandbox,
        "/api/data/",
        datatype__in="66,19",
        record=hexo["id"],
        start=hexo["start"],
        end=hexo["start"] + 60 * 256,
    )[0]["data"]
    assert plain["66"] == [] and len(plain["19"]) == 59  # a Hexoskin has no SpO2; 1 Hz at start + (k+1) s
