"""The marts on real files (../shared/reference), against references computed here with numpy.

One lake, one dbt build:
- the real Hexoskin 1 Hz heart-rate stream HERA_heart_rate_1hz.csv, as two subjects (time zones
  America/Chicago and UTC): worn minutes per local day must match the README (834 / 547 on Chicago days,
  549 / 832 on UTC days);
- real NN/RR series (the Astroskin export's NN_interval.csv, and the RR intervals of three Garmin FIT
  files) as records whose every beat is reliable: RMSSD and SDNN of fct_record must agree within 0.01 ms
  with the reference, written with numpy exactly as neurokit2's hrv_time defines them
  (RMSSD = sqrt(mean(diff(RR)^2)), SDNN = std(RR, ddof=1)). neurokit2 itself is not used: its only
  release (0.2.13) requires pandas < 3, and this project runs pandas 3;
- the real Astroskin export, imported with `hexo-pipeline import-export`: exactly one fct_record row,
  with the right duration and statistics (recomputed from the decoded export files), and vendor-compatible
  statistics equal to the vendor's own statistics.csv of that record.
The lake holds no `datatypes` table: the conversions come from the seed fallback of the catalog.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from hexo_pipeline.decoders import read_export
from hexo_pipeline.decoders.fit import decode_fit
from hexo_pipeline.hexoskin.datatypes import Family
from hexo_pipeline.ingest.subject_day import RECORDS_SCHEMA
from hexo_pipeline.ingest.summaries import rebuild_summaries
from hexo_pipeline.lake import Lake
from hexo_pipeline.study_settings import StudySettings

SHARED = Path(__file__).resolve().parents[3] / "shared" / "reference"
HERA = SHARED / "real_files" / "hexoskin" / "HERA_heart_rate_1hz.csv"
EXPORT = SHARED / "real_exports" / "astroskin_record_122445"
FIT_FILES = ("garmin-fenix-5-run.fit", "garmin-fenix-5-walk.fit", "garmin-edge-820-bike.fit")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not SHARED.exists(), reason="../shared/reference is absent")]

STUDY_TZ = "America/Chicago"
TS_US = pa.timestamp("us", tz="UTC")
TS_NS = pa.timestamp("ns", tz="UTC")
NS_PER_TICK = 3_906_250
RECEIVED = datetime(2026, 11, 1, tzinfo=UTC)


def neurokit_time_domain(rr_ms: np.ndarray) -> dict[str, float]:
    """neurokit2 0.2.13 hrv_time (neurokit2/hrv/hrv_time.py) on intervals in ms: RMSSD, SDNN, MeanNN, pNN50.

    Checked once against neurokit2 itself (hrv_time(peaks, sampling_rate=256) in a separate environment
    with pandas 2): equal to 1e-6 ms on the four series of this file."""
    diff = np.diff(rr_ms)
    return {
        "rmssd_ms": float(np.sqrt(np.mean(diff**2))),
        "sdnn_ms": float(np.nanstd(rr_ms, ddof=1)),
        "mean_nn_ms": float(np.nanmean(rr_ms)),
        "pnn50_pct": float(100 * np.sum(np.abs(diff) > 50) / len(rr_ms)),
    }  # neurokit2: over the intervals


def _record_row(record_id: int, user_id: int, start_ns: int, end_ns: int, day: date) -> dict:
    zone = ZoneInfo(STUDY_TZ)
    lo = datetime.combine(day, datetime.min.time(), tzinfo=zone).astimezone(UTC)
    hi = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone).astimezone(UTC)
    start, end = datetime.fromtimestamp(start_ns / 1e9, UTC), datetime.fromtimestamp(end_ns / 1e9, UTC)
    a, b = max(start, lo), min(end, hi)
    return {
        "record_id": record_id,
        "user_id": user_id,
        "start_at": start,
        "end_at": end,
        "start_ticks": start_ns // NS_PER_TICK,
        "end_ticks": end_ns // NS_PER_TICK,
        "day_start_at": a,
        "day_end_at": b,
        "duration_s": (end_ns - start_ns) / 1e9,
        "day_duration_s": (b - a).total_seconds(),
        "device": "HXSKIN1",
        "status": "complete",
        "last_modified": end,
        "received_at": RECEIVED,
    }


def _write_signals(
    lake: Lake,
    dataset: str,
    subject: str,
    record_id: int,
    ts_ns: np.ndarray,
    ids: np.ndarray,
    values: np.ndarray,
    records: list[dict],
) -> None:
    """Write one record's samples split into study-tz local-day partitions, with its records rows."""
    zone = ZoneInfo(STUDY_TZ)
    days = np.array(
        [
            datetime.fromtimestamp(t / 1e9, UTC).astimezone(zone).date().toordinal()
            for t in ts_ns[:: max(1, ts_ns.size // 2000)]
        ]
    )
    for ordinal in sorted(
        set(days.tolist()) | {datetime.fromtimestamp(ts_ns[-1] / 1e9, UTC).astimezone(zone).date().toordinal()}
    ):
        day = date.fromordinal(ordinal)
        lo = int(datetime.combine(day, datetime.min.time(), tzinfo=zone).timestamp() * 1e9)
        hi = int(datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone).timestamp() * 1e9)
        inside = (ts_ns >= lo) & (ts_ns < hi)
        if not inside.any():
            continue
        table = pa.table(
            {
                "ts": pa.array(ts_ns[inside], TS_NS),
                "datatype_id": pa.array(ids[inside].astype(np.int32)),
                "value": pa.array(values[inside].astype(np.int64)),
                "record_id": pa.array(np.full(int(inside.sum()), record_id), pa.int64()),
                "received_at": pa.array([RECEIVED] * int(inside.sum()), TS_US),
            }
        )
        earlier = lake.read_partition(dataset, subject, day)  # several records share a subject-day
        if earlier is not None:
            table = pa.concat_tables([earlier, table.cast(earlier.schema)])
        lake.write_partition(dataset, subject, day, table, signal=True)
        rebuild_summaries(lake, subject, day)  # what ingestion writes beside the signals
        existing = lake.read_partition("records", subject, day)
        rows = (existing.to_pylist() if existing is not None else []) + [r for r in records if r["_day"] == day]
        lake.write_partition(
            "records",
            subject,
            day,
            pa.Table.from_pylist([{k: v for k, v in r.items() if k != "_day"} for r in rows], RECORDS_SCHEMA),
        )


def _days_of(start_ns: int, end_ns: int) -> list[date]:
    zone = ZoneInfo(STUDY_TZ)
    first = datetime.fromtimestamp(start_ns / 1e9, UTC).astimezone(zone).date()
    last = datetime.fromtimestamp((end_ns - 1) / 1e9, UTC).astimezone(zone).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def write_hera(lake: Lake, subject: str, user_id: int, record_id: int) -> None:
    rows = np.loadtxt(HERA, delimiter=",", skiprows=1, dtype=np.int64)
    ticks, hr = rows[:, 0], rows[:, 1]
    ts_ns = ticks * NS_PER_TICK
    start_ns, end_ns = int(ts_ns[0] - 1_000_000_000), int(ts_ns[-1])
    records = [{**_record_row(record_id, user_id, start_ns, end_ns, d), "_day": d} for d in _days_of(start_ns, end_ns)]
    _write_signals(lake, "signals_vitals", subject, record_id, ts_ns, np.full(hr.size, 19), hr, records)


def nn_series() -> dict[str, np.ndarray]:
    """Real RR/NN series in raw 1/256 s units: the Astroskin NN_interval.csv and Garmin FIT hrv messages."""
    series = {}
    with open(EXPORT / "NN_interval.csv") as f:
        values = np.array([int(r[1]) for r in list(csv.reader(f))[1:]], dtype=np.int64)
    series["astroskin_nn"] = values[values > 0]
    for name in FIT_FILES:
        fit = decode_fit((SHARED / "real_files" / "fit" / name).read_bytes(), source=name)
        rr_s = np.array(fit.rr_intervals.column("rr_s").to_pylist(), dtype=float)
        rr_s = rr_s[(rr_s >= 0.3) & (rr_s <= 2.0)]  # the artifact filter of wearable_peers_notes.md §4.6
        series[name] = np.round(rr_s * 256).astype(np.int64)
    return series


def write_nn_series(lake: Lake, subject: str, user_id: int) -> dict[int, np.ndarray]:
    out = {}
    t0 = int(datetime(2016, 1, 26, 18, 0, tzinfo=UTC).timestamp() * 1e9)
    for i, (_name, raw) in enumerate(sorted(nn_series().items())):
        record_id = 9100 + i
        start_ns = t0 + i * 3_600_000_000_000
        beat_ns = start_ns + np.cumsum(raw) * NS_PER_TICK
        ids = np.concatenate([np.full(raw.size, 18), np.full(raw.size, 1004)])
        values = np.concatenate([raw, np.zeros(raw.size, np.int64)])  # every beat reliable
        ts = np.concatenate([beat_ns, beat_ns])
        end_ns = int(beat_ns[-1]) + 1_000_000_000
        records = [
            {**_record_row(record_id, user_id, start_ns, end_ns, d), "_day": d} for d in _days_of(start_ns, end_ns)
        ]
        _write_signals(lake, "signals_events", subject, record_id, ts, ids, values, records)
        out[record_id] = raw * 1000.0 / 256
    return out


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory, build_warehouse):
    root = tmp_path_factory.mktemp("reference")
    lake = Lake(root / "lake")
    write_hera(lake, "hera_chicago", 7001, 8001)
    write_hera(lake, "hera_utc", 7002, 8002)
    series = write_nn_series(lake, "nn_series", 7003)
    lake.write_study_table(
        "subjects",
        pa.table(
            {
                "user_id": pa.array([7001, 7002, 7003], pa.int64()),
                "username": ["hera_chicago", "hera_utc", "nn_series"],
                "timezone": [STUDY_TZ, "UTC", STUDY_TZ],
                "received_at": pa.array([RECEIVED] * 3, TS_US),
            }
        ),
    )
    imported = subprocess.run(
        [
            sys.executable,
            "-m",
            "hexo_pipeline.cli",
            "import-export",
            str(EXPORT),
            "--subject",
            "real_astroskin",
            "--timezone",
            STUDY_TZ,
            "--data-dir",
            str(root),
        ],
        capture_output=True,
        text=True,
    )
    result = build_warehouse(root, StudySettings(timezone=STUDY_TZ))  # no study calendar: every day counts
    con = duckdb.connect(str(result.published), read_only=True)
    yield con, series, imported
    con.close()


