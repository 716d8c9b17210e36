"""Run the pipeline outside the Dagster daemon: the demo, `hexo-pipeline ui`, and scripted backfills.

With no Hexoskin credentials in the environment, a sandbox server is started (in its own process, see
`sandbox_process`) and its URL and credentials are exported as the same environment variables a real
deployment sets, so the Dagster definitions run unchanged against either.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

CREDENTIAL_VARS = ("HEXO_USERNAME", "HEXO_PASSWORD", "HEXO_CLIENT_ID", "HEXO_CLIENT_SECRET", "HEXO_API_KEY",
                   "HEXO_API_SECRET")


def has_real_credentials() -> bool:
    return bool(os.environ.get("HEXO_API_URL")) and any(os.environ.get(v) for v in CREDENTIAL_VARS)


def sandbox_environment(info: dict) -> dict[str, str]:
    """Environment for a sandbox: the study owner through OAuth2, and the study's calendar."""
    owner = next(a for a in info["accounts"] if a["role"] == "owner")
    study = info.get("study", {})
    env = {
        "HEXO_API_URL": info["base_url"],
        "HEXO_AUTH": "oauth2",
        "HEXO_USERNAME": owner["username"],
        "HEXO_PASSWORD": owner["password"],
        "HEXO_CLIENT_ID": info["oauth2"]["client_id"],
        "HEXO_CLIENT_SECRET": info["oauth2"]["client_secret"],
    }
    if study:
        env["HEXO_STUDY_UUID"] = study["uuid"]
        env["HEXO_STUDY_TZ"] = study["timezone"]
        env["HEXO_STUDY_START"] = study["start"]
        end = date.fromisoformat(study["start"]) + timedelta(days=int(study["days"]))
        env["HEXO_STUDY_END"] = end.isoformat()
    return env


def dagster_home(data_dir: Path) -> Path:
    """A persistent DAGSTER_HOME under the data dir, with the API pool limited (dagster.yaml)."""
    home = Path(os.environ.get("DAGSTER_HOME") or data_dir / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        limit = int(os.environ.get("HEXO_API_CONCURRENCY", "2"))
        config.write_text(
            "# Written by hexo-pipeline. The hexoskin_api pool bounds concurrent API-facing steps.\n"
            "concurrency:\n"
            "  pools:\n"
            f"    default_limit: {limit}\n"
            "telemetry:\n"
            "  enabled: false\n"
        )
    os.environ["DAGSTER_HOME"] = str(home)
    return home


# The console shows a progress bar; the full event log stays in the run (make ui).
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class IngestSummary:
    subjects: list[str]
    days: list[date]
    runs: int
    seconds: float
    failed_runs: int


def ingest_all(subjects: list[str] | None = None, days: list[date] | None = None,
               progress: bool = True) -> IngestSummary:
    """Materialize the study assets, register subjects, then ingest every subject-day: one run per
    subject covering all its days (a partition-range run), so N subjects -> N runs."""
    import dagster as dg
    from tqdm import tqdm

    from .warehouse.marts import prepare_dbt_project

    prepare_dbt_project()
    from .definitions import defs
    from .defs.partitions import subjects_partitions
    from .study_settings import StudySettings

    study = StudySettings.from_environment()

    instance = dg.DagsterInstance.get()
    t0 = time.monotonic()
    result = dg.materialize(
        [defs.resolve_assets_def(k) for k in ("subjects", "datatype_catalog", "study")],
        instance=instance, run_config=QUIET,
    )
    if not result.success:
        raise RuntimeError("study assets failed")
    from .lake import Lake

    lake = Lake.in_data_dir()
    table = lake.read_study_table("subjects")
    names = subjects or [r["username"] for r in table.select(["username"]).to_pylist()]
    existing = set(instance.get_dynamic_partitions(subjects_partitions.name))
    new = [n for n in names if n not in existing]
    if new:
        instance.add_dynamic_partitions(subjects_partitions.name, new)
    if days is None:
        last = study.end or date.today()
        days = [study.first_day + timedelta(days=i) for i in range((last - study.first_day).days)]
    job = defs.resolve_job_def("ingest_subject_days")
    failed = 0
    bar = tqdm(names, desc="subjects", unit="subject", disable=not progress, file=sys.stdout)
    for name in bar:
        bar.set_postfix_str(name)
        res = job.execute_in_process(
            instance=instance,
            tags={"dagster/asset_partition_range_start": f"{days[0].isoformat()}|{name}",
                  "dagster/asset_partition_range_end": f"{days[-1].isoformat()}|{name}"},
            raise_on_error=False,
            run_config=QUIET,
        )
        failed += 0 if res.success else 1
    return IngestSummary(names, days, len(names), time.monotonic() - t0, failed)




def run_ui(sandbox_args: list[str], port: int) -> int:
    """`make ui`: the Dagster UI (dagster dev) on workspace.yaml; a sandbox (`hexo-sandbox serve
    <sandbox_args>`) serves the data unless real credentials are in the environment."""
    import subprocess

    from .lake import data_dir
    from .sandbox_process import SandboxUnavailable, start_sandbox_process

    root = data_dir()
    os.environ.setdefault("HEXO_DATA_DIR", str(root))
    handle = None
    if not has_real_credentials():
        try:
            handle = start_sandbox_process(sandbox_args)
        except SandboxUnavailable as exc:
            print(f"ui: {exc}", file=sys.stderr)
            return 2
        os.environ.update(sandbox_environment(handle.info))
        print(f"sandbox: {handle.base_url}", flush=True)
    dagster_home(root)
    workspace = Path(__file__).resolve().parents[1] / "workspace.yaml"
    cmd = [str(Path(sys.executable).with_name("dagster")), "dev", "-w", str(workspace), "-h", "127.0.0.1",
           "-p", str(port)]
    print(f"Dagster UI: http://127.0.0.1:{port}  (Ctrl-C to stop)", flush=True)
    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:
        return 0
    finally:
        if handle is not None:
            handle.stop()
