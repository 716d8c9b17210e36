"""The synthetic study the sandbox serves (deterministic per seed): people, wear, ranges and study life.

Only metadata lives here (a few thousand small rows even for 50 subjects x 30 days). Signals are
generated on demand per request window by `physiology.RecordSignals`, so a whole study's raw signals
are never held in memory.

People: the study owner, a study admin, a coach (who coaches some subjects through a bundle permission
but is not part of the study), an outsider with no relation to anyone, and the subjects, named
`<study uuid>_<subject id>` (seed doc, "Studies"). Subjects are onboarded on the study's first day, every
third one a day later; each belongs to one of two groups, and one is moved to the other group two days
after the study ended, retroactively from its onboarding (the seed allows retrospective assignment).

Wear per subject and local day (the study's time zone): a day record from waking to evening (sometimes
cut short: a partial day), some days missed entirely, an occasional short record in the evening, and a
night record that crosses midnight with a sleep range inside. A subject's records never overlap (one
device). The planned morning rest test is done most days; on Mondays, Wednesdays and Fridays an evening
rest test is planned too (catalog.DEFAULT_PLANNING) and done on most of those days. Walks and runs are
segments of the day record and ranges of their own; runs have one rank-1 lap range per 10 minutes; walks
and runs have a GPS track. Records sync after a delay: usually minutes, sometimes days (late data), and
sometimes a late record is first visible with only its first half.

Study life: a daily survey answered on most evenings (answers follow the previous night's sleep), a few
annotations, and the activity attributes a subject types in after a walk or a run.

The sandbox clock (`Study.now`) decides what the server knows: records, ranges, annotations, survey
responses and group changes appear once their time has passed. It is the wall clock unless
`StudyConfig.now` or `Study.set_now` fixes it.
"""

from __future__ import annotations

import hashlib
import math
import random
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hexo_pipeline.hexoskin.timestamps import TICKS_PER_SECOND, to_ticks

from .catalog import DEFAULT_PLANNING, EVENING_REST_WEEKDAYS, ROUTINE_FOR_KIND, SURVEY_WINDOW_H, TRAINING_ROUTINES
from .physiology import RecordSpec, Segment

LAP_S = 600  # runs are split into rank-1 laps of 10 minutes (the last one takes the remainder)
ANNOTATION_DATATYPE = 4096  # the datatype of the seed's annotation example
ANNOTATION_TEXTS = ("coffee", "felt dizzy", "took the stairs", "lunch", "stressful meeting", "nap")


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
    # Caps every record at this many minutes: the same days, records, ranges and study life with a fraction of
    # the signal volume (tests of the machinery around the data, e.g. the distributed one); None = full days.
    max_record_minutes: float | None = None


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
    import_id: int | None = None  # set for records created by /api/import/

    @property
    def duration_s(self) -> float:
        return (self.end - self.start) / TICKS_PER_SECOND

    def spec(self, study_seed: int) -> RecordSpec:
        return RecordSpec(
            record_id=self.id,
            seed=derive_seed(study_seed, "record", self.id),
            start_ticks=self.start,
            duration_s=self.duration_s,
            astroskin=self.astroskin,
            segments=self.segments,
        )


@dataclass
class Range:
    id: int
    user_id: int
    record_id: int | None
    start: int
    end: int
    name: str
    kind: str  # segment kind: sleep, rest, walk, run (or the sport of an import)
    trainingroutine: int
    created: datetime  # when the server first knew it (its part of the record synced)
    rank: int = 0
    parent_id: int | None = None
    note: str = ""
    last_modified: datetime | None = None  # None: same as created
    import_id: int | None = None

    @property
    def activitytype(self) -> int:
        return TRAINING_ROUTINES[self.trainingroutine].activitytype


@dataclass
class Track:
    id: int
    user_id: int
    range_id: int
    record_id: int | None
    kind: str  # walk | run (the gait of the route)
    start: int
    end: int
    import_id: int | None = None


@dataclass
class User:
    id: int
    username: str
    password: str
    role: str  # owner | admin | coach | user | subject
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


@dataclass(frozen=True)
class Group:
    id: int
    name: str
    description: str


@dataclass(frozen=True)
class GroupAssignment:
    group_id: int
    since: date  # the assignment applies from this date (retrospective when before assigned_at)
    assigned_at: datetime  # when it was recorded on the server


