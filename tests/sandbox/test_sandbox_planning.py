"""Study planning -> calendar events (hexo_sandbox.world.planning).

Every planning example of the vendor reference is a test below, with its dates worked out by hand and
written literally. The plannings are written out here too (the reference's JSON lines are not valid
JSON: curly quotes, a trailing comma, a missing comma); only its calendar example response, which is
valid JSON, is read from ../shared.
"""

from __future__ import annotations

import json
from datetime import date, time, timedelta

import pytest

from hexo_sandbox.world.planning import Event, PlanningError, calendar_events, parse_planning

SEED = "seeds/000_9f2e8f7b15eefc47.txt"


def item(name: str = "Example", **schedule) -> dict:
    return {"name": name, "event_schedule": schedule}


def dates(planning: list[dict], onboarding: date, study_end: date | None = None, **kw) -> list[str]:
    return [e.date.isoformat() for e in calendar_events(planning, onboarding, study_end, **kw)]


# --- the reference's planning examples, one by one --------------------------------------------------


def test_seed_p1m_by_month_day_1_and_15_until_study_end():
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
    events = calendar_events(planning, date(2021, 3, 10), date(2021, 6, 30))
    # periods Mar 10-Apr 9, Apr 10-May 9, May 10-Jun 9, Jun 10-(Jul 9, cut at the study end Jun 30)
    assert [e.date.isoformat() for e in events] == [
        "2021-03-15",
        "2021-04-01",
        "2021-04-15",
        "2021-05-01",
        "2021-05-15",
        "2021-06-01",
        "2021-06-15",
    ]
    assert {(e.name, e.resource_uri, e.start_time, e.end_time) for e in events} == {
        ("Example 1", "/api/activity/4/", time(9), time(10))
    }
    assert [e.occurrence_index for e in events] == list(range(7))


def test_seed_p10d_by_period_day_2_and_4():
    planning = [
        item(
            start_time="09:00",
            repeat_frequency="P10D",
            resource_uri="/api/trainingroutine/4/",
            end_time="10:00",
            byPeriodDay=[2, 4],
        )
    ]
    # periods start Mar 1, 11, 21, 31; day 1 is the period's first day; Apr 1 is past the study end
    assert dates(planning, date(2021, 3, 1), date(2021, 3, 31)) == [
        "2021-03-02",
        "2021-03-04",
        "2021-03-12",
        "2021-03-14",
        "2021-03-22",
        "2021-03-24",
    ]


def test_seed_p7d_repeat_count_2():
    planning = [
        item(
            resource_uri="/api/activity/4/", repeat_frequency="P7D", repeatCount=2, start_time="09:00", end_time="10:00"
        )
    ]
    assert dates(planning, date(2021, 3, 3)) == ["2021-03-03", "2021-03-10"]


def test_seed_p2d_between_start_and_end_date_repeat_count_1():
    planning = [
        item(
            repeat_frequency="P2D",
            resource_uri="/api/activity/4/",
            end_date="2021-01-12",
            start_date="2020-12-24",
            repeatCount=1,
        )
    ]
    # repeat_count is the total number of events (RRULE COUNT): one, even though end_date allows ten
    assert dates(planning, date(2020, 12, 1)) == ["2020-12-24"]


def test_seed_p1d_repeat_count_given_as_a_string():
    planning = [
        item(start_date="2020-12-24", repeat_frequency="P1D", repeatCount="10", start_time="09:00", end_time="10:00")
    ]
    # start_date is absolute: the subject's onboarding (here later) does not move or clip it
    assert dates(planning, date(2021, 2, 1)) == [
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


def test_seed_p2d_by_period_day_2_between_start_and_end_date():
    planning = [item(start_date="2020-12-24", end_date="2021-01-24", repeat_frequency="P2D", byPeriodDay=[2])]
    # periods Dec 24-25, 26-27, ...; day 2 of each; the end date (Jan 24, a day 2) is inclusive
    assert dates(planning, date(2020, 12, 1)) == [
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
        (date(2021, 3, 3), ["2021-03-08", "2021-03-09"]),  # a Wednesday: next Monday and Tuesday
        (date(2021, 3, 2), ["2021-03-02", "2021-03-08"]),  # a Tuesday: that day, then Monday (same period)
    ],
)
def test_seed_p1w_by_week_day_monday_tuesday_repeat_count_2(onboarding, expected):
    planning = [item(repeat_frequency="P1W", by_week_day=[0, 1], resource_uri="/api/activity/4/", repeatCount=2)]
    assert dates(planning, onboarding) == expected


