-- Astroskin statistics (SpO2, skin temperature, systolic pressure) per subject and local day.
select
    username,
    local_date,
    {{ merge_statistics(astroskin_statistics()) }}
from {{ ref('int_astroskin__chunks') }}
group by all
