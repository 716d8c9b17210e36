"""Same seed, same bytes: two sandboxes of one seed (and one clock) answer byte for byte the same, for
metadata, study side, data in every format, TCX, FIT and the ground truth; another seed differs."""

from __future__ import annotations

from datetime import UTC, datetime

import requests

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


def fetch_all(handle) -> dict[str, bytes]:
    acc = next(a for a in handle.info["accounts"] if a["role"] == "owner")
    auth = (acc["username"], acc["password"])

    def raw(path: str, accept: str | None = None, **params) -> bytes:
        r = requests.get(
            handle.base_url + path, params=params, auth=auth, headers={"Accept": accept} if accept else {}, timeout=120
        )
        assert r.status_code == 200, (path, r.text[:300])
        return r.content

    out = {}
    for name in (
        "record",
        "range",
        "track",
        "calendar",
        "studymember",
        "surveyresponse",
        "annotation",
        "activityattributevalue",
        "study",
        "user",
        "device",
    ):
        out[name] = (
            raw(f"/api/{name}/", limit=0, include_metrics="44,12")
            if name == "record"
            else raw(f"/api/{name}/", limit=0)
        )
    rec = requests.get(
        handle.base_url + "/api/record/", params={"limit": 1, "order_by": "id"}, auth=auth, timeout=30
    ).json()["objects"][0]
    window = {"record": rec["id"], "start": rec["start"], "end": rec["start"] + 300 * 256}
    out["json"] = raw("/api/data/", datatype__in="19,18,4113", **window)
    out["csv"] = raw("/api/data/", "text/csv", datatype__in="19,33,53", **window)
    out["zip"] = raw("/api/data/", "application/octet-stream", datatype__in="4113,19,18,52", **window)
    tracks = requests.get(handle.base_url + "/api/track/", params={"limit": 0}, auth=auth, timeout=30).json()["objects"]
    rg = min(tracks, key=lambda t: datetime.fromisoformat(t["end_date"]) - datetime.fromisoformat(t["start_date"]))
    out["trackpoints"] = raw("/api/trackpoint/", track=rg["id"], limit=200)
    out["tcx"] = raw(rg["range"], "application/vnd.garmin.tcx+xml")
    out["fit"] = raw(rg["range"], "application/vnd.ant.fit")
    out["truth"] = raw("/sandbox/truth/subject-days")
    return out


def test_same_seed_same_bytes_and_another_seed_differs(make_sandbox):
    a = fetch_all(make_sandbox(seed=11, subjects=2, days=2, now=NOW))
    b = fetch_all(make_sandbox(seed=11, subjects=2, days=2, now=NOW))
    assert a.keys() == b.keys()
    different = [k for k in a if a[k] != b[k]]
    assert not different, different
    c = fetch_all(make_sandbox(seed=12, subjects=2, days=2, now=NOW))
    assert all(a[k] != c[k] for k in ("record", "range", "json", "zip", "tcx", "truth"))
