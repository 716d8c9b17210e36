-- Wear per subject and local day: seconds of records inside the day, records, and whether one of them
-- was an Astroskin.
select
    d.user_id,
    d.local_date,
    {{ exact_sum('d.worn_s') }} as worn_s,
    count(*) as records_n,
    bool_or(r.device_model = 'Astroskin') as wore_astroskin
from {{ ref('int_records__local_days') }} as d
inner join {{ ref('int_records') }} as r using (record_id, user_id)
group by all