def test_wear_time_per_local_day_matches_the_hera_readme(warehouse):
    con, _, _ = warehouse
    minutes = con.execute(
        "select username, local_date, valid_minutes from marts.fct_subject_day "
        "where username like 'hera_%' and valid_minutes > 0 order by 1, 2"
    ).fetchall()
    assert minutes == [
        ("hera_chicago", date(2016, 1, 26), 834),
        ("hera_chicago", date(2016, 1, 27), 547),
        ("hera_utc", date(2016, 1, 26), 549),
        ("hera_utc", date(2016, 1, 27), 832),
    ]


def test_hrv_sql_agrees_with_the_neurokit2_definitions_on_real_nn_series(warehouse):
    con, series, _ = warehouse
    assert len(series) == 4
    for record_id, rr_ms in series.items():
        want = neurokit_time_domain(rr_ms)
        got = dict(
            zip(
                ("rmssd_ms", "sdnn_ms", "mean_nn_ms", "pnn50_pct", "rr_clean_n"),
                con.execute(
                    "select rmssd_ms, sdnn_ms, mean_nn_ms, pnn50_pct, rr_clean_n from marts.fct_record where record_id = ?",
                    [record_id],
                ).fetchone(),
            )
        )
        assert got["rr_clean_n"] == rr_ms.size
        assert abs(got["rmssd_ms"] - want["rmssd_ms"]) < 0.01, (record_id, got, want)
        assert abs(got["sdnn_ms"] - want["sdnn_ms"]) < 0.01, (record_id, got, want)
        assert abs(got["mean_nn_ms"] - want["mean_nn_ms"]) < 0.01
        # pNN50: ours divides by the differences (n - 1), neurokit2 by the intervals (n): the same count
        assert round(got["pnn50_pct"] * (rr_ms.size - 1) / 100) == round(want["pnn50_pct"] * rr_ms.size / 100)


