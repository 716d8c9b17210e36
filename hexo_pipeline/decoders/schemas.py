"""Arrow schemas of every table the decoders emit, defined once so that Parquet datasets written from
different sources (Hexoskin exports, TCX, FIT from any device) stay union-compatible.

Conventions:
- Times are UTC. Signals use `timestamp[ns]` because 256 Hz ticks (3,906,250 ns) are exact only in ns;
  activity files use `timestamp[us]` (their clocks tick in whole seconds or ms).
- `source` identifies the input file; by default it is the file's sha256 (stable across renames and
  moves; the path and other file facts live in the converter's metadata).
- Nullable columns are null when the source does not carry the value (never 0 as a stand-in).
- `extensions` holds any further numeric per-row channel by its source name (TCX extension element local
  name, or FIT field name), e.g. Hexoskin's TCX breathing/ventilation values or FIT running dynamics. A
  map keeps the schema fixed whatever the device writes; read it in DuckDB as `extensions['Name']`.
"""

from __future__ import annotations

import pyarrow as pa

# The schemas live in the lake contract (one place); re-exported here for the decoders.
from ..lake.contract import (  # noqa: F401
    ACTIVITIES_SCHEMA,
    ACTIVITY_TABLE_SCHEMAS,
    EXTENSIONS,
    LAPS_SCHEMA,
    MONITORING_SCHEMA,
    RR_INTERVALS_SCHEMA,
    SIGNAL_SCHEMA,
    TIME_NS,
    TIME_US,
    TRACKPOINTS_SCHEMA,
)


def empty_table(schema: pa.Schema) -> pa.Table:
    return schema.empty_table()
