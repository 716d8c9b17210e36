"""Synthetic lakes in the contract's shape (docs/lake.md), for the warehouse's tests and measurements.

- `write_synthetic_lake`: a small deterministic lake (records, ranges, metrics, 1 Hz vitals, RR/steps/
  sleep-position events, Astroskin SpO2/temperature, subjects, datatypes, and the study side: study,
  groups, members, group history, calendar events, survey responses) whose expected statistics the
  tests recompute with numpy, independently of the SQL. Fast: minutes of data, not days.
- `scale_lake`: a bigger lake made of copies of a real one's subject-day partitions (e.g. the demo's
  4 x 3 into 50 x 30), to measure the dbt build at size without running the ingestion for hours.

Signals are written with the lake's own writer (`Lake.write_partition`), so encodings match the real ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..hexoskin import datatypes as catalog
from ..ingest.study_side import datatypes_table
from ..lake import Lake

TS_US = pa.timestamp("us", tz="UTC")
TS_NS = pa.timestamp("ns", tz="UTC")
TICKS = 256
SIGNAL_SCHEMA = pa.schema(
    [
        ("ts", TS_NS),
        ("datatype_id", pa.int32()),
        ("value", pa.int64()),
        ("record_id", pa.int64()),
        ("received_at", TS_US),
    ]
)


@dataclass(frozen=True)
class SyntheticRecord:
    record_id: int
    user_id: int
    username: str
    start: datetime  # UTC, on a 1/256 s tick
    seconds: int
    astroskin: bool
    sleep: bool  # a night record: one sleep range covering it, sleep-position events

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds)


@dataclass
class SyntheticLake:
    root: Path
    timezone: str
    start: date
    days: int
    records: list[SyntheticRecord] = field(default_factory=list)
    usernames: dict[int, str] = field(default_factory=dict)


def _ticks(dt: datetime) -> int:
    return round(dt.timestamp() * TICKS)


def _day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    a = datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)
    b = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC)
    return a, b


def plan_records(
    *, subjects: int, days: int, start: date, tz: str, minutes: int, study_uuid: str, seed: int
) -> list[SyntheticRecord]:
    """Per subject and day: a morning record of `minutes` (missing on some days: days without data), and
    for subject 1 a night record crossing local midnight. Subject 4 wears an Astroskin."""
    rng = np.random.default_rng(seed)
    zone = ZoneInfo(tz)
    out: list[SyntheticRecord] = []
    rid = 5000
    for s in range(subjects):
        uid = 900 + s
        name = f"{study_uuid}_syn{s + 1:03d}"
        for d in range(days):
            day = start + timedelta(days=d)
            if (s + d) % 5 == 3:  # a day without data
                continue
            local = datetime.combine(day, time(8, int(rng.integers(0, 50))), tzinfo=zone)
            begin = local.astimezone(UTC) + timedelta(seconds=int(rng.integers(0, 256)) / TICKS)
            out.append(SyntheticRecord(rid, uid, name, begin, minutes * 60, astroskin=(s % 4 == 3), sleep=False))
            rid += 1
            if s == 0:
                night = datetime.combine(day, time(23, 30), tzinfo=zone).astimezone(UTC)
                out.append(
                    SyntheticRecord(
                        rid, uid, name, night + timedelta(seconds=3 / TICKS), minutes * 60, astroskin=False, sleep=True
                    )
                )
                rid += 1
    return out


def record_signals(rec: SyntheticRecord, seed: int) -> dict[str, pa.Table]:
    """The whole record's raw signals per lake dataset (vitals, events, astroskin), unclipped."""
    rng = np.random.default_rng(seed + rec.record_id)
    n = rec.seconds
    start_ns = _ticks(rec.start) * (1_000_000_000 // TICKS)
    sec_ns = start_ns + (np.arange(n, dtype=np.int64) + 1) * 1_000_000_000  # 1 Hz: at start + (k+1) s
    base = 58 if rec.sleep else 72
    hr = np.clip(base + 12 * np.sin(np.arange(n) / 300) + rng.normal(0, 3, n), 35, 190).round().astype(np.int64)
    hr_q = np.where(rng.random(n) < 0.04, 16, 0)
    hr_q[rng.random(n) < 0.02] = 2
    hr[hr_q == 2] = 0
    br = np.clip(15 + rng.normal(0, 2, n), 6, 40).round().astype(np.int64)
    br_q = np.where(rng.random(n) < 0.05, 48, 0)
    mv = (br * 40 + rng.integers(-20, 20, n)).astype(np.int64)  # raw x 13.28 mL/min
    tv = rng.integers(30, 60, n).astype(np.int64)
    act = rng.integers(0, 40, n).astype(np.int64)  # raw / 256 g
    cad = np.where(rng.random(n) < 0.3, rng.integers(80, 120, n), 0).astype(np.int64)
    vit_ids = (19, 1000, 33, 1001, 36, 37, 49, 53)
    vit_vals = (hr, hr_q, br, br_q, mv, tv, act, cad)
    vitals = _long(np.tile(sec_ns, len(vit_ids)), np.repeat(vit_ids, n), np.concatenate(vit_vals))

    # RR: beats at the rhythm of the heart rate; quality 0, some 128; the first RR of a record is 0 and flagged.
    mean_rr = 60.0 / np.maximum(hr[hr > 0].mean(), 40)
    rr_s = np.clip(rng.normal(mean_rr, 0.05 if rec.sleep else 0.03, int(n / mean_rr * 1.05) + 2), 0.35, 1.6)
    beat_at = np.cumsum(rr_s)
    keep = beat_at < n
    rr_raw = np.round(rr_s[keep] * TICKS).astype(np.int64)
    beat_ns = start_ns + np.round(beat_at[keep] * TICKS).astype(np.int64) * (1_000_000_000 // TICKS)
    rr_q = np.where(rng.random(rr_raw.size) < 0.03, 128, 0)
    rr_raw[0], rr_q[0] = 0, 128
    steps_at = np.sort(rng.choice(n * 4, size=n // 6, replace=False)) / 4.0
    step_ns = start_ns + np.round(steps_at * TICKS).astype(np.int64) * (1_000_000_000 // TICKS)
    ev_ts = [beat_ns, beat_ns, step_ns]
    ev_id = [np.full(rr_raw.size, 18), np.full(rr_raw.size, 1004), np.full(step_ns.size, 52)]
    ev_val = [rr_raw, rr_q, np.arange(1, step_ns.size + 1)]
    if rec.sleep:
        pos_at = np.array([0.0, n * 0.3, n * 0.55, n * 0.8])
        ev_ts.append(start_ns + np.round(pos_at * TICKS).astype(np.int64) * (1_000_000_000 // TICKS))
        ev_id.append(np.full(4, 270))
        ev_val.append(np.array([2, 3, 2, 4]))
    events = _long(np.concatenate(ev_ts), np.concatenate(ev_id), np.concatenate(ev_val))
    out = {"signals_vitals": vitals, "signals_events": events}
    if rec.astroskin:
        spo2 = rng.integers(94, 100, n).astype(np.int64)
        spo2_q = np.where(rng.random(n) < 0.05, 16, 0)
        temp = (34.0 * 256 + rng.normal(0, 40, n)).round().astype(np.int64)
        ids = (66, 1002, 81, 1003)
        out["signals_astroskin"] = _long(
            np.tile(sec_ns, 4), np.repeat(ids, n), np.concatenate([spo2, spo2_q, temp, np.zeros(n, np.int64)])
        )
    return out


def _long(ts_ns: np.ndarray, ids: np.ndarray, values: np.ndarray) -> pa.Table:
    order = np.lexsort((ts_ns, ids))
    return pa.table(
        {
            "ts": pa.array(ts_ns[order], TS_NS),
            "datatype_id": pa.array(ids[order].astype(np.int32)),
            "value": pa.array(values[order].astype(np.int64)),
        }
    )


def write_synthetic_lake(
    data_dir: str | Path,
    *,
    subjects: int = 4,
    days: int = 3,
    start: date = date(2026, 3, 6),
    tz: str = "America/Montreal",
    minutes: int = 90,
    study_uuid: str = "5e7a0c1d",
    seed: int = 11,
    received_at: datetime | None = None,
    study_side: bool = True,
) -> SyntheticLake:
    """Write the lake under data_dir/lake. The default dates cross the 2026-03-08 DST change in Montreal."""
    root = Path(data_dir)
    lake = Lake(root / "lake")
    zone = ZoneInfo(tz)
    received = received_at or datetime.now(UTC).replace(microsecond=0)
    records = plan_records(
        subjects=subjects, days=days, start=start, tz=tz, minutes=minutes, study_uuid=study_uuid, seed=seed
    )
    result = SyntheticLake(root, tz, start, days, records)
    per_partition: dict[tuple[str, date], dict[str, list[pa.Table]]] = {}
    rec_rows: dict[tuple[str, date], list[dict]] = {}
    range_rows: dict[tuple[str, date], list[dict]] = {}
    metric_rows: dict[tuple[str, date], list[dict]] = {}
    for rec in records:
        result.usernames[rec.user_id] = rec.username
        signals = record_signals(rec, seed)
        first = rec.start.astimezone(zone).date()
        last = (rec.end - timedelta(microseconds=1)).astimezone(zone).date()
        day = first
        while day <= last:
            lo, hi = _day_bounds(day, zone)
            key = (rec.username, day)
            for dataset, table in signals.items():
                ts = table.column("ts").cast(pa.int64()).to_numpy()
                inside = (ts >= int(lo.timestamp() * 1e9)) & (ts < int(hi.timestamp() * 1e9))
                part = table.filter(pa.array(inside))
                part = part.append_column("record_id", pa.array(np.full(part.num_rows, rec.record_id), pa.int64()))
                part = part.append_column("received_at", pa.array([received] * part.num_rows, TS_US))
                per_partition.setdefault(key, {}).setdefault(dataset, []).append(part)
            a, b = max(rec.start, lo), min(rec.end, hi)
            rec_rows.setdefault(key, []).append(
                {
                    "record_id": rec.record_id,
                    "user_id": rec.user_id,
                    "start_at": rec.start,
                    "end_at": rec.end,
                    "start_ticks": _ticks(rec.start),
                    "end_ticks": _ticks(rec.end),
                    "day_start_at": a,
                    "day_end_at": b,
                    "duration_s": float(rec.seconds),
                    "day_duration_s": (b - a).total_seconds(),
                    "device": ("ASTRO" if rec.astroskin else "HXSKIN") + f"12000{rec.user_id}",
                    "status": "complete",
                    "last_modified": rec.end,
                    "received_at": received,
                }
            )
            rg_start = rec.start if rec.sleep else rec.start + timedelta(minutes=10)
            rg_end = rec.end if rec.sleep else rg_start + timedelta(minutes=5)
            if rg_start < hi and rg_end > lo:
                rg_id = rec.record_id * 10
                range_rows.setdefault(key, []).append(
                    {
                        "range_id": rg_id,
                        "user_id": rec.user_id,
                        "name": "sleep" if rec.sleep else "5 min Rest Test",
                        "activitytype_id": 12 if rec.sleep else 106,
                        "trainingroutine_id": 2 if rec.sleep else 1012,
                        "rank": 0,
                        "parent_id": None,
                        "status": "complete",
                        "start_at": rg_start,
                        "end_at": rg_end,
                        "start_ticks": _ticks(rg_start),
                        "end_ticks": _ticks(rg_end),
                        "day_start_at": max(rg_start, lo),
                        "day_end_at": min(rg_end, hi),
                        "duration_s": (rg_end - rg_start).total_seconds(),
                        "last_modified": rg_end,
                        "received_at": received,
                    }
                )
                metric_rows.setdefault(key, []).extend(
                    [
                        {
                            "range_id": rg_id,
                            "metric_id": 44,
                            "name": "heartrate_avg",
                            "unit": "bpm",
                            "value": 60.0,
                            "received_at": received,
                        },
                        {
                            "range_id": rg_id,
                            "metric_id": 180,
                            "name": "SDNN",
                            "unit": "s",
                            "value": -1.0,
                            "received_at": received,
                        },
                    ]
                )
            day += timedelta(days=1)
    from ..ingest.subject_day import RANGE_METRICS_SCHEMA, RANGES_SCHEMA, RECORDS_SCHEMA
    from ..ingest.summaries import summarize_signals, write_summaries

    families = {f"signals_{family.value}": family for family in catalog.Family}
    for (username, day), datasets in per_partition.items():
        tables = {}
        for dataset, parts in datasets.items():
            tables[families[dataset]] = table = pa.concat_tables(parts).cast(SIGNAL_SCHEMA)
            lake.write_partition(dataset, username, day, table, signal=True)
        # The summary datasets, as ingestion writes them beside the signals.
        write_summaries(lake, username, day, summarize_signals(tables, received))
        lake.write_partition("records", username, day, pa.Table.from_pylist(rec_rows[(username, day)], RECORDS_SCHEMA))
        if (username, day) in range_rows:
            lake.write_partition(
                "ranges", username, day, pa.Table.from_pylist(range_rows[(username, day)], RANGES_SCHEMA)
            )
            lake.write_partition(
                "range_metrics", username, day, pa.Table.from_pylist(metric_rows[(username, day)], RANGE_METRICS_SCHEMA)
            )
    users = sorted(result.usernames.items())
    lake.write_study_table(
        "subjects",
        pa.table(
            {
                "user_id": pa.array([u for u, _ in users], pa.int64()),
                "username": [n for _, n in users],
                "first_name": ["Synthetic"] * len(users),
                "last_name": [n[-3:] for _, n in users],
                "email": [f"{n}@example.org" for _, n in users],
                "received_at": pa.array([received] * len(users), TS_US),
            }
        ),
    )
    lake.write_study_table("datatypes", datatypes_table())
    if study_side:
        _write_study_side(lake, result, study_uuid, received)
    return result


def _write_study_side(lake: Lake, result: SyntheticLake, study_uuid: str, received: datetime) -> None:
    """Study, two groups, memberships (the 3rd subject onboarded a day late), a group history where the
    2nd subject is moved to the other group after the study ended, retroactively from onboarding, and per
    subject-day a planned rest test (done when the day has a record) and a survey (answered every other
    day) - the shapes of docs/lake.md, Study side."""
    from ..ingest.study_side import (
        CALENDAR_SCHEMA,
        GROUP_HISTORY_SCHEMA,
        GROUPS_SCHEMA,
        MEMBERS_SCHEMA,
        STUDY_SCHEMA,
        SURVEY_RESPONSES_SCHEMA,
    )

    end = result.start + timedelta(days=result.days - 1)
    lake.write_study_table(
        "study",
        pa.Table.from_pylist(
            [
                {
                    "study_id": 1,
                    "uuid": study_uuid,
                    "name": "Synthetic study",
                    "start_date": result.start,
                    "end_date": end,
                    "timezone": result.timezone,
                    "owner_id": 1,
                    "planning_json": "[]",
                    "last_modified": received,
                    "received_at": received,
                }
            ],
            STUDY_SCHEMA,
        ),
    )
    lake.write_study_table(
        "study_groups",
        pa.Table.from_pylist(
            [
                {"group_id": 11, "study_id": 1, "name": "control", "description": "", "received_at": received},
                {"group_id": 12, "study_id": 1, "name": "intervention", "description": "", "received_at": received},
            ],
            GROUPS_SCHEMA,
        ),
    )
    members, history, _events, _responses = [], [], [], []
    worn_days = {(r.user_id, r.start.astimezone(ZoneInfo(result.timezone)).date()) for r in result.records}
    for i, (uid, name) in enumerate(sorted(result.usernames.items())):
        onboarding = result.start + timedelta(days=1 if i == 2 else 0)
        group = 11 if i % 2 == 0 else 12
        history.append(
            {
                "user_id": uid,
                "group_id": group,
                "since": onboarding,
                "assignment_index": 0,
                "assigned_at": datetime.combine(onboarding, time(9), tzinfo=UTC),
                "received_at": received,
            }
        )
        if i == 1:  # moved after the study ended, retroactively from onboarding
            group = 11
            history.append(
                {
                    "user_id": uid,
                    "group_id": group,
                    "since": onboarding,
                    "assignment_index": 1,
                    "assigned_at": datetime.combine(end + timedelta(days=2), time(9), tzinfo=UTC),
                    "received_at": received,
                }
            )
        members.append(
            {
                "member_id": 100 + i,
                "study_id": 1,
                "user_id": uid,
                "subject_id": name.split("_", 1)[1],
                "onboarding_date": onboarding,
                "end_date": end,
                "group_id": group,
                "last_modified": received,
                "received_at": received,
            }
        )
        day = onboarding
        while day <= end:
            done_rest = (uid, day) in worn_days
            answered = (i + day.toordinal()) % 2 == 0
            day_events = [
                {
                    "event_id": uid * 100000 + day.toordinal() * 10,
                    "user_id": uid,
                    "date": day,
                    "name": "5 min Rest Test",
                    "done": done_rest,
                    "done_by": f"/api/range/{uid}{day.toordinal()}/" if done_rest else None,
                    "resource_uri": "/api/trainingroutine/1012/",
                    "start_time": "07:00",
                    "end_time": "11:00",
                    "received_at": received,
                },
                {
                    "event_id": uid * 100000 + day.toordinal() * 10 + 1,
                    "user_id": uid,
                    "date": day,
                    "name": "Daily survey",
                    "done": answered,
                    "done_by": f"/api/surveyresponse/{uid}{day.toordinal()}/" if answered else None,
                    "resource_uri": "/api/survey/1/",
                    "start_time": None,
                    "end_time": None,
                    "received_at": received,
                },
            ]
            lake.write_partition("calendar_events", name, day, pa.Table.from_pylist(day_events, CALENDAR_SCHEMA))
            if answered:
                lake.write_partition(
                    "survey_responses",
                    name,
                    day,
                    pa.Table.from_pylist(
                        [
                            {
                                "response_id": int(f"{uid}{day.toordinal()}"),
                                "user_id": uid,
                                "survey_id": 1,
                                "date": day,
                                "created_at": datetime.combine(day, time(22), tzinfo=UTC),
                                "answers_json": '{"fatigue": 3, "sleep_quality": 4}',
                                "received_at": received,
                            }
                        ],
                        SURVEY_RESPONSES_SCHEMA,
                    ),
                )
            day += timedelta(days=1)
    lake.write_study_table("study_members", pa.Table.from_pylist(members, MEMBERS_SCHEMA))
    lake.write_study_table("study_group_history", pa.Table.from_pylist(history, GROUP_HISTORY_SCHEMA))


def scale_lake(
    source_lake: str | Path,
    target_lake: str | Path,
    *,
    subjects: int,
    days: int,
    datasets: tuple[str, ...] = (
        "records",
        "ranges",
        "range_metrics",
        "signals_vitals",
        "signals_events",
        "signals_astroskin",
        "vitals_minutes",
        "hrv_windows",
        "steps_minutes",
        "astroskin_minutes",
    ),
) -> int:
    """Copy a lake's subject-day partitions into `subjects` x `days` partitions (cycling over the source's
    subject-days, dates shifted, ids offset so records stay unique). Returns the number of files written.
    Study tables are copied, with the subjects list extended."""
    src, dst = Path(source_lake), Path(target_lake)
    lake = Lake(dst)
    keys = sorted(
        {
            (p.parent.parent.name[len("subject=") :], p.parent.name[len("date=") :])
            for p in (src / "records").glob("*/*/*.parquet")
        }
    )
    if not keys:
        raise ValueError(f"no records partitions under {src}")
    subjects_src = pq.read_table(src / "subjects" / "data.parquet")
    first_day = min(date.fromisoformat(d) for _, d in keys)
    written = 0
    new_users = []
    for s in range(subjects):
        username = f"scaled_{s:04d}"
        new_users.append({"user_id": 100000 + s, "username": username})
        for d in range(days):
            src_subject, src_day = keys[(s * days + d) % len(keys)]
            day = first_day + timedelta(days=d)
            offset = (s * days + d + 1) * 10_000_000  # keeps record and range ids unique per copy
            for dataset in datasets:
                path = src / dataset / f"subject={src_subject}" / f"date={src_day}" / "part-0.parquet"
                if not path.exists():
                    continue
                table = pq.read_table(path)
                shift = (day - date.fromisoformat(src_day)).days * 86400 * 1_000_000
                table = _shift_copy(table, shift, offset, 100000 + s)
                if dataset == "records":
                    table = _clip_records(table)
                lake.write_partition(dataset, username, day, table, signal=dataset.startswith("signals_"))
                written += 1
    received = subjects_src.column("received_at")[0].as_py()
    lake.write_study_table(
        "subjects",
        pa.table(
            {
                "user_id": pa.array([u["user_id"] for u in new_users], pa.int64()),
                "username": [u["username"] for u in new_users],
                "received_at": pa.array([received] * len(new_users), TS_US),
            }
        ),
    )
    for study_table in ("datatypes",):
        if (src / study_table / "data.parquet").exists():
            lake.write_study_table(study_table, pq.read_table(src / study_table / "data.parquet"))
    return written


def _clip_records(table: pa.Table) -> pa.Table:
    """A copied record is the part of its day it covered: copies of one record on two days would
    otherwise overlap (one device records once at a time)."""
    import pyarrow.compute as pc

    start, end = table.column("day_start_at"), table.column("day_end_at")
    ticks = lambda col: pc.divide(pc.multiply(col.cast(pa.int64()), 256), 1_000_000)  # us -> 1/256 s
    return (
        table.set_column(table.schema.get_field_index("start_at"), "start_at", start)
        .set_column(table.schema.get_field_index("end_at"), "end_at", end)
        .set_column(table.schema.get_field_index("start_ticks"), "start_ticks", ticks(start))
        .set_column(table.schema.get_field_index("end_ticks"), "end_ticks", ticks(end))
        .set_column(table.schema.get_field_index("duration_s"), "duration_s", table.column("day_duration_s"))
    )


def _shift_copy(table: pa.Table, shift_us: int, id_offset: int, user_id: int) -> pa.Table:
    """Shift every timestamp column by shift_us (whole days), offset ids, set the user."""
    import pyarrow.compute as pc

    columns = {}
    for name in table.column_names:
        col = table.column(name)
        if name == "received_at":
            columns[name] = col
        elif pa.types.is_timestamp(col.type):
            unit_per_us = {"s": None, "ms": None, "us": 1, "ns": 1000}[col.type.unit]
            as_int = pc.add(col.cast(pa.int64()), shift_us * unit_per_us)
            columns[name] = as_int.cast(col.type)
        elif name in ("record_id", "range_id", "parent_id"):
            columns[name] = pc.add(col, id_offset)
        elif name in ("start_ticks", "end_ticks"):
            columns[name] = pc.add(col, shift_us * 256 // 1_000_000)
        elif name == "user_id":
            columns[name] = pa.array(np.full(table.num_rows, user_id), pa.int64())
        else:
            columns[name] = col
    return pa.table(columns)
