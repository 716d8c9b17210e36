-- Step events per record and UTC minute, written at ingestion from the step events of signals_events
-- (docs/lake.md, Summary datasets): the lake table renamed, keys first.
select
    subject as username,
    date as lake_date,
    * exclude (subject, date)
from {{ lake_relation('steps_minutes') }}
