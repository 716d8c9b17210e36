"""Hexoskin REST API client: one requests Session, typed errors, bounded retries, Tastypie paging and
the `/api/data/` endpoint in JSON, CSV and binary (zip).

Facts about the API come from the vendor doc (shared/seeds) and hexoskin_api_notes.md §1-3.
"""

from __future__ import annotations

import csv
import io
import logging
import numbers
import os
import secrets
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urljoin, urlsplit

import numpy as np
import requests
from oauthlib.oauth2 import LegacyApplicationClient, OAuth2Error, WebApplicationClient
from requests.adapters import HTTPAdapter
from requests_oauthlib import OAuth2Session
from requests_ratelimiter import LimiterAdapter
from urllib3.util.retry import Retry

from . import datatypes as catalog
from .auth import (
    AUTHORIZE_PATH,
    TOKEN_PATH,
    TOKENS,
    BasicAuth,
    HexoApiKeyAuth,
    TokenFile,
    expires_at,
    install_log_redaction,
    keep_refresh_fields,
    raise_for_token_response,
    register_secret,
    register_token,
    token_key,
)
from .config import HexoskinConfig
from .errors import (
    ConfigError,
    HexoskinError,
    TransportError,
    Unauthorized,
    error_for_response,
    redact_url,
)
from .timestamps import to_ticks

logger = logging.getLogger(__name__)

LIST_LIMIT_MAX = 1000  # Tastypie lists never return more (seed doc)
DATA_POINTS_MAX = 65535  # JSON/CSV data beyond this per datatype is subsampled by the server (seed doc)
# Event channels have no fixed rate. Windows assume at most 4 events/s (RR at 240 bpm); no
# physiological event channel comes near that.
ASYNC_MAX_RATE_HZ = 4.0
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
USER_AGENT = "hexo-pipeline (python-requests)"

Timestamp = int | datetime  # HexoTimestamp ticks, or a timezone-aware datetime


class Series(NamedTuple):
    """One datatype's samples: int64 HexoTimestamps and float64 values (NaN where the API sent null)."""

    timestamps: np.ndarray
    values: np.ndarray


@dataclass(frozen=True)
class Written:
    """Result of POST/PUT/PATCH/DELETE: status, parsed JSON body (None if empty), Location on 201."""

    status: int
    data: Any
    location: str | None = None


# -- transport -------------------------------------------------------------------------------------------


def make_retry(config: HexoskinConfig) -> Retry:
    """urllib3 Retry: idempotent methods only, on 429/5xx and connection errors, exponential backoff
    with jitter; Retry-After honoured but capped at backoff_max_s so total retry time stays bounded."""
    return Retry(
        total=config.max_retries,
        connect=config.max_retries,
        read=config.max_retries,
        status=config.max_retries,
        other=0,
        redirect=5,
        allowed_methods=IDEMPOTENT_METHODS,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=config.backoff_factor,
        backoff_max=config.backoff_max_s,
        backoff_jitter=config.backoff_jitter_s,
        respect_retry_after_header=True,
        retry_after_max=config.backoff_max_s,
        raise_on_status=False,  # hand back the last 429/5xx so it becomes a typed error with its message
    )


def mount_transport(session: requests.Session, config: HexoskinConfig) -> None:
    options = dict(
        pool_connections=config.pool_connections,
        pool_maxsize=config.pool_maxsize,
        pool_block=True,  # wait for a free connection rather than open unbounded extra ones
        max_retries=make_retry(config),
    )
    if config.max_requests_per_second:
        # requests-ratelimiter: a token bucket in front of the same pooled, retrying adapter.
        adapter: HTTPAdapter = LimiterAdapter(per_second=config.max_requests_per_second, **options)
    else:
        adapter = HTTPAdapter(**options)
    session.mount("https://", adapter)
    session.mount("http://", adapter)


# -- query helpers ---------------------------------------------------------------------------------------


