"""Static catalogs the sandbox serves: activity types, training routines, metrics, units, activity
attributes, bundles, the study's survey and its default planning.

IDs the reference documents are kept (hexoskin_api_notes.md §4.1-4.2, seed doc); every other ID is a
sandbox choice and is marked so. Nothing here depends on the seed: the catalogs are the same for every
study.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ActivityType:
    id: int
    name: str
    base: str  # sleep | rest | low | medium | high (schema enumeration)
    category: str  # sleep | resting | lifestyle | running | cycling | general sports
    default_metrics: tuple[int, ...]
    description: str = ""


@dataclass(frozen=True)
class TrainingRoutine:
    id: int
    name: str
    activitytype: int
    geo: bool
    steps: tuple[dict[str, Any], ...]
    description: str = ""


@dataclass(frozen=True)
class Metric:
    id: int
    name: str
    title: str
    unit_id: int
    stat: str  # key of the statistic in truth.window_stats
    scale: float = 1.0
    description: str = ""
    zones: tuple[float, ...] = ()


@dataclass(frozen=True)
class Unit:
    id: int
    si_long: str
    si_short: str
    info: str = ""


# -- units ------------------------------------------------------------------------------------------
# 700 (bpm), 450 (g), 551 (Cal), 103 (km), 2 (1-10 scale), 400 (J), 3 (percent) are documented (seed
# doc, notes §4.1); the others are sandbox choices.
UNITS: dict[int, Unit] = {
    u.id: u
    for u in (
        Unit(2, "", "", "Qualitative scale, select between 1 and 10"),
        Unit(3, "percent", "%"),
        Unit(6, "steps", "steps"),
        Unit(33, "second", "s"),
        Unit(34, "millisecond", "ms"),
        Unit(103, "kilometer", "km"),
        Unit(400, "joule", "J"),
        Unit(450, "g,acceleration", "g"),
        Unit(551, "Calorie", "Cal"),
        Unit(700, "beats per minute", "bpm"),
        Unit(701, "respirations per minute", "rpm"),
        Unit(702, "steps per minute", "spm"),
    )
}

# -- metrics ----------------------------------------------------------------------------------------
# Documented IDs: 1 Act Avg, 12 BR Avg, 44 HR Avg (zones from the seed's range example), 71 step count,
# 139 energy (Running default, seed), 180 SDNN, 182 AVNN, 1032 sleep total time. Notes §4.1 list 46/47
# as HR max/min "with a caveat" (the old docs list 44,46,47 as avg, min, max); we follow the S7 order
# (max before min) the notes lean to. RMSSD has no documented ID: 1080 is a sandbox choice.
METRICS: dict[int, Metric] = {
    m.id: m
    for m in (
        Metric(1, "activity_avg", "Act Avg", 450, "activity_mean_g", zones=(0, 0.1, 0.2, 0.3, 0.4, 0.5)),
        Metric(12, "breathingrate_avg", "BR Avg", 701, "br_mean_rpm"),
        Metric(17, "cadence_avg", "Cadence Avg", 702, "cadence_mean_spm"),
        Metric(44, "heartrate_avg", "HR Avg", 700, "hr_mean_bpm", zones=(0, 114, 133, 152, 171, 250)),
        Metric(46, "heartrate_max", "HR Max", 700, "hr_max_bpm"),
        Metric(47, "heartrate_min", "HR Min", 700, "hr_min_bpm"),
        Metric(71, "step_count", "Step count", 6, "steps"),
        Metric(139, "energyecg_vo2_kcal", "energyecg vo2 kcal", 551, "energy_kcal"),
        Metric(180, "SDNN", "SDNN", 33, "sdnn_ms", 0.001),
        Metric(182, "AVNN", "AVNN", 33, "avnn_ms", 0.001),
        Metric(1032, "SleepTotalTime", "Sleep total time", 33, "sleep_s"),
        Metric(1080, "RMSSD", "RMSSD", 34, "rmssd_ms"),
    )
}
HRV_METRIC_IDS = frozenset({180, 182, 1080})  # -1 when not computable ("HRV not calculated", notes §4.1)

# -- activity types and training routines ---------------------------------------------------------
# 12 Sleep, 106 Rest test, 10 Running, 1 (bike's type) and 101 (the Rockport walk test's type) are
# documented; 11 Walking is a sandbox choice. Running's default metrics 44, 71, 139 are the seed's.
ACTIVITY_TYPES: dict[int, ActivityType] = {
    a.id: a
    for a in (
        ActivityType(1, "Cycling", "high", "cycling", (44, 139)),
        ActivityType(10, "Running", "high", "running", (44, 71, 139)),
        ActivityType(11, "Walking", "medium", "lifestyle", (44, 71, 139)),
        ActivityType(
            12,
            "Sleep",
            "sleep",
            "sleep",
            (44, 47, 12, 180, 182, 1080, 1032),
            "HRV and sleep positions are computed for sleep ranges.",
        ),
        ActivityType(101, "Fitness test", "medium", "general sports", (44, 71, 139)),
        ActivityType(106, "Rest test", "rest", "resting", (44, 12, 180, 182, 1080), "HRV is computed for rest tests."),
    )
}


def _step(name: str, duration_type: str, duration_value: int, intensity: str, activitytype: int) -> dict:
    """A training routine step, shaped like the seed's trainingroutine 1011 example."""
    return {
        "activitytype": f"/api/activitytype/{activitytype}/",
        "custom_target_high": 0,
        "custom_target_low": 0,
        "description": "",
        "duration_type": duration_type,
        "duration_value": duration_value,
        "index": 0,
        "intensity": intensity,
        "name": name,
        "target_type": "open",
        "target_value": 0,
    }


