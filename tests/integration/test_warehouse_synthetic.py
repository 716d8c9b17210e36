"""The marts against numpy, on a synthetic lake whose every sample the test knows.

One dbt build (hexo-pipeline marts' own function) over 4 subjects x 3 days crossing the 2026-03-08 DST
change in America/Montreal, with a night record crossing local midnight, days without data, unreliable
beats, disconnected seconds and an Astroskin wearer. Expected values are recomputed here from the raw
signals with numpy, per the definitions in dbt_project/models/marts/fct_subject_day.yml and fct_record.yml.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from conftest import study_calendar

from hexo_pipeline.lake import Lake
from hexo_pipeline.warehouse import Warehouse
from hexo_pipeline.warehouse.synthetic import record_signals, write_synthetic_lake

pytestmark = pytest.mark.slow  # dbt builds of synthetic lakes

TZ = "America/Montreal"
START = date(2026, 3, 6)
DAYS = 3
SEED = 11


@pytest.fixture(scope="module")
def built(tmp_path_factory, build_warehouse):
    root = tmp_path_factory.mktemp("synthetic")
    lake = write_synthetic_lake(root, subjects=4, days=DAYS, start=START, tz=TZ, seed=SEED)
    result = build_warehouse(root, study_calendar(START, DAYS, TZ))
    con = duckdb.connect(str(result.published), read_only=True)
    yield lake, con, result
    con.close()


def _bounds(day: date) -> tuple[int, int]:
    zone = ZoneInfo(TZ)
    a = datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)
    b = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
    return int(a.timestamp() * 1e9), int(b.timestamp() * 1e9)


def expected_day(lake, username: str, day: date) -> dict:
    """Numpy statistics of one subject's local day from the raw synthetic signals."""
    lo, hi = _bounds(day)
    worn = 0.0
    hr_clean: list[np.ndarray] = []
    rr_good: list[np.ndarray] = []
    diffs: list[np.ndarray] = []
    minutes: set[int] = set()
    steps = 0
    for rec in lake.records:
        if rec.username != username:
            continue
        a = max(int(rec.start.timestamp() * 1e9), lo)
        b = min(int(rec.end.timestamp() * 1e9), hi)
        worn += max(0, b - a) / 1e9
        sig = record_signals(rec, SEED)
        v = sig["signals_vitals"]
        ts = v.column("ts").cast("int64").to_numpy()
        ids = v.column("datatype_id").to_numpy()
        val = v.column("value").to_numpy()
        hr_ts, hr = ts[ids == 19], val[ids == 19]
        q = val[ids == 1000]
        inside = (hr_ts >= lo) & (hr_ts < hi)
        hr_clean.append(hr[inside & (q == 0) & (hr > 0)].astype(float))
        worn_sample = inside & (hr > 0) & ((q & 2) == 0)
        minutes.update((hr_ts[worn_sample] // 60_000_000_000).tolist())
        e = sig["signals_events"]
        ets = e.column("ts").cast("int64").to_numpy()
        eid = e.column("datatype_id").to_numpy()
        evl = e.column("value").to_numpy()
        rr_ts, rr = ets[eid == 18], evl[eid == 18] * 1000.0 / 256
        ok = evl[eid == 1004] == 0
        rin = (rr_ts >= lo) & (rr_ts < hi)
        rr_good.append(rr[rin & ok])
        pair = ok[1:] & ok[:-1] & rin[1:] & rin[:-1]
        diffs.append(np.diff(rr)[pair])
        st = ets[eid == 52]
        steps += int(((st >= lo) & (st < hi)).sum())
    hr_all = np.concatenate(hr_clean) if hr_clean else np.zeros(0)
    rr_all = np.concatenate(rr_good) if rr_good else np.zeros(0)
    d_all = np.concatenate(diffs) if diffs else np.zeros(0)
    return {
        "worn_s": worn,
        "hr_mean_bpm": hr_all.mean() if hr_all.size else None,
        "hr_max_bpm": hr_all.max() if hr_all.size else None,
        "sdnn_ms": rr_all.std(ddof=1) if rr_all.size > 1 else None,
        "rmssd_ms": float(np.sqrt(np.mean(d_all**2))) if d_all.size else None,
        "pnn50_pct": 100.0 * np.mean(np.abs(d_all) > 50) if d_all.size else None,
        "valid_minutes": len(minutes),
        "steps": steps,
    }


RESTING_WINDOW_MIN, RESTING_COVERAGE_MIN = 30, 25  # fct_subject_day.yml: resting_hr_bpm


def expected_resting_hr(lake, username: str, day: date) -> float | None:
    """fct_subject_day.resting_hr_bpm from the raw signals: per record, the clean heart rate's per-minute
    means; every 30-minute window (ending at a minute with samples, inside the local day) holding >= 25
    minutes of clean data; the lowest window mean of any record of the day."""
    lo, hi = _bounds(day)
    best = None
    for rec in lake.records:
        if rec.username != username:
            continue
        v = record_signals(rec, SEED)["signals_vitals"]
        ts = v.column("ts").cast("int64").to_numpy()
        ids = v.column("datatype_id").to_numpy()
        val = v.column("value").to_numpy()
        hr_ts, hr, q = ts[ids == 19], val[ids == 19].astype(float), val[ids == 1000]
        inside = (hr_ts >= lo) & (hr_ts < hi)
        minute = hr_ts // 60_000_000_000
        clean = inside & (q == 0) & (hr > 0)
        clean_minutes, first = np.unique(minute[clean], return_index=True)
        if not clean_minutes.size:
            continue
        means = np.add.reduceat(hr[clean], first) / np.diff(np.append(first, clean.sum()))
        for end in np.unique(minute[inside]):
            in_window = (clean_minutes > end - RESTING_WINDOW_MIN) & (clean_minutes <= end)
            if in_window.sum() >= RESTING_COVERAGE_MIN:
                mean = means[in_window].mean()
                best = mean if best is None else min(best, mean)
    return best


def _check_resting_hr(lake, con) -> int:
    rows = con.execute("select username, local_date, resting_hr_bpm from marts.fct_subject_day").fetchall()
    checked = 0
    for username, day, got in rows:
        want = expected_resting_hr(lake, username, day)
        if want is None:
            assert got is None, (username, day)
            continue
        assert got == pytest.approx(want, rel=1e-9), (username, day)
        checked += 1
    return checked


def test_resting_heart_rate_from_the_windows_written_at_ingestion_matches_numpy(built):
    """The subjects live in the study's time zone: the marts use vitals_minutes' hr_window_* columns."""
    lake, con, _ = built
    assert _check_resting_hr(lake, con) >= 6


def test_resting_heart_rate_recomputed_for_subjects_outside_the_study_time_zone(built, build_warehouse, tmp_path):
    """The same lake, declared as a study in UTC: the lake partitions are then no longer the subjects' local
    days (America/Montreal), so int_vitals__chunks recomputes the windows itself; same figures."""
    lake, _, result = built
    root = tmp_path / "utc_study"
    shutil.copytree(result.published.parents[1] / "lake", root / "lake")
    rebuilt = build_warehouse(root, study_calendar(START, DAYS, "UTC"))
    with duckdb.connect(str(root / "warehouse" / "state" / "hexo.duckdb"), read_only=True) as state:
        local = state.execute("select distinct lake_day_is_local_day from intermediate.int_vitals__minutes").fetchall()
    assert local == [(False,)]
    with duckdb.connect(str(rebuilt.published), read_only=True) as con:
        assert _check_resting_hr(lake, con) >= 6


def test_a_lake_split_by_another_time_zone_fails_the_build(built, build_warehouse, tmp_path):
    """Lake partitions must be days of the study's time zone (the marts take the local day of a subject in that
    zone from the partition). The Montreal-partitioned lake declared a UTC study, the study record saying UTC
    too (so its subjects, without a zone of their own, live in the study's): the build fails on
    assert_lake_partitions_are_study_days and publishes nothing, instead of moving their evening minutes to the
    wrong day."""
    _, _, result = built
    root = tmp_path / "utc_study_record"
    shutil.copytree(result.published.parents[1] / "lake", root / "lake")
    lake = Lake(root / "lake")
    study = lake.read_study_table("study")
    zone = study.schema.get_field_index("timezone")
    lake.write_study_table("study", study.set_column(zone, "timezone", pa.array(["UTC"] * study.num_rows)))
    failed = build_warehouse(root, study_calendar(START, DAYS, "UTC"), must_publish=False)
    assert failed.published is None and failed.returncode != 0
    log = (root / "dbt.log").read_text()
    assert "assert_lake_partitions_are_study_days" in log and "FAIL" in log, log[-3000:]


def test_one_row_per_subject_and_local_day_days_without_data_included(built):
    lake, con, _ = built
    rows = con.execute(
        "select username, local_date, worn_s, has_data from marts.fct_subject_day order by 1, 2"
    ).fetchall()
    subjects = sorted(set(lake.usernames.values()))
    onboarding = {s: START + timedelta(days=1 if i == 2 else 0) for i, s in enumerate(subjects)}  # synthetic.py
    assert [(r[0], r[1]) for r in rows] == [
        (s, START + timedelta(days=d))
        for s in subjects
        for d in range(DAYS)
        if START + timedelta(days=d) >= onboarding[s]
    ]
    empty = [(r[0], r[1]) for r in rows if not r[3]]
    assert empty, "the synthetic lake has days without data: they must be rows with worn_s = 0"
    assert all(r[2] == 0 for r in rows if not r[3])


def test_daily_metrics_match_numpy(built):
    lake, con, _ = built
    cols = ["worn_s", "hr_mean_bpm", "hr_max_bpm", "sdnn_ms", "rmssd_ms", "pnn50_pct", "valid_minutes", "steps"]
    rows = con.execute(f"select username, local_date, {', '.join(cols)} from marts.fct_subject_day").fetchall()
    checked = 0
    for username, day, *values in rows:
        want = expected_day(lake, username, day)
        got = dict(zip(cols, values))
        if not want["worn_s"]:
            assert got["worn_s"] == 0 and got["hr_mean_bpm"] is None
            continue
        assert got["worn_s"] == pytest.approx(want["worn_s"], abs=1e-3), (username, day)
        assert got["valid_minutes"] == want["valid_minutes"], (username, day)
        assert got["steps"] == want["steps"], (username, day)
        for key in ("hr_mean_bpm", "hr_max_bpm", "sdnn_ms", "rmssd_ms", "pnn50_pct"):
            assert got[key] == pytest.approx(want[key], abs=1e-6), (username, day, key)
        checked += 1
    assert checked >= 8


def test_night_record_is_split_at_local_midnight(built):
    lake, con, _ = built
    night = next(r for r in lake.records if r.sleep and r.start.astimezone(ZoneInfo(TZ)).date() == START)
    # intermediate models live in dbt's state database; BI's published file holds only the marts
    state = duckdb.connect(str(Warehouse(lake.root).state), read_only=True)
    try:
        split = state.execute(
            "select local_date, worn_s from intermediate.int_records__local_days where record_id = ? order by 1",
            [night.record_id],
        ).fetchall()
    finally:
        state.close()
    assert [d for d, _ in split] == [START, START + timedelta(days=1)]
    assert sum(s for _, s in split) == pytest.approx(night.seconds, abs=1e-3)
    # local midnight, not UTC midnight: 30 minutes (minus the start's 3 ticks) before it
    assert split[0][1] == pytest.approx(1800 - 3 / 256, abs=1e-3)
    record = con.execute(
        "select duration_s, rr_clean_n, rmssd_ms from marts.fct_record where record_id = ?", [night.record_id]
    ).fetchone()
    assert record[0] == night.seconds and record[1] > 1000 and record[2] > 0


def test_dst_day_is_23_hours_and_ratios_use_it(built):
    _, con, _ = built
    lengths = dict(con.execute("select distinct local_date, day_length_s from marts.fct_subject_day").fetchall())
    assert lengths[date(2026, 3, 8)] == 23 * 3600
    assert lengths[date(2026, 3, 7)] == 24 * 3600
    bad = con.execute(
        "select count(*) from marts.fct_subject_day where abs(ratio_valid_minutes - "
        "valid_minutes / (day_length_s / 60.0)) > 1e-9"
    ).fetchone()[0]
    assert bad == 0


def test_record_statistics_cover_the_whole_record(built):
    lake, con, _ = built
    for rec in lake.records[:4]:
        sig = record_signals(rec, SEED)
        v = sig["signals_vitals"]
        ids, val = v.column("datatype_id").to_numpy(), v.column("value").to_numpy()
        hr, q = val[ids == 19], val[ids == 1000]
        clean = hr[(q == 0) & (hr > 0)]
        e = sig["signals_events"]
        eid, evl = e.column("datatype_id").to_numpy(), e.column("value").to_numpy()
        rr, ok = evl[eid == 18] * 1000.0 / 256, evl[eid == 1004] == 0
        d = np.diff(rr)[ok[1:] & ok[:-1]]
        got = con.execute(
            "select hr_mean_bpm, hr_min_bpm, rmssd_ms, sdnn_ms, mean_nn_ms, steps from marts.fct_record "
            "where record_id = ?",
            [rec.record_id],
        ).fetchone()
        assert got[0] == pytest.approx(clean.mean(), abs=1e-9)
        assert got[1] == clean.min()
        assert got[2] == pytest.approx(np.sqrt(np.mean(d**2)), abs=1e-9)
        assert got[3] == pytest.approx(rr[ok].std(ddof=1), abs=1e-9)
        assert got[4] == pytest.approx(rr[ok].mean(), abs=1e-9)
        assert got[5] == int((eid == 52).sum())


def test_vendor_compatible_record_statistics(built):
    """hr_mean_unfiltered_bpm, activity_mean_nonzero_g and rmssd_reliable_seq_ms as the vendor computes a
    record's statistics, on every record: night records cross local midnight (two chunks, many 5-minute
    windows), so the kept-beat pairs across windows and chunks are all counted once."""
    lake, con, _ = built
    differs = 0
    for rec in lake.records:
        sig = record_signals(rec, SEED)
        v = sig["signals_vitals"]
        ids, val = v.column("datatype_id").to_numpy(), v.column("value").to_numpy()
        hr, activity = val[ids == 19], val[ids == 49] / 256
        e = sig["signals_events"]
        eid, evl = e.column("datatype_id").to_numpy(), e.column("value").to_numpy()
        rr, ok = evl[eid == 18] * 1000.0 / 256, evl[eid == 1004] == 0
        kept_diff = np.diff(rr[ok])  # unreliable beats dropped, then the successive differences
        got = con.execute(
            "select hr_mean_unfiltered_bpm, activity_mean_nonzero_g, rmssd_reliable_seq_ms, rmssd_ms "
            "from marts.fct_record where record_id = ?",
            [rec.record_id],
        ).fetchone()
        assert got[0] == pytest.approx(hr.mean(), rel=1e-12), rec
        assert got[1] == pytest.approx(activity[activity != 0].mean(), rel=1e-12), rec
        assert got[2] == pytest.approx(np.sqrt(np.mean(kept_diff**2)), rel=1e-12), rec
        differs += got[2] != pytest.approx(got[3], rel=1e-6)
    assert differs, "no record where dropping unreliable beats changes the RMSSD"
    assert any(r.sleep for r in lake.records)


def test_astroskin_metrics_only_for_astroskin_wearers(built):
    _, con, _ = built
    rows = con.execute(
        "select s.device_model, count(d.spo2_mean_pct), count(d.temperature_mean_c) "
        "from marts.fct_subject_day d join marts.dim_subject s using (subject_id) group by 1"
    ).fetchall()
    by_model = {m: (spo2, temp) for m, spo2, temp in rows}
    assert by_model["Hexoskin"] == (0, 0)
    assert by_model["Astroskin"][0] > 0 and by_model["Astroskin"][1] > 0


def test_sleep_seconds_and_positions(built):
    lake, con, _ = built
    night = next(r for r in lake.records if r.sleep)
    rows = con.execute(
        "select local_date, sleep_s, sleep_back_s, sleep_right_s, sleep_left_s from marts.fct_subject_day "
        "where username = ? and sleep_s > 0 order by 1",
        [night.username],
    ).fetchall()
    assert rows
    total = sum(r[1] for r in rows)
    study_lo, _ = _bounds(START)
    _, study_hi = _bounds(START + timedelta(days=DAYS - 1))
    inside = sum(
        max(0, min(r.end.timestamp() * 1e9, study_hi) - max(r.start.timestamp() * 1e9, study_lo)) / 1e9
        for r in lake.records
        if r.sleep
    )  # the last night runs past the study's last day
    assert total == pytest.approx(inside, abs=1e-2)
    positions = sum((r[2] or 0) + (r[3] or 0) + (r[4] or 0) for r in rows)
    assert positions == pytest.approx(total, abs=1e-2)  # positions cover the whole sleep range


def test_groups_adherence_and_surveys(built):
    lake, con, _ = built
    subjects = con.execute(
        "select username, current_group_name, group_assignments_n, onboarding_date from marts.dim_subject order by 1"
    ).fetchall()
    assert [s[1] for s in subjects] == ["control", "control", "control", "intervention"]
    assert subjects[1][2] == 2, "the retrospective move is kept in the history"
    history = con.execute(
        "select group_name, is_current from marts.dim_subject_group_history "
        "where username = ? order by assignment_number",
        [subjects[1][0]],
    ).fetchall()
    assert history == [("intervention", False), ("control", True)]
    days = con.execute(
        "select username, local_date, has_data, events_scheduled, events_done, survey_answered "
        "from marts.fct_subject_day"
    ).fetchall()
    for username, day, _has_data, scheduled, done, answered in days:
        i = sorted(lake.usernames.values()).index(username)
        expect_answered = (i + day.toordinal()) % 2 == 0
        worn_day = any(r.username == username and r.start.astimezone(ZoneInfo(TZ)).date() == day for r in lake.records)
        assert scheduled == 2
        assert done == int(worn_day) + int(expect_answered), (username, day)
        assert answered == expect_answered
    per_subject = con.execute(
        "select username, events_scheduled, events_done, adherence_pct from marts.rpt_study_adherence"
    ).fetchall()
    for _username, scheduled, done, pct in per_subject:
        assert pct == pytest.approx(100.0 * done / scheduled)
    group_days = con.execute(
        "select group_name, sum(events_done), sum(events_scheduled) from marts.agg_group_day group by 1 order by 1"
    ).fetchall()
    from_days = con.execute(
        "select group_name, sum(events_done), sum(events_scheduled) from marts.fct_subject_day group by 1 order by 1"
    ).fetchall()
    assert group_days == from_days


def test_hrv_not_computed_is_null_not_minus_one(built):
    _, con, _ = built
    rows = con.execute(
        "select sdnn_ms, hrv_not_computed from marts.fct_range where activity_category = 'resting'"
    ).fetchall()
    assert rows and all(sdnn is None and flag for sdnn, flag in rows)


def test_every_dbt_test_passed_and_marts_are_self_contained(built):
    _, con, result = built
    assert set(result.results) <= {"pass", "success"}, result.results
    schemas = {
        r[0] for r in con.execute("select distinct schema_name from duckdb_views() where not internal").fetchall()
    }
    assert "staging" not in schemas, "views over lake paths must not be published"
    published = {r[0] for r in con.execute("select distinct schema_name from duckdb_tables()").fetchall()}
    assert published == {"marts", "meta"}, "BI readers get the marts (and build info) only"
    marts = {r[0] for r in con.execute("select table_name from duckdb_tables() where schema_name = 'marts'").fetchall()}
    assert {
        "dim_subject",
        "dim_subject_group_history",
        "fct_record",
        "fct_subject_day",
        "fct_range",
        "fct_calendar_event",
        "fct_survey_response",
        "agg_group_day",
        "rpt_study_adherence",
    } <= marts
    types = {
        r[0]
        for r in con.execute("select distinct data_type from duckdb_columns() where schema_name = 'marts'").fetchall()
    }
    assert "HUGEINT" not in types, "BI drivers read BIGINT, not HUGEINT"