def query_params(filters: Mapping[str, Any]) -> dict[str, str]:
    """Tastypie GET parameters from keyword filters.

    `start__gte=347631277170`, `user=9`, `id__in=[1, 2]` -> "1,2", `order_by=["-start", "id"]`,
    `start__range=(a, b)`, booleans as true/false; None values are dropped. HexoTimestamp fields take
    ticks (see timestamps.to_ticks); a datetime is sent as ISO 8601 (for datetime fields).
    """
    out: dict[str, str] = {}
    for key, value in filters.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
            items = sorted(value) if isinstance(value, (set, frozenset)) else list(value)
            out[key] = ",".join(_scalar(v) for v in items)
        else:
            out[key] = _scalar(value)
    return out


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime in a filter: give a timezone-aware datetime")
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def split_windows(start: int, end: int, period_ticks: int, max_points: int = DATA_POINTS_MAX) -> list[tuple[int, int]]:
    """Split [start, end) (HexoTimestamps) into consecutive windows holding at most `max_points`
    samples of a channel sampled every `period_ticks`. Windows are (max_points - 1) periods long,
    so even a server that included both ends would return at most max_points samples."""
    if end <= start:
        return []
    if period_ticks <= 0 or max_points < 2:
        raise ValueError("period_ticks must be > 0 and max_points >= 2")
    span = (max_points - 1) * period_ticks
    bounds = list(range(start, end, span)) + [end]
    return list(zip(bounds[:-1], bounds[1:]))


def period_ticks(datatype_id: int, hexo_freq: int | None) -> int:
    """Sample period in ticks used for windowing: hexo_freq, or the event-rate bound for events."""
    if hexo_freq:
        return int(hexo_freq)
    return int(256 / ASYNC_MAX_RATE_HZ)


def parse_data_json(payload: Any) -> dict[int, Series]:
    """`[{"data": {"19": [[ts, v], ...]}, "user": "/api/user/1/"}]` -> {19: Series} (one user only)."""
    if isinstance(payload, dict):
        payload = [payload]
    if not payload:
        return {}
    if len(payload) > 1:
        raise ValueError(f"data response holds {len(payload)} users: query one user at a time")
    out: dict[int, Series] = {}
    for key, points in (payload[0].get("data") or {}).items():
        out[int(key)] = _series(points)
    return out


def _series(points: list) -> Series:
    if not points:
        return Series(np.empty(0, np.int64), np.empty(0, np.float64))
    # float64 holds HexoTimestamps exactly (< 2**53) and turns JSON null values into NaN.
    arr = np.asarray(points, dtype=np.float64)
    return Series(arr[:, 0].astype(np.int64), arr[:, 1] if arr.shape[1] == 2 else arr[:, 1:])


def _ticks(value: Timestamp | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, datetime):
        return to_ticks(value)
    raise TypeError(f"timestamps are HexoTimestamp ints or aware datetimes, got {type(value).__name__}")


# -- the client ------------------------------------------------------------------------------------------


