"""Client pieces that need no server: signing, config, windows, filters, token file, redaction."""

from __future__ import annotations

import json
import logging
import os
import stat
from datetime import UTC, datetime

import numpy as np
import pytest
import requests
from urllib3.util.retry import RequestHistory

from hexo_pipeline.hexoskin import (
    ConfigError,
    HexoApiKeyAuth,
    HexoskinClient,
    HexoskinConfig,
    TokenFile,
    parse_data_json,
    query_params,
    sign,
    split_windows,
)
from hexo_pipeline.hexoskin import config as config_mod
from hexo_pipeline.hexoskin.auth import keep_refresh_fields, redact
from hexo_pipeline.hexoskin.client import ASYNC_MAX_RATE_HZ, make_retry, period_ticks
from hexo_pipeline.hexoskin.datatypes import BY_ID
from hexo_pipeline.hexoskin.errors import (
    BadRequest,
    MethodNotAllowed,
    RateLimited,
    ServerError,
    error_for_response,
    redact_url,
    server_message,
)

SEED_SECRET = "3x4mPl3pR1v4tEK3y3x4mPl3pR1v4tEK3y"


# -- API-key signing ---------------------------------------------------------------------------------------


def test_signature_matches_the_seed_worked_example():
    assert sign(SEED_SECRET, 1400000000, "https://api.hexoskin.com/api/user/") == (
        "88c7a8e7b35f145ddac98f861476d89dc6604fb3"
    )


def _prepare(auth, url, params=None):
    return requests.Request("GET", url, params=params, auth=auth).prepare()


def test_apikey_auth_sets_the_three_headers_with_plain_seconds():
    auth = HexoApiKeyAuth("pub-key", SEED_SECRET, clock=lambda: 1400000000.9)
    r = _prepare(auth, "https://api.hexoskin.com/api/user/")
    assert r.headers["X-HEXOAPIKEY"] == "pub-key"
    assert r.headers["X-HEXOTIMESTAMP"] == "1400000000"  # plain seconds, truncated, not x256
    assert r.headers["X-HEXOAPISIGNATURE"] == "88c7a8e7b35f145ddac98f861476d89dc6604fb3"
    assert "Authorization" not in r.headers
    assert SEED_SECRET not in repr(auth) and SEED_SECRET not in str(r.headers)


def test_apikey_signature_covers_the_query_string_as_requests_encoded_it():
    auth = HexoApiKeyAuth("pub-key", SEED_SECRET, clock=lambda: 1400000000)
    r = _prepare(auth, "https://api.hexoskin.com/api/data/", {"datatype__in": "19,33", "record": 7})
    assert r.url == "https://api.hexoskin.com/api/data/?datatype__in=19%2C33&record=7"
    assert r.headers["X-HEXOAPISIGNATURE"] == sign(SEED_SECRET, 1400000000, r.url)
    assert r.headers["X-HEXOAPISIGNATURE"] != sign(SEED_SECRET, 1400000000, "https://api.hexoskin.com/api/data/")


def test_basic_plus_apikey_sends_both():
    auth = HexoApiKeyAuth("pub-key", SEED_SECRET, basic=("ann", "pw-123456"), clock=lambda: 1400000000)
    r = _prepare(auth, "https://api.hexoskin.com/api/user/")
    assert r.headers["Authorization"] == requests.auth._basic_auth_str("ann", "pw-123456")
    assert r.headers["X-HEXOAPISIGNATURE"] == "88c7a8e7b35f145ddac98f861476d89dc6604fb3"
    assert "pw-123456" not in repr(auth)


# -- configuration -----------------------------------------------------------------------------------------


def test_config_from_env_reads_every_variable():
    env = {
        "HEXO_API_URL": "https://astro.hexoskin.com/",
        "HEXO_AUTH": "basic+apikey",
        "HEXO_USERNAME": "ann",
        "HEXO_PASSWORD": "pw-secret-1",
        "HEXO_CLIENT_ID": "cid",
        "HEXO_CLIENT_SECRET": "cs-secret-2",
        "HEXO_API_KEY": "pub",
        "HEXO_API_SECRET": "priv-secret-3",
        "HEXO_TOKEN_FILE": "/tmp/tok.json",
        "HEXO_SCOPE": "readwrite",
        "HEXO_REDIRECT_URI": "https://example.org/cb",
        "HEXO_API_VERSION": "4.0.x",
        "HEXO_TIMEOUT_S": "3,45",
        "HEXO_MAX_RETRIES": "2",
    }
    cfg = HexoskinConfig.from_env(env)
    assert cfg.base_url == "https://astro.hexoskin.com"
    assert (cfg.auth, cfg.username, cfg.password) == ("basic+apikey", "ann", "pw-secret-1")
    assert (cfg.client_id, cfg.client_secret) == ("cid", "cs-secret-2")
    assert (cfg.api_key, cfg.api_secret) == ("pub", "priv-secret-3")
    assert str(cfg.token_file) == "/tmp/tok.json" and cfg.scope == "readwrite"
    assert cfg.redirect_uri == "https://example.org/cb" and cfg.api_version == "4.0.x"
    assert cfg.timeout == (3.0, 45.0) and cfg.max_retries == 2
    assert cfg.resolved_auth() == "basic+apikey"


