"""The lake contract, written once: every dataset's name, layout and Arrow schema.

Ingestion modules build their tables with these schemas, `decoders/schemas.py` re-exports the decoder
tables' schemas, and a test checks `dbt_project/models/staging/lake/_lake__sources.yml` against this module
(same tables, same columns, compatible types). This module imports nothing of the project: everything
else may import it.

Layouts:
- `subject_day`: `lake/<dataset>/subject=<username>/date=<YYYY-MM-DD>/part-0.parquet`, and for a dataset
  marked `compactable`, closed months may be compacted into
  `lake/<dataset>/subject=<username>/month=<YYYY-MM>/part-0.parquet` (rows carry a `date` column);
- `study`: `lake/<dataset>/data.parquet`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

SUBJECT_DAY = "subject_day"
STUDY = "study"

TIME_US = pa.timestamp("us", tz="UTC")
TIME_NS = pa.timestamp("ns", tz="UTC")
TS = TIME_US
EXTENSIONS = pa.map_(pa.string(), pa.float64())

# -- decoder tables (decoders/schemas.py re-exports them) ----------------------------------------------

# Hexoskin binary signals, long format, one table (and Parquet dataset) per channel family.
# `value` is the RAW integer as the device wrote it; physical units come from the datatype catalog.
SIGNAL_SCHEMA = pa.schema(
    [
        pa.field("ts", TIME_NS),
        pa.field("datatype_id", pa.int32()),
        pa.field("value", pa.int64()),
    ]
)

# One row per TCX <Activity> or FIT `session`.
ACTIVITIES_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string()),
        pa.field("activity_index", pa.int32()),
        pa.field("sport", pa.string()),  # lower case; TCX "Biking" -> "cycling" (FIT's word)
        pa.field("sub_sport", pa.string()),
        pa.field("start_time", TIME_US),
        pa.field("total_time_s", pa.float64()),  # timer time (TCX TotalTimeSeconds, FIT total_timer_time)
        pa.field("elapsed_time_s", pa.float64()),
        pa.field("distance_m", pa.float64()),
        pa.field("calories", pa.int32()),
        pa.field("avg_hr_bpm", pa.int32()),
        pa.field("max_hr_bpm", pa.int32()),
    ]
)

LAPS_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string()),
        pa.field("activity_index", pa.int32()),
        pa.field("lap_index", pa.int32()),  # 0-based, over the whole file, in start-time order
        pa.field("start_time", TIME_US),
        pa.field("total_time_s", pa.float64()),
        pa.field("elapsed_time_s", pa.float64()),
        pa.field("distance_m", pa.float64()),
        pa.field("max_speed_mps", pa.float64()),
        pa.field("calories", pa.int32()),
        pa.field("avg_hr_bpm", pa.int32()),
        pa.field("max_hr_bpm", pa.int32()),
        pa.field("intensity", pa.string()),  # lower case; TCX "Resting" -> "rest" (FIT's word)
        pa.field("trigger", pa.string()),  # lower case as written (manual, distance, time, ...)
        pa.field("extensions", EXTENSIONS),
    ]
)

TRACKPOINTS_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string()),
        pa.field("activity_index", pa.int32()),
        pa.field("lap_index", pa.int32()),
        pa.field("time", TIME_US),
        pa.field("latitude_deg", pa.float64()),
        pa.field("longitude_deg", pa.float64()),
        pa.field("altitude_m", pa.float64()),
        pa.field("distance_m", pa.float64()),
        pa.field("heart_rate_bpm", pa.int32()),
        pa.field("cadence", pa.int32()),  # as the device counts it (FIT/TCX: rpm or per-leg spm)
        pa.field("speed_mps", pa.float64()),
        pa.field("watts", pa.int32()),
        pa.field("temperature_c", pa.float64()),
        pa.field("extensions", EXTENSIONS),
    ]
)

# Beat-to-beat intervals (FIT `hrv` messages). `time` is the beat that ends the interval.
RR_INTERVALS_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string()),
        pa.field("activity_index", pa.int32()),
        pa.field("beat_index", pa.int32()),
        pa.field("time", TIME_US),
        pa.field("rr_s", pa.float64()),
    ]
)

# A monitoring FIT file (all-day tracking: heart rate, steps, intensity; no record/lap/session messages).
# Counters: Garmin's `cycles` are cumulative per activity type and restart at the device's local midnight;
# `steps`/`cycles` are the per-interval deltas (decoders/fit_monitoring.py says how they are made).
MONITORING_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("timestamp", TIME_US),  # UTC, end of the interval the row describes
        ("utc_offset_s", pa.int32()),  # device local time - UTC (monitoring_info), null when the file omits it
        ("activity_type", pa.string()),  # walking, running, cycling, sedentary, generic...; null on heart-rate rows
        ("intensity", pa.float64()),
        ("heart_rate_bpm", pa.int32()),
        ("steps_cumulative", pa.int64()),  # as the file holds it (walking/running): steps since local midnight
        ("steps", pa.int64()),  # steps in the interval ending at `timestamp`
        ("cycles_cumulative", pa.float64()),  # other activity types (strokes, cycles), since local midnight
        ("cycles", pa.float64()),
    ]
)

ACTIVITY_TABLE_SCHEMAS: dict[str, pa.Schema] = {
    "activities": ACTIVITIES_SCHEMA,
    "laps": LAPS_SCHEMA,
    "trackpoints": TRACKPOINTS_SCHEMA,
    "rr_intervals": RR_INTERVALS_SCHEMA,
}

# -- subject-day datasets from the API -----------------------------------------------------------------

# Signals in the lake: the decoder's columns plus lineage (which record, when fetched).
SIGNAL_LAKE_SCHEMA = pa.schema(
    list(SIGNAL_SCHEMA)
    + [
        pa.field("record_id", pa.int64()),
        pa.field("received_at", TIME_US),
    ]
)

RECORDS_SCHEMA = pa.schema(
    [
        ("record_id", pa.int64()),
        ("user_id", pa.int64()),
        ("start_at", TS),
        ("end_at", TS),
        ("start_ticks", pa.int64()),
        ("end_ticks", pa.int64()),
        ("day_start_at", TS),
        ("day_end_at", TS),
        ("duration_s", pa.float64()),
        ("day_duration_s", pa.float64()),
        ("device", pa.string()),
        ("status", pa.string()),
        ("last_modified", TS),
        ("received_at", TS),
    ]
)
RANGES_SCHEMA = pa.schema(
    [
        ("range_id", pa.int64()),
        ("user_id", pa.int64()),
        ("name", pa.string()),
        ("activitytype_id", pa.int64()),
        ("trainingroutine_id", pa.int64()),
        ("rank", pa.int32()),
        ("parent_id", pa.int64()),
        ("status", pa.string()),
        ("start_at", TS),
        ("end_at", TS),
        ("start_ticks", pa.int64()),
        ("end_ticks", pa.int64()),
        ("day_start_at", TS),
        ("day_end_at", TS),
        ("duration_s", pa.float64()),
        ("last_modified", TS),
        ("received_at", TS),
    ]
)
RANGE_METRICS_SCHEMA = pa.schema(
    [
        ("range_id", pa.int64()),
        ("metric_id", pa.int64()),
        ("name", pa.string()),
        ("unit", pa.string()),
        ("value", pa.float64()),
        ("received_at", TS),
    ]
)

# -- study side ------------------------------------------------------------------------------------------

SUBJECTS_SCHEMA = pa.schema(
    [
        ("user_id", pa.int64()),
        ("username", pa.string()),
        ("first_name", pa.string()),
        ("last_name", pa.string()),
        ("email", pa.string()),
        ("timezone", pa.string()),  # the subject's IANA time zone when the API gives one (else null)
        ("received_at", TS),
    ]
)
DATATYPES_SCHEMA = pa.schema(
    [
        ("datatype_id", pa.int32()),
        ("name", pa.string()),
        ("unit", pa.string()),
        ("rate_hz", pa.float64()),
        ("synchronous", pa.bool_()),
        ("family", pa.string()),
        ("scale", pa.float64()),
        ("offset", pa.float64()),
        ("signed", pa.bool_()),
        ("quality_datatype_id", pa.int32()),
        ("info", pa.string()),
    ]
)
STUDY_SCHEMA = pa.schema(
    [
        ("study_id", pa.int64()),
        ("uuid", pa.string()),
        ("name", pa.string()),
        ("start_date", pa.date32()),
        ("end_date", pa.date32()),
        ("timezone", pa.string()),
        ("owner_id", pa.int64()),
        ("planning_json", pa.string()),
        ("last_modified", TS),
        ("received_at", TS),
    ]
)
GROUPS_SCHEMA = pa.schema(
    [
        ("group_id", pa.int64()),
        ("study_id", pa.int64()),
        ("name", pa.string()),
        ("description", pa.string()),
        ("received_at", TS),
    ]
)
MEMBERS_SCHEMA = pa.schema(
    [
        ("member_id", pa.int64()),
        ("study_id", pa.int64()),
        ("user_id", pa.int64()),
        ("subject_id", pa.string()),
        ("onboarding_date", pa.date32()),
        ("end_date", pa.date32()),
        ("group_id", pa.int64()),
        ("last_modified", TS),
        ("received_at", TS),
    ]
)
GROUP_HISTORY_SCHEMA = pa.schema(
    [
        ("user_id", pa.int64()),
        ("group_id", pa.int64()),
        ("since", pa.date32()),
        ("assigned_at", TS),
        ("assignment_index", pa.int32()),
        ("received_at", TS),
    ]
)
CALENDAR_SCHEMA = pa.schema(
    [
        ("event_id", pa.int64()),
        ("user_id", pa.int64()),
        ("date", pa.date32()),
        ("name", pa.string()),
        ("done", pa.bool_()),
        ("done_by", pa.string()),
        ("resource_uri", pa.string()),
        ("start_time", pa.string()),
        ("end_time", pa.string()),
        ("received_at", TS),
    ]
)
SURVEY_RESPONSES_SCHEMA = pa.schema(
    [
        ("response_id", pa.int64()),
        ("user_id", pa.int64()),
        ("survey_id", pa.int64()),
        ("date", pa.date32()),
        ("created_at", TS),
        ("answers_json", pa.string()),
        ("received_at", TS),
    ]
)
ANNOTATIONS_SCHEMA = pa.schema(
    [
        ("annotation_id", pa.int64()),
        ("user_id", pa.int64()),
        ("record_id", pa.int64()),
        ("datatype_id", pa.int64()),
        ("start_ticks", pa.int64()),
        ("start_at", TS),
        ("annotation", pa.string()),
        ("last_modified", TS),
        ("received_at", TS),
    ]
)
TRACKS_SCHEMA = pa.schema(
    [
        ("track_id", pa.int64()),
        ("user_id", pa.int64()),
        ("range_id", pa.int64()),
        ("distance_m", pa.float64()),
        ("start_at", TS),
        ("end_at", TS),
        ("received_at", TS),
    ]
)
GPS_TRACKPOINTS_SCHEMA = pa.schema(
    [
        ("trackpoint_id", pa.int64()),
        ("track_id", pa.int64()),
        ("range_id", pa.int64()),
        ("user_id", pa.int64()),
        ("ts", TS),
        ("latitude_deg", pa.float64()),
        ("longitude_deg", pa.float64()),
        ("altitude_m", pa.float64()),
        ("speed_mps", pa.float64()),
        ("course_deg", pa.float64()),
        ("horizontal_accuracy_m", pa.float64()),
        ("vertical_accuracy_m", pa.float64()),
        ("received_at", TS),
    ]
)

# -- activity files (TCX/FIT) in the lake: the decoder's tables plus lineage ------------------------------

ACTIVITY_LINEAGE_FIELDS = [
    pa.field("subject_username", pa.string()),
    pa.field("source_kind", pa.string()),
    pa.field("range_id", pa.int64()),
    pa.field("file_path", pa.string()),
    pa.field("sha256", pa.string()),
    pa.field("format", pa.string()),
    pa.field("decoder", pa.string()),
    pa.field("received_at", TS),
]
ACTIVITY_FILES_SCHEMA = pa.schema(
    [
        ("file_path", pa.string()),
        ("source_kind", pa.string()),
        ("range_id", pa.int64()),
        ("subject_username", pa.string()),
        ("sha256", pa.string()),
        ("size_bytes", pa.int64()),
        ("format", pa.string()),
        ("compression", pa.string()),
        ("decoder", pa.string()),
        ("decoder_version", pa.string()),
        ("fallback_reason", pa.string()),
        ("manufacturer", pa.string()),
        ("device", pa.string()),
        ("serial_number", pa.string()),
        ("crc_ok", pa.bool_()),
        ("partial", pa.bool_()),
        ("warnings", pa.string()),
        ("decode_seconds", pa.float64()),
        ("activity_start", TS),
        ("n_activities", pa.int32()),
        ("n_laps", pa.int32()),
        ("n_trackpoints", pa.int32()),
        ("n_rr_intervals", pa.int32()),
        ("received_at", TS),
        # monitoring files only (appended later: older files read them as null)
        ("n_monitoring", pa.int32()),
        ("monitoring_end", TS),  # the last monitoring row: its rows may span several subject-days
    ]
)
# decoder table name -> lake dataset
ACTIVITY_TABLE_DATASETS = {
    "activities": "activities",
    "laps": "activity_laps",
    "trackpoints": "activity_trackpoints",
    "rr_intervals": "activity_rr_intervals",
}
ACTIVITY_LAKE_SCHEMAS: dict[str, pa.Schema] = {
    ACTIVITY_TABLE_DATASETS[name]: pa.schema(
        list(schema)
        + ACTIVITY_LINEAGE_FIELDS
        + ([pa.field("rr_plausible", pa.bool_())] if name == "rr_intervals" else [])
    )
    for name, schema in ACTIVITY_TABLE_SCHEMAS.items()
}
# Failed ingestion steps per subject-day (hexo_pipeline/ingest/failures.py): the latest failed attempt of
# each step, removed when a later attempt goes through; fct_subject_day_completeness shows them.
INGEST_FAILURES_DATASET = "ingest_failures"
INGEST_FAILURES_SCHEMA = pa.schema(
    [
        ("step", pa.string()),  # the Dagster asset (multi-asset) that failed
        ("datasets", pa.string()),  # the datasets it writes, comma-separated
        ("error_class", pa.string()),
        ("message", pa.string()),  # the error's first line
        ("failed_at", TS),
        ("run_id", pa.string()),
        ("received_at", TS),  # = failed_at (every lake row carries received_at)
    ]
)
# Monitoring rows of FIT files, partitioned by the study-local day of each row (a file may span days).
MONITORING_DATASET = "fit_monitoring"
MONITORING_LAKE_SCHEMA = pa.schema(list(MONITORING_SCHEMA) + ACTIVITY_LINEAGE_FIELDS)


# Summary datasets: additive statistics of the signals, written beside them at ingestion
# (hexo_pipeline/ingest/summaries.py); the marts read these, never the samples. Time keys are UTC.
# The resting heart rate is the lowest mean of the per-minute clean heart rate over this many minutes
# (fct_subject_day.resting_hr_bpm); vitals_minutes carries each minute's trailing window, so the marts never
# run a window function over every minute of the history. dbt's macro resting_hr_window_min() must match.
RESTING_HR_WINDOW_MINUTES = 30
VITALS_MINUTES_SCHEMA = pa.schema(
    [
        ("record_id", pa.int64()),
        ("minute_at", TS),
        ("first_ts", TS),
        ("last_ts", TS),
        ("seconds_n", pa.int64()),
        ("worn_samples_n", pa.int64()),
        ("hr_any_n", pa.int64()),
        ("hr_clean_n", pa.int64()),
        ("hr_clean_sum", pa.float64()),
        ("hr_clean_sumsq", pa.float64()),
        ("hr_clean_min", pa.float64()),
        ("hr_clean_max", pa.float64()),
        ("hr_disconnected_n", pa.int64()),
        ("br_clean_n", pa.int64()),
        ("br_clean_sum", pa.float64()),
        ("br_clean_sumsq", pa.float64()),
        ("br_clean_min", pa.float64()),
        ("br_clean_max", pa.float64()),
        ("mv_clean_n", pa.int64()),
        ("mv_clean_sum", pa.float64()),
        ("tv_clean_n", pa.int64()),
        ("tv_clean_sum", pa.float64()),
        ("activity_n", pa.int64()),
        ("activity_sum", pa.float64()),
        ("activity_max", pa.float64()),
        ("cadence_n", pa.int64()),
        ("cadence_sum", pa.float64()),
        # The resting heart rate's window ending at this minute (RESTING_HR_WINDOW_MINUTES, within the record
        # and the partition): minutes with a clean heart rate, and the sum of their per-minute means.
        ("hr_window_clean_minutes_n", pa.int64()),
        ("hr_window_minute_means_sum", pa.float64()),
        ("received_at", TS),
        # vendor-compatible record statistics (fct_record): every heart-rate sample, non-zero activity
        ("hr_unfiltered_n", pa.int64()),
        ("hr_unfiltered_sum", pa.float64()),
        ("activity_nonzero_n", pa.int64()),
        ("activity_nonzero_sum", pa.float64()),
    ]
)
HRV_WINDOWS_SCHEMA = pa.schema(
    [
        ("record_id", pa.int64()),
        ("window_at", TS),
        ("beats_n", pa.int64()),
        ("rr_n", pa.int64()),
        ("rr_sum", pa.float64()),
        ("rr_sumsq", pa.float64()),
        ("diff_n", pa.int64()),
        ("diff_sumsq", pa.float64()),
        ("nn50_n", pa.int64()),
        ("first_beat_at", TS),
        ("first_rr_ms", pa.float64()),
        ("first_rr_is_reliable", pa.bool_()),
        ("last_beat_at", TS),
        ("last_rr_ms", pa.float64()),
        ("last_rr_is_reliable", pa.bool_()),
        ("received_at", TS),
        # vendor-compatible RMSSD (fct_record): unreliable beats dropped, the kept sequence differenced
        ("reliable_seq_diff_n", pa.int64()),
        ("reliable_seq_diff_sumsq", pa.float64()),
        ("first_reliable_rr_ms", pa.float64()),
        ("last_reliable_rr_ms", pa.float64()),
    ]
)
STEPS_MINUTES_SCHEMA = pa.schema(
    [
        ("record_id", pa.int64()),
        ("minute_at", TS),
        ("steps", pa.int64()),
        ("received_at", TS),
    ]
)
ASTROSKIN_MINUTES_SCHEMA = pa.schema(
    [
        ("record_id", pa.int64()),
        ("minute_at", TS),
        ("spo2_clean_n", pa.int64()),
        ("spo2_clean_sum", pa.float64()),
        ("spo2_clean_min", pa.float64()),
        ("spo2_clean_max", pa.float64()),
        ("temperature_clean_n", pa.int64()),
        ("temperature_clean_sum", pa.float64()),
        ("temperature_clean_min", pa.float64()),
        ("temperature_clean_max", pa.float64()),
        ("systolic_clean_n", pa.int64()),
        ("systolic_clean_sum", pa.float64()),
        ("received_at", TS),
    ]
)

# Sleep-position events (datatype 270, a few per night) as they are: the position from ts until the next
# event of the record. Kept apart so that sleep never rescans the events dataset.
SLEEP_POSITIONS_SCHEMA = pa.schema(
    [
        ("record_id", pa.int64()),
        ("ts", TS),
        ("position_code", pa.int32()),
        ("received_at", TS),
    ]
)

SUMMARY_SCHEMAS: dict[str, pa.Schema] = {
    "vitals_minutes": VITALS_MINUTES_SCHEMA,
    "hrv_windows": HRV_WINDOWS_SCHEMA,
    "steps_minutes": STEPS_MINUTES_SCHEMA,
    "astroskin_minutes": ASTROSKIN_MINUTES_SCHEMA,
    "sleep_positions": SLEEP_POSITIONS_SCHEMA,
}
# -- the datasets ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    name: str
    layout: str  # SUBJECT_DAY or STUDY
    schema: pa.Schema
    signal: bool = False  # written with the tuned signal encodings
    compactable: bool = False  # closed months may be compacted into one file per subject-month


# The 7 signal families (hexo_pipeline/hexoskin/datatypes.py, Family); spelled out so this module stays
# import-free. A test checks they match Family.
SIGNAL_FAMILIES = ("ecg", "respiration", "acceleration", "vitals", "events", "astroskin", "hrv")

DATASETS: dict[str, Dataset] = {}


def register(dataset: Dataset) -> Dataset:
    """Add a dataset to the contract (ingestion modules adding a dataset call this once, at import)."""
    if dataset.layout not in (SUBJECT_DAY, STUDY):
        raise ValueError(f"dataset {dataset.name}: unknown layout {dataset.layout!r}")
    if dataset.compactable and dataset.layout != SUBJECT_DAY:
        raise ValueError(f"dataset {dataset.name}: only subject-day datasets can be compacted")
    DATASETS[dataset.name] = dataset
    return dataset


for _family in SIGNAL_FAMILIES:
    register(Dataset(f"signals_{_family}", SUBJECT_DAY, SIGNAL_LAKE_SCHEMA, signal=True))
for _name, _schema in {
    "records": RECORDS_SCHEMA,
    "ranges": RANGES_SCHEMA,
    "range_metrics": RANGE_METRICS_SCHEMA,
    "calendar_events": CALENDAR_SCHEMA,
    "survey_responses": SURVEY_RESPONSES_SCHEMA,
    "annotations": ANNOTATIONS_SCHEMA,
    "tracks": TRACKS_SCHEMA,
    "trackpoints": GPS_TRACKPOINTS_SCHEMA,
}.items():
    # Small per-day tables: a closed month is better read as one file per subject.
    register(Dataset(_name, SUBJECT_DAY, _schema, compactable=True))
register(Dataset("activity_files", SUBJECT_DAY, ACTIVITY_FILES_SCHEMA))
for _name, _schema in ACTIVITY_LAKE_SCHEMAS.items():
    register(Dataset(_name, SUBJECT_DAY, _schema))
register(Dataset(MONITORING_DATASET, SUBJECT_DAY, MONITORING_LAKE_SCHEMA))
register(Dataset(INGEST_FAILURES_DATASET, SUBJECT_DAY, INGEST_FAILURES_SCHEMA))
for _name, _schema in {
    "subjects": SUBJECTS_SCHEMA,
    "datatypes": DATATYPES_SCHEMA,
    "study": STUDY_SCHEMA,
    "study_groups": GROUPS_SCHEMA,
    "study_members": MEMBERS_SCHEMA,
    "study_group_history": GROUP_HISTORY_SCHEMA,
}.items():
    register(Dataset(_name, STUDY, _schema))
for _name, _schema in SUMMARY_SCHEMAS.items():
    register(Dataset(_name, SUBJECT_DAY, _schema, compactable=True))


def read_by_marts() -> list[str]:
    """The datasets dbt reads: everything but the signal samples and events, which reach the marts only
    through the summary datasets (so a build never lists or checks the largest part of the lake)."""
    return sorted(name for name, d in DATASETS.items() if not d.signal)


def dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a lake dataset (hexo_pipeline/lake/contract.py)") from None


def schema_of(name: str) -> pa.Schema:
    return dataset(name).schema
