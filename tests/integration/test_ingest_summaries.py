"""The summary datasets (hexo_pipeline/ingest/summaries.py) against today's dbt SQL, run by DuckDB over
the raw signal files: int_vitals__minutes (per UTC minute), int_events__chunks' RR part (per UTC
5-minute window), the step count and int_astroskin__chunks (per UTC minute), mirrored below from the
staging models and macros (pivot with max(value), (raw - offset) * scale, quality flags).

Lakes: the synthetic test lake (warehouse/synthetic.py) and, marked slow, subject-days of the sandbox
study ingested by `ingest_subject_day_signals` (real HTTP, real zips).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hexo_pipeline.hexoskin.datatypes import BY_ID, Family
from hexo_pipeline.ingest.summaries import (
    SUMMARY_SCHEMAS,
    concat_summaries,
    rebuild_summaries,
    summarize_signals,
)
from hexo_pipeline.lake import SIGNAL_DATASETS, Lake
from hexo_pipeline.lake.contract import RESTING_HR_WINDOW_MINUTES
from hexo_pipeline.warehouse.synthetic import write_synthetic_lake

RECEIVED = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)


# ------------------------------------------------------------------------------- the SQL, mirrored
def _pivot(columns: dict[str, int]) -> str:
    return ",\n".join(f"max(value) filter (where datatype_id = {i}) as {name}" for name, i in columns.items())


def _phys(raw: str, dt_id: int) -> str:
    return f"(({raw} - offset_{dt_id}) * scale_{dt_id})"


def _catalog(ids: list[int]) -> str:
    cols = ",\n".join(
        f"max(scale) filter (where datatype_id = {i}) as scale_{i}, "
        f'max("offset") filter (where datatype_id = {i}) as offset_{i}'
        for i in ids
    )
    return f"select {cols} from catalog"


def _flag(q: str, bits: int) -> str:
    return f"((coalesce({q}, 0) & {bits}) <> 0)"


def _signals(lake: Path, dataset: str, ids: list[int]) -> str:
    return (
        f"select subject, date, record_id, ts, datatype_id, value, received_at "
        f"from read_parquet('{lake}/{dataset}/*/*/*.parquet', hive_partitioning = true) "
        f"where datatype_id in ({', '.join(map(str, ids))})"
    )


def vitals_sql(lake: Path) -> str:
    cols = {
        "hr_raw": 19,
        "hr_quality": 1000,
        "br_raw": 33,
        "br_quality": 1001,
        "mv_raw": 36,
        "tv_raw": 37,
        "activity_raw": 49,
        "cadence_raw": 53,
    }
    minutes = f"""
    with wide as (
        select subject, date, record_id, ts, max(received_at) as received_at, {_pivot(cols)}
        from ({_signals(lake, "signals_vitals", list(cols.values()))})
        group by subject, date, record_id, ts
    ),
    cat as ({_catalog([19, 33, 36, 37, 49, 53])}),
    v as (
        select subject, date, record_id, cast(ts as timestamptz) as ts,
            {_phys("hr_raw", 19)} as heart_rate_bpm,
            (coalesce(hr_quality, 0) = 0 and hr_raw > 0) as heart_rate_is_clean,
            {_flag("hr_quality", 2)} as heart_rate_is_disconnected,
            {_phys("br_raw", 33)} as breathing_rate_rpm,
            (coalesce(br_quality, 0) = 0 and br_raw > 0) as breathing_is_clean,
            {_phys("mv_raw", 36)} as minute_ventilation_ml_min,
            {_phys("tv_raw", 37)} as tidal_volume_ml,
            {_phys("activity_raw", 49)} as activity_g,
            {_phys("cadence_raw", 53)} as cadence_spm
        from wide cross join cat
    )
    select subject, date, record_id, date_trunc('minute', ts) as minute_at,
        min(ts) as first_ts, max(ts) as last_ts, count(*) as seconds_n,
        count(*) filter (where heart_rate_bpm > 0 and not heart_rate_is_disconnected) as worn_samples_n,
        count(*) filter (where heart_rate_bpm > 0) as hr_any_n,
        count(*) filter (where heart_rate_is_clean) as hr_clean_n,
        sum(heart_rate_bpm) filter (where heart_rate_is_clean) as hr_clean_sum,
        sum(heart_rate_bpm * heart_rate_bpm) filter (where heart_rate_is_clean) as hr_clean_sumsq,
        min(heart_rate_bpm) filter (where heart_rate_is_clean) as hr_clean_min,
        max(heart_rate_bpm) filter (where heart_rate_is_clean) as hr_clean_max,
        count(*) filter (where heart_rate_is_disconnected) as hr_disconnected_n,
        count(*) filter (where breathing_is_clean) as br_clean_n,
        sum(breathing_rate_rpm) filter (where breathing_is_clean) as br_clean_sum,
        sum(breathing_rate_rpm * breathing_rate_rpm) filter (where breathing_is_clean) as br_clean_sumsq,
        min(breathing_rate_rpm) filter (where breathing_is_clean) as br_clean_min,
        max(breathing_rate_rpm) filter (where breathing_is_clean) as br_clean_max,
        count(*) filter (where breathing_is_clean and minute_ventilation_ml_min > 0) as mv_clean_n,
        sum(minute_ventilation_ml_min) filter (where breathing_is_clean and minute_ventilation_ml_min > 0) as mv_clean_sum,
        count(*) filter (where breathing_is_clean and tidal_volume_ml > 0) as tv_clean_n,
        sum(tidal_volume_ml) filter (where breathing_is_clean and tidal_volume_ml > 0) as tv_clean_sum,
        count(activity_g) as activity_n, sum(activity_g) as activity_sum, max(activity_g) as activity_max,
        count(*) filter (where cadence_spm > 0) as cadence_n,
        sum(cadence_spm) filter (where cadence_spm > 0) as cadence_sum,
        count(heart_rate_bpm) as hr_unfiltered_n, sum(heart_rate_bpm) as hr_unfiltered_sum,
        count(*) filter (where activity_g <> 0) as activity_nonzero_n,
        sum(activity_g) filter (where activity_g <> 0) as activity_nonzero_sum
    from v
    group by subject, date, record_id, minute_at
    """
    # the resting heart rate's window ending at each minute, as int_vitals__chunks computed it before
    return f"""
    select *,
        count(nullif(hr_clean_n, 0)) over w as hr_window_clean_minutes_n,
        sum(hr_clean_sum / nullif(hr_clean_n, 0)) over w as hr_window_minute_means_sum
    from ({minutes})
    window w as (
        partition by subject, date, record_id order by minute_at
        range between interval {RESTING_HR_WINDOW_MINUTES - 1} minute preceding and current row
    )
    """


def hrv_sql(lake: Path) -> str:
    return f"""
    with wide as (
        select subject, date, record_id, ts, max(received_at) as received_at,
            {_pivot({"rr_raw": 18, "rr_quality": 1004})}
        from ({_signals(lake, "signals_events", [18, 1004])})
        group by subject, date, record_id, ts
    ),
    cat as ({_catalog([18])}),
    converted as (
        select subject, date, record_id, cast(ts as timestamptz) as ts, {_phys("rr_raw", 18)} * 1000.0 as rr_ms,
            rr_quality
        from wide cross join cat where rr_raw is not null
    ),
    beats as (
        select *, case when rr_quality is not null then rr_quality = 0 else rr_ms between 300 and 2000 end
            as rr_is_reliable, time_bucket(interval 5 minutes, ts) as window_at
        from converted
    ),
    paired as (
        select *, lag(rr_ms) over w as previous_rr_ms, lag(rr_is_reliable) over w as previous_is_reliable
        from beats
        window w as (partition by subject, date, record_id, window_at order by ts)
    ),
    kept as (  -- the vendor's sequence: unreliable beats dropped, then successive differences
        select *, lag(rr_ms) over (partition by subject, date, record_id, window_at order by ts) as previous_kept_ms
        from beats where rr_is_reliable
    ),
    sequence as (
        select subject, date, record_id, window_at,
            count(previous_kept_ms) as reliable_seq_diff_n,
            sum((rr_ms - previous_kept_ms) ^ 2) as reliable_seq_diff_sumsq,
            arg_min(rr_ms, ts) as first_reliable_rr_ms, arg_max(rr_ms, ts) as last_reliable_rr_ms
        from kept group by all
    ),
    windows as (
    select subject, date, record_id, window_at,
        count(*) as beats_n,
        count(*) filter (where rr_is_reliable) as rr_n,
        sum(rr_ms) filter (where rr_is_reliable) as rr_sum,
        sum(rr_ms * rr_ms) filter (where rr_is_reliable) as rr_sumsq,
        count(*) filter (where rr_is_reliable and previous_is_reliable) as diff_n,
        sum((rr_ms - previous_rr_ms) ^ 2) filter (where rr_is_reliable and previous_is_reliable) as diff_sumsq,
        count(*) filter (where rr_is_reliable and previous_is_reliable and abs(rr_ms - previous_rr_ms) > 50) as nn50_n,
        min(ts) as first_beat_at, arg_min(rr_ms, ts) as first_rr_ms, arg_min(rr_is_reliable, ts) as first_rr_is_reliable,
        max(ts) as last_beat_at, arg_max(rr_ms, ts) as last_rr_ms, arg_max(rr_is_reliable, ts) as last_rr_is_reliable
    from paired
    group by subject, date, record_id, window_at
    )
    select windows.*, coalesce(reliable_seq_diff_n, 0) as reliable_seq_diff_n,
        sequence.* exclude (subject, date, record_id, window_at, reliable_seq_diff_n)
    from windows left join sequence using (subject, date, record_id, window_at)
    """


def steps_sql(lake: Path) -> str:
    return f"""
    select subject, date, record_id, date_trunc('minute', cast(ts as timestamptz)) as minute_at, count(*) as steps
    from ({_signals(lake, "signals_events", [52])})
    group by all
    """


def astroskin_sql(lake: Path) -> str:
    cols = {
        "spo2_raw": 66,
        "spo2_quality": 1002,
        "temperature_raw": 81,
        "temperature_quality": 1003,
        "systolic_raw": 98,
        "systolic_quality": 1005,
    }
    return f"""
    with wide as (
        select subject, date, record_id, ts, max(received_at) as received_at, {_pivot(cols)}
        from ({_signals(lake, "signals_astroskin", list(cols.values()))})
        group by subject, date, record_id, ts
    ),
    cat as ({_catalog([66, 81, 98])}),
    a as (
        select subject, date, record_id, cast(ts as timestamptz) as ts,
            {_phys("spo2_raw", 66)} as spo2_pct,
            (spo2_raw > 0 and coalesce(spo2_quality, 0) = 0) as spo2_is_clean,
            {_phys("temperature_raw", 81)} as temperature_c,
            (temperature_raw is not null and coalesce(temperature_quality, 0) = 0) as temperature_is_clean,
            {_phys("systolic_raw", 98)} as systolic_pressure_mmhg,
            (systolic_raw > 0 and coalesce(systolic_quality, 0) = 0) as systolic_pressure_is_clean
        from wide cross join cat
    )
    select subject, date, record_id, date_trunc('minute', ts) as minute_at,
        count(*) filter (where spo2_is_clean) as spo2_clean_n,
        sum(spo2_pct) filter (where spo2_is_clean) as spo2_clean_sum,
        min(spo2_pct) filter (where spo2_is_clean) as spo2_clean_min,
        max(spo2_pct) filter (where spo2_is_clean) as spo2_clean_max,
        count(*) filter (where temperature_is_clean) as temperature_clean_n,
        sum(temperature_c) filter (where temperature_is_clean) as temperature_clean_sum,
        min(temperature_c) filter (where temperature_is_clean) as temperature_clean_min,
        max(temperature_c) filter (where temperature_is_clean) as temperature_clean_max,
        count(*) filter (where systolic_pressure_is_clean) as systolic_clean_n,
        sum(systolic_pressure_mmhg) filter (where systolic_pressure_is_clean) as systolic_clean_sum
    from a
    group by subject, date, record_id, minute_at
    """


def sleep_positions_sql(lake: Path) -> str:
    """What stg_lake__sleep_positions read from signals_events before the dataset existed."""
    return f"""
    select subject, date, record_id, cast(ts as timestamptz) as ts, cast(value as integer) as position_code
    from ({_signals(lake, "signals_events", [270])})
    """


SQL = {
    "vitals_minutes": vitals_sql,
    "hrv_windows": hrv_sql,
    "steps_minutes": steps_sql,
    "astroskin_minutes": astroskin_sql,
    "sleep_positions": sleep_positions_sql,
}


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute("set memory_limit = '1GB'")
    rows = [(d.id, float(d.scale), float(d.offset)) for d in BY_ID.values()]
    con.execute('create table catalog (datatype_id integer, scale double, "offset" double)')
    con.executemany("insert into catalog values (?, ?, ?)", rows)
    return con


def assert_summaries_match_sql(lake: Path) -> dict[str, int]:
    """Every summary dataset of the lake equals the SQL over the signal files; returns rows compared."""
    con = _connect()
    compared = {}
    for name, sql in SQL.items():
        source = {
            "vitals_minutes": "signals_vitals",
            "hrv_windows": "signals_events",
            "steps_minutes": "signals_events",
            "astroskin_minutes": "signals_astroskin",
            "sleep_positions": "signals_events",
        }[name]
        if not list((lake / source).glob("*/*/*.parquet")):
            assert not list((lake / name).glob("*/*/*.parquet")), name
            continue
        key = SUMMARY_SCHEMAS[name].names[1]
        expected = con.sql(f"select * from ({sql(lake)}) order by subject, date, record_id, {key}").to_arrow_table()
        files = list((lake / name).glob("*/*/*.parquet"))
        if not files:
            assert expected.num_rows == 0, name
            continue
        actual = con.sql(
            f"select * from read_parquet('{lake}/{name}/*/*/*.parquet', hive_partitioning = true) "
            f"order by subject, date, record_id, {key}"
        ).to_arrow_table()
        assert actual.num_rows == expected.num_rows, (name, actual.num_rows, expected.num_rows)
        for column in expected.column_names:
            _assert_column(name, column, actual.column(column), expected.column(column))
        # received_at: one value per file, the max of the source signals' received_at
        for f in files:
            summary = pq.read_table(f, columns=["received_at"]).column(0)
            signals = pq.read_table(
                lake / source / f.parent.parent.name / f.parent.name / f.name, columns=["received_at"]
            ).column(0)
            assert len(set(summary.to_pylist())) == 1, f
            assert summary[0].as_py() == max(signals.to_pylist()), f
        compared[name] = actual.num_rows
    return compared


def _assert_column(dataset: str, column: str, actual: pa.ChunkedArray, expected: pa.ChunkedArray) -> None:
    a, e = actual.combine_chunks(), expected.combine_chunks()
    label = f"{dataset}.{column}"
    assert a.null_count == e.null_count and a.is_null().equals(e.is_null()), label
    if pa.types.is_floating(e.type):
        av = a.fill_null(0).to_numpy(zero_copy_only=False)
        ev = e.fill_null(0).to_numpy(zero_copy_only=False)
        np.testing.assert_allclose(av, ev, rtol=1e-9, atol=0, err_msg=label)
    elif pa.types.is_timestamp(e.type):
        assert a.cast(pa.timestamp("us", tz="UTC")).equals(e.cast(pa.timestamp("us", tz="UTC"))), label
    else:
        assert a.cast(e.type).equals(e), label


# ------------------------------------------------------------------------------------------- tests
@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("summaries")
    write_synthetic_lake(root, subjects=4, days=3, study_side=False, received_at=RECEIVED)
    return root / "lake"


def test_synthetic_lake_summaries_equal_the_dbt_sql(synthetic):
    compared = assert_summaries_match_sql(synthetic)
    assert set(compared) == set(SUMMARY_SCHEMAS) and all(compared.values()), compared


def test_summaries_are_the_same_per_record_or_per_subject_day(synthetic):
    lake = Lake(synthetic)
    checked = 0
    for part in sorted((synthetic / "signals_vitals").glob("*/*/*.parquet")):
        subject, day = part.parent.parent.name[len("subject=") :], date.fromisoformat(part.parent.name[len("date=") :])
        tables = {
            family: lake.read_partition(SIGNAL_DATASETS[family], subject, day)
            for family in (Family.VITALS, Family.EVENTS, Family.ASTROSKIN)
        }
        tables = {f: t for f, t in tables.items() if t is not None}
        whole = summarize_signals(tables)
        records = np.unique(tables[Family.VITALS].column("record_id").to_numpy())
        per_record = [
            summarize_signals({f: t.filter(pa.compute.equal(t.column("record_id"), r)) for f, t in tables.items()})
            for r in records[::-1]
        ]
        merged = concat_summaries(per_record)
        for name in SUMMARY_SCHEMAS:
            assert merged[name].equals(whole[name]), (part, name)
            stored = lake.read_partition(name, subject, day)
            assert (stored is None and whole[name].num_rows == 0) or stored.equals(whole[name]), (part, name)
        checked += len(records) > 1
    assert checked, "the synthetic lake has no subject-day with several records"


def test_rebuild_summaries_leaves_identical_files_alone(synthetic):
    lake = Lake(synthetic)
    part = next(iter(sorted((synthetic / "vitals_minutes").glob("*/*/*.parquet"))))
    subject, day = part.parent.parent.name[len("subject=") :], date.fromisoformat(part.parent.name[len("date=") :])
    mtime = part.stat().st_mtime_ns
    status = rebuild_summaries(lake, subject, day)
    assert status["vitals_minutes"] == "unchanged" and part.stat().st_mtime_ns == mtime


def test_summaries_of_duplicate_samples_follow_the_pivot():
    """A (record, ts) twice in one channel: the staging pivot keeps max(value); so do the summaries."""
    ts = pa.array([60_000_000_000, 60_000_000_000, 60_000_000_000, 61_000_000_000], pa.timestamp("ns", tz="UTC"))
    table = pa.table(
        {
            "ts": ts,
            "datatype_id": pa.array([19, 19, 1000, 19], pa.int32()),
            "value": pa.array([70, 80, 0, 90], pa.int64()),
            "record_id": pa.array([1, 1, 1, 1], pa.int64()),
        }
    )
    out = summarize_signals({Family.VITALS: table}, RECEIVED)["vitals_minutes"].to_pylist()
    assert len(out) == 1
    row = out[0]
    assert row["seconds_n"] == 2 and row["hr_clean_n"] == 2 and row["hr_clean_sum"] == 170.0
    assert row["hr_clean_max"] == 90.0 and row["hr_clean_min"] == 80.0 and row["br_clean_sum"] is None
    assert row["received_at"] == RECEIVED


# --------------------------------------------------------------------- sandbox ingestion (slow)
@pytest.mark.slow
def test_streamed_ingestion_equals_the_whole_day_path_and_the_dbt_sql(sandbox, tmp_path):
    from hexo_pipeline.hexoskin import HexoskinClient, HexoskinConfig
    from hexo_pipeline.ingest.signals import ingest_subject_day_signals
    from hexo_pipeline.ingest.subject_day import DayWindow, Subject, fetch_signals, overlapping, records_table
    from hexo_sandbox import StudyConfig

    study = StudyConfig()
    info = sandbox.info
    owner = next(a for a in info["accounts"] if a["role"] == "owner")
    config = HexoskinConfig(
        base_url=sandbox.base_url,
        auth="oauth2",
        client_id=info["oauth2"]["client_id"],
        client_secret=info["oauth2"]["client_secret"],
        username=owner["username"],
        password=owner["password"],
    )
    lake = Lake(tmp_path / "lake")
    several = 0
    with HexoskinClient(config) as api:
        # Every subject's second day: whole days, nights crossing midnight, the Astroskin wearer.
        for account in (a for a in info["accounts"] if a["role"] == "subject"):
            subject = Subject(int(account["user_id"]), account["username"])
            window = DayWindow.of(study.start + timedelta(days=1), study.timezone)
            records = records_table(overlapping(api, "record", subject, window), window, RECEIVED)
            result = ingest_subject_day_signals(api, lake, subject.key, window, records, RECEIVED, tmp_path / "q")
            assert not any(result.problems(subject.key, records, window).values())
            if several or records.num_rows < 2:
                continue
            several += 1
            # One subject-day with several records also goes through the previous whole-day path.
            whole = fetch_signals(api, records, window, RECEIVED, tmp_path / "q")
            order = [("record_id", "ascending"), ("datatype_id", "ascending"), ("ts", "ascending")]
            for family, dataset in SIGNAL_DATASETS.items():
                path = lake.partition_file(dataset, subject.key, window.day)
                if family not in whole:
                    assert not path.exists(), dataset
                    continue
                stored = pq.read_table(path)
                assert stored.num_rows == result.rows[dataset] == whole[family].num_rows, dataset
                assert stored.equals(whole[family].cast(stored.schema).sort_by(order)), dataset
                meta = pq.ParquetFile(path).metadata
                for i in range(meta.num_row_groups):  # each row group sorted by (datatype_id, ts)
                    group = pq.ParquetFile(path).read_row_group(i, columns=["datatype_id", "ts"])
                    assert group.sort_by([("datatype_id", "ascending"), ("ts", "ascending")]).equals(group)
    assert several, "no subject-day with several records was ingested"
    compared = assert_summaries_match_sql(lake.root)
    assert compared.get("astroskin_minutes") and compared.get("hrv_windows") and compared.get("vitals_minutes")
