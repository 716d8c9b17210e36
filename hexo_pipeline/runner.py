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

from .user_errors import CREDENTIALS, SetupError

CREDENTIAL_VARS = (
    "HEXO_USERNAME",
    "HEXO_PASSWORD",
    "HEXO_CLIENT_ID",
    "HEXO_CLIENT_SECRET",
    "HEXO_API_KEY",
    "HEXO_API_SECRET",
)


def has_real_credentials() -> bool:
    """True when HEXO_API_URL and credentials are set (the real API), False when neither is (the sandbox);
    a SetupError when only one side is: silently using the sandbox would hide the mistake."""
    url = bool(os.environ.get("HEXO_API_URL"))
    creds = [v for v in CREDENTIAL_VARS if os.environ.get(v)]
    if url and not creds:
        raise SetupError(
            f"HEXO_API_URL is set but no credentials are: set {CREDENTIALS}, or unset HEXO_API_URL to use the sandbox"
        )
    if creds and not url:
        raise SetupError(
            f"{', '.join(creds)} set but HEXO_API_URL is not: set HEXO_API_URL "
            "(e.g. https://api.hexoskin.com), or unset them to use the sandbox"
        )
    return url


# Retries of the check below: 0.5 + 1 + 2 + 4 s of backoff, so a closed port is reported in about 10 s.
PREFLIGHT_RETRIES = 4


def check_api() -> None:
    """One authenticated request before any run, so a wrong password or a closed port ends in one line
    (`user_errors.explain`) in seconds instead of inside every run. Raises the client's typed error."""
    from .hexoskin import HexoskinClient, HexoskinConfig

    config = HexoskinConfig.from_env(max_retries=PREFLIGHT_RETRIES)
    with HexoskinClient(config) as api:
        api.get("user", limit=1)


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


_WRITTEN_BY = "# Written by hexo-pipeline"
# The Dagster instance on PostgreSQL (docs/deploy.md): the URL, password included, stays in the environment;
# dagster.yaml names the variable only (dagster's `env:` form), resolved by every process that loads it.
PG_URL_VAR = "HEXO_DAGSTER_PG_URL"


def dagster_yaml(api_limit: int, max_runs: int, postgres: bool = False) -> str:
    """The instance settings: the run queue (at most `max_runs` runs in progress, `api_limit` of them
    API-facing (tag hexo/api), one warehouse build (tag hexo/warehouse)) and the op pools' limit; with
    `postgres`, runs, events and schedules are stored in the PostgreSQL database at $HEXO_DAGSTER_PG_URL
    (SQLite files in DAGSTER_HOME otherwise)."""
    storage = f"storage:\n  postgres:\n    postgres_url:\n      env: {PG_URL_VAR}\n" if postgres else ""
    return (
        f"{_WRITTEN_BY} (edit freely: remove this first line and it is kept as is).\n"
        f"{storage}"
        "concurrency:\n"
        "  runs:\n"
        f"    max_concurrent_runs: {max_runs}\n"
        "    tag_concurrency_limits:\n"
        "      - key: hexo/api\n"
        f"        limit: {api_limit}\n"
        "      - key: hexo/warehouse\n"
        "        limit: 1\n"
        "  pools:\n"
        f"    default_limit: {api_limit}\n"
        "telemetry:\n"
        "  enabled: false\n"
    )


def dagster_yaml_from_env() -> str:
    """`dagster_yaml` for this environment: HEXO_API_CONCURRENCY (2), HEXO_MAX_CONCURRENT_RUNS (3) and
    whether HEXO_DAGSTER_PG_URL is set."""
    return dagster_yaml(
        int(os.environ.get("HEXO_API_CONCURRENCY", "2")),
        int(os.environ.get("HEXO_MAX_CONCURRENT_RUNS", "3")),
        postgres=bool(os.environ.get(PG_URL_VAR)),
    )


