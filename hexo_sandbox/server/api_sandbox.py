"""Sandbox-only endpoints, outside /api/: ground truth and the clock.

- GET /sandbox/truth/subject-days?user=<id or username>&date=YYYY-MM-DD (both optional; date=all or
  start=/end= dates for a span): per subject and local day (the study's time zone) what the generator
  knows; see truth.py for the definitions.
- GET /sandbox/truth/records?user=&record=: the same statistics per record, over the whole record.
- GET /sandbox/clock, POST /sandbox/clock {"now": ISO datetime or null}: read or fix the sandbox clock
  (null returns to the wall clock).

No authentication is needed from loopback; from anywhere else the study owner or an admin must
authenticate (any of the API's schemes). The truth ignores the clock: it describes the data as it is
once everything has synced.
"""

from __future__ import annotations

from datetime import date

from flask import Flask, request

from ..world.truth import json_number, profile_of
from .api import iso, json_body, json_response, start_date
from .permissions import manages_study
from .state import SandboxState
from .tastypie import ApiError, parse_datetime

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def register(app: Flask, state: SandboxState, authenticate) -> None:
    study = state.study

    def guard() -> None:
        if request.remote_addr in LOOPBACK:
            return
        who = authenticate()
        if not manages_study(study, who.user_id):
            raise ApiError(403, "The sandbox endpoints are for the study owner and admins off loopback.")

    def subject_ids() -> list[int]:
        raw = request.args.get("user")
        ids = sorted(study.memberships)
        if raw is None:
            return ids
        by_name = {study.users[i].username: i for i in ids}
        uid = int(raw) if raw.isdigit() else by_name.get(raw)
        if uid not in study.memberships:
            raise ApiError(404, f"No subject {raw!r}.")
        return [uid]

    def days(uid: int) -> list[date]:
        member = study.memberships[uid]
        first, last = member.onboarding, member.end_date
        raw = request.args.get("date")
        if raw and raw != "all":
            one = _date(raw)
            return [one] if first <= one <= last else []
        lo = _date(request.args["start"]) if "start" in request.args else first
        hi = _date(request.args["end"]) if "end" in request.args else last
        return [date.fromordinal(o) for o in range(max(lo, first).toordinal(), min(hi, last).toordinal() + 1)]

    @app.get("/sandbox/truth/")
    def truth_index():
        guard()
        return json_response({"subject-days": "/sandbox/truth/subject-days", "records": "/sandbox/truth/records"})

    @app.get("/sandbox/truth/subject-days")
    def truth_subject_days():
        guard()
        return json_response([state.truth_day(uid, day) for uid in subject_ids() for day in days(uid)])

    @app.get("/sandbox/truth/records")
    def truth_records():
        guard()
        users = set(subject_ids())
        wanted = request.args.get("record")
        out = []
        for rec in sorted(study.records.values(), key=lambda r: r.id):
            if rec.user_id not in users or (wanted and str(rec.id) != wanted):
                continue
            user = study.users[rec.user_id]
            stats = state.sums(rec, rec.start, rec.end).finish(profile_of(user, study.start_date.year))
            out.append(
                {
                    "record_id": rec.id,
                    "user_id": rec.user_id,
                    "username": user.username,
                    "start": rec.start,
                    "end": rec.end,
                    "start_date": start_date(rec.start),
                    "local_date": study.local_date(rec.start).isoformat(),
                    "synced_at": iso(rec.synced_at),
                    "partial_end": rec.partial_end,
                    "partial_synced_at": iso(rec.partial_synced_at),
                    **{k: json_number(v) for k, v in stats.items() if k != "activity_mean_g"},
                }
            )
        return json_response(out)

    @app.route("/sandbox/clock", methods=["GET", "POST"])
    def clock():
        guard()
        if request.method == "POST":
            body = json_body(request)
            if not isinstance(body, dict) or "now" not in body:
                raise ApiError(400, 'Send {"now": "<ISO 8601 datetime>"} or {"now": null}.')
            study.set_now(None if body["now"] is None else parse_datetime(str(body["now"]), "now"))
        return json_response({"now": iso(study.now()), "fixed": study.clock_fixed})


def _date(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, f"Invalid date {raw!r}: use YYYY-MM-DD.") from None
