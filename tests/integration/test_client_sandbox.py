"""The client against the sandbox over real HTTP on loopback: auth, paging, filters, errors, data
formats, token refresh, retries, and no secrets in logs."""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
import subprocess
import sys
import threading
import time
import tracemalloc
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, parse_qsl, urlsplit

import numpy as np
import pytest
import requests

from hexo_pipeline.hexoskin import (
    BadRequest,
    Forbidden,
    HexoskinClient,
    HexoskinConfig,
    HexoskinError,
    MethodNotAllowed,
    NotFound,
    RateLimited,
    ServerError,
    TransportError,
    Unauthorized,
)

FAST_RETRY = dict(backoff_factor=0.01, backoff_jitter_s=0.01, backoff_max_s=1.0)


# -- helpers -----------------------------------------------------------------------------------------------


def owner(handle) -> dict:
    return next(a for a in handle.info["accounts"] if a["role"] == "owner")


def subject(handle, n: int = 0) -> dict:
    return [a for a in handle.info["accounts"] if a["role"] == "subject"][n]


def make_config(handle, scheme: str = "oauth2", account: dict | None = None, **overrides) -> HexoskinConfig:
    acc = account or owner(handle)
    info = handle.info
    creds: dict = {"base_url": handle.base_url, "auth": scheme, **FAST_RETRY}
    if scheme == "oauth2":
        creds.update(
            client_id=info["oauth2"]["client_id"],
            client_secret=info["oauth2"]["client_secret"],
            username=acc["username"],
            password=acc["password"],
        )
    if "apikey" in scheme:
        creds.update(api_key=info["api_keys"][0]["public"], api_secret=info["api_keys"][0]["private"])
    if "basic" in scheme:
        creds.update(username=acc["username"], password=acc["password"])
    creds.update(overrides)
    return HexoskinConfig(**creds)


def make_client(handle, scheme: str = "oauth2", **overrides) -> HexoskinClient:
    return HexoskinClient(make_config(handle, scheme, **overrides))


class Recorder:
    """Response hook: every response the client's session saw (status, URL, request headers)."""

    def __init__(self, api: HexoskinClient):
        self.seen: list[requests.Response] = []
        api._session.hooks["response"].append(self._hook)

    def _hook(self, response, *args, **kwargs):
        self.seen.append(response)

    def paths(self, prefix: str = "/api/") -> list[str]:
        return [urlsplit(r.url).path for r in self.seen if urlsplit(r.url).path.startswith(prefix)]

    def statuses(self) -> list[int]:
        return [r.status_code for r in self.seen]


def a_long_record(api: HexoskinClient, min_s: float = 3600) -> dict:
    return next(r for r in api.iter_list("record", order_by="id") if (r["end"] - r["start"]) / 256 >= min_s)


# -- authentication ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["oauth2", "apikey", "basic", "basic+apikey"])
def test_every_auth_scheme_reads_users_and_signed_data(sandbox, scheme):
    with make_client(sandbox, scheme) as api:
        users = api.get("user")["objects"]
        assert owner(sandbox)["user_id"] in {u["id"] for u in users}
        # a query with an encoded comma (datatype__in=19%2C33): the signature covers the URL as sent
        rec = api.list_page("record", limit=1, order_by="id")["objects"][0]
        data = api.get_data([19, 33], record=rec["id"])
        assert len(data[19].timestamps) > 0 and len(data[33].timestamps) > 0
        sent = api.request("GET", "user").request.headers
        assert sent["X-HexoAPIVersion"] == "3.3.x" and sent["Accept"] == "application/json"
        if scheme == "oauth2":
            assert sent["Authorization"].startswith("Bearer ")
        if "apikey" in scheme:
            assert {"X-HEXOAPIKEY", "X-HEXOTIMESTAMP", "X-HEXOAPISIGNATURE"} <= set(sent)
            assert abs(int(sent["X-HEXOTIMESTAMP"]) - time.time()) < 60  # plain seconds, not x256
        if "basic" in scheme:
            assert sent["Authorization"].startswith("Basic ")