def dagster_home(data_dir: Path) -> Path:
    """A persistent DAGSTER_HOME under the data dir, with its dagster.yaml (`dagster_yaml_from_env`); a file
    the user wrote (without our first line) is left alone."""
    home = Path(os.environ.get("DAGSTER_HOME") or data_dir / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() or config.read_text().startswith(_WRITTEN_BY):
        config.write_text(dagster_yaml_from_env())
    os.environ["DAGSTER_HOME"] = str(home)
    return home


# The console shows progress; the full event log stays in the run (make ui). Errors are summed up in one
# line by the caller (user_errors.explain), so the console logger stays silent.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


class RunFailed(RuntimeError):
    """A run the demo launched failed; the message is one line (the cause, when it is a setup problem)."""


@dataclass
class IngestSummary:
    subjects: list[str]
    days: list[date]
    runs: int
    seconds: float
    failed_runs: int


class Progress:
    """Subject-days done / total and the current step, on one terminal line (tqdm)."""

    def __init__(self, enabled: bool = True):
        from tqdm import tqdm

        self.bar = tqdm(
            total=0,
            unit="subject-day",
            disable=not enabled,
            file=sys.stdout,
            bar_format="{desc} {n_fmt}/{total_fmt} subject-days |{bar:20}| {elapsed}",
        )

    def step(self, text: str) -> None:
        self.bar.set_description_str(text[:60].ljust(32))
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def failure_line(result) -> str:
    """The first step failure of a finished in-process run, as one line."""
    for event in result.all_events:
        if event.is_step_failure:
            failure = event.step_failure_data.user_failure_data
            if failure is not None and failure.description:  # a dg.Failure: already one line (user_errors)
                return f"{event.step_key}: {failure.description.strip().splitlines()[0]}"
            error = event.step_failure_data.error
            # else the user code error's own message
            cause = error.cause if error and error.cls_name == "DagsterExecutionStepExecutionError" else None
            text = (cause or error).message.strip().splitlines()[0] if (cause or error) else "step failed"
            return f"{event.step_key}: {text}"
    return f"run {result.run_id} failed (see its event log in `make ui`)"


def execute(job, instance, **kwargs):
    """Run a job in this process on the instance (so the UI shows it) without console logs; a failed
    run becomes RunFailed with one line."""
    result = job.execute_in_process(instance=instance, raise_on_error=False, run_config=QUIET, **kwargs)
    if not result.success:
        raise RunFailed(failure_line(result))
    return result


def ingest_all(
    subjects: list[str] | None = None, days: list[date] | None = None, progress: bool = True
) -> IngestSummary:
    """Materialize the study assets, register subjects, then ingest every subject-day: one run per
    subject covering all its days (a partition-range run), so N subjects -> N runs."""
    bar = Progress(progress)
    try:
        return _ingest_all(subjects, days, bar)
    finally:
        bar.close()


def _ingest_all(subjects: list[str] | None, days: list[date] | None, bar: Progress) -> IngestSummary:
    import dagster as dg

    from .warehouse.marts import prepare_dbt_project

    bar.step("parsing the dbt project")
    prepare_dbt_project()
    from .definitions import defs
    from .defs.partitions import subjects_partitions
    from .study_settings import StudySettings

    study = StudySettings.from_environment()

    instance = dg.DagsterInstance.get()
    t0 = time.monotonic()
    bar.step("study: subjects, catalogs")
    result = dg.materialize(
        [defs.resolve_assets_def(k) for k in ("subjects", "datatype_catalog", "study")],
        instance=instance,
        run_config=QUIET,
        raise_on_error=False,
    )
    if not result.success:
        raise RunFailed(failure_line(result))
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
    bar.bar.total = len(names) * len(days)
    for i, name in enumerate(names, 1):
        bar.step(f"ingest subject {i}/{len(names)}")
        try:
            execute(
                job,
                instance,
                tags={
                    "dagster/asset_partition_range_start": f"{days[0].isoformat()}|{name}",
                    "dagster/asset_partition_range_end": f"{days[-1].isoformat()}|{name}",
                },
            )
        except RunFailed as exc:
            failed += 1
            bar.bar.write(f"ingest {name} failed: {exc}")
        bar.bar.update(len(days))
    return IngestSummary(names, days, len(names), time.monotonic() - t0, failed)


def build_warehouse(progress: bool = True) -> None:
    """The `build_warehouse` job (dbt marts, their tests as checks, the study report) in this process,
    on the instance the UI reads: after the demo, every asset shows as materialized."""
    import contextlib

    import dagster as dg

    from .definitions import defs

    if progress:
        print("warehouse: dbt build of the marts and their tests, then the study report...", flush=True)
    # dagster-dbt echoes dbt's log on stdout; the run's event log keeps it
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        execute(defs.resolve_job_def("build_warehouse"), dg.DagsterInstance.get())


def run_supervised(cmd: list[str], grace_s: float = 5.0, env: dict[str, str] | None = None) -> int:
    """Run `cmd` in its own process group until it exits; SIGINT/SIGTERM to this process are forwarded to
    the whole group as SIGINT (a clean shutdown), and whatever of the group still runs `grace_s` later
    is killed. When the command exits, leftovers of its group (code servers, run workers) are killed too,
    so Ctrl-C leaves no orphan."""
    import signal
    import subprocess

    proc = subprocess.Popen(cmd, start_new_session=True, env=env)
    stopping_since: list[float] = []

    def forward(signum, frame) -> None:
        if not stopping_since:
            stopping_since.append(time.monotonic())
            _signal_group(proc.pid, signal.SIGINT)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            try:
                code = proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if stopping_since and time.monotonic() - stopping_since[0] > grace_s:
                    _signal_group(proc.pid, signal.SIGKILL)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 2.0
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        _signal_group(proc.pid, signal.SIGKILL)
    return 0 if stopping_since else code


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def run_ui(sandbox_args: list[str], port: int) -> int:
    """`make ui`: the Dagster UI (dagster dev) on workspace.yaml; a sandbox (`hexo-sandbox serve
    <sandbox_args>`) serves the data unless real credentials are in the environment. Ctrl-C stops
    everything it started (`run_supervised`)."""
    from .lake import data_dir
    from .sandbox_process import SandboxUnavailable, start_sandbox_process
    from .study_settings import StudySettings

    StudySettings.from_environment()  # a bad HEXO_STUDY_* is one line here, not a code location error
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
    try:
        dagster_home(root)
        workspace = Path(__file__).resolve().parents[1] / "workspace.yaml"
        cmd = [
            str(Path(sys.executable).with_name("dagster")),
            "dev",
            "-w",
            str(workspace),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ]
        print(f"Dagster UI: http://127.0.0.1:{port}  (Ctrl-C to stop)", flush=True)
        return run_supervised(cmd)
    finally:
        if handle is not None:
            handle.stop(timeout_s=3.0)
