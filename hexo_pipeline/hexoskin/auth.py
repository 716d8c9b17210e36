"""Authentication for the Hexoskin API: API-key signing, OAuth2 plumbing, token file, log redaction.

- API keys (seed doc, hexoskin_api_notes.md §1.2): three headers per request, the signature being
  sha1_hex(private key + timestamp + full URL as sent). The timestamp is plain Unix seconds (not x256).
- OAuth2 (§1.3) is done by requests-oauthlib; this module only adds what the library leaves to us:
  typed errors on token-endpoint failures, a token file written with mode 0600, and log redaction
  (requests-oauthlib logs tokens, token-request bodies and headers at DEBUG).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from oauthlib.common import urldecode, urlencode
from requests.auth import AuthBase, HTTPBasicAuth

from .errors import error_for_response

TOKEN_PATH = "/api/connect/oauth2/token/"
AUTHORIZE_PATH = "/api/connect/oauth2/auth/"


def sign(private_key: str, timestamp: int, url: str) -> str:
    """X-HEXOAPISIGNATURE: sha1 hex of private key + timestamp + full URL ("Key, Timestamp, Url")."""
    return hashlib.sha1(f"{private_key}{int(timestamp)}{url}".encode()).hexdigest()


class HexoApiKeyAuth(AuthBase):
    """Signs each prepared request with the X-HEXO headers; optionally adds HTTP Basic for the user.

    requests calls auth after encoding the URL, so `r.url` is exactly what goes on the wire (the
    server checks the signature against that, e.g. `datatype__in=19%2C33`).
    """

    def __init__(
        self,
        public_key: str,
        private_key: str,
        *,
        basic: tuple[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.public_key = public_key
        self._private_key = private_key
        self._basic = HTTPBasicAuth(*basic) if basic else None
        self._clock = clock
        register_secret(private_key)
        if basic:
            register_basic_secret(*basic)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._basic is not None:
            r = self._basic(r)
        ts = int(self._clock())
        r.headers["X-HEXOAPIKEY"] = self.public_key
        r.headers["X-HEXOTIMESTAMP"] = str(ts)
        r.headers["X-HEXOAPISIGNATURE"] = sign(self._private_key, ts, r.url or "")
        return r

    def __repr__(self) -> str:
        return f"HexoApiKeyAuth(public_key={self.public_key!r}, basic={self._basic is not None})"


class BasicAuth(HTTPBasicAuth):
    """HTTPBasicAuth whose repr hides the password and whose credentials are redacted from logs."""

    def __init__(self, username: str, password: str):
        super().__init__(username, password)
        register_basic_secret(username, password)

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r})"


# -- OAuth2 token endpoint helpers ---------------------------------------------------------------------


def raise_for_token_response(response: requests.Response) -> requests.Response:
    """Compliance hook: turn a token-endpoint HTTP error into a typed error before oauthlib parses it."""
    if response.status_code >= 400:
        raise error_for_response(response)
    try:
        register_token(json.loads(response.text))
    except ValueError:
        pass  # oauthlib reports the malformed body
    return response


_REFRESH_FIELDS = frozenset({"grant_type", "refresh_token", "scope"})


def keep_refresh_fields(url: str, headers: dict, body: str) -> tuple[str, dict, str]:
    """Compliance hook: OAuth2Session's auto-refresh forwards the triggering request's keyword
    arguments (params, stream, json...) into the refresh body; send only the refresh grant's fields."""
    kept = [(k, v) for k, v in urldecode(body) if k in _REFRESH_FIELDS]
    return url, headers, urlencode(kept)


