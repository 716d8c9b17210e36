-- One row per data-quality issue the marts can see: records received late, records crossing local
-- midnight or outside the subject's study calendar, runs of days without data, and days whose
-- heart rate or breathing falls outside the physiological range the marts' tests warn about.
-- Quarantined files are in rpt_quarantine, missing datasets per subject-day in fct_subject_day_completeness.
with records as (
    select
        r.*,
        cast({{ local_ts('r.end_at', 'r.timezone') }} as date) as local_end_date
    from {{ ref('fct_record') }} as r
),

gaps as (
    select subject_id, min(local_date) as gap_start, max(local_date) as gap_end, count(*) as gap_days
    from (
        select
            subject_id,
            local_date,
            has_data,
            local_date - cast(row_number() over (partition by subject_id, has_data order by local_date) as integer)
                as run_key
        from {{ ref('fct_subject_day') }}
    ) as runs
    where not has_data
    group by subject_id, run_key
),

issues as (
    select
        'late data' as issue_kind,
        subject_id,
        local_end_date as local_date,
        record_id,
        'record received ' || cast(cast(received_at as date) - local_end_date as varchar)
        || ' days after it ended' as detail
    from records
    where received_at is not null
        and cast(received_at as date) - local_end_date > {{ var('late_data_days', 2) }}

    union all

    select
        'crosses midnight' as issue_kind,
        subject_id,
        local_start_date as local_date,
        record_id,
        'record runs from ' || cast(local_start_date as varchar) || ' to ' || cast(local_end_date as varchar)
        || ' (split across local days)' as detail
    from records
    where local_end_date > local_start_date

    union all

    select
        'outside study window' as issue_kind,
        r.subject_id,
        r.local_start_date as local_date,
        r.record_id,
        'record outside the study days ' || cast(s.first_study_date as varchar) || ' to '
        || cast(s.last_study_date as varchar) as detail
    from records as r
    inner join {{ ref('dim_subject') }} as s on s.subject_id = r.subject_id
    where r.local_start_date < s.first_study_date or r.local_end_date > s.last_study_date

    union all

    select
        'gap' as issue_kind,
        subject_id,
        gap_start as local_date,
        cast(null as bigint) as record_id,
        cast(gap_days as varchar) || ' days without data, ' || cast(gap_start as varchar) || ' to '
        || cast(gap_end as varchar) as detail
    from gaps
    where gap_days >= {{ var('gap_min_days', 2) }}

    union all

    select
        'out of range' as issue_kind,
        subject_id,
        local_date,
        cast(null as bigint) as record_id,
        concat_ws(
            '; ',
            case
                when hr_mean_bpm not between 25 and 250
                    then 'heart rate ' || cast(round(hr_mean_bpm, 1) as varchar) || ' bpm'
            end,
            case
                when br_mean_rpm not between 2 and 70
                    then 'breathing ' || cast(round(br_mean_rpm, 1) as varchar) || ' rpm'
            end
        ) as detail
    from {{ ref('fct_subject_day') }}
    where hr_mean_bpm not between 25 and 250 or br_mean_rpm not between 2 and 70
)

select
    i.issue_kind,
    i.subject_id,
    s.username,
    coalesce(s.subject_code, s.username) as subject_label,
    s.current_group_name as group_name,
    i.local_date,
    i.record_id,
    i.detail
from issues as i
left join {{ ref('dim_subject') }} as s on s.subject_id = i.subject_id