def test_config_defaults_and_explicit_arguments_win():
    cfg = HexoskinConfig.from_env(
        {"HEXO_USERNAME": "env-user", "HEXO_PASSWORD": "pw", "HEXO_TIMEOUT_S": "7"}, username="arg-user"
    )
    assert cfg.username == "arg-user"
    assert cfg.base_url == "https://api.hexoskin.com" and cfg.api_version == "3.3.x"
    assert cfg.timeout == (7.0, 7.0)
    assert cfg.resolved_auth() == "basic"


@pytest.mark.parametrize(
    "env, scheme",
    [
        ({"HEXO_CLIENT_ID": "c", "HEXO_CLIENT_SECRET": "s", "HEXO_USERNAME": "u", "HEXO_PASSWORD": "p"}, "oauth2"),
        ({"HEXO_API_KEY": "k", "HEXO_API_SECRET": "s"}, "apikey"),
        ({"HEXO_API_KEY": "k", "HEXO_API_SECRET": "s", "HEXO_USERNAME": "u", "HEXO_PASSWORD": "p"}, "basic+apikey"),
        ({"HEXO_USERNAME": "u", "HEXO_PASSWORD": "p"}, "basic"),
    ],
)
def test_auth_scheme_is_inferred_from_the_credentials(env, scheme):
    assert HexoskinConfig.from_env(env).resolved_auth() == scheme


@pytest.mark.parametrize(
    "env, message",
    [
        ({}, "no credentials"),
        ({"HEXO_AUTH": "apikey", "HEXO_API_KEY": "k"}, "HEXO_API_SECRET"),
        ({"HEXO_AUTH": "oauth2", "HEXO_CLIENT_ID": "c"}, "HEXO_CLIENT_SECRET"),
    ],
)
def test_missing_credentials_are_a_config_error(env, message):
    with pytest.raises(ConfigError, match=message):
        HexoskinConfig.from_env(env).resolved_auth()
    with pytest.raises(ConfigError):
        HexoskinClient(HexoskinConfig.from_env(env))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"auth": "kerberos"},
        {"scope": "admin"},
        {"base_url": "ftp://api.hexoskin.com"},
        {"base_url": "http://api.hexoskin.com"},  # credentials in clear text off this machine
    ],
)
def test_invalid_config_is_rejected(kwargs):
    with pytest.raises(ConfigError):
        HexoskinConfig(**kwargs)


def test_bad_timeout_env_is_rejected():
    with pytest.raises(ConfigError, match="HEXO_TIMEOUT_S"):
        HexoskinConfig.from_env({"HEXO_TIMEOUT_S": "soon"})


def test_repr_never_shows_secrets():
    cfg = HexoskinConfig(
        username="ann",
        password="pw-AAAA1111",
        client_id="cid",
        client_secret="cs-BBBB2222",
        api_key="pub",
        api_secret="priv-CCCC3333",
    )
    for text in (repr(cfg), str(cfg), f"{cfg}", repr(HexoskinClient(cfg))):
        for secret in ("pw-AAAA1111", "cs-BBBB2222", "priv-CCCC3333"):
            assert secret not in text
    assert "password='***'" in repr(cfg) and "username='ann'" in repr(cfg)


def test_env_names_are_defined_in_config():
    names = {v for k, v in vars(config_mod).items() if k.startswith("ENV_")}
    assert {
        "HEXO_API_URL",
        "HEXO_AUTH",
        "HEXO_USERNAME",
        "HEXO_PASSWORD",
        "HEXO_CLIENT_ID",
        "HEXO_CLIENT_SECRET",
        "HEXO_API_KEY",
        "HEXO_API_SECRET",
        "HEXO_TOKEN_FILE",
        "HEXO_API_VERSION",
        "HEXO_TIMEOUT_S",
    } <= names


def test_client_session_has_version_accept_and_bounded_pool():
    cfg = HexoskinConfig(username="u", password="p", api_version="3.3.x", pool_maxsize=3)
    with HexoskinClient(cfg) as api:
        assert api._session.headers["X-HexoAPIVersion"] == "3.3.x"
        assert api._session.headers["Accept"] == "application/json"
        adapter = api._session.get_adapter("https://api.hexoskin.com/api/")
        assert adapter._pool_block is True and adapter._pool_maxsize == 3
        retry = adapter.max_retries
        assert "POST" not in retry.allowed_methods and "PATCH" not in retry.allowed_methods
        assert {"GET", "PUT", "DELETE"} <= retry.allowed_methods
        assert {429, 500, 502, 503, 504} <= retry.status_forcelist and retry.respect_retry_after_header


