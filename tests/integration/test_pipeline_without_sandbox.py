"""The pipeline stands without the sandbox: `hexo_pipeline` never imports `hexo_sandbox`, it starts the
sandbox as a process (`python -m hexo_sandbox serve`), and without the sandbox package it says so in one
line instead of failing on an import."""

from __future__ import annotations

import ast
import json
import os
import select
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

import hexo_pipeline
from hexo_pipeline.sandbox_process import NOT_INSTALLED, SandboxUnavailable, start_sandbox_process

PIPELINE = Path(hexo_pipeline.__file__).resolve().parent


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(str(node.args[0].value))
    return names


def test_no_pipeline_module_imports_the_sandbox():
    files = sorted(PIPELINE.rglob("*.py"))
    assert len(files) > 20
    offenders = {
        str(f.relative_to(PIPELINE)): sorted(n for n in _imported_modules(f) if n.split(".")[0] == "hexo_sandbox")
        for f in files
    }
    assert {k: v for k, v in offenders.items() if v} == {}


BLOCKED = """
import importlib, pkgutil, sys
sys.modules["hexo_sandbox"] = None  # any `import hexo_sandbox...` now raises ImportError
import hexo_pipeline
failed = {}
for m in pkgutil.walk_packages(hexo_pipeline.__path__, "hexo_pipeline."):
    try:
        importlib.import_module(m.name)
    except Exception as exc:
        failed[m.name] = repr(exc)
print("FAILED", failed, flush=True)
from hexo_pipeline.demo import run_demo
from hexo_pipeline.cli import main
print("DEMO", run_demo(), flush=True)
print("SANDBOX", main(["sandbox", "serve"]), flush=True)
"""


def test_the_pipeline_imports_and_the_demo_says_so_without_the_sandbox(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEXO_", "DAGSTER_"))}
    env["HEXO_DATA_DIR"] = str(tmp_path / "data")
    # hexo_pipeline.celery_worker (the workers' Celery app) refuses to import without a broker URL; importing
    # it connects to nothing
    env["HEXO_CELERY_BROKER_URL"] = "redis://127.0.0.1:9/0"
    done = subprocess.run(
        [sys.executable, "-c", BLOCKED], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout.splitlines()
    assert out[0] == "FAILED {}", out[0]
    assert out[1:] == ["DEMO 2", "SANDBOX 2"]
    said = [line for line in done.stderr.splitlines() if line.strip()]
    assert said == [f"demo: {NOT_INSTALLED}", f"hexo-pipeline: {NOT_INSTALLED}"]


def test_start_sandbox_process_reads_the_start_line_and_stops_it():
    with start_sandbox_process(["--seed", "7", "--subjects", "2", "--days", "2"]) as sb:
        assert sb.base_url.startswith("http://127.0.0.1:")
        assert sb.info["study"]["days"] == 2
        assert sum(a["role"] == "subject" for a in sb.info["accounts"]) == 2
        owner = next(a for a in sb.info["accounts"] if a["role"] == "owner")
        r = requests.get(sb.base_url + "/api/user/", auth=(owner["username"], owner["password"]), timeout=30)
        assert r.status_code == 200
    assert sb.process.returncode == 0  # SIGTERM: a clean exit
    with pytest.raises(requests.ConnectionError):
        requests.get(sb.base_url + "/api/user/", timeout=5)


def test_start_sandbox_process_reports_a_server_that_did_not_start():
    with pytest.raises(SandboxUnavailable, match="did not start.*--subjects"):
        start_sandbox_process(["--subjects", "many"])


def test_hexo_pipeline_sandbox_serve_passes_through_to_hexo_sandbox():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "hexo_pipeline.cli", "sandbox", "serve", "--port", str(port), "--seed", "7", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert select.select([proc.stdout], [], [], 120)[0], "no JSON start line within 120 s"
        info = json.loads(proc.stdout.readline())
        assert info["base_url"] == f"http://127.0.0.1:{port}"
        assert requests.get(info["base_url"] + "/api/datatype/", timeout=30).status_code == 401
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    assert json.loads(proc.stderr.read().splitlines()[-1]) == {"stopped": info["base_url"]}
