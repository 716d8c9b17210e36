"""A training routine as the files GET /api/trainingroutine/<id>/ returns with a TCX or FIT Accept header.

A training routine is a template, not an activity (seed doc, "Training Routine"), so it is written as a
workout: TCX `<Workouts><Workout>` (TrainingCenterDatabase v2 Workout_t, Step_t) and a FIT file of type
`workout` (workout + workout_step messages, written with fit-tool). Each routine step maps to one
workout step: duration_type time -> seconds, distance -> metres, anything else -> open (user initiated);
intensity active/resting; target open (TCX None_t).
"""

from __future__ import annotations

from datetime import UTC, datetime

from fit_tool.fit_file_builder import FitFileBuilder
from fit_tool.profile.messages.file_id_message import FileIdMessage
from fit_tool.profile.messages.workout_message import WorkoutMessage
from fit_tool.profile.messages.workout_step_message import WorkoutStepMessage
from fit_tool.profile.profile_type import (
    FileType,
    Intensity,
    Manufacturer,
    Sport,
    WorkoutStepDuration,
    WorkoutStepTarget,
)
from lxml import etree

from ..world.catalog import ACTIVITY_TYPES, TrainingRoutine
from .activity_writers import TCD_NS

XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
_TCX_SPORT = {"running": "Running", "cycling": "Biking"}
_FIT_SPORT = {"running": Sport.RUNNING, "cycling": Sport.CYCLING, "lifestyle": Sport.WALKING}
MAX_NAME = 15  # TCX RestrictedToken_t


def _t(local: str, ns: str = TCD_NS) -> str:
    return f"{{{ns}}}{local}"


def write_workout_tcx(routine: TrainingRoutine) -> bytes:
    category = ACTIVITY_TYPES[routine.activitytype].category
    root = etree.Element(_t("TrainingCenterDatabase"), nsmap={None: TCD_NS, "xsi": XSI_NS})
    workout = etree.SubElement(
        etree.SubElement(root, _t("Workouts")), _t("Workout"), Sport=_TCX_SPORT.get(category, "Other")
    )
    etree.SubElement(workout, _t("Name")).text = routine.name[:MAX_NAME].strip() or "workout"
    for index, step in enumerate(routine.steps[:20], start=1):  # TCX allows at most 20 steps
        el = etree.SubElement(workout, _t("Step"), {_t("type", XSI_NS): "Step_t"})
        etree.SubElement(el, _t("StepId")).text = str(index)
        if step.get("name"):
            etree.SubElement(el, _t("Name")).text = str(step["name"])[:MAX_NAME]
        kind = step.get("duration_type")
        value = int(step.get("duration_value") or 0)
        if kind == "time" and value > 0:
            duration = etree.SubElement(el, _t("Duration"), {_t("type", XSI_NS): "Time_t"})
            etree.SubElement(duration, _t("Seconds")).text = str(min(value, 65535))
        elif kind == "distance" and value > 0:
            duration = etree.SubElement(el, _t("Duration"), {_t("type", XSI_NS): "Distance_t"})
            etree.SubElement(duration, _t("Meters")).text = str(min(value, 65535))
        else:
            etree.SubElement(el, _t("Duration"), {_t("type", XSI_NS): "UserInitiated_t"})
        etree.SubElement(el, _t("Intensity")).text = "Resting" if step.get("intensity") == "resting" else "Active"
        etree.SubElement(el, _t("Target"), {_t("type", XSI_NS): "None_t"})
    if routine.description:
        etree.SubElement(workout, _t("Notes")).text = routine.description
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def write_workout_fit(routine: TrainingRoutine, created: datetime | None = None) -> bytes:
    category = ACTIVITY_TYPES[routine.activitytype].category
    created = created or datetime(2020, 1, 1, tzinfo=UTC)
    builder = FitFileBuilder(auto_define=True)
    fid = FileIdMessage()
    fid.type, fid.manufacturer = FileType.WORKOUT, Manufacturer.DEVELOPMENT.value
    fid.time_created = round(created.timestamp() * 1000)
    builder.add(fid)
    workout = WorkoutMessage()
    workout.workout_name = routine.name
    workout.sport = _FIT_SPORT.get(category, Sport.GENERIC)
    workout.num_valid_steps = len(routine.steps)
    builder.add(workout)
    for index, step in enumerate(routine.steps):
        msg = WorkoutStepMessage()
        msg.message_index = index
        msg.workout_step_name = str(step.get("name") or "")
        kind = step.get("duration_type")
        value = int(step.get("duration_value") or 0)
        if kind == "time" and value > 0:
            msg.duration_type = WorkoutStepDuration.TIME
            msg.duration_time = float(value)
        elif kind == "distance" and value > 0:
            msg.duration_type = WorkoutStepDuration.DISTANCE
            msg.duration_distance = float(value)
        else:
            msg.duration_type = WorkoutStepDuration.OPEN
        msg.target_type = WorkoutStepTarget.OPEN
        msg.intensity = Intensity.REST if step.get("intensity") == "resting" else Intensity.ACTIVE
        builder.add(msg)
    return builder.build().to_bytes()
