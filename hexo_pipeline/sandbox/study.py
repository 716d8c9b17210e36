"""The synthetic study the sandbox serves: users, devices, records, ranges (deterministic per seed).

Only metadata lives here (a few thousand small rows even for 50 subjects x 30 days). Signals are
generated on demand per request window by `physiology.RecordSignals`, so a whole study's raw signals
are never held in memory.

Wear model per subject and local day (the subject's time zone): a day record from waking to evening
(sometimes cut short: a partial day), some days missed entirely, an occasional short record, and a
night record that crosses midnight with a sleep range inside. Activities (rest tests, walks, runs)
are segments of the day record and ranges of their own. Records sync after a delay: usually minutes,
sometimes days (late data), and sometimes a record is first visible with only its first part.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from ..hexoskin.timestamps import TICKS_PER_SECOND, to_ticks
from .physiology import RecordSpec, Segment

# Activity types and training routines. 12 (Sleep), 106 (Rest test), 10 (Running) and routine 6 (jog)
# are documented IDs (hexoskin_api_notes.md §4.2); 11 "Walking" and routine 7 "walk" are sandbox choices.
ACTIVITY_TYPES = {
    12: {"name": "Sleep", "base": "sleep", "category": "sleep"},
    106: {"name": "Rest test", "base": "rest", "category": "resting"},
    10: {"name": "Running", "base": "high", "category": "running"},
    11: {"name": "Walking", "base": "medium", "category": "lifestyle"},
}
TRAINING_ROUTINES = {
    2: {"name": "sleep", "activitytype": 12, "geo": False},
    1012: {"name": "5 min Rest Test", "activitytype": 106, "geo": False},
    6: {"name": "jog", "activitytype": 10, "geo": True},
    7: {"name": "walk", "activitytype": 11, "geo": True},
}
ROUTINE_FOR_KIND = {"sleep": 2, "rest": 1012, "run": 6, "walk": 7}


@dataclass(frozen=True)
class StudyConfig:
    seed: int = 7
    subjects: int = 4
    days: int = 3
    start: date = date(2026, 10, 5)
    timezone: str = "America/Montreal"
    astroskin_every: int = 4  # every n-th subject wears an Astroskin
    late_sync_rate: float = 0.1  # share of records that sync days late
    now: datetime | None = None  # the sandbox clock; None = wall clock


@dataclass
class Record:
    id: int
    user_id: int
    start: int  # HexoTimestamp
    end: int
    device: str
    astroskin: bool
    segments: tuple[Segment, ...]
    synced_at: datetime  # when the whole record is on the server
    partial_end: int | None = None  # end visible before `synced_at` (the record grows), None if never partial
    partial_synced_at: datetime | None = None

    @property
    def duration_s(self) -> float:
        return (self.end - self.start) / TICKS_PER_SECOND

    def spec(self, study_seed: int) -> RecordSpec:
        return RecordSpec(
            record_id=self.id,
            seed=_derive_seed(study_seed, "record", self.id),
            start_ticks=self.start,
            duration_s=self.duration_s,
            astroskin=self.astroskin,
            segments=self.segments,
        )


@dataclass
class Range:
    id: int
    user_id: int
    record_id: int
    start: int
    end: int
    name: str
    kind: str  # segment kind: sleep, rest, walk, run
    trainingroutine: int
    created: datetime
    rank: int = 0
    parent_id: int | None = None
    note: str = ""

    @property
    def activitytype(self) -> int:
        return TRAINING_ROUTINES[self.trainingroutine]["activitytype"]


@dataclass
class User:
    id: int
    username: str
    password: str
    role: str  # owner | subject
    first_name: str
    last_name: str
    email: str
    timezone: str
    profile_id: int
    gender: str = "F"
    date_of_birth: str = "1990-01-01"
    height_m: float = 1.70
    weight_kg: float = 65.0
    device: str | None = None
    astroskin: bool = False
    subject_index: int | None = None


@dataclass
class Study:
    config: StudyConfig
    uuid: str
    users: dict[int, User] = field(default_factory=dict)
    records: dict[int, Record] = field(default_factory=dict)
    ranges: dict[int, Range] = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.config.timezone)

    def now(self) -> datetime:
        return self.config.now or datetime.now(timezone.utc)

    def subjects(self) -> list[User]:
        return [u for u in self.users.values() if u.role == "subject"]

    def visible_record(self, rec: Record) -> Record | None:
        """The record as the server knows it now: absent before sync, truncated while partially synced."""
        now = self.now()
        if rec.synced_at <= now:
            return rec
        if rec.partial_synced_at is not None and rec.partial_synced_at <= now:
            return replace(rec, end=rec.partial_end)
        return None

    def record_status(self, rec: Record) -> str:
        return "complete" if rec.synced_at <= self.now() else "syncing"


def _derive_seed(*parts: object) -> int:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _local_ticks(day: date, hours: float, tz: ZoneInfo) -> int:
    base = datetime.combine(day, time.min, tzinfo=tz)
    # Wall-clock hours of the local day; fold handling is irrelevant at these hours.
    return to_ticks(base + timedelta(hours=hours))


def build_study(config: StudyConfig) -> Study:
    rng = random.Random(_derive_seed(config.seed, "study"))
    study_uuid = str(uuid.UUID(int=rng.getrandbits(128), version=4))[:8]
    study = Study(config=config, uuid=study_uuid)
    tz = study.tz

    owner = User(
        id=1, username=f"owner.{study_uuid}@sandbox.hexo", password=_secret(config.seed, "owner-pw"),
        role="owner", first_name="Study", last_name="Owner", email=f"owner.{study_uuid}@sandbox.hexo",
        timezone=config.timezone, profile_id=1,
    )
    study.users[owner.id] = owner

    next_record, next_range = 1000, 50000
    for s in range(config.subjects):
        uid = 101 + s
        srng = random.Random(_derive_seed(config.seed, "subject", s))
        astroskin = config.astroskin_every > 0 and s % config.astroskin_every == config.astroskin_every - 1
        user = User(
            id=uid, username=f"{study_uuid}_sub{s + 1:03d}", password=_secret(config.seed, "pw", s),
            role="subject", first_name="Subject", last_name=f"{s + 1:03d}",
            email=f"{study_uuid}_sub{s + 1:03d}@sandbox.hexo", timezone=config.timezone, profile_id=uid,
            gender=srng.choice("FM"), date_of_birth=f"{srng.randint(1960, 2002)}-0{srng.randint(1, 9)}-15",
            height_m=round(srng.uniform(1.55, 1.92), 2), weight_kg=round(srng.uniform(50, 95), 1),
            device=("ASTRO" if astroskin else "HXSKIN") + f"{1200002000 + s:010d}", astroskin=astroskin,
            subject_index=s,
        )
        study.users[uid] = user
        for d in range(config.days):
            day = config.start + timedelta(days=d)
            drng = random.Random(_derive_seed(config.seed, "day", s, d))
            records, ranges = _subject_day(user, day, d == config.days - 1, drng, tz)
            for rec, rec_ranges in zip(records, ranges):
                rec.id = next_record
                next_record += 1
                _schedule_sync(rec, drng, config.late_sync_rate)
                study.records[rec.id] = rec
                for rg in rec_ranges:
                    rg.id, rg.record_id = next_range, rec.id
                    rg.created = rec.synced_at
                    next_range += 1
                    study.ranges[rg.id] = rg
    return study


def _secret(*parts: object) -> str:
    return hashlib.sha256(":".join(map(str, ("sandbox",) + parts)).encode()).hexdigest()[:20]


def _subject_day(
    user: User, day: date, last_day: bool, rng: random.Random, tz: ZoneInfo
) -> tuple[list[Record], list[list[Range]]]:
    records: list[Record] = []
    ranges: list[list[Range]] = []
    if rng.random() < 0.1:  # a missed day: the shirt stayed in the drawer
        return records, ranges

    wake = 7.0 + rng.gauss(0, 0.5)
    start_h = wake + 0.05
    partial = rng.random() < 0.2
    end_h = start_h + (rng.uniform(2.0, 6.0) if partial else rng.uniform(13.0, 15.0))
    end_h = min(end_h, 22.2)
    segments, kinds = _day_segments(start_h, end_h, rng)
    rec = _record(user, day, start_h, end_h, segments, tz)
    records.append(rec)
    ranges.append(_ranges_for(user, rec, kinds))

    if rng.random() < 0.15:  # a short record: shirt on for a few minutes in the evening
        s_h = 22.25 + rng.uniform(0, 0.1)
        dur = rng.uniform(3, 9) / 60
        seg = (Segment(0.0, dur * 3600, "light"),)
        records.append(_record(user, day, s_h, s_h + dur, seg, tz))
        ranges.append([])

    if not last_day and rng.random() < 0.85:  # the night record crosses midnight
        bed = 22.6 + rng.gauss(0, 0.3)
        length = rng.uniform(6.8, 8.4)
        total_s = round(length * 3600)
        sleep_s0, sleep_s1 = 600.0, total_s - 600.0
        seg = (
            Segment(0.0, sleep_s0, "sedentary"),
            Segment(sleep_s0, sleep_s1, "sleep"),
            Segment(sleep_s1, float(total_s), "light"),
        )
        night = _record(user, day, bed, bed + length, seg, tz)
        records.append(night)
        ranges.append(_ranges_for(user, night, [(sleep_s0, sleep_s1, "sleep")]))
    return records, ranges


def _day_segments(start_h: float, end_h: float, rng: random.Random):
    """Segments (seconds from record start) and the activity ranges among them."""
    total = round((end_h - start_h) * 3600)
    plan: list[tuple[float, float, str]] = []
    t = 0.0

    def add(length: float, kind: str) -> None:
        nonlocal t
        length = min(length, total - t)
        if length > 0:
            plan.append((t, t + length, kind))
            t += length

    add(rng.uniform(300, 900), "light")
    add(300, "rest")  # the planned morning rest test
    while t < total:
        r = rng.random()
        if r < 0.06:
            add(rng.uniform(1500, 2700), "run")
        elif r < 0.16:
            add(rng.uniform(900, 2400), "walk")
        elif r < 0.55:
            add(rng.uniform(1200, 5400), "sedentary")
        else:
            add(rng.uniform(600, 3600), "light")
    segments = tuple(Segment(round(a, 3), round(b, 3), k) for a, b, k in plan)
    activities = [(a, b, k) for a, b, k in plan if k in ("rest", "walk", "run") and b - a >= 240]
    return segments, activities


def _record(user: User, day: date, start_h: float, end_h: float, segments, tz: ZoneInfo) -> Record:
    # Record starts are not aligned to whole seconds (real records keep sub-second ticks).
    start = _local_ticks(day, start_h, tz) + 37
    duration_s = round(segments[-1].end_s)
    return Record(
        id=0, user_id=user.id, start=start, end=start + duration_s * TICKS_PER_SECOND,
        device=user.device or "", astroskin=user.astroskin, segments=tuple(segments),
        synced_at=datetime.min.replace(tzinfo=timezone.utc),
    )


def _ranges_for(user: User, rec: Record, kinds) -> list[Range]:
    out = []
    for a, b, kind in kinds:
        routine = ROUTINE_FOR_KIND[kind]
        out.append(Range(
            id=0, user_id=user.id, record_id=0,
            start=rec.start + round(a * TICKS_PER_SECOND), end=rec.start + round(b * TICKS_PER_SECOND),
            name=TRAINING_ROUTINES[routine]["name"], kind=kind, trainingroutine=routine,
            created=datetime.min.replace(tzinfo=timezone.utc),
        ))
    return out


def _schedule_sync(rec: Record, rng: random.Random, late_rate: float) -> None:
    end = datetime.fromtimestamp(rec.end / TICKS_PER_SECOND, tz=timezone.utc)
    if rng.random() < late_rate:  # synced days later
        rec.synced_at = end + timedelta(days=rng.uniform(1.5, 4.0))
        if rng.random() < 0.5:  # and first seen with only its first part
            rec.partial_end = rec.start + (rec.end - rec.start) // 2
            rec.partial_synced_at = end - (end - datetime.fromtimestamp(
                rec.start / TICKS_PER_SECOND, tz=timezone.utc)) / 2 + timedelta(minutes=20)
    else:
        rec.synced_at = end + timedelta(minutes=rng.uniform(5, 90))

