"""The study side of the API as lake tables: study, groups, memberships with group history, and per
subject-day calendar events, survey responses, annotations, GPS tracks and trackpoints."""

from __future__ import annotations

import json
from datetime import date, datetime

import pyarrow as pa

from ..hexoskin import HexoskinClient
from ..hexoskin.fields import parse_iso as _iso
from ..hexoskin.fields import related_id as _id
from ..hexoskin.timestamps import from_ticks
from ..lake.contract import (
    ANNOTATIONS_SCHEMA,
    CALENDAR_SCHEMA,
    GROUP_HISTORY_SCHEMA,
    GROUPS_SCHEMA,
    MEMBERS_SCHEMA,
    STUDY_SCHEMA,
    SURVEY_RESPONSES_SCHEMA,
    TRACKS_SCHEMA,
)
from ..lake.contract import GPS_TRACKPOINTS_SCHEMA as TRACKPOINTS_SCHEMA
from .subject_day import DayWindow, Subject


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value[:10]) if value else None


def study_tables(api: HexoskinClient, received: datetime, uuid: str | None) -> dict[str, pa.Table]:
    """Study-level tables. With a uuid, only that study; else every study the account sees."""
    studies = [s for s in api.iter_list("study") if uuid is None or s.get("uuid") == uuid]
    ids = {int(s["id"]) for s in studies}
    study_rows = [
        {
            "study_id": int(s["id"]),
            "uuid": s.get("uuid"),
            "name": s.get("name"),
            "start_date": _date(s.get("start_date")),
            "end_date": _date(s.get("end_date")),
            "timezone": s.get("timezone"),
            "owner_id": _id(s.get("owner")),
            "planning_json": json.dumps(s.get("planning"), sort_keys=True),
            "last_modified": _iso(s.get("last_modified")),
            "received_at": received,
        }
        for s in studies
    ]
    groups = [
        {
            "group_id": int(g["id"]),
            "study_id": _id(g.get("study")),
            "name": g.get("name"),
            "description": g.get("description"),
            "received_at": received,
        }
        for g in api.iter_list("studygroup")
        if _id(g.get("study")) in ids
    ]
    members, history = [], []
    for m in api.iter_list("studymember"):
        if _id(m.get("study")) not in ids:
            continue
        user_id = _id(m.get("user"))
        members.append(
            {
                "member_id": int(m["id"]),
                "study_id": _id(m.get("study")),
                "user_id": user_id,
                "subject_id": m.get("subject_id"),
                "onboarding_date": _date(m.get("start_date")),
                "end_date": _date(m.get("end_date")),
                "group_id": _id(m.get("group")),
                "last_modified": _iso(m.get("last_modified")),
                "received_at": received,
            }
        )
        for i, a in enumerate(m.get("group_history") or []):
            history.append(
                {
                    "user_id": user_id,
                    "group_id": _id(a.get("group")),
                    "since": _date(a.get("since")),
                    "assigned_at": _iso(a.get("assigned_at")),
                    "assignment_index": i,
                    "received_at": received,
                }
            )
    return {
        "study": pa.Table.from_pylist(study_rows, schema=STUDY_SCHEMA),
        "study_groups": pa.Table.from_pylist(groups, schema=GROUPS_SCHEMA),
        "study_members": pa.Table.from_pylist(members, schema=MEMBERS_SCHEMA),
        "study_group_history": pa.Table.from_pylist(history, schema=GROUP_HISTORY_SCHEMA),
    }


