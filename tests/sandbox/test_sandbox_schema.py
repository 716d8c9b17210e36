"""Tastypie discovery over HTTP: GET /api/ and every /api/<name>/schema/, compared with the reference
schema (../shared/reference/hexoskin_api_schema_3.3.x.json) for every resource the sandbox serves."""

from __future__ import annotations

import json

import pytest
import requests

# Resources of the reference that the sandbox deliberately does not serve (account creation, sharing,
# teams, labels, logs, OAuth1...). Everything else in the reference must be served.
NOT_SERVED = {
    "activitylog",
    "async",
    "bundle_permission_request",
    "changeemail",
    "connecttoken",
    "contenttype",
    "createrelateduser",
    "createuser",
    "createuserrequest",
    "distribution",
    "label",
    "labelledobject",
    "oauth1token",
    "resetpassword",
    "share",
    "sharetype",
    "team",
    "templatereport",
    "trainingsession",
}
# Newer than the 2017 reference (notes §7.6): served with sandbox schemas, documented in docs/sandbox.md.
STUDY_SIDE = {"study", "studygroup", "studymember", "calendar", "survey", "surveyresponse", "import"}


def owner(handle) -> tuple[str, str]:
    acc = next(a for a in handle.info["accounts"] if a["role"] == "owner")
    return acc["username"], acc["password"]


@pytest.fixture(scope="module")
def reference(shared_dir) -> dict:
    return json.loads((shared_dir / "reference" / "hexoskin_api_schema_3.3.x.json").read_text())


@pytest.fixture(scope="module")
def index(sandbox) -> dict:
    r = requests.get(sandbox.base_url + "/api/", auth=owner(sandbox), timeout=30)
    assert r.status_code == 200
    return r.json()


def test_index_serves_the_reference_resources_and_the_study_side(index, reference):
    served = set(index)
    assert served == (set(reference) - NOT_SERVED) | STUDY_SIDE
    for name, entry in index.items():
        assert entry == {"list_endpoint": f"/api/{name}/", "schema": f"/api/{name}/schema/"}


def test_every_schema_matches_the_reference(sandbox, index, reference):
    mismatches = []
    for name in sorted(set(index) & set(reference)):
        got = requests.get(sandbox.base_url + index[name]["schema"], auth=owner(sandbox), timeout=30).json()
        ref = reference[name]
        checks = {
            "fields": (sorted(got["fields"]), sorted(ref["fields"])),
            "types": (
                {k: (f["type"], f.get("related_type")) for k, f in got["fields"].items()},
                {k: (f["type"], f.get("related_type")) for k, f in ref["fields"].items()},
            ),
            "readonly": (
                {k: f["readonly"] for k, f in got["fields"].items()},
                {k: f["readonly"] for k, f in ref["fields"].items()},
            ),
            "nullable": (
                {k: f["nullable"] for k, f in got["fields"].items()},
                {k: f["nullable"] for k, f in ref["fields"].items()},
            ),
            "filtering": (got.get("filtering"), ref.get("filtering")),
            "ordering": (got.get("ordering"), ref.get("ordering")),
            "list methods": (got["allowed_list_http_methods"], ref["allowed_list_http_methods"]),
            "detail methods": (got["allowed_detail_http_methods"], ref["allowed_detail_http_methods"]),
            "defaults": ((got["default_limit"], got["default_format"]), (ref["default_limit"], ref["default_format"])),
        }
        mismatches += [f"{name}: {what}: {a!r} != {b!r}" for what, (a, b) in checks.items() if a != b]
    assert not mismatches, "\n".join(mismatches)
    assert len(set(index) & set(reference)) == len(reference) - len(NOT_SERVED) == 58


def test_the_schema_is_what_is_served(sandbox, index):
    """Every object a list serves carries every field its schema declares (and the filters it declares
    are accepted): the schema is generated from the same definitions that serve the resource."""
    auth = owner(sandbox)
    params = {"record": {"include_metrics": "44"}}
    coach = next(a for a in sandbox.info["accounts"] if a["role"] == "coach")
    o = sandbox.info["oauth2"]
    token = requests.post(
        o["token_url"],
        data={"grant_type": "password", "username": auth[0], "password": auth[1]},
        auth=(o["client_id"], o["client_secret"]),
        timeout=10,
    ).json()["access_token"]
    as_ = {
        "bundle_permission": {"auth": (coach["username"], coach["password"])},
        "oauth2token": {"headers": {"Authorization": f"Bearer {token}"}},
    }
    empty = []
    for name in sorted(index):
        schema = requests.get(sandbox.base_url + index[name]["schema"], auth=auth, timeout=30).json()
        if not schema["allowed_list_http_methods"] or "get" not in schema["allowed_list_http_methods"]:
            continue
        if "datatype" in schema["fields"] and "flat" in schema["fields"] or name == "report":
            continue  # data endpoints and the report are not object lists (tested elsewhere)
        who = as_.get(name, {"auth": auth})
        body = requests.get(
            sandbox.base_url + f"/api/{name}/", params={"limit": 3, **params.get(name, {})}, timeout=60, **who
        ).json()
        if not body["objects"]:
            empty.append(name)
            continue
        for obj in body["objects"]:
            missing = set(schema["fields"]) - set(obj)
            assert not missing, f"{name} objects lack {sorted(missing)}"
    assert set(empty) <= {"import"}, empty  # (imports are tested on sandboxes of their own)


def test_unknown_filters_and_orderings_are_400_and_declared_ones_work(sandbox):
    auth = owner(sandbox)
    for name, bad in (("track", {"distance__gt": 1}), ("calendar", {"bogus": 1}), ("studymember", {"order_by": "x"})):
        r = requests.get(sandbox.base_url + f"/api/{name}/", params=bad, auth=auth, timeout=30)
        assert r.status_code == 400, (name, r.text)
    ok = requests.get(
        sandbox.base_url + "/api/range/", params={"rank": 1, "order_by": "-duration"}, auth=auth, timeout=60
    )
    assert ok.status_code == 200 and ok.json()["objects"]
    durations = [o["duration"] for o in ok.json()["objects"]]
    assert durations == sorted(durations, key=lambda d: tuple(int(x) for x in d.split(":")), reverse=True)
