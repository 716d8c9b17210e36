"""Decoders: bytes in, Arrow tables out. No HTTP, no Dagster, no DuckDB.

- Hexoskin/Astroskin binary exports (zip or folder of WAV/.hxd/CSV + info.json):
  `read_export` / `read_exports` -> `SignalExport` with one long table per channel family
  (`SIGNAL_SCHEMA`: ts, datatype_id, RAW value); `write_signal_parquet` stores one atomically.
- Activity files (FIT, TCX, optionally gzipped): `convert_file` / `convert_bytes` -> `ConvertedFile`
  (activities, laps, trackpoints, rr_intervals, and monitoring for Garmin monitoring FIT files
  (`fit_monitoring.py`) + source metadata).
- Every failure to decode is a `DecodeError(reason, code=...)`.
"""

from hexo_pipeline.decoders.convert import ConvertedFile, SourceInfo, convert_bytes, convert_file, sniff_format
from hexo_pipeline.decoders.errors import DecodeError
from hexo_pipeline.decoders.hexoskin_binary import RecordInfo, decode_event_csv, decode_hxd, decode_wav, parse_info_json
from hexo_pipeline.decoders.hexoskin_export import (
    ChannelSummary,
    SignalExport,
    SkippedMember,
    read_export,
    read_exports,
)
from hexo_pipeline.decoders.parquet import write_signal_parquet
from hexo_pipeline.decoders.schemas import (
    ACTIVITIES_SCHEMA,
    ACTIVITY_TABLE_SCHEMAS,
    LAPS_SCHEMA,
    RR_INTERVALS_SCHEMA,
    SIGNAL_SCHEMA,
    TRACKPOINTS_SCHEMA,
)

__all__ = [
    "ACTIVITIES_SCHEMA",
    "ACTIVITY_TABLE_SCHEMAS",
    "LAPS_SCHEMA",
    "RR_INTERVALS_SCHEMA",
    "SIGNAL_SCHEMA",
    "TRACKPOINTS_SCHEMA",
    "ChannelSummary",
    "ConvertedFile",
    "DecodeError",
    "RecordInfo",
    "SignalExport",
    "SkippedMember",
    "SourceInfo",
    "convert_bytes",
    "convert_file",
    "decode_event_csv",
    "decode_hxd",
    "decode_wav",
    "parse_info_json",
    "read_export",
    "read_exports",
    "sniff_format",
    "write_signal_parquet",
]
