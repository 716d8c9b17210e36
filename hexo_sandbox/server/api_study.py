"""The study side (seed doc, "Studies"): study (with its planning), studygroup, studymember (group
history), calendar (events from the planning, with done flags), survey and surveyresponse.

Visibility: the study's owner and admins see everything of the study; a subject sees the study, its
groups, the survey, and its own membership, calendar and responses. Coaches and other users see none of
it (a coach's access is to its athletes' biometric data, not to the study).
"""

from __future__ import annotations

from typing import Any

from ..world import planning as planning_mod
from ..world.catalog import SURVEYS, Survey
from ..world.study import GroupAssignment, SurveyResponse
from . import resource_defs as R
from .api import Ctx, Provider, as_date, editable, iso, require_object, uri, uri_id
from .permissions import manages_study, study_role
from .tastypie import ApiError


def _in_study(ctx: Ctx) -> bool:
    return study_role(ctx.study, ctx.user_id) is not None


def _subjects_seen(ctx: Ctx) -> list[int]:
    """Study subjects whose study data the viewer sees."""
    if manages_study(ctx.study, ctx.user_id):
        return sorted(ctx.study.memberships)
    return [ctx.user_id] if ctx.user_id in ctx.study.memberships else []


def validate_planning(ctx: Ctx, planning: Any) -> list:
    """400 for an invalid planning, including the seed's 5-year limit on a planning's total duration."""
    try:
        planning_mod.parse_planning(planning)
        for member in ctx.study.memberships.values():  # a repeat_count that needs > 5 years shows here
            planning_mod.calendar_events(planning, member.onboarding, ctx.study.end_date)
    except planning_mod.PlanningError as exc:
        raise ApiError(400, f"Invalid planning: {exc}") from None
    return [dict(item) for item in planning]


class StudyProvider(Provider):
    definition = R.STUDY

    def rows(self, ctx, query):
        s = ctx.study
        if not _in_study(ctx):
            return []
        return [{"id": s.id, "uuid": s.uuid, "owner": s.owner_id, "_obj": s}]

    def serialize(self, ctx, row, extra):
        s = row["_obj"]
        return {
            "admins": [uri("user", a) for a in s.admin_ids],
            "created": iso(s.created),
            "description": "A synthetic Hexoskin study served by the hexo-pipeline sandbox.",
            "end_date": s.end_date.isoformat(),
            "groups": [uri("studygroup", g) for g in sorted(s.groups)],
            "id": s.id,
            "last_modified": iso(s.last_modified),
            "name": f"Sandbox study {s.uuid}",
            "owner": uri("user", s.owner_id),
            "planning": s.planning,
            "resource_uri": uri("study", s.id),
            "start_date": s.start_date.isoformat(),
            "timezone": s.config.timezone,
            "uuid": s.uuid,
        }

    def update(self, ctx, row, body, partial):
        if not manages_study(ctx.study, ctx.user_id):
            raise ApiError(403, "Only the study's owner and admins edit the study.")
        values = editable(body, ("planning", "name", "description"), "study")
        if "planning" in values:
            ctx.study.planning = validate_planning(ctx, values["planning"])
        ctx.study.last_modified = ctx.study.now()


class StudyGroupProvider(Provider):
    definition = R.STUDYGROUP

    def rows(self, ctx, query):
        if not _in_study(ctx):
            return []
        return [
            {"id": g.id, "name": g.name, "study": ctx.study.id, "_obj": g}
            for g in sorted(ctx.study.groups.values(), key=lambda g: g.id)
        ]

    def serialize(self, ctx, row, extra):
        g = row["_obj"]
        return {
            "description": g.description,
            "id": g.id,
            "name": g.name,
            "resource_uri": uri("studygroup", g.id),
            "study": uri("study", ctx.study.id),
        }


