-- The datatype catalog: raw -> physical is (raw - offset) * scale. The lake's `datatypes` table (written
-- by the datatype_catalog asset) wins; the seed copy of the same catalog fills ids the lake lacks.
with lake as (
    select
        datatype_id,
        name as datatype_name,
        unit,
        rate_hz,
        synchronous as is_synchronous,
        family,
        scale,
        "offset",
        signed as is_signed,
        quality_datatype_id,
        info,
        'lake' as catalog_source
    from {{ lake_relation('datatypes') }}
),

seed as (
    select
        datatype_id,
        name as datatype_name,
        unit,
        rate_hz,
        rate_hz is not null as is_synchronous,
        family,
        scale,
        "offset",
        signed as is_signed,
        quality_datatype_id,
        cast(null as varchar) as info,
        'seed' as catalog_source
    from {{ ref('datatype_catalog') }}
    where datatype_id not in (select datatype_id from lake)
)

select * from lake
union all
select * from seed