def test_real_export_yields_one_record_with_its_statistics(warehouse):
    con, _, imported = warehouse
    assert imported.returncode == 0, imported.stdout + imported.stderr
    rows = con.execute("select * from marts.fct_record where username = 'real_astroskin'").df()
    assert len(rows) == 1
    got = rows.iloc[0]
    export = read_export(EXPORT)
    assert got["record_id"] == 122445
    assert got["duration_s"] == pytest.approx(129.0)
    start = got["start_at"].to_pydatetime()
    assert start == datetime(2017, 4, 18, 13, 42, 38, 308594, tzinfo=UTC)
    end_ns = int(start.timestamp() * 1e6) * 1000 + 129 * 1_000_000_000 + 1_000  # samples up to the record end

    vit = export.tables[Family.VITALS]
    ts = vit.column("ts").cast("int64").to_numpy()
    ids, val = vit.column("datatype_id").to_numpy(), vit.column("value").to_numpy()
    keep = ts <= end_ns
    hr, q = val[(ids == 19) & keep], val[(ids == 1000) & keep]
    clean = hr[(q == 0) & (hr > 0)]
    assert got["hr_clean_n"] == clean.size
    assert got["hr_mean_bpm"] == pytest.approx(clean.mean(), abs=1e-9)
    assert got["hr_min_bpm"] == clean.min() and got["hr_max_bpm"] == clean.max()
    br, bq = val[(ids == 33) & keep], val[(ids == 1001) & keep]
    assert got["br_mean_rpm"] == pytest.approx(br[(bq == 0) & (br > 0)].mean(), abs=1e-9)

    ev = export.tables[Family.EVENTS]
    eid, evl = ev.column("datatype_id").to_numpy(), ev.column("value").to_numpy()
    rr, ok = evl[eid == 18] * 1000.0 / 256, evl[eid == 1004] == 0
    assert got["rr_clean_n"] == int(ok.sum())
    pairs = np.diff(rr)[ok[1:] & ok[:-1]]
    assert got["rmssd_ms"] == pytest.approx(np.sqrt(np.mean(pairs**2)), abs=1e-9)
    assert got["sdnn_ms"] == pytest.approx(rr[ok].std(ddof=1), abs=1e-9)
    assert got["steps"] == int((eid == 52).sum())
    assert got["temperature_mean_c"] == pytest.approx(21.43, abs=0.01)  # temperature_celcius raw / 256

    days = con.execute(
        "select local_date, worn_s from marts.fct_subject_day where username = 'real_astroskin' and worn_s > 0"
    ).fetchall()
    assert days == [(date(2017, 4, 18), pytest.approx(129.0))]


