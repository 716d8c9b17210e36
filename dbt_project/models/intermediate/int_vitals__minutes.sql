-- The 1 Hz vitals statistics per (lake partition, record, UTC minute) of the lake's vitals_minutes
-- (written at ingestion), placed in the subject's local day and hour. int_vitals__chunks (records,
-- days, resting heart rate) and int_vitals__hours (data yield) are merges of these minutes. A UTC
-- minute never straddles a local day or hour (time-zone offsets are whole multiples of 15 minutes).
-- A view, not a table: its readers are incremental on the lake partitions, and a copy of every minute of
-- the history in the warehouse would make each build's cost and the state file grow with it. In an
-- incremental run they read the same SQL (macros/signals.sql vitals_minutes_in_local_time) over the
-- pending partitions' files only (macros/incremental.sql vitals_minutes_pending).
{{ config(materialized='view') }}
{{ vitals_minutes_in_local_time(ref('stg_lake__vitals_minutes')) }}