def test_seed_calendar_example_twice_a_day_rest_test_and_daily_survey(shared_dir):
    """The reference's /api/calendar/ example: two rest tests and one survey a day, Jul 14-16 2020."""
    text = (shared_dir / SEED).read_text(encoding="utf-8")
    response, _ = json.JSONDecoder().raw_decode(text, text.index('{ "meta": { "total_count": 9 }'))
    expected = sorted(
        (o["name"], o["event_schedule"]["date"], o["event_schedule"]["resource_uri"]) for o in response["objects"]
    )

    # One item yields at most one event a day, so "twice a day" is two items: morning and evening.
    rest = "Do 5 min Rest Test twice a day"
    planning = [
        item(rest, resource_uri="/api/activitytype/4/", repeat_frequency="P1D", start_time="08:00", end_time="10:00"),
        item(rest, resource_uri="/api/activitytype/4/", repeat_frequency="P1D", start_time="18:00", end_time="20:00"),
        item("Answer the survey every day", resource_uri="/api/survey/3/", repeat_frequency="P1D"),
    ]
    events = calendar_events(planning, date(2020, 7, 14), date(2020, 7, 16))

    assert len(events) == response["meta"]["total_count"] == 9
    assert sorted((e.name, e.date.isoformat(), e.resource_uri) for e in events) == expected
    # ordered by date, then item order
    assert [(e.date.day, e.item_index) for e in events] == [
        (14, 0),
        (14, 1),
        (14, 2),
        (15, 0),
        (15, 1),
        (15, 2),
        (16, 0),
        (16, 1),
        (16, 2),
    ]
    assert len({e.key for e in events}) == 9


# --- the 5-year limit -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frequency", "limit", "largest_ok"),
    [
        ("P1M", "repeat_period", 60),  # the reference's example: 60 is acceptable, 61 exceeds
        ("P1Y", "repeat_period", 5),
        ("P1W", "repeat_period", 260),  # 1820 days; 261 weeks = 1827 days
        ("P1D", "repeat_count", 1826),  # 5 mean years = 1826.2 days
        ("P1M", "repeatCount", 60),
    ],
)
def test_five_year_limit(frequency, limit, largest_ok):
    parse_planning([item(repeat_frequency=frequency, **{limit: largest_ok})])
    with pytest.raises(PlanningError, match=rf"{limit}: {largest_ok + 1} x repeat_frequency .*5-year"):
        parse_planning([item(repeat_frequency=frequency, **{limit: largest_ok + 1})])


def test_sixty_months_from_the_31st_clamp_to_month_ends_without_drift():
    events = calendar_events([item(repeat_frequency="P1M", repeat_period=60)], date(2021, 1, 31), None)
    assert len(events) == 60
    assert [e.date.isoformat() for e in events[:4]] == ["2021-01-31", "2021-02-28", "2021-03-31", "2021-04-30"]
    assert events[-1].date == date(2025, 12, 31)  # 59 months after the anchor
    assert events[37].date == date(2024, 2, 29)  # leap year


def test_repeat_count_that_selectors_stretch_past_five_years_is_an_error():
    # 60 x P1M passes the static check, but only 7 months in 12 have a 31st: 60 events need ~8.6 years
    planning = [item(repeat_frequency="P1M", by_month_day=[31], repeat_count=60)]
    with pytest.raises(PlanningError, match=r"planning\[0\].*repeat_count 60.*more than 5 years"):
        calendar_events(planning, date(2021, 1, 1), None)
    # an earlier study end is a legitimate stop, not an error
    assert dates(planning, date(2021, 1, 1), date(2021, 6, 30)) == ["2021-01-31", "2021-03-31", "2021-05-31"]


def test_open_ended_item_without_study_end_stops_at_five_years():
    events = calendar_events([item(repeat_frequency="P1D")], date(2021, 1, 1), None)
    assert (events[0].date, events[-1].date, len(events)) == (date(2021, 1, 1), date(2025, 12, 31), 1826)


# --- single properties ------------------------------------------------------------------------------


def test_days_offset_counts_from_the_onboarding_date():
    assert dates([item(repeat_frequency="P1D", repeat_count=3, days_offset=5)], date(2021, 3, 1)) == [
        "2021-03-06",
        "2021-03-07",
        "2021-03-08",
    ]
    assert dates([item(repeat_frequency="P1D", repeat_count=2, days_offset=0)], date(2021, 3, 1)) == [
        "2021-03-01",
        "2021-03-02",
    ]
    # by_period_day and by_week_day count from the offset anchor, not from onboarding
    assert dates([item(repeat_frequency="P7D", byPeriodDay=[1], repeatCount=2, daysOffset="2")], date(2021, 3, 1)) == [
        "2021-03-03",
        "2021-03-10",
    ]