# The vendor's own statistics of record 122445: statistics.csv of the same export (S9 in
# ../shared/reference/hexoskin_api_notes.md: JulienL3vesque/Hexoskin_RnD_OSM @ b524430d, "Python Project
# Filter-Detect-GUI/Bernie ill 2 min 18-04-2017/statistics.csv"; not among the files in ../shared), as the
# vendor printed them: heartrate_avg and activity_avg are exact binary fractions (9364/128 bpm, 57/256 g),
# RMSSD is printed to 17 significant digits.
VENDOR_STATISTICS = {"heartrate_avg": 73.15625, "activity_avg": 0.22265625, "RMSSD": 63.488402375257536}


def test_vendor_compatible_statistics_equal_the_vendors_own_on_the_real_export(warehouse):
    con, _, imported = warehouse
    assert imported.returncode == 0, imported.stdout + imported.stderr
    hr, activity, rmssd, hr_clean, rmssd_clean = con.execute(
        "select hr_mean_unfiltered_bpm, activity_mean_nonzero_g, rmssd_reliable_seq_ms, hr_mean_bpm, rmssd_ms "
        "from marts.fct_record where username = 'real_astroskin'"
    ).fetchone()
    # Within the vendor's rounding: exact where the vendor's figure is exact, 1e-12 relative for RMSSD
    # (measured: 0, 0 and 7.1e-15 ms).
    assert hr == VENDOR_STATISTICS["heartrate_avg"]
    assert activity == VENDOR_STATISTICS["activity_avg"]
    assert rmssd == pytest.approx(VENDOR_STATISTICS["RMSSD"], rel=1e-12)
    # The project's quality-filtered figures stay beside them, and differ (2 flagged heart-rate samples;
    # 23 unreliable beats, each breaking a pair instead of joining its neighbours).
    assert hr_clean == pytest.approx(73.29, abs=0.01) and rmssd_clean == pytest.approx(19.10, abs=0.01)
