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

TIME_US = pa.timestamp("us", tz="UTC")
TIME_NS = pa.timestamp("ns", tz="UTC")
EXTENSIONS = pa.map_(pa.string(), pa.float64())

# Hexoskin binary signals, long format, one table (and Parquet dataset) per channel family.
# `value` is the RAW integer as the device wrote it; physical units come from the datatype catalog.
SIGNAL_SCHEMA = pa.schema([
    pa.field("ts", TIME_NS),
    pa.field("datatype_id", pa.int32()),
    pa.field("value", pa.int64()),
])

# One row per TCX <Activity> or FIT `session`.
ACTIVITIES_SCHEMA = pa.schema([
    pa.field("source", pa.string()),
    pa.field("activity_index", pa.int32()),
    pa.field("sport", pa.string()),          # lower case; TCX "Biking" -> "cycling" (FIT's word)
    pa.field("sub_sport", pa.string()),
    pa.field("start_time", TIME_US),
    pa.field("total_time_s", pa.float64()),  # timer time (TCX TotalTimeSeconds, FIT total_timer_time)
    pa.field("elapsed_time_s", pa.float64()),
    pa.field("distance_m", pa.float64()),
    pa.field("calories", pa.int32()),
    pa.field("avg_hr_bpm", pa.int32()),
    pa.field("max_hr_bpm", pa.int32()),
])

LAPS_SCHEMA = pa.schema([
    pa.field("source", pa.string()),
    pa.field("activity_index", pa.int32()),
    pa.field("lap_index", pa.int32()),       # 0-based, over the whole file, in start-time order
    pa.field("start_time", TIME_US),
    pa.field("total_time_s", pa.float64()),
    pa.field("elapsed_time_s", pa.float64()),
    pa.field("distance_m", pa.float64()),
    pa.field("max_speed_mps", pa.float64()),
    pa.field("calories", pa.int32()),
    pa.field("avg_hr_bpm", pa.int32()),
    pa.field("max_hr_bpm", pa.int32()),
    pa.field("intensity", pa.string()),      # lower case; TCX "Resting" -> "rest" (FIT's word)
    pa.field("trigger", pa.string()),        # lower case as written (manual, distance, time, ...)
    pa.field("extensions", EXTENSIONS),
])

TRACKPOINTS_SCHEMA = pa.schema([
    pa.field("source", pa.string()),
    pa.field("activity_index", pa.int32()),
    pa.field("lap_index", pa.int32()),
    pa.field("time", TIME_US),
    pa.field("latitude_deg", pa.float64()),
    pa.field("longitude_deg", pa.float64()),
    pa.field("altitude_m", pa.float64()),
    pa.field("distance_m", pa.float64()),
    pa.field("heart_rate_bpm", pa.int32()),
    pa.field("cadence", pa.int32()),         # as the device counts it (FIT/TCX: rpm or per-leg spm)
    pa.field("speed_mps", pa.float64()),
    pa.field("watts", pa.int32()),
    pa.field("temperature_c", pa.float64()),
    pa.field("extensions", EXTENSIONS),
])

# Beat-to-beat intervals (FIT `hrv` messages). `time` is the beat that ends the interval.
RR_INTERVALS_SCHEMA = pa.schema([
    pa.field("source", pa.string()),
    pa.field("activity_index", pa.int32()),
    pa.field("beat_index", pa.int32()),
    pa.field("time", TIME_US),
    pa.field("rr_s", pa.float64()),
])

ACTIVITY_TABLE_SCHEMAS: dict[str, pa.Schema] = {
    "activities": ACTIVITIES_SCHEMA,
    "laps": LAPS_SCHEMA,
    "trackpoints": TRACKPOINTS_SCHEMA,
    "rr_intervals": RR_INTERVALS_SCHEMA,
}


def empty_table(schema: pa.Schema) -> pa.Table:
    return schema.empty_table()
