-- Astroskin statistics (SpO2, skin temperature, systolic pressure) per subject and local day.
{%- set subjects = subject_incremental() %}
select
    username,
    local_date,
    {{ merge_statistics(astroskin_statistics()) }}
from {{ subject_ref('int_astroskin__chunks', subjects) }}
group by all
