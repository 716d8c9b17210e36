"""Dagster resources: the Hexoskin connection and the storage root, configured from the environment.

Credentials are `EnvVar`s resolved at run time, so they never appear in run config, logs or metadata.
Only the variables present when the definitions load are wired (an unset `EnvVar` fails a run even
when the auth scheme does not need it); `hexo-pipeline ui` and the demo set them for the sandbox.
"""


import os
from pathlib import Path
from typing import Optional

import dagster as dg

from ..hexoskin import HexoskinClient, HexoskinConfig
from ..lake import Lake

_CREDENTIAL_VARS = {
    "auth": "HEXO_AUTH", "username": "HEXO_USERNAME", "password": "HEXO_PASSWORD",
    "client_id": "HEXO_CLIENT_ID", "client_secret": "HEXO_CLIENT_SECRET", "api_key": "HEXO_API_KEY",
    "api_secret": "HEXO_API_SECRET", "token_file": "HEXO_TOKEN_FILE", "api_version": "HEXO_API_VERSION",
}


class HexoskinResource(dg.ConfigurableResource):
    """A Hexoskin API connection; `client()` opens a session (use it as a context manager)."""

    base_url: str
    auth: Optional[str] = None
    username: Optional[str] = None
    password: Optional[str] = None
    client_id: Optional[str] = None
    client_secret: Optional[str] = None
    api_key: Optional[str] = None
    api_secret: Optional[str] = None
    token_file: Optional[str] = None
    api_version: Optional[str] = None
    max_retries: int = 5

    def client(self) -> HexoskinClient:
        values = {k: getattr(self, k) for k in _CREDENTIAL_VARS if getattr(self, k) is not None}
        if "token_file" in values:
            values["token_file"] = Path(values["token_file"])
        config = HexoskinConfig(base_url=self.base_url, max_retries=self.max_retries, **values)
        return HexoskinClient(config)

    @classmethod
    def from_environment(cls) -> "HexoskinResource":
        wired = {field: dg.EnvVar(var) for field, var in _CREDENTIAL_VARS.items() if os.environ.get(var)}
        return cls(base_url=dg.EnvVar("HEXO_API_URL"), **wired)


class LakeResource(dg.ConfigurableResource):
    """The storage root (`HEXO_DATA_DIR`): the Parquet lake, quarantine, exports and the warehouse."""

    data_dir: str = "data"

    @property
    def root(self) -> Path:
        return Path(self.data_dir).resolve()

    def lake(self) -> Lake:
        return Lake(self.root / "lake")

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @classmethod
    def from_environment(cls) -> "LakeResource":
        if os.environ.get("HEXO_DATA_DIR"):
            return cls(data_dir=dg.EnvVar("HEXO_DATA_DIR"))
        return cls()