@dataclass
class Membership:
    id: int
    user_id: int
    subject_id: str  # the part of the username after "<uuid>_"
    onboarding: date
    end_date: date
    assignments: list[GroupAssignment]


@dataclass
class Annotation:
    id: int
    user_id: int
    record_id: int | None
    start: int
    text: str
    created: datetime
    datatype: int = ANNOTATION_DATATYPE
    last_modified: datetime | None = None


@dataclass
class SurveyResponse:
    id: int
    survey_id: int
    user_id: int
    date: date  # the study day the answers are about
    created: datetime
    answers: dict


@dataclass
class AttributeValue:
    id: int
    attribute_id: int
    range_id: int
    user_id: int
    start: int
    value: float
    created: datetime
    note: str = ""


@dataclass
class BundlePermission:
    id: int
    bundle_id: int
    user_allowed: int  # who may see
    user_target: int  # whose data


@dataclass
class Study:
    config: StudyConfig
    uuid: str
    id: int = 1
    owner_id: int = 1
    admin_ids: tuple[int, ...] = ()
    users: dict[int, User] = field(default_factory=dict)
    records: dict[int, Record] = field(default_factory=dict)
    ranges: dict[int, Range] = field(default_factory=dict)
    tracks: dict[int, Track] = field(default_factory=dict)
    groups: dict[int, Group] = field(default_factory=dict)
    memberships: dict[int, Membership] = field(default_factory=dict)  # by user id
    annotations: dict[int, Annotation] = field(default_factory=dict)
    survey_responses: dict[int, SurveyResponse] = field(default_factory=dict)
    attribute_values: dict[int, AttributeValue] = field(default_factory=dict)
    bundle_permissions: dict[int, BundlePermission] = field(default_factory=dict)
    planning: list = field(default_factory=lambda: [dict(item) for item in DEFAULT_PLANNING])
    created: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    last_modified: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    _now: datetime | None = None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.config.timezone)

    @property
    def start_date(self) -> date:
        return self.config.start

    @property
    def end_date(self) -> date:
        """The study's last day (inclusive)."""
        return self.config.start + timedelta(days=max(self.config.days, 1) - 1)

    def now(self) -> datetime:
        """The sandbox clock: fixed by set_now / StudyConfig.now, else the wall clock."""
        return self._now or self.config.now or datetime.now(UTC)

    @property
    def clock_fixed(self) -> bool:
        return self._now is not None or self.config.now is not None

    def set_now(self, now: datetime | None) -> None:
        if now is not None and now.tzinfo is None:
            raise ValueError("the sandbox clock needs a timezone-aware datetime")
        self._now = now

    def subjects(self) -> list[User]:
        return [u for u in self.users.values() if u.role == "subject"]

    def local_date(self, ticks: int) -> date:
        return datetime.fromtimestamp(ticks / TICKS_PER_SECOND, tz=UTC).astimezone(self.tz).date()

    def visible_record(self, rec: Record) -> Record | None:
        """The record as the server knows it now: absent before sync, truncated while partially synced."""
        now = self.now()
        if rec.synced_at <= now:
            return rec
        if rec.partial_synced_at is not None and rec.partial_synced_at <= now:
            return replace(rec, end=rec.partial_end)
        return None

    def record_status(self, rec: Record) -> str:
        """'complete' once fully synced, 'syncing' while only its first part is on the server."""
        return "complete" if rec.synced_at <= self.now() else "syncing"

    def range_known_at(self, rg: Range) -> datetime:
        """When the server first knew a range: when the part of its record holding it synced."""
        rec = self.records.get(rg.record_id) if rg.record_id is not None else None
        if rec is None or rg.import_id is not None or rg.kind == "manual":  # created through the API
            return rg.created
        if rec.partial_end is not None and rec.partial_synced_at is not None and rg.end <= rec.partial_end:
            return rec.partial_synced_at
        return rec.synced_at

    def group_of(self, user_id: int, now: datetime | None = None) -> int | None:
        """The subject's group as recorded by `now` (the latest assignment recorded so far)."""
        member = self.memberships.get(user_id)
        if member is None:
            return None
        now = now or self.now()
        known = [a for a in member.assignments if a.assigned_at <= now]
        return known[-1].group_id if known else None


