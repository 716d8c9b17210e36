"""The client's configurable request rate (HEXO_MAX_RPS), over real HTTP against the sandbox."""

import time

from hexo_pipeline.hexoskin import HexoskinClient, HexoskinConfig


def _client(sandbox, **kw) -> HexoskinClient:
    owner = next(a for a in sandbox.info["accounts"] if a["role"] == "owner")
    return HexoskinClient(
        HexoskinConfig(
            base_url=sandbox.base_url, auth="basic", username=owner["username"], password=owner["password"], **kw
        )
    )


def test_max_requests_per_second_paces_requests(sandbox):
    with _client(sandbox, max_requests_per_second=5) as api:
        t0 = time.monotonic()
        for _ in range(11):
            api.list_page("datatype", limit=1)
        paced = time.monotonic() - t0
    with _client(sandbox) as api:
        t0 = time.monotonic()
        for _ in range(11):
            api.list_page("datatype", limit=1)
        free = time.monotonic() - t0
    assert paced >= 1.8, paced  # 11 requests at 5/s: at least ~2 s
    assert free < paced


def test_max_rps_from_environment():
    config = HexoskinConfig.from_env(
        {"HEXO_API_URL": "http://127.0.0.1:1", "HEXO_USERNAME": "u", "HEXO_PASSWORD": "p", "HEXO_MAX_RPS": "2.5"}
    )
    assert config.max_requests_per_second == 2.5
