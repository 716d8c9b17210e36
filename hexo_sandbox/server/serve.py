"""Run the sandbox: in a background thread (tests) or in the foreground (`hexo-sandbox serve`, the demo)."""

from __future__ import annotations

import json
import signal
import sys
import threading
from dataclasses import dataclass
from datetime import datetime

from werkzeug.serving import BaseWSGIServer, make_server

from ..world.study import StudyConfig
from .app import create_app
from .faults import FaultConfig
from .state import SandboxState, build_state


@dataclass
class SandboxHandle:
    server: BaseWSGIServer
    thread: threading.Thread
    state: SandboxState
    base_url: str

    @property
    def info(self) -> dict:
        """What `hexo-sandbox serve` prints: base URL, OAuth2 client, accounts and API keys."""
        return self.state.info(self.base_url)

    def set_now(self, now: datetime | None) -> None:
        """Fix the sandbox clock (what has synced by then is visible); None returns to the wall clock."""
        self.state.study.set_now(now)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> SandboxHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_sandbox(
    host: str = "127.0.0.1",
    port: int = 0,
    study: StudyConfig | None = None,
    faults: FaultConfig | None = None,
) -> SandboxHandle:
    """Start a threaded sandbox server in a daemon thread; port 0 picks a free port."""
    state = build_state(study or StudyConfig(), faults)
    server = make_server(host, port, create_app(state), threaded=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="hexo-sandbox", daemon=True)
    thread.start()
    return SandboxHandle(server, thread, state, f"http://{host}:{server.server_port}")


def serve_forever(host: str, port: int, study: StudyConfig, faults: FaultConfig) -> None:
    """Foreground server: prints one JSON line with the connection details, stops on SIGINT/SIGTERM."""
    handle = start_sandbox(host, port, study, faults)
    stopped = threading.Event()

    def _stop(_signum, _frame) -> None:
        stopped.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    print(json.dumps(handle.info), flush=True)
    try:
        stopped.wait()
    finally:
        handle.stop()
    print(json.dumps({"stopped": handle.base_url}), file=sys.stderr, flush=True)
