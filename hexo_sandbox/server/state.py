"""The running sandbox's state: the study, credentials, faults, what was imported, and bounded caches.

Everything a request may need and that costs more than a dictionary lookup is computed lazily and cached
here: per-record signal generators (an LRU of a few, they hold whole-record series), window statistics
(small, kept), GPS tracks (an LRU) and track distances (kept). This is what keeps a 50 x 30 study within
a few hundred MB: only metadata and small results stay, signals never do.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from hexo_pipeline.hexoskin.timestamps import TICKS_PER_SECOND, day_bounds_ticks

from ..world import planning as planning_mod
from ..world.physiology import RecordSignals
from ..world.study import Range, Record, Study, StudyConfig, Track, build_study, derive_seed, secret
from ..world.tracks import TrackPoints, generated_track, home
from ..world.truth import Sums, day_row, window_sums
from .auth import AuthServer
from .faults import FaultConfig, FaultInjector
from .permissions import visible_user_ids

SIGNALS_CACHE = 8  # RecordSignals of a 15 h record hold ~20 MB once its vitals and events are computed
TRACKS_CACHE = 64


@dataclass
class Credentials:
    client_id: str
    client_secret: str
    api_keys: list[tuple[str, str, int]]  # (public, private, owner user id)
    redirect_uris: list[str] = field(default_factory=list)


@dataclass
class ImportJob:
    id: int
    user_id: int
    content_type: str
    created: datetime
    parsed: Any  # activity_readers.ParsedActivity, or None when the file could not be read
    error: str | None
    progress: float = 0.0
    results: dict | None = None


class ImportedSignals:
    """The signal source of an imported record: the file's 1 Hz channels (raw units), nothing else.

    Sample k sits at record start + (k+1) s, like every 1 Hz channel. Gaps of up to 10 s are interpolated
    (a FIT file has samples only at GPS fixes); longer gaps stay 0, the vendor's "no value".
    """

    def __init__(self, channels: dict[int, np.ndarray]):
        self.channels = channels
        self.n = next(iter(channels.values())).size if channels else 0

    def datatype_ids(self) -> tuple[int, ...]:
        return tuple(self.channels)

    def n_samples(self, datatype_id: int) -> int:
        return self.n

    def sync_raw(self, datatype_id: int, start: int, stop: int) -> np.ndarray:
        return self.channels[datatype_id][max(0, start) : max(0, stop)].astype(np.int64)

    def events_raw(self, datatype_id: int, t0_s: float, t1_s: float):
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)


@dataclass
class SandboxState:
    study: Study
    auth: AuthServer
    credentials: Credentials
    faults: FaultInjector
    fault_config: FaultConfig = field(default_factory=FaultConfig)
    imports: dict[int, ImportJob] = field(default_factory=dict)
    imported_signals: dict[int, ImportedSignals] = field(default_factory=dict)  # by record id
    imported_tracks: dict[int, TrackPoints] = field(default_factory=dict)  # by track id
    _signals: OrderedDict = field(default_factory=OrderedDict)
    _tracks: OrderedDict = field(default_factory=OrderedDict)
    _sums: dict = field(default_factory=dict)
    _distances: dict = field(default_factory=dict)
    _truth_days: dict = field(default_factory=dict)
    _next: dict = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    # -- ids for objects created through the API ------------------------------------------------------

    def next_id(self, kind: str, existing) -> int:
        with self.lock:
            value = max(self._next.get(kind, 0), max(existing, default=0) + 1)
            self._next[kind] = value + 1
            return value

    # -- signals and statistics -------------------------------------------------------------------------

    def signals(self, rec: Record):
        """The record's signal source (the full record even when only part of it is visible)."""
        if rec.import_id is not None:
            return self.imported_signals[rec.id]
        with self.lock:
            sig = self._signals.get(rec.id)
            if sig is not None:
                self._signals.move_to_end(rec.id)
                return sig
        sig = RecordSignals(self.study.records[rec.id].spec(self.study.config.seed))
        with self.lock:
            self._signals[rec.id] = sig
            while len(self._signals) > SIGNALS_CACHE:
                self._signals.popitem(last=False)
        return sig

    def sums(self, rec: Record, t0: int, t1: int, activity: bool = False) -> Sums:
        """Window statistics over [t0, t1) ticks of a record (clipped to it), cached."""
        key = (rec.id, t0, t1, activity)
        with self.lock:
            hit = self._sums.get(key)
        if hit is not None:
            return replace(hit)
        full = self.study.records[rec.id]
        sums = window_sums(
            self.signals(full),
            full.segments,
            full.duration_s,
            (t0 - full.start) / TICKS_PER_SECOND,
            (t1 - full.start) / TICKS_PER_SECOND,
            activity=activity,
        )
        with self.lock:
            self._sums[key] = sums
        return replace(sums)

    # -- tracks -------------------------------------------------------------------------------------------

    def track_points(self, track: Track) -> TrackPoints:
        if track.import_id is not None:
            return self.imported_tracks[track.id]
        with self.lock:
            hit = self._tracks.get(track.id)
            if hit is not None:
                self._tracks.move_to_end(track.id)
                return hit
        rec = self.study.records[track.record_id]
        sig = self.signals(rec)
        # Phones report GPS on whole seconds: the first point is at the first whole second of the range,
        # and point i takes the cadence sample at or just after it (1 Hz sample k is at start + (k+1) s).
        first = -(-track.start // TICKS_PER_SECOND) * TICKS_PER_SECOND
        k0 = max(0, -(-(first - rec.start) // TICKS_PER_SECOND) - 1)
        n = int((track.end - first) // TICKS_PER_SECOND)
        cadence = sig.sync_raw(53, k0, k0 + n).astype(np.float64)
        user = self.study.users[track.user_id]
        points = generated_track(
            derive_seed(self.study.config.seed, "route", track.id),
            track.kind,
            first,
            first + n * TICKS_PER_SECOND,
            home(user.subject_index or 0),
            cadence,
        )
        with self.lock:
            self._tracks[track.id] = points
            while len(self._tracks) > TRACKS_CACHE:
                self._tracks.popitem(last=False)
        return points

    def track_distance(self, track: Track) -> float:
        with self.lock:
            hit = self._distances.get(track.id)
        if hit is None:
            hit = self.track_points(track).distance
            with self.lock:
                self._distances[track.id] = hit
        return hit

    # -- what a viewer sees now ---------------------------------------------------------------------------

    def visible_records(self, viewer: int) -> list[Record]:
        ids = visible_user_ids(self.study, viewer)
        out = []
        for rec in list(self.study.records.values()):
            if rec.user_id in ids:
                seen = self.study.visible_record(rec)
                if seen is not None:
                    out.append(seen)
        return out

    def visible_ranges(self, viewer: int) -> list[tuple[Range, Record | None]]:
        """(range, its record as visible now) pairs; the record is None for an import without biometrics."""
        recs = {r.id: r for r in self.visible_records(viewer)}
        ids = visible_user_ids(self.study, viewer)
        now = self.study.now()
        out = []
        for rg in list(self.study.ranges.values()):
            if rg.user_id not in ids:
                continue
            if rg.record_id is None:
                if rg.created <= now:
                    out.append((rg, None))
            elif rg.record_id in recs and rg.end <= recs[rg.record_id].end:
                out.append((rg, recs[rg.record_id]))
        return out

    # -- calendar -----------------------------------------------------------------------------------------

    def calendar(self, user_id: int, until: date | None = None, eventual: bool = False) -> list[dict]:
        """The subject's calendar events with done flags (seed: Calendar). `eventual` ignores the clock
        (what will be done once everything synced: the ground truth's view)."""
        study = self.study
        member = study.memberships.get(user_id)
        if member is None:
            return []
        events = planning_mod.calendar_events(study.planning, member.onboarding, study.end_date, until=until)
        now = datetime.max.replace(tzinfo=UTC) if eventual else study.now()
        ranges = [
            rg
            for rg in list(study.ranges.values())
            if rg.user_id == user_id and rg.rank == 0 and self._range_known(rg) <= now
        ]
        responses = [r for r in list(study.survey_responses.values()) if r.user_id == user_id and r.created <= now]
        used: set[str] = set()
        out = []
        for ev in events:
            done_by = self._fulfilment(ev, ranges, responses, used)
            out.append(
                {
                    "id": user_id * 10_000_000 + ev.item_index * 100_000 + (ev.date - date(2000, 1, 1)).days,
                    "user": user_id,
                    "date": ev.date,
                    "done": done_by is not None,
                    "done_by": done_by,
                    "name": ev.name,
                    "event": ev,
                }
            )
        return out

    def _range_known(self, rg: Range) -> datetime:
        return self.study.range_known_at(rg)

    def _fulfilment(self, ev, ranges: list[Range], responses, used: set[str]) -> str | None:
        uri = ev.resource_uri or ""
        kind, _, rest = uri.strip("/").partition("/")[2].partition("/")
        target = int(rest.strip("/")) if rest.strip("/").isdigit() else None
        if kind == "survey":
            for resp in responses:
                ref = f"/api/surveyresponse/{resp.id}/"
                if resp.survey_id == target and resp.date == ev.date and ref not in used:
                    used.add(ref)
                    return ref
            return None
        if kind not in ("trainingroutine", "activitytype"):
            return None  # e.g. /api/activity/4/ in the seed's examples: nothing the sandbox can match
        tz = self.study.tz
        for rg in sorted(ranges, key=lambda r: r.start):
            ref = f"/api/range/{rg.id}/"
            if ref in used or (rg.trainingroutine if kind == "trainingroutine" else rg.activitytype) != target:
                continue
            local = datetime.fromtimestamp(rg.start / TICKS_PER_SECOND, tz=UTC).astimezone(tz)
            if local.date() != ev.date:
                continue
            if ev.start_time and local.time() < ev.start_time:
                continue
            if ev.end_time and local.time() > ev.end_time:
                continue
            used.add(ref)
            return ref
        return None

    # -- ground truth -----------------------------------------------------------------------------------

    def truth_day(self, user_id: int, day: date) -> dict:
        key = (user_id, day)
        with self.lock:
            hit = self._truth_days.get(key)
        if hit is not None:
            return hit
        study = self.study
        t0, t1 = day_bounds_ticks(day, study.tz)
        sums = Sums()
        for rec in list(study.records.values()):
            if rec.user_id == user_id and rec.start < t1 and rec.end > t0:
                sums.merge(self.sums(rec, max(t0, rec.start), min(t1, rec.end)))
        events = [e for e in self.calendar(user_id, eventual=True) if e["date"] == day]
        response = next(
            (r.answers for r in list(study.survey_responses.values()) if r.user_id == user_id and r.date == day), None
        )
        row = day_row(study.users[user_id], day, sums, len(events), sum(e["done"] for e in events), response)
        with self.lock:
            self._truth_days[key] = row
        return row

    # -- what `sandbox serve` prints ----------------------------------------------------------------------

    def info(self, base_url: str) -> dict:
        study = self.study
        return {
            "base_url": base_url,
            "oauth2": {
                "client_id": self.credentials.client_id,
                "client_secret": self.credentials.client_secret,
                "token_url": f"{base_url}/api/connect/oauth2/token/",
                "authorize_url": f"{base_url}/api/connect/oauth2/auth/",
            },
            "accounts": [
                {"username": u.username, "password": u.password, "role": u.role, "user_id": u.id}
                for u in study.users.values()
            ],
            "api_keys": [{"public": p, "private": s, "user_id": uid} for p, s, uid in self.credentials.api_keys],
            "study": {
                "id": study.id,
                "uuid": study.uuid,
                "timezone": study.config.timezone,
                "start": study.config.start.isoformat(),
                "days": study.config.days,
                "end": study.end_date.isoformat(),
            },
            "truth_url": f"{base_url}/sandbox/truth/",
            "clock_url": f"{base_url}/sandbox/clock",
        }


def build_state(config: StudyConfig, faults: FaultConfig | None = None) -> SandboxState:
    faults = faults or FaultConfig()
    if faults.late_data_rate > 0:
        config = replace(config, late_sync_rate=faults.late_data_rate)
    study = build_study(config)
    owner = study.users[study.owner_id]
    creds = Credentials(
        client_id=f"sandbox-client-{config.seed}",
        client_secret=secret(config.seed, "client-secret"),
        api_keys=[(f"sandbox-key-{config.seed}", secret(config.seed, "api-private"), owner.id)],
    )
    auth = AuthServer(
        users={u.username: (u.id, u.password) for u in study.users.values()},
        clients={creds.client_id: creds.client_secret},
        api_keys={p: (s, uid) for p, s, uid in creds.api_keys},
        token_lifetime_s=faults.token_lifetime_s,
        early_expiry_s=faults.early_expiry_s,
    )
    return SandboxState(
        study=study, auth=auth, credentials=creds, faults=FaultInjector(faults, config.seed), fault_config=faults
    )