def test_retry_waits_are_bounded():
    retry = make_retry(
        HexoskinConfig(username="u", password="p", backoff_max_s=4, backoff_jitter_s=0.5, max_retries=20)
    )
    failures = tuple(RequestHistory("GET", "/api/x/", None, 503, None) for _ in range(15))
    deep = retry.new(history=failures)  # deep into the budget: 0.5 * 2**14 s uncapped
    assert 2.0 < deep.get_backoff_time() <= 4.0  # jitter included, then capped
    early = retry.new(history=failures[:3])
    assert 2.0 <= early.get_backoff_time() <= 2.5  # exponential (0.5 * 2**2) plus at most 0.5 s jitter
    assert retry.retry_after_max == 4  # a server's Retry-After: 3600 waits 4 s at most


def test_client_refuses_urls_on_other_hosts():
    with HexoskinClient(HexoskinConfig(username="u", password="p")) as api:
        assert api.url("record") == "https://api.hexoskin.com/api/record/"
        assert api.url("record/5") == "https://api.hexoskin.com/api/record/5/"
        assert api.url("/api/record/5/") == "https://api.hexoskin.com/api/record/5/"
        assert api.url("/api/record/?limit=20&offset=20") == "https://api.hexoskin.com/api/record/?limit=20&offset=20"
        with pytest.raises(ValueError, match="outside"):
            api.url("https://evil.example/api/user/")


# -- filters -----------------------------------------------------------------------------------------------


def test_query_params_follow_tastypie_conventions():
    at = datetime(2026, 10, 5, 12, tzinfo=UTC)
    assert query_params(
        {
            "start__gte": 347631277170,
            "user": 9,
            "id__in": [3, 1, 2],
            "device__in": {"b", "a"},
            "order_by": ["-start", "id"],
            "start__range": (10, 20),
            "end__isnull": False,
            "skip": None,
            "last_modified__gt": at,
        }
    ) == {
        "start__gte": "347631277170",
        "user": "9",
        "id__in": "3,1,2",
        "device__in": "a,b",
        "order_by": "-start,id",
        "start__range": "10,20",
        "end__isnull": "false",
        "last_modified__gt": "2026-10-05T12:00:00+00:00",
    }
    with pytest.raises(ValueError, match="naive"):
        query_params({"last_modified__gt": datetime(2026, 1, 1)})


# -- data windows ------------------------------------------------------------------------------------------


def _count_samples(w0, w1, period, phase=0):
    """Samples at phase + k*period inside [w0, w1] (both ends counted: the worst case)."""
    return (w1 - phase) // period - (w0 - phase + period - 1) // period + 1