class TokenFile:
    """OAuth2 token persisted as JSON, created with mode 0600 and replaced atomically."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)

    def load(self) -> dict[str, Any] | None:
        try:
            token = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except ValueError:
            logger.warning("ignoring unreadable token file %s", self.path)
            return None
        if isinstance(token, dict) and token.get("access_token"):
            register_token(token)
            return token
        return None

    def save(self, token: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # A fresh temp file in the same directory, created 0600 (never readable by others, even
        # briefly), then renamed over the old file so a reader never sees half a token.
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(token, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def __repr__(self) -> str:
        return f"TokenFile({str(self.path)!r})"


# -- one OAuth2 token per process ------------------------------------------------------------------------


TokenKey = tuple[str, str, str, str, str]


def token_key(
    base_url: str, client_id: str | None, username: str, scope: str | None, client_secret: str | None, password: str
) -> TokenKey:
    """(base_url, client_id, username, scope, digest of the credentials): a client shares a token only
    with clients that would have been granted the very same one (a wrong password or a readonly scope
    never rides on another client's token). The digest never leaves memory."""
    digest = hashlib.sha256(f"{client_secret or ''}\0{password}".encode()).hexdigest()
    return (base_url, client_id or "", username, scope or "", digest)


class TokenCache:
    """Process-wide OAuth2 tokens of password-grant clients, keyed by `token_key` (base_url, client_id,
    username...), so that every HexoskinClient of a process (one per Dagster step) reuses one token and
    refreshes it instead of doing a password grant each. In memory only; a lock per key serialises
    grants and refreshes of that key across clients and threads."""

    def __init__(self) -> None:
        self._tokens: dict[TokenKey, dict[str, Any]] = {}
        self._locks: dict[TokenKey, threading.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, key: TokenKey) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def get(self, key: TokenKey) -> dict[str, Any] | None:
        with self._guard:
            token = self._tokens.get(key)
            return dict(token) if token else None

    def put(self, key: TokenKey, token: dict[str, Any]) -> None:
        with self._guard:
            self._tokens[key] = dict(token)

    def clear(self) -> None:
        with self._guard:
            self._tokens.clear()


TOKENS = TokenCache()


def expires_at(token: dict[str, Any] | None) -> float:
    """The token's expiry (Unix s); 0 when unknown."""
    try:
        return float((token or {}).get("expires_at") or 0)
    except (TypeError, ValueError):
        return 0.0


# -- log redaction ---------------------------------------------------------------------------------------

logger = logging.getLogger("hexo_pipeline.hexoskin")

_known_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_MIN_SECRET_LEN = 4  # shorter values would redact ordinary words

# Key/value shapes that carry credentials in library debug output (dict reprs, form bodies, headers).
_KEY_VALUE = re.compile(
    r"""(?P<key>access_token|refresh_token|password|client_secret|code|X-HEXOAPISIGNATURE)"""
    r"""(?P<sep>['"]?\s*[:=]\s*['"]?)(?P<value>[^'"&\s,}]+)""",
    re.IGNORECASE,
)
_AUTH_HEADER = re.compile(r"""(?P<scheme>\b(?:Basic|Bearer))\s+[A-Za-z0-9._~+/=-]+""")


def register_secret(value: str | None) -> None:
    """Remember a secret value so any log record that contains it is redacted."""
    if value and len(value) >= _MIN_SECRET_LEN:
        with _secrets_lock:
            _known_secrets.add(value)


def register_basic_secret(username: str, password: str) -> None:
    register_secret(password)
    register_secret(base64.b64encode(f"{username}:{password}".encode("latin-1")).decode())


def register_token(token: dict[str, Any]) -> None:
    register_secret(token.get("access_token"))
    register_secret(token.get("refresh_token"))


def redact(text: str) -> str:
    with _secrets_lock:
        known = sorted(_known_secrets, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, "[REDACTED]")
    text = _KEY_VALUE.sub(lambda m: f"{m['key']}{m['sep']}[REDACTED]", text)
    return _AUTH_HEADER.sub(lambda m: f"{m['scheme']} [REDACTED]", text)


class RedactSecrets(logging.Filter):
    """Rewrites a record's message with secrets removed (logger filters run before any handler)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to logging's own error handling
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_REDACTOR = RedactSecrets()
# Filters on a logger only see records created by that very logger, so attach to each one that may
# print credentials: requests-oauthlib and oauthlib (tokens, bodies, headers), urllib3 (URLs), ours.
_REDACTED_LOGGERS = (
    "requests_oauthlib.oauth2_session",
    "requests_oauthlib.oauth2_auth",
    "oauthlib",
    "urllib3.connectionpool",
    "hexo_pipeline.hexoskin",
    "hexo_pipeline.hexoskin.client",
)


def install_log_redaction() -> None:
    """Idempotent: attach the redacting filter to the loggers above and to oauthlib's module loggers."""
    names = set(_REDACTED_LOGGERS)
    names.update(n for n in logging.root.manager.loggerDict if n.startswith(("oauthlib.", "requests_oauthlib.")))
    for name in names:
        logging.getLogger(name).addFilter(_REDACTOR)
