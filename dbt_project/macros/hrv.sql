{#-
  Time-domain HRV from additive RR sums (int_events__chunks). Definitions (written in the marts' YAML):
  - mean_nn_ms: mean of the reliable RR intervals;
  - sdnn_ms: sample standard deviation (n - 1) of the reliable RR intervals;
  - rmssd_ms: root mean square of the successive differences of consecutive reliable beats;
  - pnn50_pct: share (%) of those successive differences whose absolute value exceeds 50 ms
    (denominator: the number of successive differences, as hrv-analysis and pyhrv; neurokit2 divides by
    the number of intervals instead).
-#}

{#- Merge RR sums (5-minute windows of hrv_windows, or chunks) into `group_by` groups, adding the
    successive difference across two consecutive pieces of one record (ordered by time) when the last beat
    of one and the first beat of the next are both reliable. `partition_by` is what two pieces must share
    for that pair to count. `boundaries`: also the first and last beat of each group (to merge it again);
    `extra`: more aggregate expressions of the group. `reliable_sequence`: also the vendor's RMSSD terms
    (reliable_seq_diff_n/_sumsq: unreliable beats dropped, the kept sequence differenced), whose pair across
    pieces joins the last reliable RR before a piece (pieces without one skipped) to its first reliable RR.
    Float sums are exact (exact_sum), so the result does not depend on the order DuckDB adds them in. -#}
{% macro merge_rr_chunks(chunks, group_by, partition_by, boundaries=false, extra=[], reliable_sequence=false) -%}
    with ordered as (
        select
            *,
            {%- if reliable_sequence %}
            lag(last_reliable_rr_ms ignore nulls) over w as previous_reliable_rr_ms,
            {%- endif %}
            lag(last_rr_ms) over w as previous_last_rr_ms,
            lag(last_rr_is_reliable) over w as previous_last_is_reliable
        from {{ chunks }}
        window w as (partition by {{ partition_by | join(', ') }} order by first_beat_at nulls last, lake_date)
    ),

    bridged as (
        select
            *,
            coalesce(previous_last_is_reliable and first_rr_is_reliable, false) as has_bridge_pair,
            first_rr_ms - previous_last_rr_ms as bridge_diff_ms
        from ordered
    )

    select
        {{ group_by | join(', ') }},
        cast(sum(beats_n) as bigint) as beats_n,
        cast(sum(rr_n) as bigint) as rr_n,
        {{ exact_sum('rr_sum') }} as rr_sum,
        {{ exact_sum('rr_sumsq') }} as rr_sumsq,
        cast(sum(diff_n) + count(*) filter (where has_bridge_pair) as bigint) as diff_n,
        coalesce({{ exact_sum('diff_sumsq') }}, 0)
        + coalesce({{ exact_sum('bridge_diff_ms ^ 2', 'has_bridge_pair') }}, 0) as diff_sumsq,
        cast(sum(nn50_n) + count(*) filter (where has_bridge_pair and abs(bridge_diff_ms) > 50) as bigint) as nn50_n
        {%- if reliable_sequence %},
        cast(coalesce(sum(reliable_seq_diff_n), 0)
            + count(*) filter (where previous_reliable_rr_ms is not null and first_reliable_rr_ms is not null) as bigint)
            as reliable_seq_diff_n,
        coalesce({{ exact_sum('reliable_seq_diff_sumsq') }}, 0)
        + coalesce({{ exact_sum('(first_reliable_rr_ms - previous_reliable_rr_ms) ^ 2') }}, 0) as reliable_seq_diff_sumsq
        {%- endif %}
        {%- if boundaries %},
        min(first_beat_at) as first_beat_at,
        arg_min(first_rr_ms, first_beat_at) as first_rr_ms,
        arg_min(first_rr_is_reliable, first_beat_at) as first_rr_is_reliable,
        max(last_beat_at) as last_beat_at,
        arg_max(last_rr_ms, last_beat_at) as last_rr_ms,
        arg_max(last_rr_is_reliable, last_beat_at) as last_rr_is_reliable
        {%- if reliable_sequence %},
        arg_min(first_reliable_rr_ms, first_beat_at) as first_reliable_rr_ms,  -- arg_min skips null values
        arg_max(last_reliable_rr_ms, last_beat_at) as last_reliable_rr_ms
        {%- endif %}
        {%- endif %}
        {%- for expression in extra %},
        {{ expression }}
        {%- endfor %}
    from bridged
    group by {{ group_by | join(', ') }}
{%- endmacro %}


{% macro hrv_columns() -%}
        case when rr_n > 0 then rr_sum / rr_n end as mean_nn_ms,
        case when rr_n > 1 then sqrt(greatest((rr_sumsq - rr_sum * rr_sum / rr_n) / (rr_n - 1), 0)) end as sdnn_ms,
        case when diff_n > 0 then sqrt(diff_sumsq / diff_n) end as rmssd_ms,
        case when diff_n > 0 then 100.0 * nn50_n / diff_n end as pnn50_pct
{%- endmacro %}
