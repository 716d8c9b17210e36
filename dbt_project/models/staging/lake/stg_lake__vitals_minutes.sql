-- 1 Hz vitals statistics per record and UTC minute, written at ingestion from signals_vitals
-- (docs/lake.md, Summary datasets): the lake table renamed, keys first.
select
    subject as username,
    date as lake_date,
    * exclude (subject, date)
from {{ lake_relation('vitals_minutes') }}
