"""Hexoskin REST API client (knows HTTP; decoders know bytes).

from hexo_pipeline.hexoskin import HexoskinClient, HexoskinConfig
with HexoskinClient(HexoskinConfig.from_env()) as api:
    records = list(api.iter_list("record", user=9, order_by="-start"))
    hr = api.get_data([19], record=records[0]["id"])[19]
"""

from .auth import HexoApiKeyAuth, TokenFile, sign
from .client import (
    DATA_POINTS_MAX,
    LIST_LIMIT_MAX,
    HexoskinClient,
    Series,
    Written,
    parse_data_json,
    query_params,
    split_windows,
)
from .config import AUTH_SCHEMES, HexoskinConfig
from .errors import (
    BadRequest,
    ConfigError,
    Forbidden,
    HexoskinError,
    MethodNotAllowed,
    NotFound,
    RateLimited,
    ServerError,
    TransportError,
    Unauthorized,
)

__all__ = [
    "AUTH_SCHEMES",
    "DATA_POINTS_MAX",
    "LIST_LIMIT_MAX",
    "BadRequest",
    "ConfigError",
    "Forbidden",
    "HexoApiKeyAuth",
    "HexoskinClient",
    "HexoskinConfig",
    "HexoskinError",
    "MethodNotAllowed",
    "NotFound",
    "RateLimited",
    "Series",
    "ServerError",
    "TokenFile",
    "TransportError",
    "Unauthorized",
    "Written",
    "parse_data_json",
    "query_params",
    "sign",
    "split_windows",
]
