"""Failures caused by configuration or by the remote side, as one line a person can act on.

`explain(exc)` names the cause and the variable or file to fix, or returns None for a bug (whose
traceback is then worth showing). The command line prints it (tracebacks only with `--debug`), the
runner prints it after a failed run, and the Dagster resources turn it into a `dg.Failure` that is not
retried (retrying a rejected password or a closed port only delays the same error).
"""

from __future__ import annotations

from zoneinfo import ZoneInfoNotFoundError

from .hexoskin.errors import (
    BadRequest,
    ConfigError,
    Forbidden,
    HexoskinError,
    RateLimited,
    ServerError,
    TransportError,
    Unauthorized,
)
from .lake.storage import explain_storage_error
from .study_settings import InvalidStudySetting

CREDENTIALS = "HEXO_USERNAME/HEXO_PASSWORD, HEXO_CLIENT_ID/HEXO_CLIENT_SECRET or HEXO_API_KEY/HEXO_API_SECRET"

# OAuth2 token endpoint answers (RFC 6749 5.2) that mean "these credentials are not accepted".
_OAUTH_REJECTIONS = frozenset({"invalid_grant", "invalid_client", "unauthorized_client"})


class SetupError(Exception):
    """A configuration problem found before anything ran; the message is the one line to show."""


def explain(exc: BaseException) -> str | None:
    """One line naming the cause and what to fix, or None when `exc` is not a setup/remote failure."""
    for err in _chain(exc):
        line = _explain_one(err)
        if line:
            return line
    return None


def is_user_error(exc: BaseException) -> bool:
    return explain(exc) is not None


def _chain(exc: BaseException):
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _explain_one(err: BaseException) -> str | None:
    if isinstance(err, SetupError):
        return str(err)
    storage_line = explain_storage_error(err)
    if storage_line:
        return storage_line
    if isinstance(err, ConfigError):
        return f"Hexoskin configuration: {err.message}"
    if isinstance(err, Unauthorized) or (isinstance(err, BadRequest) and err.message in _OAUTH_REJECTIONS):
        return (
            f"the Hexoskin API rejected the credentials ({err.message}): check {CREDENTIALS} "
            f"for HEXO_API_URL={_host(err)}"
        )
    if isinstance(err, Forbidden):
        return f"the Hexoskin account may not read this ({err.message}): check the account's study access"
    if isinstance(err, TransportError):
        return (
            f"cannot reach the Hexoskin API at {_host(err)} ({_short(err.message)}): check HEXO_API_URL "
            "and the network, or unset HEXO_API_URL to use the sandbox"
        )
    if isinstance(err, RateLimited):
        return "the Hexoskin API kept answering 429 (rate limited): lower HEXO_MAX_RPS and retry later"
    if isinstance(err, ServerError):
        return f"the Hexoskin API failed (HTTP {err.status}: {err.message}): retry later"
    if isinstance(err, InvalidStudySetting):
        return str(err)
    if isinstance(err, ZoneInfoNotFoundError):
        return f"HEXO_STUDY_TZ: {err.args[0] if err.args else err} (use an IANA name, e.g. America/Montreal)"
    if isinstance(err, HexoskinError) and err.status is None:
        return f"Hexoskin API: {err}"
    return None


def _short(message: str) -> str:
    """The reason of a transport error without urllib3's nesting ("[Errno 111] Connection refused")."""
    import re

    found = re.findall(r"\[Errno -?\d+\] ([^'\")]+)|(timed out|Read timed out|Name or service not known)", message)
    if found:
        errno_text, other = found[-1]
        return (errno_text or other).strip()
    return message.splitlines()[0][:120]


def _host(err: HexoskinError) -> str:
    if not err.url:
        return "(unknown)"
    from urllib.parse import urlsplit

    parts = urlsplit(err.url)
    return f"{parts.scheme}://{parts.netloc}"