@pytest.mark.parametrize("dt_id", [4113, 4129, 4145, 19, 271, 18])
def test_windows_never_ask_for_more_than_65535_points(dt_id):
    period = period_ticks(dt_id, BY_ID[dt_id].hexo_freq)
    start = 411231686629 + 37
    end = start + 26 * 3600 * 256  # a long night plus a day
    windows = split_windows(start, end, period)
    assert windows[0][0] == start and windows[-1][1] == end
    assert all(a[1] == b[0] for a, b in zip(windows, windows[1:]))  # contiguous, no gap
    assert max(_count_samples(a, b, period, phase=start % period) for a, b in windows) <= 65535
    # and not needlessly many requests: each full window is (65535 - 1) periods
    assert len(windows) == -(-(end - start) // (65534 * period))


def test_window_lengths_follow_the_catalog_rates():
    assert period_ticks(4113, BY_ID[4113].hexo_freq) == 1  # ECG 256 Hz
    assert period_ticks(4129, BY_ID[4129].hexo_freq) == 2  # respiration 128 Hz
    assert period_ticks(4145, BY_ID[4145].hexo_freq) == 4  # acceleration 64 Hz
    assert period_ticks(19, BY_ID[19].hexo_freq) == 256  # 1 Hz
    assert period_ticks(18, None) == 256 / ASYNC_MAX_RATE_HZ  # events: assumed max rate
    ecg_window = split_windows(0, 10**9, 1)[0]
    assert ecg_window[1] - ecg_window[0] == 65534  # ~256 s of ECG per request
    assert split_windows(5, 5, 1) == []


def test_parse_data_json_builds_arrays_and_keeps_nulls_as_nan():
    payload = [{"data": {"19": [[359840227126, 70], [359840227382, None]], "33": []}, "user": "/api/user/1511/"}]
    out = parse_data_json(payload)
    ts, values = out[19]
    assert ts.dtype == np.int64 and ts.tolist() == [359840227126, 359840227382]
    assert values[0] == 70 and np.isnan(values[1])
    assert len(out[33].timestamps) == 0
    with pytest.raises(ValueError, match="2 users"):
        parse_data_json(payload * 2)


# -- errors ------------------------------------------------------------------------------------------------


def _response(status, body, content_type="application/json", url="https://api.hexoskin.com/api/x/", headers=None):
    r = requests.Response()
    r.status_code = status
    r._content = body.encode()
    r.headers["Content-Type"] = content_type
    r.headers.update(headers or {})
    r.url = url
    return r


def test_server_message_prefers_json_error_fields_then_body_text():
    assert server_message(_response(400, json.dumps({"error": "bad filter"}))) == "bad filter"
    assert server_message(_response(400, json.dumps({"error_message": "nope", "error": "x"}))) == "nope"
    assert server_message(_response(500, "<h1>boom</h1>", "text/html")) == "<h1>boom</h1>"


def test_error_types_and_secret_free_urls():
    err = error_for_response(
        _response(429, "{}", headers={"Retry-After": "3"}, url="https://u:pw@api.hexoskin.com/api/x/?code=abc&limit=2")
    )
    assert isinstance(err, RateLimited) and err.retry_after == 3.0
    assert "pw" not in err.url and "abc" not in err.url and "limit=2" in err.url
    assert isinstance(error_for_response(_response(400, "{}")), BadRequest)
    assert isinstance(error_for_response(_response(405, "{}")), MethodNotAllowed)
    assert isinstance(error_for_response(_response(502, "{}")), ServerError)
    assert redact_url("https://h/api/?access_token=t0k3n&x=1") == "https://h/api/?access_token=REDACTED&x=1"


# -- token file ----------------------------------------------------------------------------------------------


def test_token_file_is_0600_and_replaced_atomically(tmp_path):
    path = tmp_path / "tokens" / "hexo_token.json"
    store = TokenFile(path)
    assert store.load() is None
    store.save({"access_token": "a1", "refresh_token": "r1", "expires_at": 1.0})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    inode = os.stat(path).st_ino
    path.chmod(0o644)  # even a loosened file comes back 0600 on the next save
    store.save({"access_token": "a2", "refresh_token": "r2", "expires_at": 2.0})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.stat(path).st_ino != inode  # a new file renamed over the old one, not rewritten in place
    assert store.load()["access_token"] == "a2"
    assert [p.name for p in path.parent.iterdir()] == ["hexo_token.json"]  # no temp file left behind


def test_token_file_save_failure_leaves_old_file_and_no_temp(tmp_path):
    path = tmp_path / "tok.json"
    store = TokenFile(path)
    store.save({"access_token": "good"})
    with pytest.raises(TypeError):
        store.save({"access_token": object()})  # not JSON-serialisable
    assert store.load()["access_token"] == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["tok.json"]


def test_token_file_ignores_garbage(tmp_path):
    path = tmp_path / "tok.json"
    path.write_text("not json")
    assert TokenFile(path).load() is None


# -- log redaction ---------------------------------------------------------------------------------------------


def test_redaction_of_library_debug_shapes():
    HexoApiKeyAuth("pub", "priv-registered-XYZ")  # registers its secret
    samples = [
        "Obtained token {'access_token': 'abc123def', 'refresh_token': 'rrr999', 'token_type': 'Bearer'}.",
        'Response headers were {} and content {"access_token": "abc123def", "refresh_token": "rrr999"}.',
        "Request body was grant_type=password&username=ann&password=hunter22&scope=readonly",
        "Request headers were {'Authorization': 'Basic YW5uOmh1bnRlcjIy', 'Accept': 'application/json'}",
        "Adding token {'Authorization': 'Bearer abc123def'} signed with priv-registered-XYZ",
    ]
    for text in samples:
        cleaned = redact(text)
        for secret in ("abc123def", "rrr999", "hunter22", "YW5uOmh1bnRlcjIy", "priv-registered-XYZ"):
            assert secret not in cleaned, cleaned


def test_refresh_body_keeps_only_the_grant_fields():
    body = "grant_type=refresh_token&refresh_token=r1&scope=readonly&params=%7B%27a%27%3A+1%7D&stream=True"
    _, _, kept = keep_refresh_fields("https://h/api/connect/oauth2/token/", {}, body)
    assert kept == "grant_type=refresh_token&refresh_token=r1&scope=readonly"


def test_redaction_filter_applies_to_requests_oauthlib_logger(caplog):
    from hexo_pipeline.hexoskin.auth import install_log_redaction

    install_log_redaction()
    caplog.set_level(logging.DEBUG)
    logging.getLogger("requests_oauthlib.oauth2_session").debug(
        "Adding token %s to request.", {"access_token": "tok-SECRET-42"}
    )
    assert caplog.records and "tok-SECRET-42" not in caplog.text
