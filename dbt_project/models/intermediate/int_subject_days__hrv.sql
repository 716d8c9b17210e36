-- RR (HRV) sums and steps per subject and local day: the record-days merged (pairs lie inside the day).
{%- set subjects = subject_incremental() %}
select
    username,
    local_date,
    sum(rr_n) as rr_n,
    {{ exact_sum('rr_sum') }} as rr_sum,
    {{ exact_sum('rr_sumsq') }} as rr_sumsq,
    sum(diff_n) as diff_n,
    {{ exact_sum('diff_sumsq') }} as diff_sumsq,
    sum(nn50_n) as nn50_n,
    sum(steps) as steps
from {{ subject_ref('int_hrv__record_days', subjects) }}
group by all
