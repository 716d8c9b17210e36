"""The Celery app of hexo-pipeline's workers (docs/deploy.md):

    celery -A hexo_pipeline.celery_worker worker --loglevel INFO -n worker1@%h

It is dagster-celery's app (`dagster_celery.app`) with the broker, the result backend and the settings of
`hexo_pipeline.distributed`, read from the environment, so no URL is written to a file. A worker needs the
project installed, the dbt manifest prepared, and the environment of a run: DAGSTER_HOME (its dagster.yaml)
with HEXO_DAGSTER_PG_URL, the Hexoskin variables and the lake's location.
"""

import os

from dagster_celery.executor import CeleryExecutor
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_execute_job_task, create_resume_job_task, create_task

from .distributed import BACKEND_VAR, BROKER_VAR, celery_settings

if not os.environ.get(BROKER_VAR):
    raise SystemExit(f"{BROKER_VAR} is not set: the worker needs the broker's URL (e.g. redis://127.0.0.1:6379/0)")
app = make_app(
    CeleryExecutor.for_cli(
        broker=os.environ[BROKER_VAR],
        backend=os.environ.get(BACKEND_VAR) or os.environ[BROKER_VAR],
        config_source=celery_settings(),
    ).app_args()
)

execute_plan = create_task(app)
execute_job = create_execute_job_task(app)
resume_job = create_resume_job_task(app)

# The definitions, loaded once in the worker's main process before it forks its pool processes: a step then
# starts without importing them again (seconds per process), and so does a pool process that replaces one
# that died mid-step.
import hexo_pipeline.definitions  # noqa: E402, F401
