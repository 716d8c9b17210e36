"""Resource definitions the sandbox serves, with the reference 3.3.x field names, filters and orderings.

Each resource pairs a `ResourceDef` (schema, filters, ordering, methods) with a row provider (what the
authenticated user may see) and a serializer (the JSON object). Rows hold comparable values
(related fields as ids) so the Tastypie filters work on them directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ..hexoskin import datatypes
from ..hexoskin.timestamps import TICKS_PER_SECOND, iso
from .study import ACTIVITY_TYPES, Range, Record, Study, User
from .tastypie import ALL_FILTERS, DATA_MAX, Field, ResourceDef

R = "related"
RO = dict(readonly=True)

USER = ResourceDef(
    name="user",
    fields=(
        Field("email", **RO), Field("first_name"), Field("id", "integer", **RO), Field("last_name"),
        Field("profile", R, "to_one", "profile", readonly=True, nullable=True),
        Field("resource_uri", **RO), Field("username", **RO),
    ),
    filtering={"email": ["exact", "in", "startswith"], "id": list(ALL_FILTERS), "search": ["exact"],
               "username": ["exact", "in", "startswith"]},
    ordering=("id", "username", "email"),
    detail_methods=("get", "put", "patch"),
)

PROFILE = ResourceDef(
    name="profile",
    fields=(
        Field("date_of_birth", "date", nullable=True), Field("fitness", readonly=True, nullable=True),
        Field("gender"), Field("id", "integer", **RO), Field("preferences", nullable=True),
        Field("resource_uri", **RO), Field("unit_system", "integer"),
        Field("user", R, "to_one", "user", readonly=True),
    ),
    filtering={"id": list(ALL_FILTERS), "user": list(ALL_FILTERS)},
    ordering=("id", "user"),
    detail_methods=("get", "put", "patch"),
)

DATATYPE = ResourceDef(
    name="datatype",
    fields=(
        Field("dataid", "integer", **RO), Field("hexo_freq", "integer", nullable=True), Field("info"),
        Field("name"), Field("resource_uri", **RO),
    ),
    id_field="dataid",
)

RECORD = ResourceDef(
    name="record",
    fields=(
        Field("data_status", readonly=True, nullable=True), Field("dev_id"),
        Field("device", R, "to_one", "device", nullable=True), Field("device_start", "integer"),
        Field("end", "integer", nullable=True,
              help_text="Recording end, in 256ths of a second since Jan 1, 1970 UTC."),
        Field("firmware_rev"), Field("id", "integer", **RO),
        Field("importfile", R, "to_one", "import", readonly=True, nullable=True),
        Field("last_modified", "datetime", **RO),
        Field("metrics", R, "to_many", "metric", readonly=True, nullable=True),
        Field("resource_uri", **RO), Field("soft_protocole", "integer"), Field("soft_uid"),
        Field("start", "integer", nullable=True, blank=True,
              help_text="Recording start. An integer indicating the number of 256ths of a second that "
                        "have passed since Jan 1, 1970 UTC, ie. a traditional timestamp, multiplied by 256."),
        Field("start_date", "datetime", **RO), Field("status", **RO), Field("user", R, "to_one", "user"),
    ),
    filtering={
        "device": list(ALL_FILTERS), "end": ["exact", "range", "gt", "gte", "lt", "lte"],
        "id": list(ALL_FILTERS), "include_histograms": ["exact"], "include_metrics": ["exact"],
        "last_modified": ["exact", "in", "range", "gt", "gte", "lt", "lte"],
        "start": ["exact", "range", "gt", "gte", "lt", "lte"], "user": list(ALL_FILTERS),
    },
    ordering=("id", "start", "end", "device", "user", "last_modified"),
    list_methods=("get", "post"),
    detail_methods=("get", "put", "patch", "delete"),
)

RANGE = ResourceDef(
    name="range",
    fields=(
        Field("activitytype", R, "to_one", "activitytype", readonly=True, nullable=True),
        Field("created", "datetime", **RO), Field("duration", readonly=True, nullable=True),
        Field("end", "integer", nullable=True), Field("id", "integer", **RO),
        Field("labels", R, "to_many", "label", nullable=True),
        Field("last_modified", "datetime", **RO),
        Field("metrics", R, "to_many", "metric", readonly=True, nullable=True),
        Field("name"), Field("note"), Field("parent", R, "to_one", "range", nullable=True),
        Field("ranges", **RO), Field("rank", "integer"), Field("resource_uri", **RO),
        Field("start", "integer"), Field("start_date", "datetime", **RO), Field("status", **RO),
        Field("trainingroutine", R, "to_one", "trainingroutine", readonly=True, nullable=True),
        Field("user", R, "to_one", "user"),
    ),
    filtering={
        "activitytype": ["exact", "in", "isnull"],
        "duration": ["exact", "in", "range", "gt", "gte", "lt", "lte"],
        "end": ["exact", "range", "gt", "gte", "lt", "lte"], "id": list(ALL_FILTERS),
        "include_autodetected": ["true"], "include_histograms": ["exact"], "include_metrics": ["exact"],
        "labels": ["exact", "in"], "last_modified": ["exact", "in", "range", "gt", "gte", "lt", "lte"],
        "rank": list(ALL_FILTERS), "show_all": ["exact"], "start": ["exact", "range", "gt", "gte", "lt", "lte"],
        "trainingroutine": 2, "user": list(ALL_FILTERS),
    },
    ordering=("id", "start", "end", "user", "trainingroutine", "rank", "duration", "last_modified"),
    list_methods=("get", "post", "patch"),
    detail_methods=("get", "put", "patch", "delete"),
)

_DATA_FIELDS = (
    Field("datatype", R, "to_one", "datatype", blank=True), Field("end", "integer"), Field("flat", "integer"),
    Field("max_values", "integer"), Field("no_timestamps", "integer"), Field("range", R, "to_one", "range"),
    Field("record", R, "to_one", "record", blank=True, nullable=True), Field("seconds", "integer"),
    Field("start", "integer"), Field("timestamp", "integer"), Field("user", R, "to_one", "user"),
)
_DATA_FILTERING = {
    "datatype": list(ALL_FILTERS), "end": ["exact"], "flat": ["exact"], "id": list(ALL_FILTERS),
    "max_values": ["exact"], "no_timestamps": ["exact"], "range": list(ALL_FILTERS),
    "record": list(ALL_FILTERS), "seconds": ["exact"], "start": ["exact"],
    "timestamp": ["range", "gt", "gte", "lt", "lte"], "user": ["exact"],
}


def data_resource(name: str) -> ResourceDef:
    """`/api/data/` and the per-datatype endpoints share one schema (notes §3)."""
    return ResourceDef(name=name, fields=_DATA_FIELDS, filtering=_DATA_FILTERING, detail_methods=(),
                       max_limit=DATA_MAX)


DATA = data_resource("data")

# Per-datatype endpoints: same schema as /api/data/, with the datatype(s) fixed.
DATATYPE_ENDPOINTS: dict[str, tuple[int, ...]] = {
    "ecg": (4113, 4114, 4115), "heartrate": (19,), "heartratestatus": (1000,), "breathingrate": (33,),
    "breathingratestatus": (1001,), "minuteventilation": (36,), "minuteventilationadjusted": (38,),
    "tidalvolume": (37,), "tidalvolumeadjusted": (39,), "activity": (49,), "cadence": (53,),
    "acc": (4145, 4146, 4147), "respiration": (4129, 4130), "step": (52,), "inspiration": (34,),
    "expiration": (35,), "sleepposition": (270,), "deviceposition": (269,), "sleepphase": (280,),
    "nninterval": (318,), "sdnn": (272,), "ann": (271,), "spo2": (66,), "ppg": (64,), "ptt": (97,),
    "systolicpressure": (98,), "temperature": (81,), "temperaturestatus": (1003,),
}


# -- metrics ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Metric:
    id: int
    name: str
    title: str
    unit_id: int
    unit: str
    truth_key: str  # key in RecordSignals.truth()
    scale: float = 1.0


# IDs 44, 1, 71, 180 are documented (notes §4.1); 12 is documented as "BR Avg". RMSSD has no
# documented metric id: 1080 is a sandbox choice.
METRICS = {
    44: Metric(44, "heartrate_avg", "HR Avg", 700, "bpm", "hr_mean_bpm"),
    12: Metric(12, "breathingrate_avg", "BR Avg", 701, "rpm", "br_mean_rpm"),
    1: Metric(1, "activity_avg", "Act Avg", 450, "g", "activity_mean_g"),
    71: Metric(71, "step_count", "Step count", 6, "steps", "steps"),
    180: Metric(180, "SDNN", "SDNN", 33, "s", "sdnn_ms", 0.001),
    1080: Metric(1080, "RMSSD", "RMSSD", 34, "ms", "rmssd_ms"),
}
DEFAULT_METRICS = (44, 12, 1, 71)
HRV_METRICS = (180, 1080)  # only for Sleep and Rest test ranges (seed: HRV needs those activity types)


def metric_json(metric: Metric, value: float | None) -> dict[str, Any]:
    return {
        "name": metric.name, "outputtype": "value", "resource_uri": f"/api/metric/{metric.id}/",
        "title": metric.title, "id": metric.id,
        "unit": {"id": metric.unit_id, "info": "", "resource_uri": f"/api/unit/{metric.unit_id}/",
                 "si_long": metric.unit, "si_short": metric.unit},
        "value": value, "zones": [],
    }


# -- serializers -----------------------------------------------------------------------------------

def user_summary(user: User) -> dict[str, Any]:
    return {
        "email": user.email, "first_name": user.first_name, "id": user.id, "last_name": user.last_name,
        "profile": f"/api/profile/{user.profile_id}/", "resource_uri": f"/api/user/{user.id}/",
        "username": user.username,
    }


def user_row(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "email": user.email, "_obj": user}


def profile_json(user: User) -> dict[str, Any]:
    return {
        "date_of_birth": user.date_of_birth,
        "fitness": {"height": user.height_m, "weight": user.weight_kg},
        "gender": user.gender, "height": user.height_m, "id": user.profile_id, "preferences": None,
        "resource_uri": f"/api/profile/{user.profile_id}/", "unit_system": "metric",
        "user": f"/api/user/{user.id}/", "weight": user.weight_kg, "timezone": user.timezone,
    }


def datatype_json(dt: datatypes.Datatype) -> dict[str, Any]:
    return {"dataid": dt.id, "hexo_freq": dt.hexo_freq, "info": dt.info or dt.name, "name": dt.name,
            "resource_uri": f"/api/datatype/{dt.id}/"}


def record_row(rec: Record, study: Study) -> dict[str, Any]:
    return {
        "id": rec.id, "user": rec.user_id, "start": rec.start, "end": rec.end,
        "device": rec.device, "last_modified": _last_modified(rec, study).isoformat(), "_obj": rec,
    }


def _last_modified(rec: Record, study: Study):
    if rec.synced_at <= study.now():
        return rec.synced_at
    return rec.partial_synced_at


def record_json(rec: Record, study: Study, metrics: list[dict] | None) -> dict[str, Any]:
    user = study.users[rec.user_id]
    out = {
        "data_status": {}, "dev_id": rec.device, "device": f"/api/device/{rec.device}/",
        "device_start": rec.start, "end": rec.end, "firmware_rev": "1.0.5", "id": rec.id,
        "importfile": None, "last_modified": _last_modified(rec, study).isoformat(),
        "resource_uri": f"/api/record/{rec.id}/", "soft_protocole": 0, "soft_uid": "HXDEV-AUTO",
        "start": rec.start, "start_date": iso(rec.start), "status": study.record_status(rec),
        "user": user_summary(user),
    }
    if metrics is not None:
        out["metrics"] = metrics
    return out


def range_row(rg: Range) -> dict[str, Any]:
    return {
        "id": rg.id, "user": rg.user_id, "start": rg.start, "end": rg.end, "rank": rg.rank,
        "trainingroutine": rg.trainingroutine, "activitytype": rg.activitytype,
        "duration": (rg.end - rg.start) / TICKS_PER_SECOND, "last_modified": rg.created.isoformat(),
        "_obj": rg,
    }


def range_json(rg: Range, status: str, metrics: list[dict]) -> dict[str, Any]:
    return {
        "activityattributes": [],
        "activitytype": f"/api/activitytype/{rg.activitytype}/",
        "created": rg.created.isoformat(),
        "duration": str(timedelta(seconds=round((rg.end - rg.start) / TICKS_PER_SECOND))),
        "end": rg.end, "id": rg.id, "labels": [], "last_modified": rg.created.isoformat(),
        "metrics": metrics, "name": rg.name, "note": rg.note,
        "parent": f"/api/range/{rg.parent_id}/" if rg.parent_id else None, "ranges": [], "rank": rg.rank,
        "resource_uri": f"/api/range/{rg.id}/", "start": rg.start, "start_date": iso(rg.start),
        "status": status, "trainingroutine": f"/api/trainingroutine/{rg.trainingroutine}/",
        "user": f"/api/user/{rg.user_id}/",
    }


def metric_ids_for(rg: Range, include: str | None) -> list[int]:
    ids = list(DEFAULT_METRICS)
    if ACTIVITY_TYPES[rg.activitytype]["base"] in ("sleep", "rest"):
        ids += list(HRV_METRICS)
    for part in (include or "").split(","):
        if part.strip().isdigit() and int(part) in METRICS and int(part) not in ids:
            ids.append(int(part))
    return ids

