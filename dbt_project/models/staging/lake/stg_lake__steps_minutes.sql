-- Step events per record and UTC minute, written at ingestion from the step events of signals_events
-- (docs/lake.md, Summary datasets): the lake table renamed, keys first.
-- (macros/lake.sql lake_summary_rows: the incremental models read the same rows of their pending partitions)
{{ lake_summary_rows('steps_minutes') }}
