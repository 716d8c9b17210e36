-- The lake manifest: the current entry of every subject-day partition of every dataset (what was ingested,
-- how much, when), read from lake/_manifest/ (one small snapshot per dataset and a short log), never
-- from the data files.
select
    dataset,
    subject as username,
    date as lake_date,
    file,
    rows,
    bytes,
    received_at,
    written_at
from ({{ lake_manifest_sql() }}) as entries