def derive_seed(*parts: object) -> int:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def secret(*parts: object) -> str:
    """Deterministic per seed: same seed, same credentials."""
    return hashlib.sha256(":".join(map(str, ("sandbox",) + parts)).encode()).hexdigest()[:20]


def _local_ticks(day: date, hours: float, tz: ZoneInfo) -> int:
    base = datetime.combine(day, time.min, tzinfo=tz)
    # Wall-clock hours from local midnight (fold handling is irrelevant at these hours).
    return to_ticks(base + timedelta(hours=hours))


def _local_hours(ticks: int, day: date, tz: ZoneInfo) -> float:
    base = datetime.combine(day, time.min, tzinfo=tz)
    return (ticks / TICKS_PER_SECOND - base.timestamp()) / 3600.0


def _at(day: date, hours: float, tz: ZoneInfo) -> datetime:
    return (datetime.combine(day, time.min, tzinfo=tz) + timedelta(hours=hours)).astimezone(UTC)


# -- the study ------------------------------------------------------------------------------------


def build_study(config: StudyConfig) -> Study:
    rng = random.Random(derive_seed(config.seed, "study"))
    study_uuid = str(uuid.UUID(int=rng.getrandbits(128), version=4))[:8]
    study = Study(config=config, uuid=study_uuid, admin_ids=(2,))
    tz = study.tz
    study.created = study.last_modified = _at(config.start - timedelta(days=14), 10.0, tz)
    _staff(study)
    study.groups = {1: Group(1, "Control", "Usual routine"), 2: Group(2, "Intervention", "Daily rest tests")}

    ids = _Ids()
    n = config.subjects
    for s in range(n):
        user = _subject(study, s)
        onboarding = config.start + timedelta(days=1 if (s % 3 == 2 and config.days >= 3) else 0)
        group = 1 + s % 2
        assignments = [GroupAssignment(group, onboarding, _at(onboarding, 8.0, tz))]
        if s == min(1, n - 1):  # moved to the other group after the study ended, retroactively
            assignments.append(
                GroupAssignment(3 - group, onboarding, _at(study.end_date + timedelta(days=2), 10.0, tz))
            )
        study.memberships[user.id] = Membership(
            ids.next("member", 1), user.id, user.username.split("_", 1)[1], onboarding, study.end_date, assignments
        )
        if s < math.ceil(n / 2):
            pid = ids.next("permission", 1)
            study.bundle_permissions[pid] = BundlePermission(pid, 1, 3, user.id)
        _subject_days(study, user, onboarding, ids)
    return study


class _Ids:
    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def next(self, kind: str, first: int) -> int:
        value = self._next.get(kind, first)
        self._next[kind] = value + 1
        return value


def _staff(study: Study) -> None:
    seed, uid, tz = study.config.seed, study.uuid, study.config.timezone
    people = (
        (1, "owner", "Study", "Owner", f"owner.{uid}@sandbox.hexo"),
        (2, "admin", "Study", "Admin", f"admin.{uid}@sandbox.hexo"),
        (3, "coach", "Team", "Coach", f"coach.{uid}@sandbox.hexo"),
        (4, "user", "Some", "Outsider", f"outsider.{uid}@sandbox.hexo"),
    )
    for user_id, role, first, last, email in people:
        password = secret(seed, "owner-pw") if role == "owner" else secret(seed, f"{role}-pw")
        study.users[user_id] = User(
            id=user_id,
            username=email,
            password=password,
            role=role,
            first_name=first,
            last_name=last,
            email=email,
            timezone=tz,
            profile_id=user_id,
        )


def _subject(study: Study, s: int) -> User:
    config = study.config
    srng = random.Random(derive_seed(config.seed, "subject", s))
    astroskin = config.astroskin_every > 0 and s % config.astroskin_every == config.astroskin_every - 1
    uid = 101 + s
    user = User(
        id=uid,
        username=f"{study.uuid}_sub{s + 1:03d}",
        password=secret(config.seed, "pw", s),
        role="subject",
        first_name="Subject",
        last_name=f"{s + 1:03d}",
        email=f"{study.uuid}_sub{s + 1:03d}@sandbox.hexo",
        timezone=config.timezone,
        profile_id=uid,
        gender=srng.choice("FM"),
        date_of_birth=f"{srng.randint(1960, 2002)}-0{srng.randint(1, 9)}-15",
        height_m=round(srng.uniform(1.55, 1.92), 2),
        weight_kg=round(srng.uniform(50, 95), 1),
        device=("ASTRO" if astroskin else "HXSKIN") + f"{1200002000 + s:010d}",
        astroskin=astroskin,
        subject_index=s,
    )
    study.users[uid] = user
    return user


