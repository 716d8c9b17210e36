"""Dagster resources: the Hexoskin connection, the storage root, the study settings and dbt, configured
from the environment (`project_resources`, wired by hexo_pipeline/definitions.py).

Credentials are `EnvVar`s resolved at run time, so they never appear in run config, logs or metadata.
Only the variables present when the definitions load are wired (an unset `EnvVar` fails a run even
when the auth scheme does not need it); `hexo-pipeline ui` and the demo set them for the sandbox.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from ..hexoskin import HexoskinClient, HexoskinConfig
from ..lake import Lake
from ..lake.storage import beside_lake
from ..study_settings import LAKE_URL_VARIABLE, StudySettings, environment_variables_set, lake_url
from ..user_errors import explain
from ..warehouse.marts import dbt_resource

_CREDENTIAL_VARS = {
    "auth": "HEXO_AUTH",
    "username": "HEXO_USERNAME",
    "password": "HEXO_PASSWORD",
    "client_id": "HEXO_CLIENT_ID",
    "client_secret": "HEXO_CLIENT_SECRET",
    "api_key": "HEXO_API_KEY",
    "api_secret": "HEXO_API_SECRET",
    "token_file": "HEXO_TOKEN_FILE",
    "api_version": "HEXO_API_VERSION",
}


NOT_CONFIGURED = (
    "HEXO_API_URL is not set: start the UI with `make ui` (which starts a sandbox), or set "
    "HEXO_API_URL and the Hexoskin credentials"
)


class HexoskinResource(dg.ConfigurableResource):
    """A Hexoskin API connection; `client()` opens a session (use it as a context manager).

    A failure caused by the configuration or the remote side (rejected credentials, unreachable host,
    incomplete settings) leaves the `with` block as a `dg.Failure` whose description is one line naming
    the variable to fix, and that is not retried: the client has already retried what can be retried."""

    base_url: str | None = None
    auth: str | None = None
    username: str | None = None
    password: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    api_key: str | None = None
    api_secret: str | None = None
    token_file: str | None = None
    api_version: str | None = None
    max_retries: int = 5

    @property
    def configured(self) -> bool:
        """False when HEXO_API_URL was not set (sensors then skip, with NOT_CONFIGURED as the reason)."""
        return bool(self.base_url)

    @contextmanager
    def client(self) -> Iterator[HexoskinClient]:
        try:
            if not self.configured:
                raise dg.Failure(NOT_CONFIGURED, allow_retries=False)
            values = {k: getattr(self, k) for k in _CREDENTIAL_VARS if getattr(self, k) is not None}
            if "token_file" in values:
                values["token_file"] = Path(values["token_file"])
            config = HexoskinConfig(base_url=self.base_url, max_retries=self.max_retries, **values)
            with HexoskinClient(config) as api:
                yield api
        except dg.Failure:
            raise
        except Exception as exc:
            line = explain(exc)
            if line is None:
                raise
            raise dg.Failure(description=line, allow_retries=False) from exc

    @classmethod
    def from_environment(cls) -> "HexoskinResource":
        wired = {field: dg.EnvVar(var) for field, var in _CREDENTIAL_VARS.items() if os.environ.get(var)}
        if os.environ.get("HEXO_API_URL"):
            wired["base_url"] = dg.EnvVar("HEXO_API_URL")
        return cls(**wired)


class LakeResource(dg.ConfigurableResource):
    """The storage root (`HEXO_DATA_DIR`): the Parquet lake, quarantine, exports and the warehouse; the
    lake on object storage when `lake_url` (`HEXO_LAKE_URL=s3://bucket/prefix`) is set."""

    data_dir: str = "data"
    lake_url: str | None = None

    @property
    def root(self) -> Path:
        return Path(self.data_dir).resolve()

    def lake(self) -> Lake:
        return Lake(self.lake_url) if self.lake_url else Lake.in_data_dir(self.root)

    @property
    def quarantine(self) -> Path:
        """`quarantine/` beside the lake: in the data dir, or under the lake's URL on object storage."""
        return beside_lake("quarantine", self.root, self.lake().root)

    @property
    def exports(self) -> Path:
        """`exports/` beside the lake (TCX/FIT range exports), as `quarantine`."""
        return beside_lake("exports", self.root, self.lake().root)

    @classmethod
    def from_environment(cls) -> "LakeResource":
        wired = {}
        if os.environ.get("HEXO_DATA_DIR"):
            wired["data_dir"] = dg.EnvVar("HEXO_DATA_DIR")
        if lake_url():
            wired["lake_url"] = dg.EnvVar(LAKE_URL_VARIABLE)
        return cls(**wired)


class StudyResource(dg.ConfigurableResource):
    """The study settings (calendar, uuid, valid-day thresholds) as Dagster config: `settings()` gives
    the typed `StudySettings` the plain-Python code takes. Unset fields keep StudySettings' defaults."""

    start: str | None = None
    timezone: str | None = None
    end: str | None = None
    uuid: str | None = None
    valid_day_min_minutes: int | None = None
    valid_hour_min_minutes: int | None = None

    def settings(self) -> StudySettings:
        return StudySettings.from_strings(
            start=self.start,
            timezone=self.timezone,
            end=self.end,
            uuid=self.uuid,
            valid_day_min_minutes=self.valid_day_min_minutes,
            valid_hour_min_minutes=self.valid_hour_min_minutes,
        )

    @classmethod
    def from_environment(cls) -> "StudyResource":
        ints = ("valid_day_min_minutes", "valid_hour_min_minutes")
        return cls(
            **{
                field: dg.EnvVar.int(var) if field in ints else dg.EnvVar(var)
                for field, var in environment_variables_set().items()
            }
        )

    @classmethod
    def of(cls, settings: StudySettings) -> "StudyResource":
        """A resource holding these settings (tests, scripts)."""
        values = settings.dbt_vars(lake_root="")
        return cls(
            start=values["study_start"] or None,
            timezone=settings.timezone,
            end=values["study_end"] or None,
            uuid=settings.uuid,
            valid_day_min_minutes=settings.valid_day_min_minutes,
            valid_hour_min_minutes=settings.valid_hour_min_minutes,
        )


def project_resources() -> dict[str, dg.ConfigurableResource]:
    """Every resource the project's assets, sensors and schedules use, from the environment."""
    return {
        "hexoskin": HexoskinResource.from_environment(),
        "storage": LakeResource.from_environment(),
        "study": StudyResource.from_environment(),
        "dbt": dbt_resource(),
    }
