"""Fault injection for the sandbox, off by default: error rates, 429 with Retry-After, latency,
truncated bodies, reset connections, short-lived or early-expiring tokens and late-arriving data.
Deterministic per seed so a failing test replays the same faults.

Each option is a FaultConfig field, settable as HEXO_SANDBOX_<FIELD> in the environment, as a
`hexo-sandbox serve` flag (--rate-503 ...) or as a `make_sandbox(...)` option in tests:

| field | effect |
|---|---|
| rate_500, rate_502, rate_503 | share of /api/ requests answered with that status (503 carries Retry-After) |
| rate_429, retry_after_s | share answered 429 Too Many Requests with `Retry-After: retry_after_s` |
| latency_s | added before every /api/ request |
| truncate_rate | share of 200 answers whose body is cut in half (Content-Length promises the whole) |
| reset_rate | share of requests answered by a TCP reset instead of a response |
| token_lifetime_s | OAuth2 access-token lifetime, announced honestly in expires_in |
| early_expiry_s | tokens stop working after this long although expires_in announces token_lifetime_s |
| late_data_rate | share of records that sync days after they end (overrides the study's 10 %); half of them are first seen with only their first half. Visible with the sandbox clock (POST /sandbox/clock) |

Faults apply to `/api/` resource requests, not to the OAuth2 endpoints (token POSTs are not
idempotent and clients must not retry them blindly) nor to /sandbox/.
"""

from __future__ import annotations

import json
import os
import random
import socket
import struct
import threading
import time
from dataclasses import dataclass, fields, replace

from flask import Request, Response


@dataclass(frozen=True)
class FaultConfig:
    rate_500: float = 0.0
    rate_502: float = 0.0
    rate_503: float = 0.0
    rate_429: float = 0.0
    retry_after_s: int = 1
    latency_s: float = 0.0
    truncate_rate: float = 0.0  # body cut short (Content-Length promises more than is sent)
    reset_rate: float = 0.0  # TCP reset instead of a response
    token_lifetime_s: float = 3600.0
    early_expiry_s: float = 0.0  # 0 = tokens live as long as expires_in says
    late_data_rate: float = 0.0  # 0 = the study's own late-sync share

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> FaultConfig:
        """HEXO_SANDBOX_<FIELD> environment variables, e.g. HEXO_SANDBOX_RATE_503=0.2."""
        env = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = env.get(f"HEXO_SANDBOX_{f.name.upper()}")
            if raw is not None:
                values[f.name] = type(f.default)(float(raw)) if isinstance(f.default, int) else float(raw)
        return cls(**values)

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) != f.default for f in fields(self) if f.name != "retry_after_s")


class FaultInjector:
    def __init__(self, config: FaultConfig, seed: int):
        self.config = config
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}

    def _draw(self) -> float:
        with self._lock:
            return self._rng.random()

    def _count(self, kind: str) -> None:
        with self._lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1

    def before_request(self, request: Request) -> Response | None:
        c = self.config
        if c.latency_s:
            time.sleep(c.latency_s)
        r = self._draw()
        for status, rate in ((429, c.rate_429), (503, c.rate_503), (502, c.rate_502), (500, c.rate_500)):
            if r < rate:
                self._count(str(status))
                headers = {"Retry-After": str(c.retry_after_s)} if status in (429, 503) else {}
                body = {"error": "Too many requests." if status == 429 else "Injected server error."}
                return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)
            r -= rate
        if c.reset_rate and self._draw() < c.reset_rate:
            self._count("reset")
            _reset_connection(request)
            return Response(status=500)  # not delivered: the socket is already gone
        return None

    def after_request(self, request: Request, response: Response) -> Response:
        c = self.config
        if c.truncate_rate and response.status_code == 200 and self._draw() < c.truncate_rate:
            self._count("truncate")
            body = response.get_data()
            cut = body[: max(0, len(body) // 2)]
            truncated = Response(cut, status=200, mimetype=response.mimetype)
            # Promise the full length, send half, then close: the client sees an incomplete read.
            truncated.headers["Content-Length"] = str(len(body))
            truncated.headers["Connection"] = "close"
            return truncated
        return response


def _reset_connection(request: Request) -> None:
    """Close the client socket with SO_LINGER 0 so the peer gets a TCP RST (a 'connection reset')."""
    sock = request.environ.get("werkzeug.socket")
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


# -- command line (`hexo-sandbox serve --rate-503 0.2 ...`) --------------------------------------------------


def add_fault_arguments(parser) -> None:
    """One flag per FaultConfig field (--rate-503, --latency-s, --early-expiry-s ...; rates also as
    --fault-503-rate); a flag overrides the HEXO_SANDBOX_<FIELD> environment variable."""
    group = parser.add_argument_group("fault injection (off by default; also HEXO_SANDBOX_<FIELD>)")
    for f in fields(FaultConfig):
        names = [f"--{f.name.replace('_', '-')}"]
        if f.name.startswith("rate_"):
            names.append(f"--fault-{f.name[5:]}-rate")
        group.add_argument(
            *names, dest=f"fault_{f.name}", type=type(f.default), default=None, metavar="N", help=f"default {f.default}"
        )


def fault_config_from_args(ns, environ: dict[str, str] | None = None) -> FaultConfig:
    base = FaultConfig.from_env(environ)
    given = {
        f.name: getattr(ns, f"fault_{f.name}")
        for f in fields(FaultConfig)
        if getattr(ns, f"fault_{f.name}", None) is not None
    }
    return replace(base, **given)
