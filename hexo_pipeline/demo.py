"""`make demo`: the main job against the sandbox, end to end, then where the results are."""

from __future__ import annotations

import os
import sys
import time


def run_demo(sandbox_args: list[str] | None = None) -> int:
    """`sandbox_args`: `hexo-sandbox serve` flags for the study (--seed, --subjects, --days ...)."""
    from .lake import data_dir
    from .runner import dagster_home, has_real_credentials, ingest_all, sandbox_environment
    from .sandbox_process import SandboxUnavailable, start_sandbox_process

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
        print(f"sandbox: {handle.base_url} (study {study['uuid']}, {subjects} subjects x {study['days']} days)",
              flush=True)
    home = dagster_home(root)
    t0 = time.monotonic()
    try:
        summary = ingest_all()
    finally:
        if handle is not None:
            handle.stop()
    print("building the marts (dbt on DuckDB) and the study report...", flush=True)
    from .warehouse.marts import build_marts_and_report

    with open(os.devnull, "w") as quiet:
        marts = build_marts_and_report(root, out=quiet)
    lake = root / "lake"
    files = sorted(lake.rglob("*.parquet"))
    size = sum(f.stat().st_size for f in files)
    print()
    print(f"ingested {len(summary.subjects)} subjects x {len(summary.days)} days in {summary.runs} runs, "
          f"{time.monotonic() - t0:.1f} s ({summary.failed_runs} failed)")
    print(f"Parquet lake:   {lake}  ({len(files)} files, {size / 1e6:.1f} MB)")
    if marts.published is not None:
        print(f"DuckDB marts:   {marts.published}  (schema marts; built in {marts.seconds:.1f} s)")
    else:
        print(f"DuckDB marts:   dbt build FAILED ({marts.results}); run `hexo-pipeline marts` to see why")
    print(f"Study report:   {marts.report or 'not written'}")
    print(f"Quarantine:     {root / 'quarantine'}")
    print(f"Dagster home:   {home}  (run `make ui` to browse the runs)")
    return 1 if summary.failed_runs or marts.published is None else 0


if __name__ == "__main__":
    sys.exit(run_demo())