def _subject_days(study: Study, user: User, onboarding: date, ids: _Ids) -> None:
    config, tz = study.config, study.tz
    s = user.subject_index
    prev_end: int | None = None  # a subject's records never overlap (one device)
    last_sleep_h: float | None = None
    day = onboarding
    while day <= study.end_date:
        d = (day - config.start).days
        drng = random.Random(derive_seed(config.seed, "day", s, d))
        plan = _day_plan(config.seed, s, d, day)
        records, ranges = _subject_day(
            user, day, day == study.end_date, drng, tz, prev_end, plan, config.max_record_minutes
        )
        for rec, rec_ranges in zip(records, ranges):
            rec.id = ids.next("record", 1000)
            _schedule_sync(rec, random.Random(derive_seed(config.seed, "sync", rec.id)), config.late_sync_rate)
            study.records[rec.id] = rec
            prev_end = rec.end
            for rg in rec_ranges:
                _add_range(study, rg, rec, ids)
        _study_life(study, user, day, records, [rg for rr in ranges for rg in rr], last_sleep_h, ids)
        night = [rg for rec_ranges in ranges for rg in rec_ranges if rg.kind == "sleep"]
        last_sleep_h = (night[0].end - night[0].start) / TICKS_PER_SECOND / 3600 if night else None
        day += timedelta(days=1)


def _add_range(study: Study, rg: Range, rec: Record, ids: _Ids) -> None:
    rg.id, rg.record_id = ids.next("range", 50000), rec.id
    study.ranges[rg.id] = rg
    rg.created = study.range_known_at(rg)
    if rg.kind in ("walk", "run"):
        tid = ids.next("track", 1)
        study.tracks[tid] = Track(tid, rg.user_id, rg.id, rec.id, rg.kind, rg.start, rg.end)
    if rg.kind == "run":  # laps: rank-1 ranges under the run (seed: laps are ranges of rank 1)
        bounds = list(range(rg.start, rg.end, LAP_S * TICKS_PER_SECOND)) + [rg.end]
        if len(bounds) > 2 and bounds[-1] - bounds[-2] < 60 * TICKS_PER_SECOND:
            del bounds[-2]
        for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
            lap = Range(
                id=ids.next("range", 50000),
                user_id=rg.user_id,
                record_id=rec.id,
                start=a,
                end=b,
                name=f"Lap {k + 1}",
                kind="run",
                trainingroutine=rg.trainingroutine,
                created=rg.created,
                rank=1,
                parent_id=rg.id,
            )
            study.ranges[lap.id] = lap


@dataclass(frozen=True)
class _DayPlan:
    """What the subject will do of the planning that day (drawn apart so wear draws stay stable)."""

    morning_rest: bool
    evening_rest: bool


def _day_plan(seed: int, s: int, d: int, day: date) -> _DayPlan:
    rng = random.Random(derive_seed(seed, "plan", s, d))
    morning = rng.random() < 0.85
    evening = day.weekday() in EVENING_REST_WEEKDAYS and rng.random() < 0.7
    return _DayPlan(morning, evening)


