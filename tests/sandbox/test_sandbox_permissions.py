"""Who sees what, over HTTP: a subject sees only its own data; a coach its athletes'; the study's owner
and admins all its subjects; anything else is absent from lists and a 404 on details. OAuth2 scopes:
a readonly token cannot write."""

from __future__ import annotations

import pytest
import requests


def accounts(handle) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for a in handle.info["accounts"]:
        out.setdefault(a["role"], []).append(a)
    return out


def auth_of(acc: dict) -> tuple[str, str]:
    return acc["username"], acc["password"]


def get(handle, path: str, acc: dict, **params) -> requests.Response:
    return requests.get(handle.base_url + path, params=params, auth=auth_of(acc), timeout=60)


def owners_of(handle, acc: dict, resource: str, key) -> set[int]:
    objects = get(handle, f"/api/{resource}/", acc, limit=0).json()["objects"]
    return {key(o) for o in objects}


def uid(uri: str) -> int:
    return int(uri.rstrip("/").rpartition("/")[2])


RESOURCES = {
    "user": lambda o: o["id"],
    "profile": lambda o: uid(o["user"]),
    "record": lambda o: o["user"]["id"],
    "range": lambda o: uid(o["user"]),
    "track": lambda o: uid(o["user"]),
    "annotation": lambda o: uid(o["user"]),
}


@pytest.fixture(scope="module")
def people(sandbox):
    acc = accounts(sandbox)
    subjects = {a["user_id"] for a in acc["subject"]}
    coach = acc["coach"][0]
    athletes = {uid(p["user_target"]) for p in get(sandbox, "/api/bundle_permission/", coach).json()["objects"]}
    assert athletes and athletes < subjects
    return acc, subjects, athletes


@pytest.mark.parametrize("resource", sorted(RESOURCES))
def test_lists_hold_exactly_what_each_role_may_see(sandbox, people, resource):
    acc, subjects, athletes = people
    key = RESOURCES[resource]
    me = acc["subject"][0]
    expect = {
        "owner": subjects | {acc["owner"][0]["user_id"]},
        "admin": subjects | {acc["admin"][0]["user_id"]},
        "coach": athletes | {acc["coach"][0]["user_id"]},
        "subject": {me["user_id"]},
        "user": {acc["user"][0]["user_id"]},
    }
    for role, allowed in expect.items():
        seen = owners_of(sandbox, acc[role][0], resource, key)
        assert seen <= allowed, (role, resource)
        if resource in ("user", "profile"):
            assert seen == allowed, (role, resource)
        elif role in ("owner", "admin"):
            assert seen == subjects or resource == "annotation", (role, resource)


def test_details_of_others_are_404_and_data_too(sandbox, people):
    acc, subjects, athletes = people
    owner = acc["owner"][0]
    me = acc["subject"][0]
    other = next(a for a in acc["subject"] if a["user_id"] != me["user_id"] and a["user_id"] not in athletes)
    theirs = get(sandbox, "/api/record/", owner, user=other["user_id"], limit=1).json()["objects"][0]
    their_range = get(sandbox, "/api/range/", owner, user=other["user_id"], limit=1).json()["objects"][0]
    for who in (me, acc["coach"][0], acc["user"][0]):
        for path in (
            theirs["resource_uri"],
            their_range["resource_uri"],
            f"/api/user/{other['user_id']}/",
            f"/api/profile/{other['user_id']}/",
        ):
            assert get(sandbox, path, who).status_code == 404, (who["role"], path)
        assert get(sandbox, "/api/data/", who, datatype=19, record=theirs["id"]).status_code == 404
        assert (
            get(
                sandbox, "/api/data/", who, datatype=19, user=other["user_id"], start=theirs["start"], end=theirs["end"]
            ).status_code
            == 404
        )
        assert get(sandbox, "/api/trackpoint/", who, user=other["user_id"]).json()["objects"] == []
    athlete = sorted(athletes)[0]
    rec = get(sandbox, "/api/record/", owner, user=athlete, limit=1).json()["objects"][0]
    coach = acc["coach"][0]
    assert get(sandbox, rec["resource_uri"], coach).status_code == 200
    assert get(
        sandbox, "/api/data/", coach, datatype=19, record=rec["id"], start=rec["start"], end=rec["start"] + 2560
    ).json()[0]["data"]["19"]
    # athletes do not see the coach (seed: "Athletes do not see the coach's data")
    athlete_acc = next(a for a in acc["subject"] if a["user_id"] == athlete)
    assert get(sandbox, f"/api/user/{coach['user_id']}/", athlete_acc).status_code == 404


def test_readonly_scope_cannot_write_and_readwrite_can(make_sandbox):
    sb = make_sandbox(subjects=2, days=2)
    acc = accounts(sb)["subject"][0]
    o = sb.info["oauth2"]

    def bearer(scope: str) -> dict:
        tok = requests.post(
            o["token_url"],
            data={"grant_type": "password", "username": acc["username"], "password": acc["password"], "scope": scope},
            auth=(o["client_id"], o["client_secret"]),
            timeout=10,
        ).json()
        return {"Authorization": f"Bearer {tok['access_token']}"}

    ro, rw = bearer("readonly"), bearer("readwrite")
    rg = requests.get(sb.base_url + "/api/range/?limit=1", headers=ro, timeout=10).json()["objects"][0]
    note = {"datatype": 4096, "start": rg["start"], "user": acc["user_id"], "annotation": "x"}
    writes = [
        ("post", "/api/annotation/", note),
        ("patch", rg["resource_uri"], {"note": "x"}),
        (
            "post",
            "/api/surveyresponse/",
            {"survey": 1, "answers": {"sleep_quality": 3, "fatigue": 3, "symptoms": "none"}},
        ),
        ("delete", rg["resource_uri"], None),
    ]
    for method, path, body in writes:
        r = requests.request(method, sb.base_url + path, json=body, headers=ro, timeout=10)
        assert r.status_code == 403 and r.json()["error"] == "This token's scope is readonly.", (method, path)
    for method, path, body in writes:
        r = requests.request(method, sb.base_url + path, json=body, headers=rw, timeout=10)
        assert r.status_code in (201, 202, 204), (method, path, r.text)
    assert requests.get(sb.base_url + rg["resource_uri"], headers=rw, timeout=10).status_code == 404  # deleted


def test_a_subject_cannot_write_another_subjects_data_but_the_owner_can(make_sandbox):
    sb = make_sandbox(subjects=2, days=2)
    acc = accounts(sb)
    a, b = acc["subject"][0], acc["subject"][1]
    owner = acc["owner"][0]
    rg = get(sb, "/api/range/", owner, user=b["user_id"], limit=1).json()["objects"][0]
    assert (
        requests.patch(sb.base_url + rg["resource_uri"], json={"note": "x"}, auth=auth_of(a), timeout=10).status_code
        == 404
    )
    r = requests.patch(sb.base_url + rg["resource_uri"], json={"note": "checked"}, auth=auth_of(owner), timeout=10)
    assert r.status_code == 202 and r.json()["note"] == "checked"
    coach_write = requests.patch(
        sb.base_url + rg["resource_uri"], json={"note": "x"}, auth=auth_of(acc["coach"][0]), timeout=10
    )
    assert coach_write.status_code in (403, 404)
