-- One row per subject, study day (the subject's calendar, int_subject_days) and dataset family: what the
-- lake holds for it (from the lake manifest: datasets, rows, bytes, when written), what is in quarantine
-- for it and why, and whether something expected is missing. Lake partitions are days in the study time
-- zone; they are matched to the subject's local days by date (the same day when the subject's time zone
-- is the study's, the default).
--   records     records, ranges, range_metrics (Dagster asset records_and_ranges): expected every study day
--               (no records: the garment was not worn, or the day was not ingested);
--   signals     the decoded signal files (asset signals): expected when the day has records and no
--               summaries (the signals step writes the summaries from the signals, after committing
--               them: a summary partition is evidence the step ran; a lake of summaries only, such as
--               benchmarks/scale_lake.py writes, has no signal gap);
--   summaries   the per-minute statistics the marts read (written by asset signals): expected when the day
--               has records;
--   study_data  calendar events, survey responses, annotations, GPS (asset subject_day_study_data): never
--               expected (a day may have none);
--   activity_files  TCX/FIT exports and inbox files (assets range_exports, inbox_files), monitoring FIT
--               files (fit_monitoring): never expected.
-- A step whose latest attempt failed for the subject-day (lake.ingest_failures, recorded by the Dagster
-- assets and cleared when a later attempt goes through) marks the families its asset writes as failed.
{%- set subjects = subject_incremental() %}
{% set families = [
    ('records', 'records_and_ranges', ['records', 'ranges', 'range_metrics']),
    ('signals', 'signals', ['signals_ecg', 'signals_respiration', 'signals_acceleration', 'signals_vitals',
                            'signals_events', 'signals_astroskin', 'signals_hrv']),
    ('summaries', 'signals', ['vitals_minutes', 'hrv_windows', 'steps_minutes', 'astroskin_minutes',
                              'sleep_positions']),
    ('study_data', 'subject_day_study_data', ['calendar_events', 'survey_responses', 'annotations', 'tracks',
                                              'trackpoints']),
    ('activity_files', 'range_exports', ['activity_files', 'activities', 'activity_laps', 'activity_trackpoints',
                                         'activity_rr_intervals', 'fit_monitoring']),
] %}
with families as (
    {% for family, asset, datasets in families %}
        select '{{ family }}' as family, '{{ asset }}' as dagster_asset, {{ datasets }} as datasets
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

dataset_families as (
    select
        family,
        unnest(datasets) as dataset
    from families
),

ingested as (
    select
        m.username,
        m.lake_date,
        coalesce(d.family, 'other') as family,
        count(*) as datasets_ingested,
        string_agg(m.dataset, ', ' order by m.dataset) as datasets,
        cast(sum(m.rows) as bigint) as rows_ingested,
        cast(sum(m.bytes) as bigint) as bytes_ingested,
        min(m.written_at) as first_ingested_at,
        max(m.written_at) as last_ingested_at,
        max(m.received_at) as newest_received_at
    from {{ subject_ref('stg_lake__manifest', subjects) }} as m
    left join dataset_families as d on d.dataset = m.dataset
    where m.dataset != 'ingest_failures'
    group by all
),

failed as (
    select
        username,
        lake_date,
        dagster_asset,
        max(failed_at) as failed_at,
        string_agg(error_class || ': ' || message, '; ' order by failed_at desc) as failure
    from {{ subject_ref('stg_lake__ingest_failures', subjects) }}
    group by all
),

quarantined as (
    select
        username,
        lake_date,
        case area when 'signals' then 'signals' else 'activity_files' end as family,
        count(*) as quarantined_files,
        string_agg(distinct reason, '; ' order by reason) as quarantine_reasons
    from {{ subject_ref('stg_lake__quarantine', subjects) }}
    where username is not null and lake_date is not null
    group by all
),

day_families as (
    select
        username,
        lake_date,
        bool_or(family = 'records') as has_records,
        bool_or(family = 'summaries') as has_summaries
    from ingested
    group by all
),

expected as (
    select
        c.user_id as subject_id,
        c.username,
        c.local_date,
        c.study_day,
        f.family,
        f.dagster_asset,
        i.datasets_ingested,
        i.datasets,
        i.rows_ingested,
        i.bytes_ingested,
        i.first_ingested_at,
        i.last_ingested_at,
        i.newest_received_at,
        q.quarantined_files,
        q.quarantine_reasons,
        fl.failed_at,
        fl.failure,
        case
            when f.family = 'records' then true
            when f.family = 'signals' then coalesce(d.has_records and not d.has_summaries, false)
            when f.family = 'summaries' then coalesce(d.has_records, false)
            else false
        end as is_expected
    from {{ subject_ref('int_subject_days', subjects) }} as c
    cross join families as f
    left join day_families as d on d.username = c.username and d.lake_date = c.local_date
    left join ingested as i on i.username = c.username and i.lake_date = c.local_date and i.family = f.family
    left join quarantined as q on q.username = c.username and q.lake_date = c.local_date and q.family = f.family
    left join failed as fl
        on fl.username = c.username and fl.lake_date = c.local_date and fl.dagster_asset = f.dagster_asset
)

select
    subject_id,
    username,
    local_date,
    study_day,
    family,
    dagster_asset,
    is_expected,
    coalesce(datasets_ingested, 0) as datasets_ingested,
    datasets,
    coalesce(rows_ingested, 0) as rows_ingested,
    coalesce(bytes_ingested, 0) as bytes_ingested,
    first_ingested_at,
    last_ingested_at,
    newest_received_at,
    datediff('day', local_date, cast(last_ingested_at as date)) as ingest_delay_days,
    coalesce(quarantined_files, 0) as quarantined_files,
    quarantine_reasons,
    failed_at,
    failure,
    case
        when failed_at is not null then 'failed'
        when quarantined_files > 0 then 'quarantined'
        when datasets_ingested > 0 then 'ingested'
        when is_expected then 'missing'
        else 'none'
    end as status,
    coalesce(
        failed_at is not null or quarantined_files > 0 or (is_expected and datasets_ingested is null), false
    ) as is_gap
from expected