def test_by_week_day_zero_is_monday():
    mondays = calendar_events([item(repeat_frequency="P1W", by_week_day=[0])], date(2021, 3, 3), date(2021, 3, 31))
    assert [e.date.isoformat() for e in mondays] == ["2021-03-08", "2021-03-15", "2021-03-22", "2021-03-29"]
    assert {e.date.weekday() for e in mondays} == {0}
    sundays = dates([item(repeat_frequency="P1W", by_week_day=[6])], date(2021, 3, 1), date(2021, 3, 14))
    assert sundays == ["2021-03-07", "2021-03-14"]


def test_repeat_period_zero_or_absent_runs_until_the_study_end_inclusive():
    expected = ["2021-03-01", "2021-03-08", "2021-03-15", "2021-03-22", "2021-03-29"]
    assert dates([item(repeat_frequency="P1W", repeat_period=0)], date(2021, 3, 1), date(2021, 3, 29)) == expected
    assert dates([item(repeat_frequency="P1W")], date(2021, 3, 1), date(2021, 3, 29)) == expected


def test_repeat_period_counts_periods_not_events():
    everyday = item(repeat_frequency="P1W", by_week_day=[0, 1, 2, 3, 4, 5, 6], repeat_period=2)
    assert len(dates([everyday], date(2021, 3, 1), date(2021, 12, 31))) == 14
    # with both limits, the first one reached wins
    both = item(repeat_frequency="P1D", repeat_period=3, repeat_count=5)
    assert dates([both], date(2021, 3, 1)) == ["2021-03-01", "2021-03-02", "2021-03-03"]


def test_end_date_and_study_end_the_earlier_wins():
    planning = [item(repeat_frequency="P1D", end_date="2021-03-04")]
    assert dates(planning, date(2021, 3, 1), date(2021, 3, 31))[-1] == "2021-03-04"
    assert dates(planning, date(2021, 3, 1), date(2021, 3, 2))[-1] == "2021-03-02"


def test_until_keeps_events_strictly_before_the_date_without_renumbering():
    planning = [item("a", repeat_frequency="P1D"), item("b", repeat_frequency="P2D")]
    full = calendar_events(planning, date(2020, 7, 14), date(2020, 7, 20))
    cut = calendar_events(planning, date(2020, 7, 14), date(2020, 7, 20), until=date(2020, 7, 16))
    assert [(e.name, e.date.isoformat(), e.occurrence_index) for e in cut] == [
        ("a", "2020-07-14", 0),
        ("b", "2020-07-14", 0),
        ("a", "2020-07-15", 1),
    ]
    assert cut == [e for e in full if e.date < date(2020, 7, 16)]
    assert calendar_events(planning, date(2020, 7, 14), None, until=date(2020, 7, 14)) == []


def test_by_month_day_31_skips_months_of_30_days():
    planning = [item(repeat_frequency="P1M", by_month_day=[31])]
    assert dates(planning, date(2021, 1, 1), date(2021, 7, 31)) == [
        "2021-01-31",
        "2021-03-31",
        "2021-05-31",
        "2021-07-31",
    ]
    # the same for a period day past the end of a shorter period: April's P1M period has 30 days
    assert dates([item(repeat_frequency="P1M", by_period_day=[31])], date(2021, 4, 1), date(2021, 6, 30)) == [
        "2021-05-31"
    ]


def test_selectors_combine_as_an_intersection():
    # Mondays that are also the 1st..7th of the month: the first Monday of each month
    planning = [item(repeat_frequency="P1M", by_week_day=[0], by_month_day=[1, 2, 3, 4, 5, 6, 7])]
    assert dates(planning, date(2021, 3, 1), date(2021, 5, 31)) == ["2021-03-01", "2021-04-05", "2021-05-03"]


def test_event_key_is_item_and_date():
    events = calendar_events([item(repeat_frequency="P1D", repeat_count=2)], date(2021, 3, 1), None)
    assert [e.key for e in events] == ["0:2021-03-01", "0:2021-03-02"]
    event = events[0]
    assert isinstance(event, Event)
    with pytest.raises(AttributeError):
        event.date = date(2000, 1, 1)  # frozen


def test_underscore_and_camel_case_spellings_are_equivalent():
    snake = parse_planning([item(repeat_frequency="P1M", repeat_count=3, by_month_day=[1], days_offset=1)])
    camel = parse_planning([item(repeatFrequency="P1M", repeatCount="3", byMonthDay=[1], daysOffset=1)])
    assert snake == camel
    parse_planning([item(repeat_frequency="P1D", repeat_count=2, repeatCount=2)])  # both, agreeing


def test_no_planning_means_no_events():
    assert calendar_events(None, date(2021, 3, 1), None) == []
    assert calendar_events([], date(2021, 3, 1), None) == []


