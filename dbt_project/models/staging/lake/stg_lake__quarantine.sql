-- Files in quarantine (<quarantine>/<area>/<path>: $HEXO_DATA_DIR/quarantine, or <HEXO_LAKE_URL>/_quarantine on
-- object storage), one row each, from the `.reason.txt`
-- record beside the file (first line: the reason). Subject and day come from the path: signal downloads and
-- range exports are kept under subject=<username>/date=<day>/, inbox files under <username>/ when known.
with records as (
    {{ quarantine_records_sql() }}
),

parsed as (
    select
        path,
        split_part(path, '/', 1) as area,
        str_split(path, '/') as parts,
        content
    from records
)

select
    area,
    substr(path, length(area) + 2) as file,
    coalesce(
        nullif(regexp_extract(path, 'subject=([^/]+)', 1), ''),
        case when area = 'inbox' and len(parts) >= 3 then parts[2] end
    ) as username,
    try_cast(nullif(regexp_extract(path, 'date=([0-9]{4}-[0-9]{2}-[0-9]{2})', 1), '') as date) as lake_date,
    coalesce(nullif(trim(split_part(content, chr(10), 1)), ''), 'no reason recorded') as reason,
    try_cast(nullif(regexp_extract(content, 'quarantined_at: *([^ \n]+)', 1), '') as timestamptz) as quarantined_at
from parsed