class StudyMemberProvider(Provider):
    """A subject's membership: onboarding date (start_date), current group and the group history.
    A reassignment is recorded at `assigned_at` and applies from `since`, which may be earlier (the seed:
    a group may be assigned after onboarding and even after the study ended)."""

    definition = R.STUDYMEMBER

    def rows(self, ctx, query):
        now = ctx.study.now()
        rows = []
        for uid in _subjects_seen(ctx):
            m = ctx.study.memberships[uid]
            known = [a for a in m.assignments if a.assigned_at <= now]
            rows.append(
                {
                    "id": m.id,
                    "user": uid,
                    "study": ctx.study.id,
                    "start_date": m.onboarding,
                    "group": known[-1].group_id if known else None,
                    "last_modified": max((a.assigned_at for a in known), default=ctx.study.created),
                    "_obj": (m, known),
                }
            )
        return rows

    def serialize(self, ctx, row, extra):
        m, known = row["_obj"]
        return {
            "end_date": m.end_date.isoformat(),
            "group": uri("studygroup", row["group"]),
            "group_history": [
                {
                    "group": uri("studygroup", a.group_id),
                    "since": a.since.isoformat(),
                    "assigned_at": iso(a.assigned_at),
                }
                for a in known
            ],
            "id": m.id,
            "last_modified": iso(row["last_modified"]),
            "resource_uri": uri("studymember", m.id),
            "start_date": m.onboarding.isoformat(),
            "study": uri("study", ctx.study.id),
            "subject_id": m.subject_id,
            "user": uri("user", m.user_id),
        }

    def update(self, ctx, row, body, partial):
        """PATCH {"group": "/api/studygroup/2/", "since": "YYYY-MM-DD"} records a (re)assignment now."""
        if not manages_study(ctx.study, ctx.user_id):
            raise ApiError(403, "Only the study's owner and admins assign groups.")
        values = editable(body, ("group", "since", "end_date"), "studymember")
        m, _ = row["_obj"]
        if "group" in values:
            group = uri_id(values["group"], "studygroup")
            if group not in ctx.study.groups:
                raise ApiError(400, f"Unknown group {values['group']!r}.")
            since = as_date(values["since"], "since") if "since" in values else m.onboarding
            m.assignments.append(GroupAssignment(group, since, ctx.study.now()))
        if "end_date" in values:
            m.end_date = as_date(values["end_date"], "end_date")


class CalendarProvider(Provider):
    """Events from the study's planning and each subject's onboarding date (seed: Calendar), one object
    per event: {"name", "done", "event_schedule": {"date", "resource_uri", "start_time", "end_time"}},
    plus id, user, study, date and done_by. `end=YYYY-MM-DD` keeps the events before that date."""

    definition = R.CALENDAR

    def rows(self, ctx, query):
        users = _subjects_seen(ctx)
        for name, _op, values in query.filters:  # narrow before computing calendars
            if name == "user":
                users = [u for u in users if u in set(values)]
        end = query.extra.get("end")
        until = as_date(end[:10], "end") if end else None
        rows = []
        for uid in users:
            for ev in ctx.state.calendar(uid, until=until):
                rows.append(
                    {
                        "id": ev["id"],
                        "user": uid,
                        "study": ctx.study.id,
                        "date": ev["date"],
                        "done": ev["done"],
                        "_obj": ev,
                    }
                )
        return rows

    def serialize(self, ctx, row, extra):
        ev = row["_obj"]
        e = ev["event"]
        schedule = {"date": e.date.isoformat(), "resource_uri": e.resource_uri}
        if e.start_time:
            schedule["start_time"] = e.start_time.strftime("%H:%M")
        if e.end_time:
            schedule["end_time"] = e.end_time.strftime("%H:%M")
        return {
            "date": e.date.isoformat(),
            "done": ev["done"],
            "done_by": ev["done_by"],
            "event_schedule": schedule,
            "id": ev["id"],
            "name": e.name,
            "study": uri("study", ctx.study.id),
            "user": uri("user", row["user"]),
        }


