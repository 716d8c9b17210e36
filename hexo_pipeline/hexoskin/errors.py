"""Typed errors for the Hexoskin REST API client.

Every error carries the HTTP status, the server's own message and the URL with secrets removed, so a
failure can be logged or shown as is.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

# Query parameters that may carry credentials (OAuth2 codes and tokens); redacted from error URLs.
_SECRET_PARAMS = frozenset(
    {"access_token", "refresh_token", "code", "client_secret", "password", "api_secret", "signature"}
)
_MAX_MESSAGE_CHARS = 500


class HexoskinError(Exception):
    """Base class: `status` (None for transport failures), `message` (the server's), `url` (no secrets)."""

    def __init__(self, status: int | None, message: str, url: str | None = None):
        self.status = status
        self.message = message
        self.url = redact_url(url) if url else url
        super().__init__(str(self))

    def __str__(self) -> str:
        status = f"HTTP {self.status}" if self.status is not None else "transport error"
        where = f" ({self.url})" if self.url else ""
        return f"{status}: {self.message}{where}"


class ConfigError(HexoskinError, ValueError):
    """Missing or inconsistent client configuration (raised before any request is sent)."""

    def __init__(self, message: str):
        super().__init__(None, message)

    def __str__(self) -> str:
        return self.message


class BadRequest(HexoskinError):
    """400: the server rejected the parameters or body (e.g. an unknown filter)."""


class Unauthorized(HexoskinError):
    """401: authentication failed (bad credentials, signature, or a token that could not be refreshed)."""


class Forbidden(HexoskinError):
    """403: authenticated, but not allowed."""


class NotFound(HexoskinError):
    """404: no such resource, or not visible to this user."""


class MethodNotAllowed(HexoskinError):
    """405: method not allowed on this resource (e.g. DELETE on a list)."""


class RateLimited(HexoskinError):
    """429 after the retry budget was spent. `retry_after` is the server's hint in seconds, if any."""

    def __init__(self, status: int | None, message: str, url: str | None = None, retry_after: float | None = None):
        self.retry_after = retry_after
        super().__init__(status, message, url)


class ServerError(HexoskinError):
    """5xx after the retry budget was spent (or at once for non-idempotent requests)."""


class TransportError(HexoskinError):
    """No usable HTTP response: connection refused/reset or timeout, after retries."""

    def __init__(self, message: str, url: str | None = None):
        super().__init__(None, message, url)


_BY_STATUS: dict[int, type[HexoskinError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    429: RateLimited,
}


def redact_url(url: str) -> str:
    """Drop user:password from the netloc and blank credential-like query parameters."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in _SECRET_PARAMS for k, _ in pairs):
            query = urlencode([(k, "REDACTED" if k.lower() in _SECRET_PARAMS else v) for k, v in pairs])
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def server_message(response: requests.Response) -> str:
    """The server's message: JSON `error_message`/`error_description`/`error`, else the body text."""
    text = ""
    try:
        text = response.text
        body = json.loads(text)
    except (ValueError, RuntimeError):  # not JSON, or a streamed body already consumed
        body = None
    if isinstance(body, dict):
        for key in ("error_message", "error_description", "error"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    text = (text or "").strip()
    if not text:
        return response.reason or f"HTTP {response.status_code}"
    return text[:_MAX_MESSAGE_CHARS]


def error_for_response(response: requests.Response) -> HexoskinError:
    """Map an HTTP error response to its typed error (the caller raises it)."""
    status = response.status_code
    message = server_message(response)
    url = response.url or (response.request.url if response.request is not None else None)
    if status == 429:
        return RateLimited(status, message, url, retry_after=_retry_after(response))
    if status >= 500:
        return ServerError(status, message, url)
    return _BY_STATUS.get(status, HexoskinError)(status, message, url)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:  # an HTTP-date: rare, and only a hint here
        return None
