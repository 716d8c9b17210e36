"""The study side of the API as lake tables: study, groups, memberships with group history, and per
subject-day calendar events, survey responses, annotations, GPS tracks and trackpoints."""

from __future__ import annotations

import json
from datetime import date, datetime

import pyarrow as pa

from ..hexoskin import HexoskinClient
from ..hexoskin.timestamps import from_ticks
from .subject_day import TS, DayWindow, Subject, _id, _iso

STUDY_SCHEMA = pa.schema([
    ("study_id", pa.int64()), ("uuid", pa.string()), ("name", pa.string()), ("start_date", pa.date32()),
    ("end_date", pa.date32()), ("timezone", pa.string()), ("owner_id", pa.int64()), ("planning_json", pa.string()),
    ("last_modified", TS), ("received_at", TS),
])
GROUPS_SCHEMA = pa.schema([
    ("group_id", pa.int64()), ("study_id", pa.int64()), ("name", pa.string()), ("description", pa.string()),
    ("received_at", TS),
])
MEMBERS_SCHEMA = pa.schema([
    ("member_id", pa.int64()), ("study_id", pa.int64()), ("user_id", pa.int64()), ("subject_id", pa.string()),
    ("onboarding_date", pa.date32()), ("end_date", pa.date32()), ("group_id", pa.int64()),
    ("last_modified", TS), ("received_at", TS),
])
GROUP_HISTORY_SCHEMA = pa.schema([
    ("user_id", pa.int64()), ("group_id", pa.int64()), ("since", pa.date32()), ("assigned_at", TS),
    ("assignment_index", pa.int32()), ("received_at", TS),
])
CALENDAR_SCHEMA = pa.schema([
    ("event_id", pa.int64()), ("user_id", pa.int64()), ("date", pa.date32()), ("name", pa.string()),
    ("done", pa.bool_()), ("done_by", pa.string()), ("resource_uri", pa.string()), ("start_time", pa.string()),
    ("end_time", pa.string()), ("received_at", TS),
])
SURVEY_RESPONSES_SCHEMA = pa.schema([
    ("response_id", pa.int64()), ("user_id", pa.int64()), ("survey_id", pa.int64()), ("date", pa.date32()),
    ("created_at", TS), ("answers_json", pa.string()), ("received_at", TS),
])
ANNOTATIONS_SCHEMA = pa.schema([
    ("annotation_id", pa.int64()), ("user_id", pa.int64()), ("record_id", pa.int64()), ("datatype_id", pa.int64()),
    ("start_ticks", pa.int64()), ("start_at", TS), ("annotation", pa.string()), ("last_modified", TS),
    ("received_at", TS),
])
TRACKS_SCHEMA = pa.schema([
    ("track_id", pa.int64()), ("user_id", pa.int64()), ("range_id", pa.int64()), ("distance_m", pa.float64()),
    ("start_at", TS), ("end_at", TS), ("received_at", TS),
])
TRACKPOINTS_SCHEMA = pa.schema([
    ("trackpoint_id", pa.int64()), ("track_id", pa.int64()), ("range_id", pa.int64()), ("user_id", pa.int64()),
    ("ts", TS), ("latitude_deg", pa.float64()), ("longitude_deg", pa.float64()), ("altitude_m", pa.float64()),
    ("speed_mps", pa.float64()), ("course_deg", pa.float64()), ("horizontal_accuracy_m", pa.float64()),
    ("vertical_accuracy_m", pa.float64()), ("received_at", TS),
])


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value[:10]) if value else None


def study_tables(api: HexoskinClient, received: datetime, uuid: str | None) -> dict[str, pa.Table]:
    """Study-level tables. With a uuid, only that study; else every study the account sees."""
    studies = [s for s in api.iter_list("study") if uuid is None or s.get("uuid") == uuid]
    ids = {int(s["id"]) for s in studies}
    study_rows = [{
        "study_id": int(s["id"]), "uuid": s.get("uuid"), "name": s.get("name"),
        "start_date": _date(s.get("start_date")), "end_date": _date(s.get("end_date")),
        "timezone": s.get("timezone"), "owner_id": _id(s.get("owner")),
        "planning_json": json.dumps(s.get("planning"), sort_keys=True), "last_modified": _iso(s.get("last_modified")),
        "received_at": received,
    } for s in studies]
    groups = [{"group_id": int(g["id"]), "study_id": _id(g.get("study")), "name": g.get("name"),
               "description": g.get("description"), "received_at": received}
              for g in api.iter_list("studygroup") if _id(g.get("study")) in ids]
    members, history = [], []
    for m in api.iter_list("studymember"):
        if _id(m.get("study")) not in ids:
            continue
        user_id = _id(m.get("user"))
        members.append({
            "member_id": int(m["id"]), "study_id": _id(m.get("study")), "user_id": user_id,
            "subject_id": m.get("subject_id"), "onboarding_date": _date(m.get("start_date")),
            "end_date": _date(m.get("end_date")), "group_id": _id(m.get("group")),
            "last_modified": _iso(m.get("last_modified")), "received_at": received,
        })
        for i, a in enumerate(m.get("group_history") or []):
            history.append({"user_id": user_id, "group_id": _id(a.get("group")), "since": _date(a.get("since")),
                            "assigned_at": _iso(a.get("assigned_at")), "assignment_index": i,
                            "received_at": received})
    return {
        "study": pa.Table.from_pylist(study_rows, schema=STUDY_SCHEMA),
        "study_groups": pa.Table.from_pylist(groups, schema=GROUPS_SCHEMA),
        "study_members": pa.Table.from_pylist(members, schema=MEMBERS_SCHEMA),
        "study_group_history": pa.Table.from_pylist(history, schema=GROUP_HISTORY_SCHEMA),
    }