class SurveyProvider(Provider):
    definition = R.SURVEY

    def rows(self, ctx, query):
        if not _in_study(ctx):
            return []
        return [{"id": s.id, "study": ctx.study.id, "_obj": s} for s in SURVEYS.values()]

    def serialize(self, ctx, row, extra):
        s: Survey = row["_obj"]
        return {
            "description": s.description,
            "id": s.id,
            "name": s.name,
            "questions": [q.json() for q in s.questions],
            "resource_uri": uri("survey", s.id),
            "study": uri("study", ctx.study.id),
        }


class SurveyResponseProvider(Provider):
    """A subject's answers to a survey for one study day. POST {"survey": "/api/survey/1/",
    "answers": {...}, "date": "YYYY-MM-DD"} (date defaults to the subject's local day by the clock)."""

    definition = R.SURVEYRESPONSE

    def rows(self, ctx, query):
        seen, now = set(_subjects_seen(ctx)), ctx.study.now()
        return [
            {"id": r.id, "user": r.user_id, "survey": r.survey_id, "date": r.date, "created": r.created, "_obj": r}
            for r in sorted(ctx.study.survey_responses.values(), key=lambda r: r.id)
            if r.user_id in seen and r.created <= now
        ]

    def serialize(self, ctx, row, extra):
        r: SurveyResponse = row["_obj"]
        return {
            "answers": r.answers,
            "created": iso(r.created),
            "date": r.date.isoformat(),
            "id": r.id,
            "resource_uri": uri("surveyresponse", r.id),
            "survey": uri("survey", r.survey_id),
            "user": uri("user", r.user_id),
        }

    def create(self, ctx, body):
        body = require_object(body)
        study = ctx.study
        user_id = uri_id(body.get("user", ctx.user_id), "user")
        if user_id not in study.memberships:
            raise ApiError(400, "Survey responses are for the study's subjects.")
        if user_id != ctx.user_id and not manages_study(study, ctx.user_id):
            raise ApiError(403, "A subject answers its own surveys.")
        survey = SURVEYS.get(uri_id(body.get("survey"), "survey"))
        if survey is None:
            raise ApiError(400, "Give an existing survey.")
        answers = _validated(survey, body.get("answers"))
        now = study.now()
        day = as_date(body["date"], "date") if "date" in body else now.astimezone(study.tz).date()
        rid = ctx.state.next_id("surveyresponse", study.survey_responses)
        study.survey_responses[rid] = SurveyResponse(rid, survey.id, user_id, day, now, answers)
        return self.find(ctx, str(rid))


def _validated(survey: Survey, answers: Any) -> dict:
    if not isinstance(answers, dict):
        raise ApiError(400, "answers must be an object: question key -> answer.")
    keys = {q.key: q for q in survey.questions}
    unknown = sorted(set(answers) - set(keys))
    if unknown:
        raise ApiError(400, f"Unknown question(s): {unknown}.")
    out = {}
    for q in survey.questions:
        value = answers.get(q.key)
        if value is None:
            if q.required:
                raise ApiError(400, f"Question {q.key!r} is required.")
            continue
        if q.type == "scale" and (
            not isinstance(value, int) or isinstance(value, bool) or not q.low <= value <= q.high
        ):
            raise ApiError(400, f"{q.key!r} must be an integer from {q.low} to {q.high}.")
        if q.type == "choice" and value not in q.choices:
            raise ApiError(400, f"{q.key!r} must be one of {list(q.choices)}.")
        if q.type == "text" and not isinstance(value, str):
            raise ApiError(400, f"{q.key!r} must be text.")
        out[q.key] = value
    return out


PROVIDERS: tuple[Provider, ...] = (
    StudyProvider(),
    StudyGroupProvider(),
    StudyMemberProvider(),
    CalendarProvider(),
    SurveyProvider(),
    SurveyResponseProvider(),
)
