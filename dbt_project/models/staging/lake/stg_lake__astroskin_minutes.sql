-- Astroskin statistics per record and UTC minute, written at ingestion from signals_astroskin
-- (docs/lake.md, Summary datasets): the lake table renamed, keys first.
-- (macros/lake.sql lake_summary_rows: the incremental models read the same rows of their pending partitions)
{{ lake_summary_rows('astroskin_minutes') }}
