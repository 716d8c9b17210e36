"""Client configuration: explicit arguments or environment variables, never secrets in code or repr."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError

# Environment variable names (the only place they are spelled out).
ENV_API_URL = "HEXO_API_URL"  # base URL, e.g. https://api.hexoskin.com
ENV_AUTH = "HEXO_AUTH"  # oauth2 | apikey | basic | basic+apikey; inferred from the credentials when unset
ENV_USERNAME = "HEXO_USERNAME"
ENV_PASSWORD = "HEXO_PASSWORD"
ENV_CLIENT_ID = "HEXO_CLIENT_ID"  # OAuth2 client
ENV_CLIENT_SECRET = "HEXO_CLIENT_SECRET"
ENV_API_KEY = "HEXO_API_KEY"  # API key, public part
ENV_API_SECRET = "HEXO_API_SECRET"  # API key, private part (signs requests, never sent)
ENV_TOKEN_FILE = "HEXO_TOKEN_FILE"  # optional OAuth2 token persistence (JSON, mode 0600)
ENV_SCOPE = "HEXO_SCOPE"  # readonly | readwrite
ENV_REDIRECT_URI = "HEXO_REDIRECT_URI"  # OAuth2 authorization-code grant
ENV_API_VERSION = "HEXO_API_VERSION"  # X-HexoAPIVersion, default 3.3.x
ENV_TIMEOUT_S = "HEXO_TIMEOUT_S"  # "30" (connect and read) or "5,60" (connect,read)
ENV_MAX_RETRIES = "HEXO_MAX_RETRIES"
ENV_MAX_RPS = "HEXO_MAX_RPS"  # requests per second per client (0/unset: unlimited)

AUTH_SCHEMES = ("oauth2", "apikey", "basic", "basic+apikey")
SCOPES = ("readonly", "readwrite")
DEFAULT_BASE_URL = "https://api.hexoskin.com"
DEFAULT_API_VERSION = "3.3.x"

_SECRET_FIELDS = frozenset({"password", "client_secret", "api_secret"})
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True, repr=False)
class HexoskinConfig:
    base_url: str = DEFAULT_BASE_URL
    auth: str | None = None  # None: infer from the credentials present
    username: str | None = None
    password: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    api_key: str | None = None
    api_secret: str | None = None
    token_file: Path | None = None
    scope: str = "readonly"
    redirect_uri: str | None = None  # OAuth2 authorization-code grant
    api_version: str = DEFAULT_API_VERSION
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    # Retries (idempotent methods only): total attempts after the first, exponential backoff with jitter.
    # Each wait is capped at backoff_max_s (Retry-After too), so the retry time of one request stays
    # below max_retries * backoff_max_s plus timeouts, well inside the API-key signature window.
    max_retries: int = 5
    backoff_factor: float = 0.5
    backoff_max_s: float = 10.0
    backoff_jitter_s: float = 0.5
    pool_connections: int = 4
    pool_maxsize: int = 8
    # Client-side request rate (token bucket per process). The API documents no limit; the vendor's
    # own helper sleeps to stay below 5 requests/s. With a Dagster pool of N concurrent API steps the
    # total rate is at most N x this.
    max_requests_per_second: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        if self.token_file is not None and not isinstance(self.token_file, Path):
            object.__setattr__(self, "token_file", Path(self.token_file))
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"base_url must be an http(s) URL, got {self.base_url!r}")
        # Credentials must not travel in clear text; plain HTTP is only for a sandbox on this machine.
        if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
            raise ConfigError(f"refusing plain http to {parts.hostname}: use https")
        if self.auth is not None and self.auth not in AUTH_SCHEMES:
            raise ConfigError(f"auth must be one of {AUTH_SCHEMES}, got {self.auth!r}")
        if self.scope not in SCOPES:
            raise ConfigError(f"scope must be one of {SCOPES}, got {self.scope!r}")

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _SECRET_FIELDS and value is not None:
                value = "***"
            shown.append(f"{f.name}={value!r}")
        return f"HexoskinConfig({', '.join(shown)})"

    __str__ = __repr__

    @property
    def is_loopback(self) -> bool:
        return urlsplit(self.base_url).hostname in _LOOPBACK_HOSTS

    @property
    def timeout(self) -> tuple[float, float]:
        """(connect, read) seconds, as requests takes them."""
        return (self.connect_timeout_s, self.read_timeout_s)

    def resolved_auth(self) -> str:
        """The auth scheme to use; raises ConfigError when its credentials are incomplete."""
        scheme = self.auth or self._infer_auth()
        need = {
            "oauth2": ("client_id", "client_secret"),
            "apikey": ("api_key", "api_secret"),
            "basic": ("username", "password"),
            "basic+apikey": ("username", "password", "api_key", "api_secret"),
        }[scheme]
        missing = [name for name in need if not getattr(self, name)]
        if missing:
            names = ", ".join(_ENV_FOR_FIELD[m] for m in missing)
            raise ConfigError(f"auth {scheme!r} needs {', '.join(missing)} (env: {names})")
        return scheme

    def _infer_auth(self) -> str:
        if self.client_id and self.client_secret:
            return "oauth2"
        has_key = bool(self.api_key and self.api_secret)
        has_user = bool(self.username and self.password)
        if has_key and has_user:
            return "basic+apikey"  # the vendor client's way: key names the app, Basic the user
        if has_key:
            return "apikey"
        if has_user:
            return "basic"
        raise ConfigError(
            "no credentials: set HEXO_CLIENT_ID/HEXO_CLIENT_SECRET (OAuth2), HEXO_API_KEY/HEXO_API_SECRET, "
            "or HEXO_USERNAME/HEXO_PASSWORD"
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> HexoskinConfig:
        """Build from environment variables; explicit keyword arguments win over the environment."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field_name, var in _ENV_FOR_FIELD.items():
            raw = env.get(var)
            if raw not in (None, ""):
                values[field_name] = raw
        if "max_retries" in values:
            values["max_retries"] = _parse_int(ENV_MAX_RETRIES, values["max_retries"])
        raw_rps = env.get(ENV_MAX_RPS)
        if raw_rps:
            try:
                values["max_requests_per_second"] = float(raw_rps) or None
            except ValueError:
                raise ConfigError(f"{ENV_MAX_RPS} must be a number, got {raw_rps!r}") from None
        raw_timeout = env.get(ENV_TIMEOUT_S)
        if raw_timeout:
            values["connect_timeout_s"], values["read_timeout_s"] = _parse_timeout(raw_timeout)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


_ENV_FOR_FIELD: dict[str, str] = {
    "base_url": ENV_API_URL,
    "auth": ENV_AUTH,
    "username": ENV_USERNAME,
    "password": ENV_PASSWORD,
    "client_id": ENV_CLIENT_ID,
    "client_secret": ENV_CLIENT_SECRET,
    "api_key": ENV_API_KEY,
    "api_secret": ENV_API_SECRET,
    "token_file": ENV_TOKEN_FILE,
    "scope": ENV_SCOPE,
    "redirect_uri": ENV_REDIRECT_URI,
    "api_version": ENV_API_VERSION,
    "max_retries": ENV_MAX_RETRIES,
}


def _parse_int(var: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{var} must be an integer, got {raw!r}") from None


def _parse_timeout(raw: str) -> tuple[float, float]:
    try:
        parts = [float(p) for p in raw.split(",")]
    except ValueError:
        raise ConfigError(f"{ENV_TIMEOUT_S} must be seconds or 'connect,read', got {raw!r}") from None
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or min(parts) <= 0:
        raise ConfigError(f"{ENV_TIMEOUT_S} must be seconds or 'connect,read', got {raw!r}")
    return parts[0], parts[1]
