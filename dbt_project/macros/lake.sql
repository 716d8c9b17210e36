{#-
  Reading the Parquet lake (docs/lake.md).

  lake_relation(table)        the table as a relation: read_parquet over its daily files and its compacted
                              months when any exist, else an empty relation typed by the source's YAML columns
                              (read_parquet errors on a glob without files). Missing columns read as NULL
                              (UNION ALL BY NAME).
  lake_relation(table, partitions)  the same columns from the current files of those (subject, date) partitions
                              only, listed from the manifest (a compacted month file holds other days too: the
                              reader filters on the partitions). An incremental run binds a few files instead
                              of every file of the dataset (union_by_name reads each file's footer at bind).
  lake_summary_rows(table[, partitions])  a summary dataset's rows with the staging keys (username, lake_date).
  lake_pending_partitions(..) for incremental models: the subject-day partitions whose manifest entry changed
                              since the model last loaded them (by the newest received_at the manifest records),
                              and those the manifest says are gone. Reads the lake manifest only
                              (lake/_manifest/<table>/: one Parquet snapshot and a short log), never the data
                              files' footers, so its cost does not grow with the number of files.
  lake_partition_filter(..)   a SQL predicate selecting a list of (subject, date) partitions; DuckDB prunes
                              hive partitions on it, so only those files are read.
-#}

{% macro lake_source_node(table_name) -%}
    {%- for node in graph.sources.values() if node.source_name == 'lake' and node.name == table_name -%}
        {{ return(node) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error("no source lake." ~ table_name ~ " in _lake__sources.yml") }}
{%- endmacro %}


{% macro lake_layout(node) -%}
    {%- set meta = node.config.get('meta', {}) or node.meta or {} -%}
    {{ return(meta.get('layout', 'subject_day')) }}
{%- endmacro %}


{% macro lake_glob(table_name, layout='subject_day') -%}
    {%- if layout == 'study' -%}
        {{ lake_root() }}/{{ table_name }}/data.parquet
    {%- elif layout == 'month' -%}
        {{ lake_root() }}/{{ table_name }}/subject=*/month=*/*.parquet
    {%- else -%}
        {{ lake_root() }}/{{ table_name }}/subject=*/date=*/*.parquet
    {%- endif -%}
{%- endmacro %}


{#- Whether a glob matches a file. `limit 1` stops DuckDB's glob at the first match: counting every file
    took 0.13-0.32 s per glob at 500 x 730 (12,500 month files per dataset), twice per view over the lake in
    every build; the first match takes < 0.01 s. -#}
{% macro lake_has_files(glob) -%}
    {%- set result = run_query("select count(*) from (select 1 from glob('" ~ glob ~ "') limit 1)") -%}
    {{ return(result.columns[0].values()[0] > 0) }}
{%- endmacro %}


{% macro lake_empty_relation(node) -%}
    (select
    {%- for column in node.columns.values() %}
        cast(null as {{ column.data_type }}) as {{ adapter.quote(column.name) }}{{ "," if not loop.last }}
    {%- endfor %}
    where false)
{%- endmacro %}


{% macro lake_relation(table_name, partitions=none) -%}
    {%- if partitions is not none -%}
        {{ return(lake_partitions_relation(table_name, partitions)) }}
    {%- endif -%}
    {#- source() registers the lineage at parse time, whatever is rendered at run time. -#}
    {%- set relation = source('lake', table_name) -%}
    {%- if not execute -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set node = lake_source_node(table_name) -%}
    {%- set layout = lake_layout(node) -%}
    {%- set daily = lake_has_files(lake_glob(table_name, layout)) -%}
    {%- set months = layout == 'subject_day' and lake_has_files(lake_glob(table_name, 'month')) -%}
    {%- if not daily and not months -%}
        {{ lake_empty_relation(node) }}
    {%- else -%}
        (select * from {{ lake_empty_relation(node) }}
        {%- if daily %} union all by name select * from {{ relation }}{% endif %}
        {%- if months %}
        {#- A compacted month: rows carry their day in `date`; the month key is not a column of the table. #}
        union all by name select * exclude (month) from read_parquet('{{ lake_glob(table_name, 'month') }}',
            hive_partitioning = true, hive_types = {'subject': VARCHAR, 'month': VARCHAR}, union_by_name = true)
        {%- endif %})
    {%- endif -%}
{%- endmacro %}


{#- lake_relation over the current files of some partitions of a subject-day dataset (the manifest's `file`
    column), daily files and compacted months apart. Without files, the typed empty relation. -#}
{% macro lake_partitions_relation(table_name, partitions) -%}
    {%- if not execute -%}
        {{ return(source('lake', table_name)) }}
    {%- endif -%}
    {%- set node = lake_source_node(table_name) -%}
    {%- if lake_layout(node) != 'subject_day' -%}
        {{ exceptions.raise_compiler_error(
            "lake_relation(partitions=...) reads subject-day datasets only, not " ~ table_name) }}
    {%- endif -%}
    {%- set daily = [] -%}
    {%- set months = [] -%}
    {%- if execute and partitions | length > 0 -%}
        {%- set sql -%}
            select distinct lake_file
            from ({{ lake_partition_state_sql(table_name) }})
            where {{ lake_partition_filter(partitions, 'subject', 'lake_date') }}
            order by 1
        {%- endset -%}
        {%- for row in run_query(sql).rows -%}
            {%- do (months if '/month=' in row[0] else daily).append(lake_root() ~ '/' ~ row[0]) -%}
        {%- endfor -%}
    {%- endif -%}
    (select * from {{ lake_empty_relation(node) }}
    {%- if daily %}
    union all by name select * from read_parquet({{ lake_file_list(daily) }},
        hive_partitioning = true, hive_types = {'subject': VARCHAR, 'date': DATE}, union_by_name = true)
    {%- endif %}
    {%- if months %}
    union all by name select * exclude (month) from read_parquet({{ lake_file_list(months) }},
        hive_partitioning = true, hive_types = {'subject': VARCHAR, 'month': VARCHAR}, union_by_name = true)
    {%- endif %})
{%- endmacro %}


{% macro lake_file_list(files) -%}
    [{% for f in files %}'{{ f }}'{{ ", " if not loop.last }}{% endfor %}]
{%- endmacro %}


{#- A summary dataset's rows, keys renamed as staging has them (the stg_lake__<summary> views are this). -#}
{% macro lake_summary_rows(table_name, partitions=none) -%}
    select
        subject as username,
        date as lake_date,
        * exclude (subject, date)
    from {{ lake_relation(table_name, partitions) }}
{%- endmacro %}


{#- (subject, date, received_at, file) of every current partition of a subject-day table, from the lake manifest
    (hexo_pipeline/lake/manifest.py): the snapshot (one row per partition) less what the log supersedes,
    plus the latest log entry per partition; deletes excluded. -#}
{% macro lake_partition_state_sql(table_name) -%}
    {%- set folder = lake_root() ~ '/_manifest/' ~ table_name -%}
    {%- set has_snapshot = lake_has_files(folder ~ '/snapshot.parquet') -%}
    {%- set has_log = lake_has_files(folder ~ '/log/*.parquet') -%}
    {%- if not has_snapshot and not has_log -%}
    select null::varchar as subject, null::date as lake_date, null::timestamptz as lake_received_at,
        null::varchar as lake_file
    where false
    {%- else -%}
    with
    {%- if has_log %}
    log as (
        select subject, date, op, received_at, file
        from read_parquet('{{ folder }}/log/*.parquet')
        qualify row_number() over (partition by subject, date order by written_at desc, entry desc) = 1
    ),
    {%- endif %}
    current_entries as (
        {%- if has_snapshot %}
        select subject, date, op, received_at, file from read_parquet('{{ folder }}/snapshot.parquet') as s
        {%- if has_log %}
        where not exists (select 1 from log where log.subject = s.subject and log.date = s.date)
        union all
        {%- endif %}
        {%- endif %}
        {%- if has_log %}
        select subject, date, op, received_at, file from log
        {%- endif %}
    )
    select subject, date as lake_date, received_at as lake_received_at, file as lake_file
    from current_entries
    where op = 'write'
    {%- endif -%}
{%- endmacro %}


{% macro lake_pending_partitions(table_name, target, subject_column='username', date_column='lake_date',
                                 local_time=false) -%}
    {#- {'load': [(subject, date)], 'drop': [(subject, date)]} for an incremental model whose rows carry the
        partition's subject and date (subject_column, date_column) and lake_received_at. Only meaningful when
        is_incremental(). With `local_time`, the rows also carry `local_timezone`, the time zone their local
        days and hours were computed in: the partitions of a subject whose time zone (int_subjects, else the
        study's) is no longer that one are loaded again too. -#}
    {%- set pending = {'load': [], 'drop': []} -%}
    {%- if not execute -%}
        {{ return(pending) }}
    {%- endif -%}
    {%- set sql -%}
        with lake as ({{ lake_partition_state_sql(table_name) }}),
        loaded as (
            select distinct {{ subject_column }} as subject, {{ date_column }} as lake_date, lake_received_at
            from {{ target }}
        )
        select 'load' as action, subject, strftime(lake_date, '%Y-%m-%d') as lake_date
        from lake
        where not exists (
            select 1 from loaded
            where loaded.subject = lake.subject and loaded.lake_date = lake.lake_date
              and loaded.lake_received_at = lake.lake_received_at)
        {%- if local_time %}
        union
        select 'load', l.subject, strftime(l.lake_date, '%Y-%m-%d')
        from (select distinct {{ subject_column }} as subject, {{ date_column }} as lake_date, local_timezone
              from {{ target }}) as l
        left join {{ ref('int_subjects') }} as s on s.username = l.subject
        where coalesce(s.timezone, {{ study_timezone() }}) is distinct from l.local_timezone
          and exists (select 1 from lake where lake.subject = l.subject and lake.lake_date = l.lake_date)
        {%- endif %}
        union all
        select 'drop', subject, strftime(lake_date, '%Y-%m-%d')
        from (select distinct subject, lake_date from loaded) as l
        where not exists (select 1 from lake where lake.subject = l.subject and lake.lake_date = l.lake_date)
        order by 1, 2, 3
    {%- endset -%}
    {%- for row in run_query(sql).rows -%}
        {%- do pending[row[0]].append((row[1], row[2])) -%}
    {%- endfor -%}
    {{ return(pending) }}
{%- endmacro %}


{% macro lake_partition_filter(partitions, subject_column='subject', date_column='date') -%}
    {%- if partitions | length == 0 -%}
        false
    {%- else -%}
        {#- The plain IN lists first: DuckDB prunes hive partitions (and skips files) on them, not on the tuple. -#}
        {%- set subjects = partitions | map(attribute=0) | unique | list -%}
        {%- set days = partitions | map(attribute=1) | unique | list -%}
        ({{ subject_column }} in ({% for s in subjects %}'{{ s }}'{{ "," if not loop.last }}{% endfor %})
        and {{ date_column }} in ({% for d in days %}date '{{ d }}'{{ "," if not loop.last }}{% endfor %})
        and ({{ subject_column }}, {{ date_column }}) in (
        {%- for subject, day in partitions %}
            ('{{ subject }}', date '{{ day }}'){{ "," if not loop.last }}
        {%- endfor %}))
    {%- endif -%}
{%- endmacro %}


{#- pre_hook of the incremental lake models: delete what is about to be reloaded, and what vanished. -#}
{% macro lake_delete_pending(table_name, subject_column='username', date_column='lake_date', local_time=false) -%}
    {%- if execute and is_incremental() -%}
        {%- set pending = lake_pending_partitions(table_name, this, subject_column, date_column, local_time) -%}
        delete from {{ this }}
        where {{ lake_partition_filter(pending['load'] + pending['drop'], subject_column, date_column) }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}


{#- What the lake says about itself, for the completeness marts: the manifest and the quarantine. -#}

{#- The current entry of every subject-day partition of every dataset (writes only), from the lake manifest
    (hexo_pipeline/lake/manifest.py): the snapshots (one row per partition) less what the logs supersede, plus
    the latest log entry per partition. A small read (a build checkpoints first: one Parquet file per dataset
    and a short log), never a data file. With `study_wide`, the entries of the study-wide tables (subjects,
    study, groups...: no subject, no date) instead. -#}
{% macro lake_manifest_sql(study_wide=false) -%}
    {%- set folder = lake_root() ~ '/_manifest' -%}
    {%- set has_snapshot = execute and lake_has_files(folder ~ '/*/snapshot.parquet') -%}
    {%- set has_log = execute and lake_has_files(folder ~ '/*/log/*.parquet') -%}
    {%- if not has_snapshot and not has_log -%}
    select
        null::varchar as dataset, null::varchar as subject, null::date as date, null::varchar as file,
        null::bigint as rows, null::bigint as bytes, null::timestamptz as received_at,
        null::timestamptz as written_at
    where false
    {%- else -%}
    with
    {%- if has_log %}
    log as (
        select * from read_parquet('{{ folder }}/*/log/*.parquet', hive_partitioning = false, union_by_name = true)
        qualify row_number() over (partition by dataset, subject, date order by written_at desc, entry desc) = 1
    ),
    {%- endif %}
    current_entries as (
        {%- if has_snapshot %}
        select * from read_parquet('{{ folder }}/*/snapshot.parquet', hive_partitioning = false, union_by_name = true) as s
        {%- if has_log %}
        where not exists (
            select 1 from log
            where log.dataset = s.dataset and log.subject is not distinct from s.subject
                and log.date is not distinct from s.date
        )
        union all by name
        {%- endif %}
        {%- endif %}
        {%- if has_log %}
        select * from log
        {%- endif %}
    )
    select dataset, subject, date, file, rows, bytes, received_at, written_at
    from current_entries
    where op = 'write' and subject is {{ 'null' if study_wide else 'not null' }}
    {%- endif -%}
{%- endmacro %}


{#- The quarantine records (hexo_pipeline/lake/quarantine.py): one `<file>.reason.txt` beside each file moved to
    <quarantine>/<area>/; only those whose file is still there (as `quarantined()` lists them). The quarantine is
    beside the lake: $HEXO_DATA_DIR/quarantine, or <lake URL>/_quarantine when the lake is on object storage
    (read through the same fsspec filesystem as the lake). -#}
{% macro quarantine_root() -%}
    {%- set root = lake_root() -%}
    {%- if root.startswith('s3://') or root.startswith('s3a://') -%}
        {{ return(root.rstrip('/') ~ '/_quarantine') }}
    {%- endif -%}
    {{ return(env_var('HEXO_DATA_DIR', '../data') ~ '/quarantine') }}
{%- endmacro %}


{% macro quarantine_records_sql() -%}
    {%- set folder = quarantine_root() -%}
    {%- if not execute or not lake_has_files(folder ~ '/**/*.reason.txt') -%}
    select null::varchar as path, null::varchar as content where false
    {%- else -%}
    select
        substr(r.filename, length('{{ folder }}') + 2, length(r.filename) - length('{{ folder }}') - 12) as path,
        r.content
    from read_text('{{ folder }}/**/*.reason.txt') as r
    where exists (select 1 from glob('{{ folder }}/**') as g where g.file = left(r.filename, length(r.filename) - 11))
    {%- endif -%}
{%- endmacro %}
