"""Server-side authentication for the sandbox: OAuth2 tokens, API-key signatures and HTTP Basic.

Behaviour follows the seed and hexoskin_api_notes.md §1.2-1.3:
- OAuth2 token endpoint `POST /api/connect/oauth2/token/` (form body, client authenticated with HTTP
  Basic), grants `password`, `authorization_code` and `refresh_token`; requests then carry
  `Authorization: Bearer <token>`.
- API keys: `X-HEXOAPIKEY`, `X-HEXOTIMESTAMP` (plain seconds) and `X-HEXOAPISIGNATURE` =
  sha1(private key + timestamp + full URL as sent). The vendor's clock tolerance is unknown; the
  sandbox accepts +/- 300 s (an assumption, configurable).
- Basic alone identifies the user; Basic plus API-key headers is the vendor client's way (the key
  names the application, Basic the user). An API key alone acts as the user who owns the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from .tastypie import ApiError

SCOPES = ("readonly", "readwrite")


@dataclass
class Token:
    user_id: int
    scope: str
    client_id: str
    expires_at: float
    id: int = 0
    lifetime_s: float = 0.0  # what expires_in announced


@dataclass
class Principal:
    user_id: int
    scope: str  # readwrite unless an OAuth2 token says otherwise
    via: str  # oauth2 | apikey | basic


class AuthServer:
    def __init__(
        self,
        users: dict[str, tuple[int, str]],  # username -> (user id, password)
        clients: dict[str, str],  # oauth2 client_id -> client_secret
        api_keys: dict[str, tuple[str, int]],  # public key -> (private key, owner user id)
        token_lifetime_s: float = 3600.0,
        signature_window_s: float = 300.0,
        clock=time.time,
        early_expiry_s: float = 0.0,
    ):
        self.users = users
        self.clients = clients
        self.api_keys = api_keys
        self.token_lifetime_s = token_lifetime_s
        # Fault: when > 0, access tokens stop working after this many seconds although expires_in
        # announces token_lifetime_s (a server that revokes tokens early).
        self.early_expiry_s = early_expiry_s
        self._next_token_id = 1
        self.signature_window_s = signature_window_s
        self.clock = clock
        self._tokens: dict[str, Token] = {}
        self._refresh: dict[str, Token] = {}
        self._codes: dict[str, tuple[Token, str]] = {}  # code -> (token template, redirect_uri)
        self._lock = threading.Lock()

    # -- OAuth2 ---------------------------------------------------------------------------------------

    def _client(self, authorization: str | None, form: dict[str, str]) -> str:
        client_id, secret = _basic(authorization) or (form.get("client_id"), form.get("client_secret"))
        if not client_id or client_id not in self.clients or not _eq(self.clients[client_id], secret or ""):
            raise ApiError(401, "invalid_client")
        return client_id

    def token_endpoint(self, authorization: str | None, form: dict[str, str]) -> dict:
        client_id = self._client(authorization, form)
        grant = form.get("grant_type")
        if grant == "password":
            user_id = self.check_password(form.get("username", ""), form.get("password", ""))
            if user_id is None:
                raise ApiError(400, "invalid_grant")
            scope = _scope(form.get("scope"))
        elif grant == "refresh_token":
            with self._lock:
                old = self._refresh.pop(form.get("refresh_token", ""), None)
            if old is None or old.client_id != client_id:
                raise ApiError(400, "invalid_grant")
            user_id, scope = old.user_id, old.scope
        elif grant == "authorization_code":
            with self._lock:
                entry = self._codes.pop(form.get("code", ""), None)
            if entry is None or entry[0].client_id != client_id:
                raise ApiError(400, "invalid_grant")
            if entry[1] and form.get("redirect_uri") != entry[1]:
                raise ApiError(400, "invalid_grant: redirect_uri mismatch")
            user_id, scope = entry[0].user_id, entry[0].scope
        else:
            raise ApiError(400, "unsupported_grant_type")
        return self._issue(user_id, scope, client_id)

    def _issue(self, user_id: int, scope: str, client_id: str) -> dict:
        access, refresh = secrets.token_hex(20), secrets.token_hex(20)
        life = min(self.token_lifetime_s, self.early_expiry_s) if self.early_expiry_s > 0 else self.token_lifetime_s
        token = Token(user_id, scope, client_id, self.clock() + life, lifetime_s=self.token_lifetime_s)
        with self._lock:
            token.id = self._next_token_id
            self._next_token_id += 1
            self._tokens[access] = token
            self._refresh[refresh] = token
        return {
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": int(self.token_lifetime_s) if self.token_lifetime_s >= 1 else 1,
            "token_type": "Bearer",
            "scope": scope,
        }

    def authorize(self, authorization: str | None, args: dict[str, str]) -> str:
        """Authorization-code grant. The real server shows a login page; the sandbox takes the user's
        HTTP Basic credentials on this GET instead and returns the redirect location with the code."""
        client_id = args.get("client_id", "")
        if client_id not in self.clients:
            raise ApiError(400, "invalid_client")
        if args.get("response_type") != "code":
            raise ApiError(400, "unsupported_response_type")
        creds = _basic(authorization)
        user_id = self.check_password(*creds) if creds else None
        if user_id is None:
            raise ApiError(401, "login required", {"WWW-Authenticate": 'Basic realm="hexoskin"'})
        code = secrets.token_hex(12)
        redirect = args.get("redirect_uri", "")
        with self._lock:
            self._codes[code] = (Token(user_id, _scope(args.get("scope")), client_id, 0), redirect)
        sep = "&" if "?" in redirect else "?"
        state = args.get("state")
        return f"{redirect}{sep}code={code}" + (f"&state={state}" if state else "")

    def tokens_of(self, user_id: int) -> list[Token]:
        """The user's live access tokens (for /api/oauth2token/), oldest first."""
        now = self.clock()
        with self._lock:
            return sorted(
                (t for t in self._tokens.values() if t.user_id == user_id and t.expires_at > now), key=lambda t: t.id
            )

    def revoke(self, token_id: int) -> None:
        """DELETE /api/oauth2token/<id>/: the access token and its refresh token stop working."""
        with self._lock:
            for store in (self._tokens, self._refresh):
                for key in [k for k, t in store.items() if t.id == token_id]:
                    del store[key]

    def expire_all_tokens(self) -> None:
        """Test hook: every access token expires now (a token that dies mid-run)."""
        with self._lock:
            for tok in self._tokens.values():
                tok.expires_at = 0.0

    # -- request authentication --------------------------------------------------------------------

    def check_password(self, username: str, password: str) -> int | None:
        entry = self.users.get(username)
        if entry and _eq(entry[1], password):
            return entry[0]
        return None

    def authenticate(self, headers, full_url: str) -> Principal:
        authorization = headers.get("Authorization", "")
        if authorization.lower().startswith("bearer "):
            with self._lock:
                token = self._tokens.get(authorization[7:].strip())
            if token is None:
                raise ApiError(401, "Invalid access token.")
            if token.expires_at <= self.clock():
                raise ApiError(401, "Access token expired.")
            return Principal(token.user_id, token.scope, "oauth2")

        key_user = None
        if "X-HEXOAPIKEY" in headers:
            key_user = self._check_signature(headers, full_url)
        creds = _basic(authorization)
        if creds:
            user_id = self.check_password(*creds)
            if user_id is None:
                raise ApiError(401, "Invalid username or password.")
            return Principal(user_id, "readwrite", "basic")
        if key_user is not None:
            return Principal(key_user, "readwrite", "apikey")
        raise ApiError(401, "Authentication credentials were not provided.")

    def _check_signature(self, headers, full_url: str) -> int:
        public = headers.get("X-HEXOAPIKEY", "")
        entry = self.api_keys.get(public)
        if entry is None:
            raise ApiError(401, "API key not found.")
        ts = headers.get("X-HEXOTIMESTAMP", "")
        signature = headers.get("X-HEXOAPISIGNATURE", "")
        try:
            skew = abs(self.clock() - int(ts))
        except ValueError:
            raise ApiError(401, "API signature failed.") from None
        if skew > self.signature_window_s:
            raise ApiError(401, "API signature expired (stale X-HEXOTIMESTAMP).")
        expected = hashlib.sha1(f"{entry[0]}{ts}{full_url}".encode()).hexdigest()
        if not _eq(expected, signature):
            raise ApiError(401, "API signature failed.")
        return entry[1]


def _basic(authorization: str | None) -> tuple[str, str] | None:
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(authorization[6:].strip()).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return user, password


def _scope(raw: str | None) -> str:
    scopes = set((raw or "readonly").replace(",", " ").split())
    return "readwrite" if "readwrite" in scopes else "readonly"


def _eq(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