class HexoskinClient:
    """requests-style client for the Hexoskin REST API (one Session per client; a context manager).

    >>> with HexoskinClient(HexoskinConfig.from_env()) as api:
    ...     for rec in api.iter_list("record", user=9, start__gte=347631277170, order_by="-start"):
    ...         ...
    """

    def __init__(
        self,
        config: HexoskinConfig | None = None,
        *,
        token: Mapping[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.config = config or HexoskinConfig.from_env()
        self.auth_scheme = self.config.resolved_auth()
        # Password-grant clients share one token per process (auth.TokenCache); their lock is the
        # key's, so a grant or refresh happens once for all clients of the key.
        self._cache_key = (
            token_key(
                self.config.base_url,
                self.config.client_id,
                self.config.username,
                self.config.scope,
                self.config.client_secret,
                self.config.password,
            )
            if self.auth_scheme == "oauth2" and self.config.username and self.config.password
            else None
        )
        self._lock = TOKENS.lock(self._cache_key) if self._cache_key else threading.Lock()
        self._grant: str | None = None  # OAuth2 only: "password" or "authorization_code"
        self._period_cache: dict[int, int | None] = {}
        self._token_file = TokenFile(self.config.token_file) if self.config.token_file else None
        self._token_url = self._abs(TOKEN_PATH)
        self._authorize_url = self._abs(AUTHORIZE_PATH)
        install_log_redaction()
        cfg = self.config
        register_secret(cfg.password)
        register_secret(cfg.client_secret)
        register_secret(cfg.api_secret)

        if self.auth_scheme == "oauth2":
            self._session = self._oauth2_session(token)
        else:
            self._session = requests.Session()
            if self.auth_scheme == "basic":
                self._session.auth = BasicAuth(cfg.username, cfg.password)
            else:
                basic = (cfg.username, cfg.password) if self.auth_scheme == "basic+apikey" else None
                self._session.auth = HexoApiKeyAuth(cfg.api_key, cfg.api_secret, basic=basic, clock=clock)
        self._session.headers.update(
            {"Accept": "application/json", "X-HexoAPIVersion": cfg.api_version, "User-Agent": USER_AGENT}
        )
        mount_transport(self._session, cfg)

    @classmethod
    def from_env(cls, **overrides: Any) -> HexoskinClient:
        """Client from HEXO_* environment variables; keyword arguments override them."""
        return cls(HexoskinConfig.from_env(**overrides))

    # -- lifecycle ----------------------------------------------------------------------------------------

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> HexoskinClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HexoskinClient(base_url={self.config.base_url!r}, auth={self.auth_scheme!r})"

    @property
    def base_url(self) -> str:
        return self.config.base_url

    # -- OAuth2 -------------------------------------------------------------------------------------------

    def _oauth2_session(self, token: Mapping[str, Any] | None) -> OAuth2Session:
        cfg = self.config
        if cfg.is_loopback and cfg.base_url.startswith("http://"):
            # oauthlib refuses plain http; its only switch is this process-wide variable. Config
            # validation already limits plain http to a loopback sandbox.
            os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
        self._grant = "password" if cfg.username and cfg.password else "authorization_code"
        client_cls = LegacyApplicationClient if self._grant == "password" else WebApplicationClient
        self._client_auth = BasicAuth(cfg.client_id, cfg.client_secret)  # client auth at the token endpoint
        if token:
            register_token(dict(token))
        session = OAuth2Session(
            client=client_cls(cfg.client_id),
            scope=[cfg.scope],
            redirect_uri=cfg.redirect_uri,
            token=dict(token) if token else None,
            auto_refresh_url=self._token_url,  # refresh before sending when the token has expired
            token_updater=self._store_token,
        )
        for hook in ("access_token_response", "refresh_token_response"):
            session.register_compliance_hook(hook, raise_for_token_response)
        session.register_compliance_hook("refresh_token_request", keep_refresh_fields)
        return session

    @property
    def token(self) -> dict[str, Any] | None:
        """The current OAuth2 token (None for other schemes or before the first request)."""
        if self.auth_scheme != "oauth2":
            return None
        return dict(self._session.token) or None

    def authorization_url(self, redirect_uri: str | None = None, state: str | None = None) -> tuple[str, str]:
        """Authorization-code grant, step 1: the URL to send the user to, and the CSRF state."""
        self._require_grant("authorization_code")
        redirect_uri = redirect_uri or self.config.redirect_uri
        if not redirect_uri:
            raise ConfigError("authorization_url needs a redirect_uri (or HEXO_REDIRECT_URI)")
        self._session.redirect_uri = redirect_uri
        return self._session.authorization_url(self._authorize_url, state=state)

    def exchange_code(
        self,
        code: str | None = None,
        *,
        authorization_response: str | None = None,
        redirect_uri: str | None = None,
    ) -> dict[str, Any]:
        """Authorization-code grant, step 2: trade the code (or the whole redirect URL, whose state is
        then checked against step 1's) for a token; the token is kept and persisted."""
        self._require_grant("authorization_code")
        if redirect_uri:
            self._session.redirect_uri = redirect_uri
        with self._lock:
            token = self._token_call(
                self._session.fetch_token,
                self._token_url,
                code=code,
                authorization_response=authorization_response,
                auth=self._client_auth,
                timeout=self.config.timeout,
            )
            self._store_token(token)
        return dict(token)

    def refresh_token(self) -> dict[str, Any]:
        """Force a token refresh now (refresh-token grant, or a new password grant as a fallback)."""
        if self.auth_scheme != "oauth2":
            raise ConfigError("refresh_token() is for OAuth2 clients")
        with self._lock:
            self._refresh()
        return dict(self._session.token)

    def _require_grant(self, grant: str) -> None:
        if self.auth_scheme != "oauth2" or self._grant != grant:
            raise ConfigError(
                f"the {grant} grant needs auth=oauth2"
                + (" without a username/password" if grant == "authorization_code" else "")
            )

    def _store_token(self, token: Mapping[str, Any]) -> None:
        token = dict(token)
        register_token(token)
        self._session.token = token
        if self._cache_key:
            TOKENS.put(self._cache_key, token)
        if self._token_file is not None:
            self._token_file.save(token)

    @staticmethod
    def _expired(token: Mapping[str, Any]) -> bool:
        """Expired, or about to: oauthlib rounds expires_at to the second and counts from the response's
        arrival, so the server's clock runs out up to ~1 s before ours; refreshing a quarter of the
        announced lifetime early (at most a minute) keeps a request from leaving with a dying token."""
        try:
            lifetime = float(token.get("expires_in") or 0)
        except (TypeError, ValueError):
            lifetime = 0.0
        deadline = expires_at(dict(token))
        return 0 < deadline - min(60.0, lifetime / 4) <= time.time()

    def _adopt_shared_token(self) -> bool:
        """Take the token another client obtained, in this process (TOKENS) or another one (the token
        file), when we have none or it outlives ours. Called under self._lock."""
        mine = dict(self._session.token or {})
        candidates = [
            TOKENS.get(self._cache_key) if self._cache_key else None,
            self._token_file.load() if self._token_file else None,
        ]
        best = max((c for c in candidates if c), key=expires_at, default=None)
        if best is None or best.get("access_token") == mine.get("access_token"):
            return False
        if mine and (expires_at(best) <= expires_at(mine) or self._expired(best)):
            return False
        self._store_token(best)  # even expired (no token of our own): refreshing beats a new grant
        return True

    def _ensure_token(self) -> None:
        token = self._session.token
        if token and not self._expired(token):
            return
        with self._lock:
            if self._adopt_shared_token() and not self._expired(self._session.token):
                return
            if self._session.token:
                if self._expired(self._session.token):
                    self._refresh()  # under the lock: one refresh for every client of the key
            elif self._grant == "password":
                self._store_token(self._password_grant())
            else:
                raise ConfigError(
                    "no OAuth2 token: run authorization_url()/exchange_code(), pass token=, "
                    "set HEXO_TOKEN_FILE to a saved token, or set HEXO_USERNAME/HEXO_PASSWORD"
                )

    def _password_grant(self) -> dict[str, Any]:
        return self._token_call(
            self._session.fetch_token,
            self._token_url,
            username=self.config.username,
            password=self.config.password,
            scope=self.config.scope,
            auth=self._client_auth,
            timeout=self.config.timeout,
        )

    def _refresh(self) -> None:
        """Refresh-token grant; if that fails and a password is configured, a fresh password grant."""
        token = None
        refresh = (self._session.token or {}).get("refresh_token")
        if refresh:
            try:
                token = self._token_call(
                    self._session.refresh_token,
                    self._token_url,
                    refresh_token=refresh,
                    auth=self._client_auth,
                    timeout=self.config.timeout,
                )
            except HexoskinError:
                if self._grant != "password":
                    raise
        if token is None:
            if self._grant != "password":
                raise Unauthorized(401, "access token rejected and no refresh token to renew it", self._token_url)
            token = self._password_grant()
        self._store_token(token)

    def _token_call(self, fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return fn(*args, **kwargs)
        except OAuth2Error as exc:  # a 2xx answer oauthlib could not use (e.g. no access_token)
            raise Unauthorized(None, f"OAuth2: {exc.error}: {exc.description or ''}".strip(), self._token_url) from exc
        except requests.RequestException as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}", self._token_url) from exc

    # -- HTTP core ----------------------------------------------------------------------------------------

    def _abs(self, path: str) -> str:
        return urljoin(self.config.base_url + "/", path)

    def url(self, resource_or_uri: str) -> str:
        """'record', 'record/5', '/api/record/5/' or a full URL on the API's host -> absolute URL."""
        if resource_or_uri.startswith(("http://", "https://")):
            mine, theirs = urlsplit(self.config.base_url), urlsplit(resource_or_uri)
            if (mine.scheme, mine.netloc) != (theirs.scheme, theirs.netloc):
                # The session would send our credentials to whatever host this is.
                raise ValueError(f"refusing a URL outside {self.config.base_url}: {redact_url(resource_or_uri)}")
            return resource_or_uri
        if resource_or_uri.startswith("/"):
            return self._abs(resource_or_uri)
        path = resource_or_uri.strip("/")
        if not path.startswith("api/"):
            path = f"api/{path}"
        return self._abs(f"{path}/")

    def request(
        self,
        method: str,
        resource_or_uri: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """Send one request; raises a typed HexoskinError for any HTTP error or transport failure.

        With OAuth2, a 401 on a token we believed valid (server-side expiry, revocation) triggers one
        refresh and one replay; expiry we can see coming is refreshed by OAuth2Session beforehand.
        """
        method = method.upper()
        url = self.url(resource_or_uri)
        query = query_params(params or {})
        extra: dict[str, Any] = {}
        if self.auth_scheme == "oauth2":
            self._ensure_token()
            # OAuth2Session's auto-refresh authenticates the client with these (HTTP Basic).
            extra = {"client_id": self.config.client_id, "client_secret": self.config.client_secret}
        for attempt in (1, 2):
            started = time.monotonic()
            try:
                response = self._send(
                    method,
                    url,
                    params=query,
                    json=json,
                    headers=dict(headers or {}),
                    timeout=self.config.timeout,
                    stream=stream,
                    **extra,
                )
            except OAuth2Error as exc:
                raise Unauthorized(None, f"OAuth2: {exc.error}", self._token_url) from exc
            except HexoskinError as exc:
                # OAuth2Session's own refresh of an expired token failed (e.g. a stale refresh token
                # from the token file): with a password configured, start over with a password grant.
                if attempt == 1 and exc.url == self._token_url and self._grant == "password":
                    with self._lock:
                        if not self._adopt_shared_token() or self._expired(self._session.token):
                            self._store_token(self._password_grant())
                    continue
                raise
            except requests.RequestException as exc:
                raise TransportError(f"{type(exc).__name__}: {exc}", url) from exc
            logger.debug(
                "%s %s -> %s in %.3f s",
                method,
                redact_url(response.url),
                response.status_code,
                time.monotonic() - started,
            )
            if response.status_code == 401 and attempt == 1 and self.auth_scheme == "oauth2":
                response.close()
                rejected = dict(self._session.token or {}).get("access_token")
                with self._lock:
                    # Another client may have renewed the token while we waited for the lock.
                    if not self._adopt_shared_token() or self._session.token.get("access_token") == rejected:
                        self._refresh()
                continue
            if response.status_code >= 400:
                try:
                    raise error_for_response(response)
                finally:
                    response.close()
            return response
        raise AssertionError("unreachable")

    def _send(self, method: str, url: str, *, stream: bool, **kwargs: Any) -> requests.Response:
        """session.request, plus retries of idempotent, non-streamed requests whose body was cut short
        (ChunkedEncodingError: the connection broke mid-body). urllib3's Retry only covers failures up to
        the response headers; requests reads the body after it."""
        retries = self.config.max_retries if method in IDEMPOTENT_METHODS and not stream else 0
        for attempt in range(retries + 1):
            try:
                return self._session.request(method, url, stream=stream, **kwargs)
            except requests.exceptions.ChunkedEncodingError:
                if attempt == retries:
                    raise
                logger.debug("%s %s: body cut short, retrying", method, redact_url(url))
                time.sleep(self._backoff_s(attempt))
        raise AssertionError("unreachable")

    @staticmethod
    def _json(response: requests.Response) -> Any:
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise HexoskinError(response.status_code, "response is not JSON", response.url) from None

    # -- resources ----------------------------------------------------------------------------------------

    def get(self, resource_or_uri: str, **filters: Any) -> Any:
        """GET a list page or a detail (by resource name or URI) and return the parsed JSON."""
        return self._json(self.request("GET", resource_or_uri, params=filters))

    def get_detail(self, resource: str, obj_id: int | str) -> dict[str, Any]:
        return self.get(f"{resource}/{obj_id}")

    def list_page(self, resource: str, *, limit: int = 20, offset: int = 0, **filters: Any) -> dict[str, Any]:
        """One Tastypie page: {"meta": {...}, "objects": [...]}."""
        return self.get(resource, limit=limit, offset=offset, **filters)

    def iter_list(self, resource: str, *, page_size: int = LIST_LIMIT_MAX, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every object of a list, following `meta.next` (which keeps the filters) page by page."""
        if not 1 <= page_size <= LIST_LIMIT_MAX:
            raise ValueError(f"page_size must be 1..{LIST_LIMIT_MAX}")
        url: str | None = self.url(resource)
        params: dict[str, Any] | None = {**filters, "limit": page_size}
        while url:
            page = self._json(self.request("GET", url, params=params))
            yield from page.get("objects", [])
            nxt = (page.get("meta") or {}).get("next")
            url, params = (self._abs(nxt), None) if nxt else (None, None)

    def post(self, resource_or_uri: str, body: Any) -> Written:
        return self._write("POST", resource_or_uri, body)

    def put(self, resource_or_uri: str, body: Any) -> Written:
        return self._write("PUT", resource_or_uri, body)

    def patch(self, resource_or_uri: str, body: Any) -> Written:
        return self._write("PATCH", resource_or_uri, body)

    def delete(self, resource_or_uri: str) -> Written:
        return self._write("DELETE", resource_or_uri, None)

    def _write(self, method: str, resource_or_uri: str, body: Any) -> Written:
        response = self.request(method, resource_or_uri, json=body)
        location = response.headers.get("Location") if response.status_code == 201 else None
        return Written(response.status_code, self._json(response), location)

    # -- /api/data/ ---------------------------------------------------------------------------------------

    def get_data(
        self,
        datatypes: Iterable[int],
        *,
        record: int | None = None,
        range: int | None = None,
        user: int | None = None,
        start: Timestamp | None = None,
        end: Timestamp | None = None,
    ) -> dict[int, Series]:
        """JSON data per datatype, never subsampled: the time span is cut into windows so that no
        request asks for more than 65535 points of any datatype (datatypes of one rate share windows)."""
        ids = _ids(datatypes)
        selection, t0, t1 = self._selection(record, range, user, start, end)
        parts: dict[int, list[Series]] = {i: [] for i in ids}
        last: dict[int, int] = {}
        for period, group in self._groups_by_period(ids).items():
            for w0, w1 in split_windows(t0, t1, period):
                params = {**selection, "start": w0, "end": w1, "datatype__in": group}
                chunk = parse_data_json(self._json(self.request("GET", "data", params=params)))
                for dt_id, series in chunk.items():
                    if dt_id not in parts:
                        continue
                    # Drop anything a window repeats from the previous one (a server with inclusive ends).
                    keep = series.timestamps > last.get(dt_id, -1)
                    if keep.any():
                        parts[dt_id].append(Series(series.timestamps[keep], series.values[keep]))
                        last[dt_id] = int(series.timestamps[keep][-1])
        return {dt_id: _concat(chunks) for dt_id, chunks in parts.items()}

    def get_data_csv(
        self,
        datatypes: Iterable[int],
        *,
        record: int | None = None,
        range: int | None = None,
        user: int | None = None,
        start: Timestamp | None = None,
        end: Timestamp | None = None,
        parse: bool = False,
    ) -> str | list[dict[str, str]]:
        """CSV data (Accept: text/csv), windowed like get_data (at the fastest requested rate) and
        stitched into one table; returns the text, or rows as dicts when parse=True."""
        ids = _ids(datatypes)
        selection, t0, t1 = self._selection(record, range, user, start, end)
        period = min(self._groups_by_period(ids))
        header: str | None = None
        lines: list[str] = []
        for w0, w1 in split_windows(t0, t1, period):
            params = {**selection, "start": w0, "end": w1, "datatype__in": ids}
            text = self.request("GET", "data", params=params, headers={"Accept": "text/csv"}).text
            head, _, body = text.partition("\n")
            header = header or head.rstrip("\r")
            lines.extend(line for line in body.splitlines() if line.strip())
        text = "\n".join([header or "", *lines]) + "\n" if header else ""
        if parse:
            return list(csv.DictReader(io.StringIO(text)))
        return text

    def download_data(
        self,
        dest: str | os.PathLike[str],
        datatypes: Iterable[int],
        *,
        record: int | None = None,
        range: int | None = None,
        user: int | None = None,
        start: Timestamp | None = None,
        end: Timestamp | None = None,
        chunk_size: int = 1 << 20,
    ) -> Path:
        """Binary data (Accept: application/octet-stream, a zip of WAV/.hxd files), streamed to a temp
        file beside `dest` and renamed into place once whole (length and zip CRCs checked, cut bodies
        retried; see `download`): never held whole in memory, never half-written."""
        ids = _ids(datatypes)
        params: dict[str, Any] = {**_selection_params(record, range, user), "datatype__in": ids}
        params.update({"start": _ticks(start), "end": _ticks(end)})
        if user is not None and (start is None or end is None):
            raise ValueError("a user= request needs start and end")
        return self.download(
            "data",
            dest,
            params=params,
            headers={"Accept": "application/octet-stream"},
            verify=verify_zip,
            chunk_size=chunk_size,
        )

    def download(
        self,
        resource_or_uri: str,
        dest: str | os.PathLike[str],
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        verify: Callable[[Path], None] | None = None,
        chunk_size: int = 1 << 20,
    ) -> Path:
        """GET streamed to a temp file beside `dest`, fsynced and renamed into place only once whole:
        its length must match Content-Length and `verify(path)` (e.g. `verify_zip`) must pass. A body
        cut short or a connection reset mid-body is retried with the client's backoff, up to
        max_retries times (urllib3 already retries what fails before the body). On failure no file is
        left behind and `dest` keeps what it held."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(6)}.part")
        url = self.url(resource_or_uri)
        try:
            for attempt in range(self.config.max_retries + 1):
                try:
                    self._download_once(url, tmp, params, headers, chunk_size)
                    if verify is not None:
                        verify(tmp)
                except IncompleteDownload as exc:
                    if attempt == self.config.max_retries:
                        raise TransportError(f"download interrupted: {exc}", redact_url(url)) from exc
                    logger.debug("GET %s: %s; retrying", redact_url(url), exc)
                    time.sleep(self._backoff_s(attempt))
                    continue
                os.replace(tmp, dest)
                return dest
        finally:
            tmp.unlink(missing_ok=True)
        raise AssertionError("unreachable")

    def _download_once(
        self, url: str, tmp: Path, params: Mapping[str, Any] | None, headers: Mapping[str, str] | None, chunk_size: int
    ) -> None:
        with self.request("GET", url, params=params, headers=headers, stream=True) as response:
            written = 0
            with open(tmp, "wb") as f:
                try:
                    for block in response.iter_content(chunk_size):
                        f.write(block)
                        written += len(block)
                except requests.RequestException as exc:  # connection lost or body cut short mid-stream
                    raise IncompleteDownload(f"{type(exc).__name__}: {exc}") from exc
                f.flush()
                os.fsync(f.fileno())
            promised = response.headers.get("Content-Length")
            # Content-Length counts the bytes on the wire; with a Content-Encoding requests decodes them.
            if promised and promised.isdigit() and not response.headers.get("Content-Encoding"):
                if written != int(promised):
                    raise IncompleteDownload(f"{written} bytes received, Content-Length promised {promised}")

    def _backoff_s(self, attempt: int) -> float:
        """The wait before retry `attempt + 1` of something urllib3 cannot retry (a body cut short)."""
        return min(self.config.backoff_max_s, self.config.backoff_factor * 2**attempt)

    def _selection(
        self, record: int | None, range_: int | None, user: int | None, start: Timestamp | None, end: Timestamp | None
    ) -> tuple[dict[str, Any], int, int]:
        """Selection params and the [t0, t1) span to window: given, or the record's/range's bounds."""
        selection = _selection_params(record, range_, user)
        t0, t1 = _ticks(start), _ticks(end)
        if t0 is None or t1 is None:
            if user is not None:
                raise ValueError("a user= request needs start and end")
            resource, obj_id = ("record", record) if record is not None else ("range", range_)
            detail = self.get_detail(resource, obj_id)
            t0 = detail["start"] if t0 is None else t0
            t1 = detail["end"] if t1 is None else t1
        return selection, int(t0), int(t1)

    def _groups_by_period(self, ids: list[int]) -> dict[int, list[int]]:
        groups: dict[int, list[int]] = {}
        for dt_id in ids:
            groups.setdefault(period_ticks(dt_id, self._hexo_freq(dt_id)), []).append(dt_id)
        return dict(sorted(groups.items()))

    def _hexo_freq(self, dt_id: int) -> int | None:
        """Sample period in ticks: from the catalog, else asked once from /api/datatype/<id>/."""
        if dt_id in catalog.BY_ID:
            return catalog.BY_ID[dt_id].hexo_freq
        if dt_id not in self._period_cache:
            self._period_cache[dt_id] = self.get_detail("datatype", dt_id).get("hexo_freq")
        return self._period_cache[dt_id]


def _ids(values: Iterable[int]) -> list[int]:
    ids = list(dict.fromkeys(int(v) for v in ([values] if isinstance(values, int) else values)))
    if not ids:
        raise ValueError("give at least one datatype id")
    return ids


def _selection_params(record: int | None, range_: int | None, user: int | None) -> dict[str, Any]:
    given = {k: v for k, v in (("record", record), ("range", range_), ("user", user)) if v is not None}
    if len(given) != 1:
        raise ValueError("give exactly one of record=, range= or user= (with start and end)")
    return given


def _concat(chunks: list[Series]) -> Series:
    if not chunks:
        return Series(np.empty(0, np.int64), np.empty(0, np.float64))
    if len(chunks) == 1:
        return chunks[0]
    return Series(np.concatenate([c.timestamps for c in chunks]), np.concatenate([c.values for c in chunks]))


class IncompleteDownload(Exception):
    """A streamed body that is not whole (cut short, reset, or failing its check): retried."""


def verify_zip(path: Path) -> None:
    """A downloaded zip is whole: its central directory reads and every member's CRC matches."""
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise IncompleteDownload(f"not a complete zip: {exc}") from exc
    if bad is not None:
        raise IncompleteDownload(f"not a complete zip: member {bad!r} fails its CRC")