def _subject_day(
    user: User,
    day: date,
    last_day: bool,
    rng: random.Random,
    tz: ZoneInfo,
    prev_end: int | None,
    plan: _DayPlan,
    max_record_minutes: float | None = None,
) -> tuple[list[Record], list[list[Range]]]:
    cap_h = math.inf if max_record_minutes is None else max_record_minutes / 60
    records: list[Record] = []
    ranges: list[list[Range]] = []
    if rng.random() < 0.08:  # a missed day: the shirt stayed in the drawer
        return records, ranges

    wake = 7.0 + rng.gauss(0, 0.5)
    start_h = wake + 0.05
    if prev_end is not None:  # last night's record must be over
        start_h = max(start_h, _local_hours(prev_end, day, tz) + 0.05)
    partial = rng.random() < 0.2
    end_h = start_h + (rng.uniform(2.0, 6.0) if partial else rng.uniform(13.0, 15.0))
    end_h = min(end_h, 22.2)
    segments, kinds = _day_segments(start_h, end_h, rng, plan)
    if end_h - start_h > cap_h:  # planned in full (the same draws follow), worn for cap_h only
        cut_s = cap_h * 3600
        segments = tuple(Segment(g.start_s, min(g.end_s, cut_s), g.kind) for g in segments if g.start_s < cut_s)
        kinds = [(a, b, k) for a, b, k in kinds if b <= cut_s]
    rec = _record(user, day, start_h, end_h, segments, tz)
    records.append(rec)
    ranges.append(_ranges_for(user, rec, kinds))
    last_end_h = end_h

    if rng.random() < 0.2:  # a short record: shirt on for a few minutes in the evening
        s_h = 22.25 + rng.uniform(0, 0.1)
        dur = min(rng.uniform(3, 9) / 60, cap_h)
        seg = (Segment(0.0, round(dur * 3600), "light"),)
        records.append(_record(user, day, s_h, s_h + dur, seg, tz))
        ranges.append([])
        last_end_h = s_h + dur

    if not last_day and rng.random() < 0.85:  # the night record crosses midnight
        bed = max(22.6 + rng.gauss(0, 0.3), last_end_h + 0.05)
        length = min(rng.uniform(6.8, 8.4), cap_h)
        total_s = round(length * 3600)
        edge_s = min(600.0, total_s / 4)  # awake before and after the sleep
        sleep_s0, sleep_s1 = edge_s, total_s - edge_s
        seg = (
            Segment(0.0, sleep_s0, "sedentary"),
            Segment(sleep_s0, sleep_s1, "sleep"),
            Segment(sleep_s1, float(total_s), "light"),
        )
        night = _record(user, day, bed, bed + length, seg, tz)
        records.append(night)
        ranges.append(_ranges_for(user, night, [(sleep_s0, sleep_s1, "sleep")]))
    return records, ranges


def _day_segments(start_h: float, end_h: float, rng: random.Random, plan: _DayPlan):
    """Segments (seconds from record start) and the activity ranges among them."""
    total = round((end_h - start_h) * 3600)
    segs: list[tuple[float, float, str]] = []
    t = 0.0

    def add(length: float, kind: str) -> None:
        nonlocal t
        length = min(length, total - t)
        if length > 0:
            segs.append((t, t + length, kind))
            t += length

    add(rng.uniform(300, 900), "light")
    add(300, "rest" if plan.morning_rest else "light")  # the planned morning rest test
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
    if plan.evening_rest:  # planned between 18:00 and 21:00, done at about 19:00 if still wearing the shirt
        a = (19.0 - start_h) * 3600 + 600 * (rng.random() - 0.5)
        if 0 < a and a + 300 <= total:
            segs = _carve(segs, a, a + 300, "rest")
    segments = tuple(Segment(round(a, 3), round(b, 3), k) for a, b, k in segs)
    activities = [(a, b, k) for a, b, k in segs if k in ("rest", "walk", "run") and b - a >= 240]
    return segments, activities


def _carve(segs: list[tuple[float, float, str]], a: float, b: float, kind: str) -> list[tuple[float, float, str]]:
    """Put [a, b) of `kind` over the plan, trimming what it overlaps; pieces under 4 min become light."""
    out: list[tuple[float, float, str]] = []
    for s0, s1, k in segs:
        for p0, p1 in ((s0, min(s1, a)), (max(s0, b), s1)):
            if p1 > p0:
                out.append((p0, p1, k if p1 - p0 >= 240 or k not in ("walk", "run") else "light"))
    out.append((a, b, kind))
    return sorted(out)


def _record(user: User, day: date, start_h: float, end_h: float, segments, tz: ZoneInfo) -> Record:
    # Record starts are not aligned to whole seconds (real records keep sub-second ticks).
    start = _local_ticks(day, start_h, tz) + 37
    duration_s = round(segments[-1].end_s)
    return Record(
        id=0,
        user_id=user.id,
        start=start,
        end=start + duration_s * TICKS_PER_SECOND,
        device=user.device or "",
        astroskin=user.astroskin,
        segments=tuple(segments),
        synced_at=datetime.min.replace(tzinfo=UTC),
    )


