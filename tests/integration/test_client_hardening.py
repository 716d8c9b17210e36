"""The client on a flaky network and across many clients, over the sandbox on loopback:
streamed downloads survive truncated bodies and connection resets (and leave nothing half-written),
and every client of a process shares one OAuth2 token (grants counted on the sandbox side)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from test_client_sandbox import make_client, make_config

from hexo_pipeline.decoders import convert_file
from hexo_pipeline.hexoskin import HexoskinClient, TransportError
from hexo_pipeline.hexoskin.client import verify_zip

ACCEPT = {"tcx": "application/vnd.garmin.tcx+xml", "fit": "application/vnd.ant.fit"}
REPO = Path(__file__).resolve().parents[2]


def count_grants(handle) -> Counter:
    """Wrap the sandbox's token endpoint: grant_type -> how many were asked (sandbox side)."""
    grants: Counter = Counter()
    auth = handle.state.auth
    endpoint = auth.token_endpoint

    def counting(authorization, form):
        grants[form.get("grant_type")] += 1
        return endpoint(authorization, form)

    auth.token_endpoint = counting
    return grants


def no_partial_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.endswith(".part")]


# -- downloads ---------------------------------------------------------------------------------------------


def test_downloads_succeed_under_truncation_and_resets(make_sandbox, tmp_path):
    sb = make_sandbox(truncate_rate=0.3, reset_rate=0.05, rate_503=0.1, rate_429=0.05, seed=11)
    with make_client(sb, "basic", max_retries=8) as api:
        records = api.list_page("record", limit=4, order_by="id")["objects"]
        ranges = api.list_page("range", limit=3, order_by="id")["objects"]
        for rec in records:
            dest = api.download_data(tmp_path / "zips" / f"{rec['id']}.zip", [4113, 19, 18], record=rec["id"])
            with zipfile.ZipFile(dest) as zf:
                assert zf.testzip() is None and zf.namelist()
        for rng in ranges:
            for fmt in ("tcx", "fit"):
                dest = api.download(
                    f"range/{rng['id']}/", tmp_path / "exports" / f"{rng['id']}.{fmt}", headers={"Accept": ACCEPT[fmt]}
                )
                assert convert_file(dest).source.format == fmt  # whole files decode
    counts = sb.state.faults.counts
    assert counts.get("truncate", 0) >= 3 and counts.get("reset", 0) >= 1, counts
    assert no_partial_files(tmp_path)


def test_a_failed_download_keeps_the_previous_file(make_sandbox, tmp_path):
    sb = make_sandbox(truncate_rate=1.0)
    dest = tmp_path / "r.zip"
    dest.write_bytes(b"the previous, good download")
    with make_client(sb, "basic", max_retries=2) as api:
        with pytest.raises(TransportError, match="download interrupted"):
            api.download_data(dest, [19], record=1000)
    assert sb.state.faults.counts["truncate"] == 3  # first try + 2 retries
    assert dest.read_bytes() == b"the previous, good download"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.zip"]


def test_a_body_failing_its_check_is_retried_then_refused(sandbox, tmp_path):
    seen = []

    def verify(path: Path) -> None:
        seen.append(path.stat().st_size)
        verify_zip(path)  # JSON is not a zip

    with make_client(sandbox, "basic", max_retries=1) as api:
        with pytest.raises(TransportError, match="not a complete zip"):
            api.download("user", tmp_path / "u.zip", verify=verify)
    assert len(seen) == 2 and seen[0] > 0
    assert list(tmp_path.iterdir()) == []


# -- one token per process ---------------------------------------------------------------------------------


def test_many_clients_in_one_process_do_one_password_grant(make_sandbox):
    sb = make_sandbox()
    grants = count_grants(sb)
    for _ in range(5):  # Dagster steps, one after another
        with make_client(sb, "oauth2") as api:
            assert api.get("user")["objects"]
    errors = []

    def step():
        try:
            with make_client(sb, "oauth2") as api:
                api.get("user")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=step) for _ in range(4)]  # and steps in parallel threads
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert grants == Counter({"password": 1})
    owner = next(a for a in sb.info["accounts"] if a["role"] == "owner")
    owner_id = sb.state.auth.check_password(owner["username"], owner["password"])
    assert len(sb.state.auth.tokens_of(owner_id)) == 1  # one live token on the server


def test_an_expired_shared_token_is_refreshed_once(make_sandbox):
    sb = make_sandbox(token_lifetime_s=3)
    grants = count_grants(sb)
    with make_client(sb, "oauth2") as first:
        first.get("user")
    time.sleep(3.0)  # the shared token expires (the refreshed one stays good for the next 2.25 s)
    clients = [make_client(sb, "oauth2") for _ in range(3)]
    try:
        tokens = set()
        for api in clients:
            api.get("user")
            tokens.add(api.token["access_token"])
    finally:
        for api in clients:
            api.close()
    assert grants == Counter({"password": 1, "refresh_token": 1}) and len(tokens) == 1


def test_other_users_and_other_servers_do_not_share_tokens(make_sandbox):
    sb, other = make_sandbox(), make_sandbox()
    grants, other_grants = count_grants(sb), count_grants(other)
    subject = next(a for a in sb.info["accounts"] if a["role"] == "subject")
    with make_client(sb, "oauth2") as a, make_client(sb, "oauth2", account=subject) as b:
        a.get("user")
        b.get("user")
        assert a.token["access_token"] != b.token["access_token"]
    with make_client(other, "oauth2") as c:
        c.get("user")
    assert grants["password"] == 2 and other_grants["password"] == 1


def test_child_processes_reuse_the_token_file(make_sandbox, tmp_path):
    """The multiprocess executor's steps: each a new process, sharing the 0600 token file."""
    sb = make_sandbox()
    grants = count_grants(sb)
    token_file = tmp_path / "token.json"
    with make_client(sb, "oauth2", token_file=token_file) as api:
        api.get("user")
    config = make_config(sb, "oauth2")
    env = {
        **os.environ,
        "HEXO_API_URL": sb.base_url,
        "HEXO_AUTH": "oauth2",
        "HEXO_USERNAME": config.username,
        "HEXO_PASSWORD": config.password,
        "HEXO_CLIENT_ID": config.client_id,
        "HEXO_CLIENT_SECRET": config.client_secret,
        "HEXO_TOKEN_FILE": str(token_file),
    }
    code = (
        "from hexo_pipeline.hexoskin import HexoskinClient\n"
        "with HexoskinClient.from_env() as api:\n"
        "    print(len(api.get('user')['objects']))\n"
    )
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert int(done.stdout) >= 1
    assert grants == Counter({"password": 1})
    assert json.loads(token_file.read_text())["access_token"]


def test_a_token_given_explicitly_is_not_replaced_by_the_shared_one(make_sandbox):
    sb = make_sandbox()
    with make_client(sb, "oauth2") as first:
        first.get("user")
        shared = first.token
    mine = {**shared, "expires_at": shared["expires_at"] + 600}
    with HexoskinClient(make_config(sb, "oauth2"), token=mine) as api:
        api.get("user")
        assert api.token["expires_at"] == mine["expires_at"]
