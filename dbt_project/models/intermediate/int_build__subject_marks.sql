-- One row per subject: a digest (mark) of everything the subject-scoped models (macros/subjects.sql) read for
-- the subject. A build rebuilds those models for the subjects whose mark differs from the one the last
-- complete build recorded (meta.subject_marks_built). What goes in:
--   the subject's current lake manifest entries (every dataset: a partition written again, added, removed);
--   the study-wide tables' entries (subjects, study, members, groups: a change there marks every subject);
--   the subject's calendar (first and last day, number of days: int_subject_days moves with the study's
--   dates, today, and the cohort's last day with data);
--   the subject's row of int_subjects (time zone, onboarding, membership);
--   the subject's quarantined files, and those of no known subject (every subject).
-- DuckDB's hash() of each entry, combined with bit_xor (order-free), with the entry counts.
with lake as (
    select
        username,
        count(*) as entries_n,
        bit_xor(hash(dataset, lake_date, file, rows, bytes, received_at, written_at)) as entries_hash
    from {{ ref('stg_lake__manifest') }}
    group by username
),

study_wide as (
    select
        count(*) as entries_n,
        coalesce(bit_xor(hash(dataset, file, rows, bytes, received_at, written_at)), 0) as entries_hash
    from ({{ lake_manifest_sql(study_wide=true) }}) as entries
),

quarantine as (
    select
        username,
        count(*) as files_n,
        bit_xor(hash(area, file, reason, quarantined_at)) as files_hash
    from {{ ref('stg_lake__quarantine') }}
    group by username
),

calendar as (
    select username, min(local_date) as first_date, max(local_date) as last_date, count(*) as days_n
    from {{ ref('int_subject_days') }}
    group by username
),

subjects as (
    select s.username, md5(to_json(s)) as row_md5
    from {{ ref('int_subjects') }} as s
),

usernames as (
    select username from subjects
    union
    select username from lake
    union
    select username from quarantine
    where username is not null
)

select
    u.username,
    hash(
        s.row_md5, l.entries_n, l.entries_hash, c.first_date, c.last_date, c.days_n, q.files_n, q.files_hash,
        nq.files_n, nq.files_hash, w.entries_n, w.entries_hash
    ) as mark
from usernames as u
left join subjects as s on s.username = u.username
left join lake as l on l.username = u.username
left join calendar as c on c.username = u.username
left join quarantine as q on q.username = u.username
left join quarantine as nq on nq.username is null
cross join study_wide as w
