"""The sandbox server as a child process, for the demo and `hexo-pipeline ui` when no credentials are set.

The sandbox is a separate package (`hexo_sandbox`, the `sandbox` extra) that the pipeline never imports:
this module runs `python -m hexo_sandbox serve ...`, reads the one JSON line the server prints once it
listens (base URL, OAuth2 client, accounts, study) and stops it with SIGTERM.
"""

from __future__ import annotations

import importlib.util
import json
import select
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any

NOT_INSTALLED = (
    "the sandbox is not installed (package hexo_sandbox): pip install -e '.[sandbox]', "
    "or set HEXO_API_URL and Hexoskin credentials to use the real API"
)


class SandboxUnavailable(RuntimeError):
    """The sandbox package is missing, or its process did not start."""


def sandbox_installed() -> bool:
    try:
        return importlib.util.find_spec("hexo_sandbox") is not None
    except (ImportError, ValueError):  # ValueError: made unimportable (sys.modules["hexo_sandbox"] = None)
        return False


def sandbox_command(args: Sequence[str] = ()) -> list[str]:
    """`hexo-sandbox <args>` as run by this interpreter (so the same environment)."""
    return [sys.executable, "-m", "hexo_sandbox", *args]


@dataclass
class SandboxProcess:
    process: subprocess.Popen
    info: dict[str, Any]  # the JSON start line: base_url, oauth2, accounts, api_keys, study
    _log: IO[bytes]

    @property
    def base_url(self) -> str:
        return self.info["base_url"]

    def stop(self, timeout_s: float = 30.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_sandbox_process(serve_args: Sequence[str] = (), *, ready_timeout_s: float = 300.0) -> SandboxProcess:
    """Start `hexo-sandbox serve --port 0 --quiet <serve_args>` and wait for its JSON start line.

    Its stderr goes to a temporary file, quoted in the error if the server exits or never gets ready.
    """
    if not sandbox_installed():
        raise SandboxUnavailable(NOT_INSTALLED)
    log = tempfile.TemporaryFile()
    cmd = sandbox_command(["serve", "--port", "0", "--quiet", *serve_args])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log)
    line = b""
    if select.select([proc.stdout], [], [], ready_timeout_s)[0]:
        line = proc.stdout.readline()
    try:
        info = json.loads(line)
    except ValueError:
        proc.kill()
        proc.wait()
        log.seek(0)
        tail = log.read().decode(errors="replace").strip().splitlines()[-5:]
        log.close()
        proc.stdout.close()
        why = "; ".join(tail) if tail else f"no start line within {ready_timeout_s:.0f} s"
        raise SandboxUnavailable(f"the sandbox did not start ({why})") from None
    return SandboxProcess(proc, info, log)
