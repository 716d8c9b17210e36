-- Lake partitions are days of the study time zone (docs/lake.md): the marts take a summary row's local day
-- from its partition when the subject lives in the study's zone (macros/signals.sql summary_local_date), and
-- its resting heart rate from the windows written per partition. A lake split by another zone (HEXO_STUDY_TZ
-- changed after ingestion, or an import with another --timezone) would shift those subjects' minutes to the
-- wrong day: this fails the build instead (re-ingest with the study's zone, or set HEXO_STUDY_TZ back).
-- Over the chunks (one row per partition and record), so it costs two conversions per chunk, not per minute.
select username, lake_date, record_id, first_ts, last_ts
from {{ ref('int_vitals__chunks') }}
where
    local_timezone = {{ study_timezone() }}
    and (
        cast({{ local_ts('first_ts', study_timezone()) }} as date) <> lake_date
        or cast({{ local_ts('last_ts', study_timezone()) }} as date) <> lake_date
    )
