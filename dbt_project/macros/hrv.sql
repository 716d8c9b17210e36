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
    `extra`: more aggregate expressions of the group. -#}
{% macro merge_rr_chunks(chunks, group_by, partition_by, boundaries=false, extra=[]) -%}
    with ordered as (
        select
            *,
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
        sum(rr_sum) as rr_sum,
        sum(rr_sumsq) as rr_sumsq,
        cast(sum(diff_n) + count(*) filter (where has_bridge_pair) as bigint) as diff_n,
        coalesce(sum(diff_sumsq), 0) + coalesce(sum(bridge_diff_ms ^ 2) filter (where has_bridge_pair), 0) as diff_sumsq,
        cast(sum(nn50_n) + count(*) filter (where has_bridge_pair and abs(bridge_diff_ms) > 50) as bigint) as nn50_n
        {%- if boundaries %},
        min(first_beat_at) as first_beat_at,
        arg_min(first_rr_ms, first_beat_at) as first_rr_ms,
        arg_min(first_rr_is_reliable, first_beat_at) as first_rr_is_reliable,
        max(last_beat_at) as last_beat_at,
        arg_max(last_rr_ms, last_beat_at) as last_rr_ms,
        arg_max(last_rr_is_reliable, last_beat_at) as last_rr_is_reliable
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
