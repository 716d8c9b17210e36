-- One row per file in quarantine, for the report's data-quality section: what it was (area, path), whose
-- and which day when known, and why it could not be decoded. Files of no known subject (inbox files
-- dropped at the top of the inbox) keep a NULL subject_id.
select
    q.area,
    q.file,
    s.subject_id,
    q.username,
    coalesce(s.subject_code, s.username, q.username) as subject_label,
    s.current_group_name as group_name,
    s.study,
    q.lake_date,
    q.reason,
    q.quarantined_at
from {{ ref('stg_lake__quarantine') }} as q
left join {{ ref('dim_subject') }} as s on s.username = q.username
