"""The study side over HTTP: study and planning, calendar (every planning example of the seed, dates
worked out by hand), done flags, surveys and responses, groups and the retrospective reassignment."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

SEED = "seeds/000_9f2e8f7b15eefc47.txt"


def account(handle, role: str, n: int = 0) -> tuple[str, str]:
    acc = [a for a in handle.info["accounts"] if a["role"] == role][n]
    return acc["username"], acc["password"]


def get(handle, path: str, auth=None, **params):
    r = requests.get(handle.base_url + path, params=params, auth=auth or account(handle, "owner"), timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def patch(handle, path: str, body, auth=None):
    return requests.patch(handle.base_url + path, json=body, auth=auth or account(handle, "owner"), timeout=30)


def calendar_dates(handle, user_id: int = 101, **params) -> list[str]:
    objects = get(handle, "/api/calendar/", user=user_id, limit=0, **params)["objects"]
    return [o["event_schedule"]["date"] for o in objects]


def with_planning(make_sandbox, planning: list, start: str, days: int):
    """A one-subject study onboarded on `start`, ending `days` later, with this planning."""
    sb = make_sandbox(subjects=1, days=days, start=start)
    r = patch(sb, "/api/study/1/", {"planning": planning})
    assert r.status_code == 202, r.text
    assert get(sb, "/api/study/1/")["planning"] == planning
    member = get(sb, "/api/studymember/")["objects"][0]
    assert member["start_date"] == start
    return sb


def item(name: str = "Example", **schedule) -> dict:
    return {"name": name, "event_schedule": schedule}


# -- every planning example of the seed, over HTTP ----------------------------------------------------


def test_seed_example_1_p1m_on_the_1st_and_15th(make_sandbox):
    planning = [
        {
            "name": "Example 1",
            "description": "A description here",
            "event_schedule": {
                "resource_uri": "/api/activity/4/",
                "start_time": "09:00",
                "end_time": "10:00",
                "repeat_frequency": "P1M",
                "byMonthDay": [1, 15],
            },
        }
    ]
    sb = with_planning(make_sandbox, planning, "2021-03-10", days=113)  # study ends 2021-06-30
    objects = get(sb, "/api/calendar/", user=101, limit=0)["objects"]
    # periods Mar 10-Apr 9, Apr 10-May 9, May 10-Jun 9, Jun 10-Jun 30 (the study end)
    assert [o["event_schedule"]["date"] for o in objects] == [
        "2021-03-15",
        "2021-04-01",
        "2021-04-15",
        "2021-05-01",
        "2021-05-15",
        "2021-06-01",
        "2021-06-15",
    ]
    assert objects[0]["event_schedule"] == {
        "date": "2021-03-15",
        "resource_uri": "/api/activity/4/",
        "start_time": "09:00",
        "end_time": "10:00",
    }
    assert {o["name"] for o in objects} == {"Example 1"} and not any(o["done"] for o in objects)


def test_seed_example_2_p10d_by_period_day_2_and_4(make_sandbox):
    planning = [
        item(
            start_time="09:00",
            repeat_frequency="P10D",
            resource_uri="/api/trainingroutine/4/",
            end_time="10:00",
            byPeriodDay=[2, 4],
        )
    ]
    sb = with_planning(make_sandbox, planning, "2021-03-01", days=31)  # periods start Mar 1, 11, 21, 31
    assert calendar_dates(sb) == ["2021-03-02", "2021-03-04", "2021-03-12", "2021-03-14", "2021-03-22", "2021-03-24"]


def test_seed_example_3_p7d_twice(make_sandbox):
    planning = [
        item(
            resource_uri="/api/activity/4/", repeat_frequency="P7D", repeatCount=2, start_time="09:00", end_time="10:00"
        )
    ]
    sb = with_planning(make_sandbox, planning, "2021-03-03", days=30)
    assert calendar_dates(sb) == ["2021-03-03", "2021-03-10"]


def test_seed_example_4_p2d_between_dates_once(make_sandbox):
    planning = [
        item(
            repeat_frequency="P2D",
            resource_uri="/api/activity/4/",
            end_date="2021-01-12",
            start_date="2020-12-24",
            repeatCount=1,
        )
    ]
    sb = with_planning(make_sandbox, planning, "2020-12-01", days=60)
    assert calendar_dates(sb) == ["2020-12-24"]  # repeat_count is the number of events


def test_seed_example_5_p1d_ten_times_from_an_absolute_start(make_sandbox):
    planning = [
        item(start_date="2020-12-24", repeat_frequency="P1D", repeatCount="10", start_time="09:00", end_time="10:00")
    ]
    sb = with_planning(make_sandbox, planning, "2020-12-20", days=30)
    assert calendar_dates(sb) == [
        "2020-12-24",
        "2020-12-25",
        "2020-12-26",
        "2020-12-27",
        "2020-12-28",
        "2020-12-29",
        "2020-12-30",
        "2020-12-31",
        "2021-01-01",
        "2021-01-02",
    ]


def test_seed_example_6_p2d_second_day_of_each_period(make_sandbox):
    planning = [item(start_date="2020-12-24", end_date="2021-01-24", repeat_frequency="P2D", byPeriodDay=[2])]
    sb = with_planning(make_sandbox, planning, "2020-12-01", days=60)
    assert calendar_dates(sb) == [
        "2020-12-25",
        "2020-12-27",
        "2020-12-29",
        "2020-12-31",
        "2021-01-02",
        "2021-01-04",
        "2021-01-06",
        "2021-01-08",
        "2021-01-10",
        "2021-01-12",
        "2021-01-14",
        "2021-01-16",
        "2021-01-18",
        "2021-01-20",
        "2021-01-22",
        "2021-01-24",
    ]


@pytest.mark.parametrize(
    ("onboarding", "expected"),
    [
        ("2021-03-03", ["2021-03-08", "2021-03-09"]),  # a Wednesday: the next Monday (0) and Tuesday (1)
        ("2021-03-02", ["2021-03-02", "2021-03-08"]),  # a Tuesday: that day, then the next Monday
    ],
)
def test_seed_example_7_p1w_monday_and_tuesday_twice(make_sandbox, onboarding, expected):
    planning = [item(repeat_frequency="P1W", by_week_day=[0, 1], resource_uri="/api/activity/4/", repeatCount=2)]
    sb = with_planning(make_sandbox, planning, onboarding, days=30)
    assert calendar_dates(sb) == expected


def test_seed_calendar_response_twice_a_day_rest_test_and_daily_survey(make_sandbox, shared_dir):
    text = (shared_dir / SEED).read_text(encoding="utf-8")
    seed, _ = json.JSONDecoder().raw_decode(text, text.index('{ "meta": { "total_count": 9 }'))
    rest = "Do 5 min Rest Test twice a day"  # one item yields one event a day: twice a day is two items
    planning = [
        item(rest, resource_uri="/api/activitytype/4/", repeat_frequency="P1D"),
        item(rest, resource_uri="/api/activitytype/4/", repeat_frequency="P1D"),
        item("Answer the survey every day", resource_uri="/api/survey/3/", repeat_frequency="P1D"),
    ]
    sb = with_planning(make_sandbox, planning, "2020-07-14", days=3)
    body = get(sb, "/api/calendar/", user=101, limit=0)
    assert body["meta"]["total_count"] == seed["meta"]["total_count"] == 9

    def key(o):
        return o["name"], o["done"], o["event_schedule"]["date"], o["event_schedule"]["resource_uri"]

    assert sorted(map(key, body["objects"])) == sorted(map(key, seed["objects"]))
    # the end filter: the events before a date
    assert calendar_dates(sb, end="2020-07-16") == ["2020-07-14"] * 3 + ["2020-07-15"] * 3


def test_five_year_limit_is_a_400_and_the_planning_is_kept(make_sandbox):
    sb = make_sandbox(subjects=1, days=3)
    before = get(sb, "/api/study/1/")["planning"]
    ok = patch(sb, "/api/study/1/", {"planning": [item(repeat_frequency="P1M", repeat_period=60)]})
    assert ok.status_code == 202
    for bad in ([item(repeat_frequency="P1M", repeat_period=61)], [item(repeat_frequency="P1D", repeat_count=1827)]):
        r = patch(sb, "/api/study/1/", {"planning": bad})
        assert r.status_code == 400 and "5" in r.json()["error"], r.text
    assert get(sb, "/api/study/1/")["planning"] != before
    assert patch(sb, "/api/study/1/", {"planning": [item(repeat_frequency="P1X")]}).status_code == 400
    subject = account(sb, "subject")
    assert patch(sb, "/api/study/1/", {"planning": []}, auth=subject).status_code == 403


# -- the default study's calendar: per-subject onboarding, done flags -----------------------------------


def test_calendar_follows_each_subjects_onboarding_and_the_default_planning(sandbox):
    members = {int(m["user"].split("/")[-2]): m for m in get(sandbox, "/api/studymember/", limit=0)["objects"]}
    study = get(sandbox, "/api/study/1/")
    onboard = {uid: m["start_date"] for uid, m in members.items()}
    assert len(set(onboard.values())) > 1, "subjects are onboarded on different days"
    for uid, first in onboard.items():
        dates = calendar_dates(sandbox, uid)
        assert dates[0] == first and dates[-1] == study["end_date"]
        days = (date.fromisoformat(study["end_date"]) - date.fromisoformat(first)).days + 1
        mwf = sum((date.fromisoformat(first) + timedelta(days=i)).weekday() in (0, 2, 4) for i in range(days))
        assert len(dates) == 2 * days + mwf  # morning rest test and survey daily, evening rest Mon/Wed/Fri


def test_done_flags_reflect_what_each_subject_did(sandbox):
    tz = ZoneInfo(get(sandbox, "/api/study/1/")["timezone"])
    events = get(sandbox, "/api/calendar/", limit=0)["objects"]
    ranges = get(sandbox, "/api/range/", limit=0, rank=0, trainingroutine=1012)["objects"]
    responses = get(sandbox, "/api/surveyresponse/", limit=0)["objects"]
    done_by = [e["done_by"] for e in events if e["done"]]
    assert len(done_by) == len(set(done_by)), "one range or response fulfils one event"
    for e in events:
        sched = e["event_schedule"]
        if sched["resource_uri"].startswith("/api/survey/"):
            match = [r["resource_uri"] for r in responses if r["user"] == e["user"] and r["date"] == e["date"]]
        else:
            lo, hi = sched["start_time"], sched["end_time"]
            match = [
                r["resource_uri"]
                for r in ranges
                if r["user"] == e["user"]
                and (local := datetime.fromtimestamp(r["start"] / 256, tz=UTC).astimezone(tz)).date().isoformat()
                == e["date"]
                and lo <= local.strftime("%H:%M") <= hi
            ]
        assert e["done"] == bool(match), e
        if e["done"]:
            assert e["done_by"] in match
    kinds = {(e["name"], e["done"]) for e in events}
    assert ("Morning rest test", True) in kinds and ("Daily check-in survey", True) in kinds
    assert any(not e["done"] for e in events), "some events are skipped"


def test_per_subject_per_day_calendar_fetch(sandbox):
    events = get(sandbox, "/api/calendar/", user=102, date="2026-10-06")["objects"]
    assert (
        events and {e["date"] for e in events} == {"2026-10-06"} and {e["user"] for e in events} == {"/api/user/102/"}
    )
    ranged = get(sandbox, "/api/calendar/", user=102, date__gte="2026-10-06", date__lt="2026-10-07")["objects"]
    assert ranged == events


# -- surveys and responses --------------------------------------------------------------------------------


def test_survey_and_responses_per_user_and_date(sandbox):
    survey = get(sandbox, "/api/survey/1/")
    assert [q["key"] for q in survey["questions"]] == ["sleep_quality", "fatigue", "symptoms", "comment"]
    everything = get(sandbox, "/api/surveyresponse/", limit=0)["objects"]
    one = everything[0]
    same = get(sandbox, "/api/surveyresponse/", user=one["user"].split("/")[-2], date=one["date"])["objects"]
    assert same == [one]
    assert set(one["answers"]) >= {"sleep_quality", "fatigue", "symptoms"}
    scheduled = [
        e
        for e in get(sandbox, "/api/calendar/", limit=0)["objects"]
        if e["event_schedule"]["resource_uri"] == "/api/survey/1/"
    ]
    assert 0 < len(everything) < len(scheduled), "most evenings answered, some skipped"


def test_a_subject_answers_the_survey_and_the_event_becomes_done(make_sandbox):
    sb = make_sandbox(subjects=2, days=3)
    me = account(sb, "subject", 0)
    uid = next(a["user_id"] for a in sb.info["accounts"] if a["username"] == me[0])
    open_events = [
        e
        for e in get(sb, "/api/calendar/", user=uid, limit=0)["objects"]
        if e["event_schedule"]["resource_uri"] == "/api/survey/1/" and not e["done"]
    ]
    day = open_events[0]["date"] if open_events else "2026-10-05"
    if not open_events:  # every evening answered: post for a day outside the calendar
        day = "2026-10-01"
    answers = {"sleep_quality": 3, "fatigue": 5, "symptoms": "none"}
    bad = requests.post(
        sb.base_url + "/api/surveyresponse/",
        json={"survey": "/api/survey/1/", "date": day, "answers": {**answers, "fatigue": 11}},
        auth=me,
        timeout=10,
    )
    assert bad.status_code == 400 and "fatigue" in bad.json()["error"]
    r = requests.post(
        sb.base_url + "/api/surveyresponse/",
        json={"survey": "/api/survey/1/", "date": day, "answers": answers},
        auth=me,
        timeout=10,
    )
    assert r.status_code == 201 and r.headers["Location"] == r.json()["resource_uri"]
    assert r.json()["answers"] == answers and r.json()["user"] == f"/api/user/{uid}/"
    if open_events:
        now_done = {
            e["date"]: e
            for e in get(sb, "/api/calendar/", user=uid, limit=0)["objects"]
            if e["event_schedule"]["resource_uri"] == "/api/survey/1/"
        }
        assert now_done[day]["done"] and now_done[day]["done_by"] == r.json()["resource_uri"]
    other = account(sb, "subject", 1)
    assert (
        requests.post(
            sb.base_url + "/api/surveyresponse/",
            json={"survey": 1, "user": uid, "answers": answers},
            auth=other,
            timeout=10,
        ).status_code
        == 403
    )


# -- groups, membership history, visibility -----------------------------------------------------------------


def test_a_subject_is_moved_to_another_group_after_the_study_ended(make_sandbox):
    sb = make_sandbox(subjects=4, days=3, now=datetime(2026, 10, 8, 12, tzinfo=UTC))
    groups = get(sb, "/api/studygroup/")["objects"]
    assert len(groups) >= 2
    end = get(sb, "/api/study/1/")["end_date"]
    before = {m["user"]: m for m in get(sb, "/api/studymember/", limit=0)["objects"]}
    assert all(len(m["group_history"]) == 1 for m in before.values())
    sb.set_now(datetime(2026, 10, 20, tzinfo=UTC))
    after = {m["user"]: m for m in get(sb, "/api/studymember/", limit=0)["objects"]}
    moved = [u for u, m in after.items() if len(m["group_history"]) == 2]
    assert len(moved) == 1
    m = after[moved[0]]
    first, second = m["group_history"]
    assert m["group"] == second["group"] != first["group"] == before[moved[0]]["group"]
    assert second["assigned_at"][:10] > end  # recorded after the study ended ...
    assert second["since"] == m["start_date"]  # ... and applies from onboarding: retrospective
    assert m["last_modified"] == second["assigned_at"]
    changed = get(sb, "/api/studymember/", last_modified__gt=f"{end}T23:59:59+00:00")["objects"]
    assert [c["user"] for c in changed] == moved
    # the owner can assign a group too, retroactively
    target = next(u for u in after if u not in moved)
    member_id = after[target]["id"]
    r = patch(sb, f"/api/studymember/{member_id}/", {"group": groups[1]["resource_uri"], "since": "2026-10-06"})
    assert r.status_code == 202 and r.json()["group"] == groups[1]["resource_uri"]
    assert r.json()["group_history"][-1]["since"] == "2026-10-06"


def test_study_side_visibility(sandbox):
    subject = account(sandbox, "subject", 0)
    uid = next(a["user_id"] for a in sandbox.info["accounts"] if a["username"] == subject[0])
    mine = get(sandbox, "/api/studymember/", auth=subject)["objects"]
    assert [m["user"] for m in mine] == [f"/api/user/{uid}/"]
    assert {e["user"] for e in get(sandbox, "/api/calendar/", auth=subject, limit=0)["objects"]} == {
        f"/api/user/{uid}/"
    }
    assert {r["user"] for r in get(sandbox, "/api/surveyresponse/", auth=subject, limit=0)["objects"]} <= {
        f"/api/user/{uid}/"
    }
    assert get(sandbox, "/api/study/", auth=subject)["meta"]["total_count"] == 1
    for role in ("coach", "user"):
        who = account(sandbox, role)
        for name in ("study", "studymember", "calendar", "surveyresponse", "survey", "studygroup"):
            assert get(sandbox, f"/api/{name}/", auth=who)["objects"] == [], (role, name)
        assert requests.get(sandbox.base_url + "/api/study/1/", auth=who, timeout=10).status_code == 404
    admin = account(sandbox, "admin")
    assert len(get(sandbox, "/api/studymember/", auth=admin)["objects"]) == len(
        get(sandbox, "/api/studymember/")["objects"]
    )
