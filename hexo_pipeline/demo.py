"""`make demo`: the whole pipeline against a sandbox, on the Dagster instance the UI reads (data/dagster_home),
through the same definitions: after it, `make ui` shows every asset materialized with its checks."""

from __future__ import annotations

import os
import sys
import time


def run_demo(sandbox_args: list[str] | None = None, progress: bool = True) -> int:
    """`sandbox_args`: `hexo-sandbox serve` flags for the study (--seed, --subjects, --days ...)."""
    from .lake import data_dir
    from .runner import (
        RunFailed,
        build_warehouse,
        check_api,
        dagster_home,
        has_real_credentials,
        ingest_all,
        sandbox_environment,
    )
    from .sandbox_process import SandboxUnavailable, start_sandbox_process
    from .warehouse import Warehouse

    root = data_dir()
    os.environ.setdefault("HEXO_DATA_DIR", str(root))
    handle = None
    if not has_real_credentials():
        try:
            handle = start_sandbox_process(sandbox_args or [])
        except SandboxUnavailable as exc:
            print(f"demo: {exc}", file=sys.stderr)
            return 2
        os.environ.update(sandbox_environment(handle.info))
        study = handle.info["study"]
        subjects = sum(a["role"] == "subject" for a in handle.info["accounts"])
        print(
            f"sandbox: {handle.base_url} (study {study['uuid']}, {subjects} subjects x {study['days']} days)",
            flush=True,
        )
    home = dagster_home(root)
    t0 = time.monotonic()
    try:
        check_api()
        summary = ingest_all(progress=progress)
    finally:
        if handle is not None:
            handle.stop(timeout_s=5.0)
    t1 = time.monotonic()
    warehouse_error = None
    try:
        build_warehouse(progress=progress)
    except RunFailed as exc:
        warehouse_error = str(exc)
    warehouse = Warehouse.in_data_dir(root)
    reports = sorted((root / "reports").glob("*/index.html"))
    from .lake import Lake
    from .lake.storage import beside_lake, list_files

    lake = Lake.in_data_dir(root).root  # HEXO_LAKE_URL's object storage, or data/lake
    files = [f for f in list_files(lake) if f.relative.endswith(".parquet")]
    size = sum(f.size for f in files)
    print()
    print(
        f"ingested {len(summary.subjects)} subjects x {len(summary.days)} days in {summary.runs} runs, "
        f"{t1 - t0:.1f} s ({summary.failed_runs} failed)"
    )
    print(f"Parquet lake:   {lake}  ({len(files)} files, {size / 1e6:.1f} MB)")
    if warehouse_error is None:
        print(f"DuckDB marts:   {warehouse.published}  (schema marts; built in {time.monotonic() - t1:.1f} s)")
    else:
        print(f"DuckDB marts:   build FAILED: {warehouse_error}")
    print(f"Study report:   {reports[0] if reports else 'not written'}")
    print(f"Quarantine:     {beside_lake('quarantine', root, lake)}")
    print(f"Dagster home:   {home}  (run `make ui`: every asset shows materialized, with its checks)")
    return 1 if summary.failed_runs or warehouse_error else 0


if __name__ == "__main__":
    sys.exit(run_demo())