# --- invalid plannings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        ({}, r"repeat_frequency is required"),
        ({"repeat_frequency": "1D"}, r"repeat_frequency: '1D' is not an ISO 8601 duration"),
        ({"repeat_frequency": "P"}, r"repeat_frequency: 'P' is not"),
        ({"repeat_frequency": "P1.5D"}, r"repeat_frequency: 'P1.5D' is not"),
        ({"repeat_frequency": "PT12H"}, r"repeat_frequency: 'PT12H' .*time parts"),
        ({"repeat_frequency": "P0D"}, r"repeat_frequency: 'P0D' is a zero duration"),
        ({"repeat_frequency": 7}, r"repeat_frequency must be an ISO 8601 duration string"),
        ({"repeat_frequency": "P1D", "repeat_count": -1}, r"repeat_count must be a non-negative integer"),
        ({"repeat_frequency": "P1D", "repeatCount": "ten"}, r"repeatCount must be a non-negative integer"),
        ({"repeat_frequency": "P1D", "repeat_period": True}, r"repeat_period must be a non-negative integer"),
        ({"repeat_frequency": "P1D", "days_offset": 1.5}, r"days_offset must be a non-negative integer"),
        ({"repeat_frequency": "P1W", "by_week_day": [7]}, r"by_week_day: \[7\] out of range.*0 and 6"),
        ({"repeat_frequency": "P1W", "by_week_day": []}, r"by_week_day must be a non-empty list"),
        ({"repeat_frequency": "P1W", "by_week_day": 1}, r"by_week_day must be a non-empty list"),
        ({"repeat_frequency": "P1M", "byMonthDay": [0, 15]}, r"byMonthDay: \[0\] out of range.*1 and 31"),
        ({"repeat_frequency": "P1M", "by_month_day": [32]}, r"by_month_day: \[32\] out of range"),
        ({"repeat_frequency": "P10D", "byPeriodDay": [2, 11]}, r"byPeriodDay: \[11\] out of range.*1 and 10"),
        ({"repeat_frequency": "P1D", "start_time": "9am"}, r"start_time must be a time HH:MM"),
        ({"repeat_frequency": "P1D", "end_time": "25:00"}, r"end_time must be a time HH:MM"),
        ({"repeat_frequency": "P1D", "start_time": "10:00", "end_time": "09:00"}, r"end_time 09:00 is before"),
        ({"repeat_frequency": "P1D", "start_date": "2020-02-30"}, r"start_date must be a date YYYY-MM-DD"),
        ({"repeat_frequency": "P1D", "start_date": "2021-01-02", "end_date": "2021-01-01"}, r"end_date .* before"),
        ({"repeat_frequency": "P1D", "start_date": "2021-01-02", "days_offset": 3}, r"days_offset: .*start_date"),
        ({"repeat_frequency": "P1D", "resource_uri": "survey/3"}, r"resource_uri must be an API URI"),
        ({"repeat_frequency": "P1D", "repeat_frequence": "P2D"}, r"unknown field 'repeat_frequence'"),
        ({"repeat_frequency": "P1D", "repeat_count": 2, "repeatCount": 3}, r"repeat_count and repeatCount"),
    ],
)
def test_invalid_schedule_names_the_field(schedule, field):
    with pytest.raises(PlanningError, match=r"planning\[1\]\.event_schedule\.?.*" + field):
        parse_planning([item(repeat_frequency="P1D"), {"name": "Bad", "event_schedule": schedule}])


@pytest.mark.parametrize(
    ("planning", "message"),
    [
        ({"name": "x"}, r"planning must be a list"),
        ("[]", r"planning must be a list"),
        (["x"], r"planning\[0\] must be an object"),
        ([{"event_schedule": {"repeat_frequency": "P1D"}}], r"planning\[0\]\.name is required"),
        ([{"name": "x"}], r"planning\[0\]\.event_schedule is required"),
        ([{"name": "x", "event_schedule": {"repeat_frequency": "P1D"}, "when": 1}], r"unknown field\(s\) \['when'\]"),
    ],
)
def test_invalid_planning_structure(planning, message):
    with pytest.raises(PlanningError, match=message):
        parse_planning(planning)


def test_planning_error_is_a_value_error():
    assert issubclass(PlanningError, ValueError)
    with pytest.raises(ValueError):
        calendar_events([item(repeat_frequency="P1M", repeat_period=61)], date(2021, 1, 1), None)


def test_five_year_calendar_matches_a_day_by_day_count():
    # a daily item and a Mon/Wed/Fri item over 5 years, cross-checked against a plain day-by-day count
    planning = [item(repeat_frequency="P1D"), item(repeat_frequency="P1W", by_week_day=[0, 2, 4])]
    events = calendar_events(planning, date(2021, 1, 1), date(2025, 12, 31))
    assert len(events) == 1826 + len(
        [d for d in range(1826) if (date(2021, 1, 1) + timedelta(days=d)).weekday() in (0, 2, 4)]
    )