def subject_day_tables(
    api: HexoskinClient, subject: Subject, window: DayWindow, received: datetime
) -> dict[str, pa.Table]:
    """Calendar events and survey responses dated on the day; annotations, tracks and trackpoints
    whose time falls in it."""
    day = window.day.isoformat()
    calendar = [
        {
            "event_id": int(e["id"]),
            "user_id": _id(e.get("user")),
            "date": _date(e.get("date")),
            "name": e.get("name"),
            "done": bool(e.get("done")),
            "done_by": _str(e.get("done_by")),
            "resource_uri": (e.get("event_schedule") or {}).get("resource_uri"),
            "start_time": (e.get("event_schedule") or {}).get("start_time"),
            "end_time": (e.get("event_schedule") or {}).get("end_time"),
            "received_at": received,
        }
        for e in api.iter_list("calendar", user=subject.user_id, date=day)
    ]
    responses = [
        {
            "response_id": int(r["id"]),
            "user_id": _id(r.get("user")),
            "survey_id": _id(r.get("survey")),
            "date": _date(r.get("date")),
            "created_at": _iso(r.get("created")),
            "answers_json": json.dumps(r.get("answers"), sort_keys=True),
            "received_at": received,
        }
        for r in api.iter_list("surveyresponse", user=subject.user_id, date=day)
    ]
    annotations = [
        {
            "annotation_id": int(a["id"]),
            "user_id": _id(a.get("user")),
            "record_id": _id(a.get("record")),
            "datatype_id": _id(a.get("datatype")),
            "start_ticks": int(a["start"]),
            "start_at": from_ticks(a["start"]),
            "annotation": a.get("annotation"),
            "last_modified": _iso(a.get("last_modified")),
            "received_at": received,
        }
        for a in api.iter_list("annotation", user=subject.user_id, start__gte=window.start, start__lt=window.end)
    ]
    points = [
        {
            "trackpoint_id": int(p["id"]),
            "track_id": _id(p.get("track")),
            "range_id": _id(p.get("range")),
            "user_id": _id(p.get("user")),
            "ts": from_ticks(p["timestamp"]),
            "latitude_deg": (p.get("position") or [None, None])[1],
            "longitude_deg": (p.get("position") or [None, None])[0],
            "altitude_m": p.get("altitude"),
            "speed_mps": p.get("speed"),
            "course_deg": p.get("course"),
            "horizontal_accuracy_m": p.get("horizontal_accuracy"),
            "vertical_accuracy_m": p.get("vertical_accuracy"),
            "received_at": received,
        }
        for p in api.iter_list(
            "trackpoint", user=subject.user_id, timestamp__gte=window.start, timestamp__lt=window.end
        )
        if p.get("timestamp") is not None
    ]
    track_ids = sorted({p["track_id"] for p in points if p["track_id"] is not None})
    tracks = [
        {
            "track_id": int(t["id"]),
            "user_id": _id(t.get("user")),
            "range_id": _id(t.get("range")),
            "distance_m": t.get("distance"),
            "start_at": _iso(t.get("start_date")),
            "end_at": _iso(t.get("end_date")),
            "received_at": received,
        }
        for t in (api.iter_list("track", id__in=track_ids) if track_ids else [])
    ]
    return {
        "calendar_events": pa.Table.from_pylist(calendar, schema=CALENDAR_SCHEMA),
        "survey_responses": pa.Table.from_pylist(responses, schema=SURVEY_RESPONSES_SCHEMA),
        "annotations": pa.Table.from_pylist(annotations, schema=ANNOTATIONS_SCHEMA),
        "tracks": pa.Table.from_pylist(tracks, schema=TRACKS_SCHEMA),
        "trackpoints": pa.Table.from_pylist(points, schema=TRACKPOINTS_SCHEMA),
    }


def _str(value) -> str | None:
    return None if value is None else str(value)


def datatypes_table() -> pa.Table:
    """The typed datatype catalog (units, rates, raw->physical conversions) as the lake's `datatypes`."""
    from ..hexoskin import datatypes as catalog
    from ..lake.contract import DATATYPES_SCHEMA

    rows = [
        {
            "datatype_id": d.id,
            "name": d.name,
            "unit": d.unit,
            "rate_hz": d.rate_hz,
            "synchronous": d.synchronous,
            "family": d.family.value,
            "scale": d.scale,
            "offset": d.offset,
            "signed": d.signed,
            "quality_datatype_id": d.quality_id,
            "info": d.info,
        }
        for d in catalog.DATATYPES
    ]
    return pa.Table.from_pylist(rows, schema=DATATYPES_SCHEMA)