def subject_day_tables(api: HexoskinClient, subject: Subject, window: DayWindow,
                       received: datetime) -> dict[str, pa.Table]:
    """Calendar events and survey responses dated on the day; annotations, tracks and trackpoints
    whose time falls in it."""
    day = window.day.isoformat()
    calendar = [{
        "event_id": int(e["id"]), "user_id": _id(e.get("user")), "date": _date(e.get("date")),
        "name": e.get("name"), "done": bool(e.get("done")), "done_by": _str(e.get("done_by")),
        "resource_uri": (e.get("event_schedule") or {}).get("resource_uri"),
        "start_time": (e.get("event_schedule") or {}).get("start_time"),
        "end_time": (e.get("event_schedule") or {}).get("end_time"), "received_at": received,
    } for e in api.iter_list("calendar", user=subject.user_id, date=day)]
    responses = [{
        "response_id": int(r["id"]), "user_id": _id(r.get("user")), "survey_id": _id(r.get("survey")),
        "date": _date(r.get("date")), "created_at": _iso(r.get("created")),
        "answers_json": json.dumps(r.get("answers"), sort_keys=True), "received_at": received,
    } for r in api.iter_list("surveyresponse", user=subject.user_id, date=day)]
    annotations = [{
        "annotation_id": int(a["id"]), "user_id": _id(a.get("user")), "record_id": _id(a.get("record")),
        "datatype_id": _id(a.get("datatype")), "start_ticks": int(a["start"]), "start_at": from_ticks(a["start"]),
        "annotation": a.get("annotation"), "last_modified": _iso(a.get("last_modified")), "received_at": received,
    } for a in api.iter_list("annotation", user=subject.user_id, start__gte=window.start, start__lt=window.end)]
    points = [{
        "trackpoint_id": int(p["id"]), "track_id": _id(p.get("track")), "range_id": _id(p.get("range")),
        "user_id": _id(p.get("user")), "ts": from_ticks(p["timestamp"]),
        "latitude_deg": (p.get("position") or [None, None])[1], "longitude_deg": (p.get("position") or [None, None])[0],
        "altitude_m": p.get("altitude"), "speed_mps": p.get("speed"), "course_deg": p.get("course"),
        "horizontal_accuracy_m": p.get("horizontal_accuracy"), "vertical_accuracy_m": p.get("vertical_accuracy"),
        "received_at": received,
    } for p in api.iter_list("trackpoint", user=subject.user_id, timestamp__gte=window.start,
                             timestamp__lt=window.end) if p.get("timestamp") is not None]
    track_ids = sorted({p["track_id"] for p in points if p["track_id"] is not None})
    tracks = [{
        "track_id": int(t["id"]), "user_id": _id(t.get("user")), "range_id": _id(t.get("range")),
        "distance_m": t.get("distance"), "start_at": _iso(t.get("start_date")), "end_at": _iso(t.get("end_date")),
        "received_at": received,
    } for t in (api.iter_list("track", id__in=track_ids) if track_ids else [])]
    return {
        "calendar_events": pa.Table.from_pylist(calendar, schema=CALENDAR_SCHEMA),
        "survey_responses": pa.Table.from_pylist(responses, schema=SURVEY_RESPONSES_SCHEMA),
        "annotations": pa.Table.from_pylist(annotations, schema=ANNOTATIONS_SCHEMA),
        "tracks": pa.Table.from_pylist(tracks, schema=TRACKS_SCHEMA),
        "trackpoints": pa.Table.from_pylist(points, schema=TRACKPOINTS_SCHEMA),
    }


def _str(value) -> str | None:
    return None if value is None else str(value)