def _ranges_for(user: User, rec: Record, kinds) -> list[Range]:
    out = []
    for a, b, kind in kinds:
        routine = ROUTINE_FOR_KIND[kind]
        out.append(
            Range(
                id=0,
                user_id=user.id,
                record_id=0,
                start=rec.start + round(a * TICKS_PER_SECOND),
                end=rec.start + round(b * TICKS_PER_SECOND),
                name=TRAINING_ROUTINES[routine].name,
                kind=kind,
                trainingroutine=routine,
                created=datetime.min.replace(tzinfo=UTC),
            )
        )
    return out


def _schedule_sync(rec: Record, rng: random.Random, late_rate: float) -> None:
    end = datetime.fromtimestamp(rec.end / TICKS_PER_SECOND, tz=UTC)
    if rng.random() < late_rate:  # synced days later
        rec.synced_at = end + timedelta(days=rng.uniform(1.5, 4.0))
        if rng.random() < 0.5:  # and first seen with only its first half (the record grows)
            rec.partial_end = rec.start + (rec.end - rec.start) // 2
            start = datetime.fromtimestamp(rec.start / TICKS_PER_SECOND, tz=UTC)
            rec.partial_synced_at = end - (end - start) / 2 + timedelta(minutes=20)
    else:
        rec.synced_at = end + timedelta(minutes=rng.uniform(5, 90))


# -- study life: surveys, annotations, activity attributes ----------------------------------------


def _study_life(
    study: Study,
    user: User,
    day: date,
    records: list[Record],
    ranges: list[Range],
    last_sleep_h: float | None,
    ids: _Ids,
) -> None:
    config, tz = study.config, study.tz
    worn = bool(records)
    rng = random.Random(derive_seed(config.seed, "life", user.id, day.toordinal()))
    if rng.random() < (0.88 if worn else 0.55):
        lo, hi = SURVEY_WINDOW_H
        at = _at(day, lo + 0.5 + rng.random() * (hi - lo - 0.75), tz)
        rid = ids.next("response", 1)
        study.survey_responses[rid] = SurveyResponse(rid, 1, user.id, day, at, _answers(rng, last_sleep_h))
    if records and rng.random() < 0.45:
        rec = records[0]
        start = rec.start + int(rng.uniform(0.1, 0.9) * (rec.end - rec.start))
        created = datetime.fromtimestamp(start / TICKS_PER_SECOND, tz=UTC) + timedelta(minutes=2)
        aid = ids.next("annotation", 61000)
        study.annotations[aid] = Annotation(aid, user.id, rec.id, start, rng.choice(ANNOTATION_TEXTS), created)
    for rg in (r for r in ranges if r.kind in ("walk", "run")):
        rec = study.records[rg.record_id]
        duration_h = (rg.end - rg.start) / TICKS_PER_SECOND / 3600
        speed_kmh = 5.0 if rg.kind == "walk" else 10.5  # the subject's own guess, typed in the app
        typed_at = rec.synced_at + timedelta(minutes=rng.uniform(5, 120))
        for attribute, value in ((1, round(duration_h * speed_kmh * 2) / 2), (2, float(rng.randint(2, 8)))):
            if attribute == 2 and rg.kind == "walk":
                continue
            vid = ids.next("attribute_value", 1)
            study.attribute_values[vid] = AttributeValue(vid, attribute, rg.id, user.id, rg.start, value, typed_at)


def _answers(rng: random.Random, sleep_h: float | None) -> dict:
    hours = sleep_h if sleep_h is not None else rng.uniform(5.5, 8.0)
    quality = int(min(5, max(1, round(1 + (hours - 5.0) * 1.2 + rng.gauss(0, 0.6)))))
    fatigue = int(min(10, max(1, round(4 + (7.0 - hours) * 1.2 + rng.gauss(0, 1.2)))))
    symptom = "none" if rng.random() < 0.85 else rng.choice(("headache", "cough", "fever", "muscle pain"))
    comment = "" if rng.random() < 0.9 else rng.choice(("long day", "slept badly", "felt great", "busy at work"))
    return {"sleep_quality": quality, "fatigue": fatigue, "symptoms": symptom, "comment": comment}
