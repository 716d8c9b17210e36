-- RR (HRV) statistics per record and UTC 5-minute window, written at ingestion from the RR events of signals_events
-- (docs/lake.md, Summary datasets): the lake table renamed, keys first.
select
    subject as username,
    date as lake_date,
    * exclude (subject, date)
from {{ lake_relation('hrv_windows') }}
