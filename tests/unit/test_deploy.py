"""What can be checked offline of the deployment (deploy/, docs/deploy.md): every YAML parses, the Helm
values, the worker manifests and the compose file name the same image, module and variables as the code,
the Dockerfile installs extras pyproject.toml has, the dagster.yaml generated for PostgreSQL passes
Dagster's own instance schema and dagster-postgres's config schema, and no file holds a secret."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import dagster as dg
import pytest
import yaml

from hexo_pipeline import distributed
from hexo_pipeline.runner import PG_URL_VAR, dagster_yaml, dagster_yaml_from_env

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
WORKSPACE = yaml.safe_load((REPO / "workspace.yaml").read_text())["load_from"][0]["python_module"]
YAML_FILES = sorted(DEPLOY.rglob("*.yaml")) + sorted(DEPLOY.rglob("*.yml"))


def load_all(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def values() -> dict:
    return yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())


def env_of(container: dict) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_parses(path):
    assert load_all(path)


def test_helm_values_run_the_code_location_image_with_the_k8s_run_launcher_and_celery_steps():
    v = values()
    (deployment,) = v["dagster-user-deployments"]["deployments"]
    args = deployment["dagsterApiGrpcArgs"]
    assert args[args.index("--module-name") + 1] == WORKSPACE["module_name"]
    assert args[args.index("--attribute") + 1] == WORKSPACE["attribute"]
    assert env_of(deployment)[distributed.EXECUTOR_VAR] == "celery"
    assert v["runLauncher"]["type"] == "K8sRunLauncher"
    secrets = {s["name"] for s in deployment["envSecrets"]}
    assert secrets == {s["name"] for s in v["runLauncher"]["config"]["k8sRunLauncher"]["envSecrets"]}

    workers = next(d for d in load_all(DEPLOY / "k8s" / "celery-workers.yaml") if d["kind"] == "Deployment")
    (container,) = workers["spec"]["template"]["spec"]["containers"]
    image = f"{deployment['image']['repository']}:{deployment['image']['tag']}"
    assert container["image"] == image
    assert container["command"][:3] == ["celery", "-A", "hexo_pipeline.celery_worker"]
    assert env_of(container)[distributed.EXECUTOR_VAR] == "celery"
    assert {e["secretRef"]["name"] for e in container["envFrom"]} == secrets


def test_helm_values_keep_the_single_machine_run_queue_and_pool():
    """The chart writes its own dagster.yaml: its limits are the ones hexo_pipeline.runner generates."""
    generated = yaml.safe_load(dagster_yaml(api_limit=2, max_runs=3))["concurrency"]
    v = values()
    queue = v["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert queue["maxConcurrentRuns"] == generated["runs"]["max_concurrent_runs"]
    assert queue["tagConcurrencyLimits"] == generated["runs"]["tag_concurrency_limits"]
    assert v["concurrency"]["pools"]["defaultLimit"] == generated["pools"]["default_limit"]


def test_dockerfile_installs_extras_pyproject_declares_and_serves_the_workspace_module():
    text = (DEPLOY / "Dockerfile").read_text()
    base = re.search(r"^FROM python:(\d+\.\d+)", text, re.M)
    assert base and PYPROJECT["project"]["requires-python"] == f">={base.group(1)}"
    install = re.search(r'pip install -e "\.\[([a-z0-9_,-]+)\]"', text)
    assert install, "the Dockerfile installs the project with its extras"
    extras = install.group(1).split(",")
    assert "distributed" in extras and set(extras) <= set(PYPROJECT["project"]["optional-dependencies"])
    for folder in ("hexo_pipeline", "dbt_project"):
        assert re.search(rf"^COPY {folder} ", text, re.M), folder
    assert "prepare_dbt_project()" in text  # the code location loads the dbt manifest
    assert f'"-m", "{WORKSPACE["module_name"]}", "-a", "{WORKSPACE["attribute"]}"' in text


def test_compose_services_share_the_image_broker_and_executor():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "code", "webserver", "daemon", "worker"} <= set(services)
    for name in ("code", "webserver", "daemon", "worker"):
        env = services[name]["environment"]
        assert env[distributed.EXECUTOR_VAR] == "celery" and env[distributed.BROKER_VAR].startswith("redis://redis:")
    assert "hexo_pipeline.celery_worker" in " ".join(services["worker"]["command"])


def test_generated_dagster_yaml_on_postgres_passes_dagsters_schemas(tmp_path, monkeypatch):
    from dagster._config import process_config
    from dagster._core.instance.config import dagster_instance_config
    from dagster._core.instance.ref import InstanceRef
    from dagster_postgres import DagsterPostgresStorage

    secret = "not-in-any-file"
    monkeypatch.setenv(PG_URL_VAR, f"postgresql://dagster:{secret}@db.example:5432/dagster")
    monkeypatch.setenv("HEXO_API_CONCURRENCY", "2")
    monkeypatch.setenv("HEXO_MAX_CONCURRENT_RUNS", "3")
    text = dagster_yaml_from_env()
    assert secret not in text and f"env: {PG_URL_VAR}" in text
    (tmp_path / "dagster.yaml").write_text(text)

    config, _ = dagster_instance_config(str(tmp_path))  # validated against the dagster.yaml schema
    storage = config["storage"]["postgres"]
    assert storage == {"postgres_url": {"env": PG_URL_VAR}}
    resolved = process_config(DagsterPostgresStorage.config_type(), storage)
    assert resolved.success, resolved.errors
    ref = InstanceRef.from_dir(str(tmp_path))
    assert ref.storage_data.class_name == "DagsterPostgresStorage"
    # without the variable, the instance stays on SQLite in DAGSTER_HOME
    monkeypatch.delenv(PG_URL_VAR)
    assert "storage:" not in dagster_yaml_from_env()
    (tmp_path / "dagster.yaml").write_text(dagster_yaml_from_env())
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    assert type(instance.run_storage).__name__.startswith("Sqlite")
    assert instance.get_concurrency_config().pool_config.default_pool_limit == 2


def test_executor_is_chosen_by_the_environment(monkeypatch):
    monkeypatch.delenv(distributed.EXECUTOR_VAR, raising=False)
    assert distributed.project_executor() is None  # Dagster's default executor, as before
    monkeypatch.setenv(distributed.EXECUTOR_VAR, "celery")
    monkeypatch.delenv(distributed.BROKER_VAR, raising=False)
    with pytest.raises(ValueError, match=distributed.BROKER_VAR):
        distributed.selected_executor()
    monkeypatch.setenv(distributed.BROKER_VAR, "redis://127.0.0.1:6379/0")
    executor = distributed.project_executor()
    assert executor.name == "celery"
    config = distributed.celery_executor_config()
    assert config["broker"] == {"env": distributed.BROKER_VAR}  # the URL itself never reaches run config
    assert config["config_source"]["task_acks_late"] and config["config_source"]["task_reject_on_worker_lost"]
    monkeypatch.setenv(distributed.EXECUTOR_VAR, "dask")
    with pytest.raises(ValueError, match="celery"):
        distributed.selected_executor()


# A literal secret: a URL with a password, or a password/secret/token key with a literal value. Allowed:
# placeholders (<password>), environment references (${VAR}, env:, secretKeyRef) and secret names.
URL_WITH_PASSWORD = re.compile(r"://[^/\s:@]+:(?!<)(?!\$\{)[^@\s/]+@")
SECRET_VALUE = re.compile(
    r"(?i)^[ \t]*-?[ \t]*\"?[\w-]*(password|secret|token)[\w-]*\"?[ \t]*[:=][ \t]*(?P<value>.*)$", re.M
)
ALLOWED_VALUE = re.compile(r"^(\$\{|<|\"?\$|env:|\{|$)")


@pytest.mark.parametrize(
    "path",
    [p for p in sorted(DEPLOY.rglob("*")) if p.is_file()] + [REPO / "docs" / "deploy.md"],
    ids=lambda p: str(p.relative_to(REPO)),
)
def test_no_secret_in_deployment_files(path):
    text = path.read_text()
    assert not URL_WITH_PASSWORD.search(text), URL_WITH_PASSWORD.search(text).group(0)
    for match in SECRET_VALUE.finditer(text):
        value = match.group("value").split(" #")[0].strip()
        assert ALLOWED_VALUE.match(value) or value.startswith(("dagster-postgresql-secret", "hexo-pipeline-env")), (
            match.group(0)
        )
