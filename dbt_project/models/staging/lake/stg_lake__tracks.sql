-- GPS tracks of ranges, with the distance the API computes.
select
    track_id,
    user_id,
    range_id,
    subject as username,
    date as lake_date,
    start_at,
    end_at,
    distance_m,
    received_at
from {{ lake_relation('tracks') }}
