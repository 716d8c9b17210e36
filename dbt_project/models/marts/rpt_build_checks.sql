-- The data tests (checks) of the build that published these marts, one row each, with their status and
-- failing rows. The table is created empty here; the on-run-end hook record_build_checks
-- (macros/build_checks.sql) fills it once every test of the build has run.
select
    cast(null as varchar) as check_id,
    cast(null as varchar) as check_name,
    cast(null as varchar) as model,
    cast(null as varchar) as column_name,
    cast(null as varchar) as status,
    cast(null as varchar) as severity,
    cast(null as bigint) as failures,
    cast(null as varchar) as message,
    cast(null as timestamptz) as checked_at
where false
