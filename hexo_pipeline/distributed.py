"""Steps on Celery workers (docs/deploy.md): which executor the definitions use, chosen by the environment.

    HEXO_EXECUTOR=celery            the subject-day steps go to Celery workers (dagster-celery)
    HEXO_CELERY_BROKER_URL          the broker, e.g. redis://redis:6379/0 (required with celery)
    HEXO_CELERY_BACKEND_URL         where workers put step results (default: the broker URL)
    HEXO_CELERY_VISIBILITY_TIMEOUT_S  Redis redelivers a step whose worker vanished after this (default 6 h;
                                    it must exceed the longest step, or a slow step is run twice)

Unset (the default), runs keep Dagster's in-process/multiprocess executor. The URLs stay in the
environment: the executor config names the variables (dagster's `env:` form), so they never reach run
config, the event log or a file. Workers run `celery -A hexo_pipeline.celery_worker worker`, which reads
the same variables and `CELERY_SETTINGS`.
"""

from __future__ import annotations

import os

EXECUTOR_VAR = "HEXO_EXECUTOR"
BROKER_VAR = "HEXO_CELERY_BROKER_URL"
BACKEND_VAR = "HEXO_CELERY_BACKEND_URL"
VISIBILITY_VAR = "HEXO_CELERY_VISIBILITY_TIMEOUT_S"
EXECUTORS = ("default", "celery")


def celery_settings() -> dict[str, object]:
    """Celery settings shared by the run (which submits steps) and the workers (which run them): a step is
    acknowledged only once it has finished, so a worker killed mid-step puts it back in the queue and
    another worker runs it again (lake writes are atomic per partition, so the retry gives the same lake);
    one step per worker process at a time, since a step is long."""
    return {
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_transport_options": {
            "visibility_timeout": int(os.environ.get(VISIBILITY_VAR, str(6 * 3600))),
            "max_retries": 3,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        "worker_hijack_root_logger": False,
    }


def selected_executor() -> str:
    """`default` or `celery`, from HEXO_EXECUTOR; anything else is a one-line error."""
    name = (os.environ.get(EXECUTOR_VAR) or "default").strip().lower()
    if name not in EXECUTORS:
        raise ValueError(f"{EXECUTOR_VAR}={name!r}: use one of {', '.join(EXECUTORS)}")
    if name == "celery" and not os.environ.get(BROKER_VAR):
        raise ValueError(f"{EXECUTOR_VAR}=celery needs {BROKER_VAR} (e.g. redis://127.0.0.1:6379/0)")
    return name


def celery_executor_config() -> dict[str, object]:
    """The celery executor's config: broker and backend by variable name, and `celery_settings`."""
    backend = BACKEND_VAR if os.environ.get(BACKEND_VAR) else BROKER_VAR
    return {"broker": {"env": BROKER_VAR}, "backend": {"env": backend}, "config_source": celery_settings()}


def project_executor():
    """The Definitions' executor: dagster-celery's when HEXO_EXECUTOR=celery, else None (Dagster's default,
    multiprocess or in-process)."""
    if selected_executor() != "celery":
        return None
    from dagster_celery import celery_executor

    return celery_executor.configured(celery_executor_config(), name="celery")