# 6 jog, 1 bike, 1011 (the seed's example, verbatim fields) and 1012 (planning example) are documented
# IDs; 2 sleep and 7 walk are sandbox choices.
TRAINING_ROUTINES: dict[int, TrainingRoutine] = {
    t.id: t
    for t in (
        TrainingRoutine(1, "bike", 1, True, (_step("bike", "open", 0, "active", 1),)),
        TrainingRoutine(2, "sleep", 12, False, (_step("sleep", "open", 0, "resting", 12),)),
        TrainingRoutine(6, "jog", 10, True, (_step("run", "open", 0, "active", 10),)),
        TrainingRoutine(7, "walk", 11, True, (_step("walk", "open", 0, "active", 11),)),
        TrainingRoutine(
            1011,
            "1 Mile Rockport Walk Test",
            101,
            True,
            (_step("run", "distance", 1609, "active", 10),),
            "The 1 mile Rockport Walk test has been designed to estimate VO2max using a sub-maximal "
            "field test. The goal is to walk 1 mile as fast as possible",
        ),
        TrainingRoutine(
            1012,
            "5 min Rest Test",
            106,
            False,
            (_step("rest", "time", 300, "resting", 106),),
            "Lie still for 5 minutes: the resting heart rate and HRV are computed.",
        ),
    )
}
ROUTINE_FOR_KIND = {"sleep": 2, "rest": 1012, "run": 6, "walk": 7}
ROUTINE_FOR_SPORT = {"running": 6, "walking": 7, "cycling": 1, "other": 7}  # imports

# -- activity attributes (seed: distance km, fatigue 1-10, energy J) -------------------------------
ACTIVITY_ATTRIBUTES: dict[int, dict[str, Any]] = {
    1: {"name": "distance", "unit": 103, "attrtype": "user"},
    2: {"name": "fatigue", "unit": 2, "attrtype": "user"},
    3: {"name": "energy", "unit": 400, "attrtype": "user"},
}

# -- bundles (coach/athlete permissions). IDs and names are sandbox choices -------------------------
BUNDLES: dict[int, str] = {1: "coach", 2: "friend"}

# -- the study's survey -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    key: str
    text: str
    type: str  # scale | choice | text
    low: int | None = None
    high: int | None = None
    choices: tuple[str, ...] = ()
    required: bool = True

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "text": self.text, "type": self.type, "required": self.required}
        if self.type == "scale":
            out.update(low=self.low, high=self.high)
        if self.type == "choice":
            out["choices"] = list(self.choices)
        return out


@dataclass(frozen=True)
class Survey:
    id: int
    name: str
    description: str
    questions: tuple[Question, ...] = field(default_factory=tuple)


SURVEYS: dict[int, Survey] = {
    s.id: s
    for s in (
        Survey(
            1,
            "Daily check-in",
            "Answer every evening about the day.",
            (
                Question("sleep_quality", "How well did you sleep last night?", "scale", 1, 5),
                Question("fatigue", "How tired do you feel today?", "scale", 1, 10),
                Question(
                    "symptoms",
                    "Any symptom today?",
                    "choice",
                    choices=("none", "headache", "cough", "fever", "muscle pain"),
                ),
                Question("comment", "Anything else?", "text", required=False),
            ),
        ),
    )
}

# The default study planning. Items follow the seed's planning table; the rest test and the survey are
# what the generated cohort does (or skips) each day. by_week_day uses Monday = 0 (seed).
DEFAULT_PLANNING: list[dict[str, Any]] = [
    {
        "name": "Morning rest test",
        "description": "5 min rest test after waking up",
        "event_schedule": {
            "repeat_frequency": "P1D",
            "resource_uri": "/api/trainingroutine/1012/",
            "start_time": "06:00",
            "end_time": "11:00",
        },
    },
    {
        "name": "Evening rest test",
        "description": "A second rest test on Mondays, Wednesdays and Fridays",
        "event_schedule": {
            "repeat_frequency": "P1W",
            "by_week_day": [0, 2, 4],
            "resource_uri": "/api/trainingroutine/1012/",
            "start_time": "18:00",
            "end_time": "21:00",
        },
    },
    {
        "name": "Daily check-in survey",
        "event_schedule": {
            "repeat_frequency": "P1D",
            "resource_uri": "/api/survey/1/",
            "start_time": "17:00",
            "end_time": "23:59",
        },
    },
]
EVENING_REST_WEEKDAYS = frozenset({0, 2, 4})
MORNING_REST_WINDOW_H = (6.0, 11.0)
EVENING_REST_WINDOW_H = (18.0, 21.0)
SURVEY_WINDOW_H = (17.0, 24.0)
