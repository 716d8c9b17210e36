-- RR (HRV) statistics per record and UTC 5-minute window, written at ingestion from the RR events of signals_events
-- (docs/lake.md, Summary datasets): the lake table renamed, keys first.
-- (macros/lake.sql lake_summary_rows: the incremental models read the same rows of their pending partitions)
{{ lake_summary_rows('hrv_windows') }}