def test_basic_plus_apikey_acts_as_the_basic_user(sandbox):
    me = subject(sandbox, 1)
    with make_client(sandbox, "basic+apikey", account=me) as api:
        assert [u["id"] for u in api.iter_list("user")] == [me["user_id"]]


def test_credentials_can_come_from_the_environment(sandbox, monkeypatch):
    acc = subject(sandbox, 0)
    for var in (
        "HEXO_AUTH",
        "HEXO_CLIENT_ID",
        "HEXO_CLIENT_SECRET",
        "HEXO_API_KEY",
        "HEXO_API_SECRET",
        "HEXO_TOKEN_FILE",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HEXO_API_URL", sandbox.base_url)
    monkeypatch.setenv("HEXO_USERNAME", acc["username"])
    monkeypatch.setenv("HEXO_PASSWORD", acc["password"])
    with HexoskinClient.from_env() as api:
        assert api.auth_scheme == "basic"
        assert [u["id"] for u in api.iter_list("user")] == [acc["user_id"]]


@pytest.mark.parametrize(
    "scheme, overrides, message",
    [
        ("basic", {"password": "wrong-password"}, "Invalid username or password."),
        ("apikey", {"api_secret": "wrong-private-key"}, "API signature failed."),
    ],
)
def test_bad_credentials_are_unauthorized_with_the_server_message(sandbox, scheme, overrides, message):
    with make_client(sandbox, scheme, **overrides) as api:
        with pytest.raises(Unauthorized) as err:
            api.get("user")
    assert err.value.status == 401 and err.value.message == message
    assert err.value.url == f"{sandbox.base_url}/api/user/"


def test_stale_apikey_clock_is_rejected(sandbox):
    cfg = make_config(sandbox, "apikey")
    with HexoskinClient(cfg, clock=lambda: time.time() - 3600) as api:
        with pytest.raises(Unauthorized, match="stale"):
            api.get("user")


def test_oauth2_wrong_password_fails_at_the_token_endpoint(sandbox):
    with make_client(sandbox, "oauth2", password="wrong-password") as api:
        with pytest.raises(BadRequest) as err:
            api.get("user")
    assert err.value.message == "invalid_grant"
    assert err.value.url.endswith("/api/connect/oauth2/token/")


def test_authorization_code_grant(sandbox, tmp_path):
    acc = owner(sandbox)
    cfg = make_config(
        sandbox, "oauth2", username=None, password=None, scope="readwrite", token_file=tmp_path / "tok.json"
    )
    redirect = "https://example.org/hexo/callback"
    with HexoskinClient(cfg) as api:
        url, state = api.authorization_url(redirect)
        q = parse_qs(urlsplit(url).query)
        assert url.startswith(sandbox.info["oauth2"]["authorize_url"])
        assert q["response_type"] == ["code"] and q["client_id"] == [cfg.client_id]
        assert q["redirect_uri"] == [redirect] and q["state"] == [state] and q["scope"] == ["readwrite"]
        # The user logs in at the authorize URL (the sandbox takes Basic credentials for that).
        login = requests.get(url, auth=(acc["username"], acc["password"]), allow_redirects=False, timeout=10)
        assert login.status_code == 302
        token = api.exchange_code(authorization_response=login.headers["Location"])
        assert token["access_token"] and token["scope"] == ["readwrite"]
        assert api.get("user")["meta"]["total_count"] >= 1
        assert json.loads((tmp_path / "tok.json").read_text())["access_token"] == token["access_token"]


def test_authorization_code_with_a_forged_state_is_refused(sandbox):
    acc = owner(sandbox)
    with make_client(sandbox, "oauth2", username=None, password=None) as api:
        url, _state = api.authorization_url("https://example.org/cb")
        login = requests.get(url, auth=(acc["username"], acc["password"]), allow_redirects=False, timeout=10)
        forged = login.headers["Location"].replace("state=", "state=forged")
        with pytest.raises(Unauthorized, match="mismatching_state|state"):
            api.exchange_code(authorization_response=forged)
        # the plain code path still works with the same (unused) code
        code = parse_qs(urlsplit(login.headers["Location"]).query)["code"][0]
        assert api.exchange_code(code=code)["access_token"]


def test_oauth2_without_any_token_source_is_a_config_error(sandbox):
    with make_client(sandbox, "oauth2", username=None, password=None) as api:
        with pytest.raises(HexoskinError, match="no OAuth2 token"):
            api.get("user")


def test_token_file_persists_and_is_reused(sandbox, tmp_path):
    path = tmp_path / "state" / "token.json"
    with make_client(sandbox, "oauth2", token_file=path) as api:
        api.get("user")
        first = api.token
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(path.read_text())["access_token"] == first["access_token"]
    # A second client with no password at all runs on the saved token, without a token request.
    with make_client(sandbox, "oauth2", token_file=path, username=None, password=None) as api:
        seen = Recorder(api)
        assert api.get("user")["objects"]
        assert api.token["access_token"] == first["access_token"]
        assert not seen.paths("/api/connect/")


# -- token expiry ------------------------------------------------------------------------------------------


def test_token_expiring_mid_list_is_refreshed_and_persisted(make_sandbox, tmp_path):
    sb = make_sandbox(token_lifetime_s=4)
    path = tmp_path / "token.json"
    with make_client(sb, "oauth2", token_file=path) as api:
        seen = Recorder(api)
        total = api.list_page("range", limit=1)["meta"]["total_count"]
        first = api.token
        ids = []
        for n, obj in enumerate(api.iter_list("range", page_size=4, order_by="id")):
            ids.append(obj["id"])
            if n == 5:
                # The token dies between two pages. The client refreshes a quarter of the lifetime early
                # (1 s here), which covers oauthlib's rounding and a loaded machine's latency (a 2 s
                # token used to die once more within the same listing on CI).
                time.sleep(4.0)
        assert len(ids) == len(set(ids)) == total
        assert api.token["access_token"] != first["access_token"]
        assert 401 not in seen.statuses()  # refreshed before sending: the client knew the expiry
        assert seen.paths("/api/connect/oauth2/token/")  # a refresh grant went out
    saved = json.loads(path.read_text())
    assert saved["access_token"] == api.token["access_token"] and stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_auto_refresh_sends_only_the_refresh_grant_fields(make_sandbox, tmp_path):
    sb = make_sandbox(token_lifetime_s=1)
    with make_client(sb, "oauth2") as api:
        seen = Recorder(api)
        rec = api.list_page("record", limit=1)["objects"][0]
        time.sleep(2.2)
        # the request that meets the expired token has params (and stream=True): none may leak
        api.download_data(tmp_path / "x.zip", [19], record=rec["id"])
        password, refresh = [r for r in seen.seen if urlsplit(r.url).path == "/api/connect/oauth2/token/"]
        assert "grant_type=password" in password.request.body
        assert {k for k, _ in parse_qsl(refresh.request.body)} == {"grant_type", "refresh_token", "scope"}
        assert refresh.request.headers["Authorization"].startswith("Basic ")  # client auth per notes 1.3


def test_server_side_expiry_401_is_refreshed_once_and_replayed(make_sandbox):
    sb = make_sandbox(token_lifetime_s=2)
    with make_client(sb, "oauth2") as first:
        first.get("user")
        token = first.token
    # A client that believes the token is good for an hour (clock skew, server-side revocation...).
    believed = {k: v for k, v in token.items() if k != "expires_in"} | {"expires_at": time.time() + 3600}
    with HexoskinClient(make_config(sb, "oauth2"), token=believed) as api:
        seen = Recorder(api)
        time.sleep(2.5)
        ids = [r["id"] for r in api.iter_list("record", page_size=3)]
        assert ids and seen.statuses().count(401) == 1  # one rejection, one refresh, one replay
        assert api.token["access_token"] != token["access_token"]
        assert seen.paths("/api/connect/oauth2/token/") == ["/api/connect/oauth2/token/"]


def test_stale_refresh_token_falls_back_to_the_password_grant(sandbox, tmp_path):
    path = tmp_path / "token.json"
    path.write_text(
        json.dumps(
            {
                "access_token": "dead",
                "refresh_token": "also-dead",
                "token_type": "Bearer",
                "expires_at": time.time() - 60,
            }
        )
    )
    with make_client(sandbox, "oauth2", token_file=path) as api:
        assert api.get("user")["objects"]
        assert api.token["access_token"] != "dead"
    with make_client(sandbox, "oauth2", token_file=path, username=None, password=None) as api:
        path.write_text(
            json.dumps(
                {
                    "access_token": "dead",
                    "refresh_token": "also-dead",
                    "token_type": "Bearer",
                    "expires_at": time.time() + 3600,
                }
            )
        )
        with pytest.raises(BadRequest, match="invalid_grant"):
            api.get("user")  # 401, then the refresh is refused and there is no password to fall back on


# -- lists and filters -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_sandbox():
    from hexo_sandbox import FaultConfig, StudyConfig, start_sandbox

    handle = start_sandbox(study=StudyConfig(subjects=24, days=24), faults=FaultConfig())
    yield handle
    handle.stop()


def test_iter_list_pages_a_list_longer_than_1000(big_sandbox):
    with make_client(big_sandbox, "basic") as api:
        seen = Recorder(api)
        total = api.list_page("record", limit=1)["meta"]["total_count"]
        assert total > 1000
        records = list(api.iter_list("record", order_by="-start"))
        assert len(records) == len({r["id"] for r in records}) == total
        starts = [r["start"] for r in records]
        assert starts == sorted(starts, reverse=True)  # order_by kept across pages via meta.next
        pages = [r for r in seen.seen if urlsplit(r.url).path == "/api/record/"][1:]
        assert len(pages) == -(-total // 1000)
        assert all("limit=1000" in r.url for r in pages)


def test_iter_list_small_pages_match_one_big_page(sandbox):
    with make_client(sandbox, "basic") as api:
        small = [r["id"] for r in api.iter_list("range", page_size=7, order_by="id")]
        big = [r["id"] for r in api.iter_list("range", order_by="id")]
        assert small == big and len(small) == api.list_page("range", limit=1)["meta"]["total_count"]
        with pytest.raises(ValueError):
            next(api.iter_list("range", page_size=1001))


def test_every_filter_operator_through_the_helpers(sandbox):
    with make_client(sandbox, "basic") as api:
        records = list(api.iter_list("record"))
        starts = sorted(r["start"] for r in records)
        mid, low = starts[len(starts) // 2], starts[2]
        uid = records[0]["user"]["id"]
        some = [records[0]["id"], records[3]["id"]]

        def ids(**filters):
            return sorted(r["id"] for r in api.iter_list("record", **filters))

        def expect(pred):
            return sorted(r["id"] for r in records if pred(r))

        assert ids(start=mid) == ids(start__exact=mid) == expect(lambda r: r["start"] == mid)
        assert ids(start__gt=mid) == expect(lambda r: r["start"] > mid)
        assert ids(start__gte=mid) == expect(lambda r: r["start"] >= mid)
        assert ids(start__lt=mid) == expect(lambda r: r["start"] < mid)
        assert ids(start__lte=mid) == expect(lambda r: r["start"] <= mid)
        assert ids(start__range=(low, mid)) == expect(lambda r: low <= r["start"] <= mid)
        assert ids(id__in=some) == sorted(some)
        assert ids(user=uid) == ids(user=f"/api/user/{uid}/") == expect(lambda r: r["user"]["id"] == uid)
        assert ids(user__in={uid}) == ids(user=uid)
        assert ids(user=uid, start__gte=mid) == expect(lambda r: r["user"]["id"] == uid and r["start"] >= mid)
        users = list(api.iter_list("user"))
        prefix = subject(sandbox, 0)["username"][:10]
        assert sorted(u["id"] for u in api.iter_list("user", username__startswith=prefix)) == sorted(
            u["id"] for u in users if u["username"].startswith(prefix)
        )
        ranges = list(api.iter_list("range"))
        assert len(list(api.iter_list("range", activitytype__isnull=False))) == len(ranges)
        assert list(api.iter_list("range", activitytype__isnull=True)) == []
        ordered = [(r["user"]["id"], -r["start"]) for r in api.iter_list("record", order_by=["user", "-start"])]
        assert ordered == sorted(ordered)


# -- errors ------------------------------------------------------------------------------------------------


def test_http_errors_map_to_typed_errors_with_the_server_message(sandbox):
    base = sandbox.base_url
    with make_client(sandbox, "basic") as api:
        with pytest.raises(BadRequest) as e400:
            api.get("record", bogus=1)
        assert (e400.value.status, e400.value.message) == (400, "The 'bogus' field does not allow filtering.")
        assert e400.value.url == f"{base}/api/record/?bogus=1"
        with pytest.raises(NotFound) as e404:
            api.get_detail("record", 999999)
        assert (e404.value.status, e404.value.message) == (404, "No record with id 999999.")
        with pytest.raises(MethodNotAllowed) as e405:
            api.delete("record")
        assert e405.value.status == 405 and "DELETE" in e405.value.message
        with pytest.raises(ServerError) as e501:
            api.post("record", {"start": 1})
        assert e501.value.status == 501 and "not implemented" in e501.value.message
    with make_client(sandbox, "basic", password="nope-nope") as api:
        with pytest.raises(Unauthorized) as e401:
            api.get("record")
        assert e401.value.status == 401
    for err in (e400, e404, e405, e501, e401):
        assert owner(sandbox)["password"] not in str(err.value)


def test_readonly_token_gets_forbidden_on_write(sandbox):
    with make_client(sandbox, "oauth2", scope="readonly") as api:
        rg = api.list_page("range", limit=1)["objects"][0]
        with pytest.raises(Forbidden) as err:
            api.patch(rg["resource_uri"], {"note": "x"})
    assert err.value.status == 403 and err.value.message == "This token's scope is readonly."


def test_write_helpers_return_status_and_json(sandbox):
    with make_client(sandbox, "oauth2", scope="readwrite") as api:
        rg = api.list_page("range", limit=1, order_by="id")["objects"][0]
        done = api.patch(rg["resource_uri"], {"name": "renamed by test"})
        assert done.status == 202 and done.data["name"] == "renamed by test" and done.location is None
        assert api.get(rg["resource_uri"])["name"] == "renamed by test"
        done = api.put(f"range/{rg['id']}", {"name": rg["name"]})
        assert done.status == 202 and done.data["name"] == rg["name"]


class _CreatedHandler(BaseHTTPRequestHandler):
    """A stand-in for a create the sandbox does not implement yet: 201 + Location, then 204 on DELETE."""

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length))
        payload = json.dumps({**body, "id": 61353, "resource_uri": "/api/annotation/61353/"}).encode()
        self.send_response(201)
        self.send_header("Location", "/api/annotation/61353/")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_DELETE(self):
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_post_returns_location_on_201_and_delete_none_body():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CreatedHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        cfg = HexoskinConfig(base_url=f"http://127.0.0.1:{server.server_port}", username="u", password="pw-1234")
        with HexoskinClient(cfg) as api:
            done = api.post("annotation", {"annotation": "Hey guys!", "start": 123456, "user": 835})
            assert done.status == 201 and done.location == "/api/annotation/61353/"
            assert done.data["annotation"] == "Hey guys!" and done.data["id"] == 61353
            gone = api.delete(done.location)
            assert gone.status == 204 and gone.data is None
    finally:
        server.shutdown()
        server.server_close()


# -- retries and transport -------------------------------------------------------------------------------


def test_injected_503_and_429_are_retried(make_sandbox):
    sb = make_sandbox(fault_503_rate=0.3, fault_429_rate=0.3, seed=1)  # faults replay per seed
    with make_client(sb, "basic", max_retries=10) as api:
        total = api.list_page("range", limit=1)["meta"]["total_count"]
        ranges = list(api.iter_list("range", page_size=20))
        assert len(ranges) == total
        rg = ranges[0]
        uid = int(rg["user"].rstrip("/").split("/")[-1])
        hr = api.get_data([19], user=uid, start=rg["start"], end=rg["end"])[19]
        assert len(hr.timestamps) == (rg["end"] - rg["start"]) // 256
    counts = sb.state.faults.counts
    assert counts.get("503", 0) > 0 and counts.get("429", 0) > 0


def test_get_gives_up_after_the_retry_budget_honouring_retry_after(make_sandbox):
    sb = make_sandbox(fault_503_rate=1.0)
    with make_client(sb, "basic", max_retries=2, backoff_factor=0) as api:
        t0 = time.monotonic()
        with pytest.raises(ServerError) as err:
            api.get("user")
        elapsed = time.monotonic() - t0
    assert err.value.status == 503 and err.value.message == "Injected server error."
    assert sb.state.faults.counts["503"] == 3  # first try + 2 retries
    assert elapsed >= 2.0  # Retry-After: 1 honoured before each retry


def test_non_idempotent_requests_are_not_retried(make_sandbox):
    sb = make_sandbox(fault_503_rate=1.0)
    with make_client(sb, "basic", max_retries=3) as api:
        with pytest.raises(ServerError):
            api.patch("range/50000", {"note": "once"})
        assert sb.state.faults.counts["503"] == 1
        with pytest.raises(ServerError):
            api.post("range", {"note": "once"})
        assert sb.state.faults.counts["503"] == 2


def test_rate_limit_wait_is_capped_and_reported(make_sandbox):
    sb = make_sandbox(fault_429_rate=1.0, retry_after_s=30)
    with make_client(sb, "basic", max_retries=2, backoff_max_s=0.5) as api:
        t0 = time.monotonic()
        with pytest.raises(RateLimited) as err:
            api.get("user")
        elapsed = time.monotonic() - t0
    assert err.value.status == 429 and err.value.retry_after == 30.0
    assert sb.state.faults.counts["429"] == 3
    # Behaviour, not speed: the waits were capped (two of at most 0.5 s), never the 2 x 30 s the server asked.
    assert elapsed < 30


def test_connection_resets_are_retried(make_sandbox):
    sb = make_sandbox(reset_rate=0.4, seed=3)
    with make_client(sb, "basic", max_retries=10) as api:
        for _ in range(8):
            assert api.get("user")["objects"]
    assert sb.state.faults.counts.get("reset", 0) > 0


def test_connection_refused_is_a_transport_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    cfg = HexoskinConfig(
        base_url=f"http://127.0.0.1:{port}", username="u", password="pw-1234", max_retries=2, **FAST_RETRY
    )
    with HexoskinClient(cfg) as api:
        with pytest.raises(TransportError) as err:
            api.get("user")
    assert err.value.status is None and "pw-1234" not in str(err.value)


def test_read_timeout_is_a_transport_error(make_sandbox):
    sb = make_sandbox(latency_s=10)
    with make_client(sb, "basic", read_timeout_s=0.3, max_retries=1) as api:
        t0 = time.monotonic()
        with pytest.raises(TransportError):
            api.get("user")
        # The client gave up on its read timeout, long before the server's 10 s answer (two tries).
        assert time.monotonic() - t0 < 10


# -- /api/data/ --------------------------------------------------------------------------------------------


def test_json_data_is_windowed_so_nothing_is_subsampled(sandbox):
    with make_client(sandbox, "basic") as api:
        rec = a_long_record(api)
        t0 = rec["start"] + 60 * 256
        t1 = t0 + 600 * 256  # 10 min of ECG: 153,600 points, over twice the per-request cap
        seen = Recorder(api)
        data = api.get_data([4113, 19], record=rec["id"], start=t0, end=t1)
        ecg, hr = data[4113], data[19]
        assert len(ecg.timestamps) == 600 * 256 and np.all(np.diff(ecg.timestamps) == 1)
        assert ecg.timestamps[0] >= t0 and ecg.timestamps[-1] < t1
        assert len(hr.timestamps) == 600 and np.all(np.diff(hr.timestamps) == 256)
        data_calls = [r for r in seen.seen if urlsplit(r.url).path == "/api/data/"]
        assert len(data_calls) == 3 + 1  # ECG in 3 windows of <= 65535 points, HR in 1
        # the same span in one plain request comes back subsampled: the windows are what prevent it
        raw = requests.get(
            f"{sandbox.base_url}/api/data/",
            params={"record": rec["id"], "datatype": 4113, "start": t0, "end": t1},
            auth=(owner(sandbox)["username"], owner(sandbox)["password"]),
            timeout=30,
        ).json()
        assert len(raw[0]["data"]["4113"]) <= 65535 < len(ecg.timestamps)


def test_json_data_by_record_range_and_user_agree(sandbox):
    with make_client(sandbox, "basic") as api:
        rg = next(r for r in api.iter_list("range", order_by="id") if r["name"] != "sleep")
        rec = next(
            r
            for r in api.iter_list("record", user=int(rg["user"].rstrip("/").split("/")[-1]))
            if r["start"] <= rg["start"] and rg["end"] <= r["end"]
        )
        by_range = api.get_data([19, 33, 18], range=rg["id"])
        by_user = api.get_data([19, 33, 18], user=rec["user"]["id"], start=rg["start"], end=rg["end"])
        by_record = api.get_data([19, 33, 18], record=rec["id"], start=rg["start"], end=rg["end"])
        whole = api.get_data([19], record=rec["id"])
        for dt in (19, 33, 18):
            assert np.array_equal(by_range[dt].timestamps, by_user[dt].timestamps)
            assert np.array_equal(by_range[dt].timestamps, by_record[dt].timestamps)
            assert np.allclose(by_range[dt].values, by_user[dt].values, equal_nan=True)
            assert len(by_range[dt].timestamps) > 0
            assert by_range[dt].timestamps.min() >= rg["start"] and by_range[dt].timestamps.max() < rg["end"]
        assert np.all(np.diff(by_range[18].timestamps) > 0)  # RR events, strictly increasing
        duration_s = (rec["end"] - rec["start"]) // 256
        assert abs(len(whole[19].timestamps) - duration_s) <= 1
        assert whole[19].timestamps[0] == rec["start"] + 256  # the first 1 Hz sample is one period in


def test_user_data_needs_a_time_span(sandbox):
    with make_client(sandbox, "basic") as api:
        with pytest.raises(ValueError):
            api.get_data([19], user=101)
        with pytest.raises(ValueError):
            api.get_data([19], record=1000, range=50000)


def test_csv_data_as_text_and_parsed(sandbox):
    with make_client(sandbox, "basic") as api:
        rec = a_long_record(api)
        t0 = rec["start"] + 256 * 100
        t1 = t0 + 256 * 30
        text = api.get_data_csv([19, 33], record=rec["id"], start=t0, end=t1)
        lines = text.strip().splitlines()
        assert len(lines) == 31 and "/api/datatype/19/" in lines[0] and "/api/datatype/33/" in lines[0]
        rows = api.get_data_csv([19, 33], record=rec["id"], start=t0, end=t1, parse=True)
        assert len(rows) == 30
        js = api.get_data([19], record=rec["id"], start=t0, end=t1)[19]
        hr_col = next(c for c in rows[0] if "/api/datatype/19/" in c)
        assert np.allclose([float(r[hr_col]) for r in rows], js.values)


def test_csv_data_over_the_cap_is_stitched_from_windows(sandbox):
    with make_client(sandbox, "basic") as api:
        rec = a_long_record(api)
        t0 = rec["start"] + 256 * 60
        t1 = t0 + 256 * 300  # 300 s of ECG: 76,800 rows, two windows
        seen = Recorder(api)
        text = api.get_data_csv([4113], record=rec["id"], start=t0, end=t1)
        assert len(seen.paths("/api/data/")) == 2
        lines = text.strip().splitlines()
        assert len(lines) - 1 == 300 * 256
        assert sum(1 for line in lines if line.startswith(lines[0].split(",")[0])) == 1  # one header


def _assert_no_partial_files(folder):
    assert not [p for p in folder.iterdir() if p.name.endswith(".part")]


def test_binary_zip_is_streamed_to_disk(sandbox, tmp_path):
    with make_client(sandbox, "basic") as api:
        rec = api.list_page("record", limit=1, order_by="id")["objects"][0]
        dest = api.download_data(tmp_path / "out" / f"record_{rec['id']}.zip", [4113, 19, 18], record=rec["id"])
    assert dest.exists()
    with zipfile.ZipFile(dest) as zf:
        names = set(zf.namelist())
        assert zf.testzip() is None
    folder = f"record_{rec['id']}"
    assert {f"{folder}/ECG_I.wav", f"{folder}/heart_rate.wav", f"{folder}/RR_interval.hxd"} <= names
    _assert_no_partial_files(dest.parent)


def test_failed_download_leaves_nothing_behind(make_sandbox, tmp_path):
    sb = make_sandbox(truncate_rate=1.0)
    with make_client(sb, "basic", max_retries=0) as api:
        rec_id = 1000
        with pytest.raises(NotFound):
            api.download_data(tmp_path / "missing.zip", [19], record=999999)
        with pytest.raises(TransportError):
            api.download_data(tmp_path / "cut.zip", [4113, 19], record=rec_id)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def sandbox_process():
    """A sandbox in its own process, so memory measured here is the client's alone."""
    code = (
        "from hexo_sandbox.server.serve import serve_forever;"
        "from hexo_sandbox import StudyConfig, FaultConfig;"
        "serve_forever('127.0.0.1', 0, StudyConfig(), FaultConfig())"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        info = json.loads(proc.stdout.readline())

        class Handle:
            base_url = info["base_url"]

        Handle.info = info
        yield Handle
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_binary_download_never_holds_the_file_in_memory(sandbox_process, tmp_path):
    with make_client(sandbox_process, "basic") as api:
        records = sorted(api.iter_list("record"), key=lambda r: r["end"] - r["start"])
        rec = records[-1]
        # the same download of the shortest record first: the modules it imports the first time in this
        # process would count in the peak (9.7 MiB once when this test ran first in its worker)
        api.download_data(tmp_path / "small.zip", [4113, 4129, 4130], record=records[0]["id"])
        tracemalloc.start()
        try:
            dest = api.download_data(tmp_path / "big.zip", [4113, 4129, 4130], record=rec["id"])
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    size = dest.stat().st_size
    assert size > 16 * 2**20  # hours of ECG and respiration
    assert peak < 8 * 2**20 < size / 2, f"peak {peak / 2**20:.1f} MiB for a {size / 2**20:.1f} MiB download"


# -- secrets never reach the logs ------------------------------------------------------------------------


def test_a_full_run_logs_no_secrets(make_sandbox, tmp_path, caplog):
    sb = make_sandbox(token_lifetime_s=2)
    for name in (
        "",
        "urllib3",
        "urllib3.connectionpool",
        "requests_oauthlib",
        "requests_oauthlib.oauth2_session",
        "oauthlib",
        "hexo_pipeline",
        "hexo_pipeline.hexoskin",
    ):
        caplog.set_level(logging.DEBUG, logger=name)
    info = sb.info
    secrets = {a["password"] for a in info["accounts"]} | {info["oauth2"]["client_secret"]}
    secrets |= {k["private"] for k in info["api_keys"]}
    path = tmp_path / "token.json"
    with make_client(sb, "oauth2", token_file=path) as api:
        seen = Recorder(api)
        records = list(api.iter_list("record", page_size=3))
        secrets.update(api.token[k] for k in ("access_token", "refresh_token"))
        time.sleep(3.0)  # expire the token: an auto-refresh happens mid-run
        api.get_data([19, 33], record=records[0]["id"])
        api.get_data_csv([19], record=records[0]["id"])
        api.download_data(tmp_path / "d.zip", [19], record=records[0]["id"])
        secrets.update(api.token[k] for k in ("access_token", "refresh_token"))
        secrets.update(v for v in json.loads(path.read_text()).values() if isinstance(v, str) and v != "Bearer")
        secrets.update(r.request.headers.get("Authorization", "").partition(" ")[2] for r in seen.seen)
    for scheme in ("apikey", "basic+apikey", "basic"):
        with make_client(sb, scheme) as api:
            seen = Recorder(api)
            list(api.iter_list("range", page_size=50))
            api.get_data([19], record=records[0]["id"])
            secrets.update(r.request.headers.get("X-HEXOAPISIGNATURE", "") for r in seen.seen)
            secrets.update(r.request.headers.get("Authorization", "").partition(" ")[2] for r in seen.seen)
    secrets = {s for s in secrets if isinstance(s, str) and len(s) >= 6}
    text = caplog.text
    # the capture did see the libraries' debug output, including their token handling
    assert "Adding token" in text and "/api/connect/oauth2/token/" in text and "GET /api/record/" in text
    leaked = [s for s in secrets if s in text]
    assert not leaked, f"{len(leaked)} secret(s) in the logs"
