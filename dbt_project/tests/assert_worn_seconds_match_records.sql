-- Every second of a record that falls inside a subject's study calendar is in fct_subject_day, once.
with from_records as (
    select d.user_id as subject_id, sum(d.worn_s) as worn_s
    from {{ ref('int_records__local_days') }} as d
    inner join {{ ref('int_subject_days') }} as c on c.user_id = d.user_id and c.local_date = d.local_date
    group by all
),

from_days as (
    select subject_id, sum(worn_s) as worn_s
    from {{ ref('fct_subject_day') }}
    group by all
)

select coalesce(r.subject_id, d.subject_id) as subject_id, r.worn_s as record_seconds, d.worn_s as day_seconds
from from_records as r
full outer join from_days as d on d.subject_id = r.subject_id
where abs(coalesce(r.worn_s, 0) - coalesce(d.worn_s, 0)) > 0.001
