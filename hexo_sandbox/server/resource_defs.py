"""Every resource the sandbox serves, declared once: fields, filters, orderings and allowed methods.

`/api/<name>/schema/` is generated from these definitions and the list/detail views are driven by them,
so what is documented is what is served. For the resources of the reference schema
(../shared/reference/hexoskin_api_schema_3.3.x.json, API 3.3.x) the field names, types, filters,
orderings and methods are the reference's; tests/test_sandbox_schema.py compares them.

The study-side resources (study, studygroup, studymember, calendar, survey, surveyresponse) and import
are newer than the 2017 reference schema (notes §7.6); their shapes follow the seed doc where it shows
them and are sandbox choices otherwise (docs/sandbox.md).
"""

from __future__ import annotations

from .tastypie import ALL_FILTERS, DATA_MAX, Field, ResourceDef

F = Field
ALL = list(ALL_FILTERS)
CMP = ["exact", "range", "gt", "gte", "lt", "lte"]
TICKS_HELP = (
    " An integer indicating the number of 256ths of a second that have passed since Jan 1, 1970 UTC, "
    "ie. a traditional timestamp, multiplied by 256."
)

# -- people and access ------------------------------------------------------------------------------

ACCOUNT = ResourceDef(
    name="account",
    fields=(
        F("email", readonly=True, blank=True, unique=True),
        F("first_name", blank=True, default=""),
        F("id", "integer", readonly=True, unique=True),
        F("is_staff", "boolean"),
        F("last_name", blank=True, default=""),
        F("profile", "related", "to_one", readonly=True, nullable=True, blank=True),
        F("resource_uri", readonly=True),
        F("username", readonly=True, blank=True, unique=True),
    ),
    ordering=("id", "username", "email"),
    list_methods=("get",),
    detail_methods=(),
)

USER = ResourceDef(
    name="user",
    fields=(
        F("email", readonly=True, blank=True, unique=True),
        F("first_name", blank=True, default=""),
        F("id", "integer", readonly=True, unique=True),
        F("last_name", blank=True, default=""),
        F("profile", "related", "to_one", readonly=True, nullable=True, blank=True),
        F("resource_uri", readonly=True),
        F("username", readonly=True, blank=True, unique=True),
    ),
    filtering={
        "email": ["exact", "in", "startswith"],
        "id": ALL,
        "search": ["exact"],
        "username": ["exact", "in", "startswith"],
    },
    ordering=("id", "username", "email"),
    list_methods=("get",),
    detail_methods=("get", "put", "patch"),
    params=("search",),
)

PROFILE = ResourceDef(
    name="profile",
    fields=(
        F("date_of_birth", "date", nullable=True, blank=True),
        F("fitness", readonly=True, nullable=True),
        F("gender", blank=True, default=""),
        F("id", "integer", readonly=True, unique=True),
        F("preferences", nullable=True),
        F("resource_uri", readonly=True),
        F("unit_system", "integer", blank=True),
        F("user", "related", "to_one", readonly=True),
    ),
    filtering={"id": ALL, "user": ALL},
    ordering=("id", "user"),
    list_methods=("get",),
    detail_methods=("get", "put", "patch"),
)

DEVICE = ResourceDef(
    name="device",
    fields=(
        F("batt_end", "integer"),
        F("batt_start", "integer"),
        F("bt_addr"),
        F("bt_info", blank=True, default=""),
        F("charge_time", "integer"),
        F("created", "datetime", blank=True, default=True),
        F("deviceid", readonly=True, blank=True, unique=True, default=""),
        F("fw_end"),
        F("fw_start"),
        F("hw_rev"),
        F("id", "integer", readonly=True, unique=True),
        F("last_modified", "datetime", blank=True, default=True),
        F("mcu_info", blank=True, default=""),
        F("model", "integer"),
        F("purchase_order", "integer"),
        F("resource_uri", readonly=True),
        F("serial", "integer"),
        F("status", "integer"),
    ),
    filtering={"deviceid": ["exact", "in"], "id": ALL},
    ordering=("id",),
    list_methods=("get",),
    detail_methods=("get",),
    id_field="deviceid",  # device URIs use the serial string: /api/device/HXSKIN1200002115/ (seed)
)

BUNDLE = ResourceDef(
    name="bundle",
    fields=(
        F("id", "integer", blank=True, unique=True, default=""),
        F("name", unique=True),
        F("resource_uri", readonly=True),
    ),
    list_methods=("get",),
    detail_methods=("get",),
)

BUNDLE_PERMISSION = ResourceDef(
    name="bundle_permission",
    fields=(
        F("bundle", "related", "to_one"),
        F("name", nullable=True, blank=True),
        F("resource_uri", readonly=True),
        F("user_allowed", "related", "to_one"),
        F("user_target", "related", "to_one"),
    ),
    filtering={"bundle": ["exact", "in"], "user_allowed": ["exact", "in"], "user_target": ["exact", "in"]},
    list_methods=("post", "get"),
    detail_methods=("get", "delete"),
)

OAUTHCLIENT = ResourceDef(
    name="oauthclient",
    fields=(
        F("client_id", blank=True, unique=True, default=""),
        F("default_realm", "related", "to_one", nullable=True),
        F("grant_type", blank=True, default=""),
        F("id", "integer", readonly=True, unique=True),
        F("name", unique=True),
        F("realms", "related", "to_many", readonly=True),
        F("redirect_uris"),
        F("resource_uri", readonly=True),
        F("response_type", blank=True, default=""),
        F("secret", readonly=True),
        F("status"),
        F("user", "related", "to_one", readonly=True),
    ),
    list_methods=("get",),
    detail_methods=("get", "put", "patch"),
)

OAUTH2TOKEN = ResourceDef(
    name="oauth2token",
    fields=(
        F("client"),
        F("expires_in", "integer"),
        F("resource_uri", readonly=True),
        F("scopes"),
        F("token_type"),
        F("user"),
    ),
    list_methods=("get",),
    detail_methods=("get", "delete"),
)

# -- catalogs ---------------------------------------------------------------------------------------

DATATYPE = ResourceDef(
    name="datatype",
    fields=(
        F("dataid", "integer", readonly=True, unique=True),
        F("hexo_freq", "integer", nullable=True),
        F("info", default=""),
        F("name"),
        F("resource_uri", readonly=True),
    ),
    list_methods=("get",),
    detail_methods=("get",),
    id_field="dataid",
)

METRIC = ResourceDef(
    name="metric",
    fields=(
        F("description", readonly=True, blank=True, default=""),
        F("id", "integer", readonly=True, unique=True),
        F("name", readonly=True, unique=True),
        F("resource_uri", readonly=True),
        F("type", readonly=True, unique=True),
        F("unit", "related", "to_one", readonly=True),
        F("value"),
        F("writable", "boolean", readonly=True, unique=True),
    ),
    filtering={"id": ALL, "name": ["exact"], "show_all": ["exact"]},
    ordering=("id",),
    list_methods=("get",),
    detail_methods=("get",),
    params=("show_all",),
)

UNIT = ResourceDef(
    name="unit",
    fields=(
        F("id", "integer", readonly=True, unique=True),
        F("info", default=""),
        F("resource_uri", readonly=True),
        F("si_long"),
        F("si_short"),
    ),
    list_methods=("get",),
    detail_methods=("get",),
)

ACTIVITYTYPE = ResourceDef(
    name="activitytype",
    fields=(
        F("base"),
        F("category", nullable=True),
        F("default_metrics", "related", "to_many", blank=True, default=[]),
        F("description", blank=True, default=""),
        F("id", "integer", readonly=True, unique=True),
        F("name"),
        F("resource_uri", readonly=True),
        F("user", "related", "to_one", nullable=True),
        F("using"),
    ),
    filtering={
        "base": ["exact", "in"],
        "category": ["exact", "in"],
        "id": ALL,
        "show_all": ["exact"],
        "user": ALL,
        "using": ["exact"],
    },
    ordering=("id", "user"),
    list_methods=("get", "post", "patch"),
    detail_methods=("get", "put", "patch", "delete"),
    params=("show_all", "using"),
)

TRAININGROUTINE = ResourceDef(
    name="trainingroutine",
    fields=(
        F("activitytype", "related", "to_one", nullable=True, blank=True),
        F("application_metadata", "related", "to_many", nullable=True),
        F("description", blank=True, default=""),
        F("id", "integer", readonly=True, unique=True),
        F("importfile", "related", "to_one", readonly=True, nullable=True, blank=True),
        F("last_used", "datetime", readonly=True, nullable=True, blank=True),
        F("metadata", nullable=True),
        F("name"),
        F("resource_uri", readonly=True),
        F("steps", "related", "to_many"),
        F("user", "related", "to_one", nullable=True),
        F("using"),
    ),
    filtering={"activitytype": 2, "id": ALL, "user": ALL, "using": ["exact"]},
    ordering=("id", "user", "last_used", "activitytype"),
    list_methods=("get", "post", "patch"),
    detail_methods=("get", "put", "patch", "delete"),
    params=("using",),
)

ACTIVITYATTRIBUTE = ResourceDef(
    name="activityattribute",
    fields=(
        F("attrtype", blank=True, default="user"),
        F("id", "integer", readonly=True, unique=True),
        F("name", default=""),
        F("resource_uri", readonly=True),
        F("unit", "related", "to_one", nullable=True, blank=True),
        F("user", "related", "to_one", nullable=True),
    ),
    filtering={"datatype": ALL, "id": ALL, "user": ["exact", "in", "isnull"]},
    ordering=("id", "datatype", "user"),
    list_methods=("get", "post", "patch"),
    detail_methods=("get", "put", "patch", "delete"),
    filter_fields=(F("datatype", "related", "to_one"),),
)

ACTIVITYATTRIBUTEVALUE = ResourceDef(
    name="activityattributevalue",
    fields=(
        F("activityattribute", "related", "to_one"),
        F("id", "integer", readonly=True, unique=True),
        F("note", blank=True),
        F("range", "related", "to_one"),
        F("resource_uri", readonly=True),
        F("start", "integer", blank=True),
        F("value", "float"),
    ),
    filtering={
        "activityattribute": ["in", "exact"],
        "id": ["in", "exact"],
        "range": ["in", "exact"],
        "start": ["in", "exact", "gt", "gte", "lt", "lte"],
        "user": ["in", "exact"],
        "value": ["in", "exact", "gt", "gte", "lt", "lte"],
    },
    ordering=("id", "user", "start", "range", "value"),
    list_methods=("get",),
    detail_methods=("get",),
    filter_fields=(F("user", "related", "to_one"),),
)

# -- records, ranges, annotations, reports ----------------------------------------------------------

RECORD = ResourceDef(
    name="record",
    fields=(
        F("data_status", readonly=True, nullable=True),
        F("dev_id", default=""),
        F("device", "related", "to_one", nullable=True, blank=True),
        F("device_start", "integer", blank=True, default=""),
        F("end", "integer", nullable=True, blank=True, help_text="Recording end." + TICKS_HELP),
        F("firmware_rev", default="000"),
        F("id", "integer", readonly=True, unique=True),
        F("importfile", "related", "to_one", readonly=True, nullable=True, blank=True),
        F("last_modified", "datetime", readonly=True),
        F(
            "metrics",
            "related",
            "to_many",
            readonly=True,
            nullable=True,
            blank=True,
            help_text="The metrics asked with include_metrics=<metric ids>.",
        ),
        F("resource_uri", readonly=True),
        F("soft_protocole", "integer", default=0),
        F("soft_uid", default=""),
        F("start", "integer", nullable=True, blank=True, help_text="Recording start." + TICKS_HELP),
        F("start_date", "datetime", readonly=True),
        F(
            "status",
            readonly=True,
            help_text="realtime, realtime_complete, syncing, complete, queued, processing, error or incomplete.",
        ),
        F("user", "related", "to_one"),
    ),
    filtering={
        "device": ALL,
        "end": CMP,
        "id": ALL,
        "include_histograms": ["exact"],
        "include_metrics": ["exact"],
        "last_modified": ["exact", "in", "range", "gt", "gte", "lt", "lte"],
        "start": CMP,
        "user": ALL,
    },
    ordering=("id", "start", "end", "device", "user", "last_modified"),
    list_methods=("get", "post"),
    detail_methods=("get", "put", "patch", "delete"),
    params=("include_metrics", "include_histograms"),
)

RANGE = ResourceDef(
    name="range",
    fields=(
        F("activitytype", "related", "to_one", readonly=True, nullable=True, blank=True),
        F("created", "datetime", readonly=True),
        F("duration", readonly=True, nullable=True, help_text="The duration, H:MM:SS."),
        F("end", "integer", nullable=True, blank=True, help_text=TICKS_HELP.strip()),
        F("id", "integer", readonly=True, unique=True),
        F("labels", "related", "to_many", nullable=True, blank=True),
        F("last_modified", "datetime", readonly=True),
        F(
            "metrics",
            "related",
            "to_many",
            readonly=True,
            nullable=True,
            blank=True,
            help_text="The activity type's default metrics, plus those asked with include_metrics.",
        ),
        F("name", blank=True, default=""),
        F("note", blank=True, default=""),
        F("parent", "related", "to_one", nullable=True, blank=True),
        F("ranges", readonly=True, help_text="Child ranges (laps, rank 1)."),
        F("rank", "integer", blank=True, default=0),
        F("resource_uri", readonly=True),
        F("start", "integer", help_text=TICKS_HELP.strip()),
        F("start_date", "datetime", readonly=True),
        F("status", readonly=True, help_text="The most important status of the range's records; empty when none."),
        F("trainingroutine", "related", "to_one", readonly=True, nullable=True, blank=True),
        F("user", "related", "to_one"),
    ),
    filtering={
        "activitytype": ["exact", "in", "isnull"],
        "duration": ["exact", "in", "range", "gt", "gte", "lt", "lte"],
        "end": CMP,
        "id": ALL,
        "include_autodetected": ["true"],
        "include_histograms": ["exact"],
        "include_metrics": ["exact"],
        "labels": ["exact", "in"],
        "last_modified": ["exact", "in", "range", "gt", "gte", "lt", "lte"],
        "rank": ALL,
        "show_all": ["exact"],
        "start": CMP,
        "trainingroutine": 2,
        "user": ALL,
    },
    ordering=("id", "start", "end", "user", "trainingroutine", "rank", "duration", "last_modified"),
    list_methods=("get", "post", "patch"),
    detail_methods=("get", "put", "patch", "delete"),
    params=("include_metrics", "include_histograms", "include_autodetected", "show_all"),
    filter_fields=(F("duration", "float"),),
)

ANNOTATION = ResourceDef(
    name="annotation",
    fields=(
        F("annotation", default=""),
        F("datatype", "related", "to_one", blank=True),
        F("id", "integer", blank=True, unique=True, default=""),
        F("last_modified", "datetime", blank=True, default=True),
        F("record", "related", "to_one", nullable=True, blank=True),
        F("resource_uri", readonly=True),
        F("start", "integer", help_text=TICKS_HELP.strip()),
        F("start_date", "datetime", readonly=True),
        F("user", "related", "to_one"),
    ),
    filtering={"datatype": ALL, "id": ALL, "last_modified": ALL, "record": ALL, "start": ALL, "user": ALL},
    ordering=("id", "user", "record", "datatype", "start", "last_modified"),
    list_methods=("get", "post", "patch"),
    detail_methods=("get", "put", "patch", "delete"),
)

REPORT = ResourceDef(
    name="report",
    fields=(
        F("activitytype", "related", "to_one", nullable=True),
        F("category", "related", "to_one", nullable=True),
        F("end", "integer", nullable=True),
        F("include_metrics", "related", "to_many"),
        F("range", "related", "to_one", nullable=True),
        F("record", "related", "to_one", nullable=True),
        F("resource_uri", readonly=True),
        F("start", "integer", nullable=True),
        F("trainingroutine", "related", "to_one", nullable=True),
        F("user", "related", "to_one", nullable=True),
    ),
    filtering={
        "activitytype": ["exact", "in", "isnull"],
        "category": ["exact", "in"],
        "display": ["exact"],
        "end": ["exact"],
        "group_by": ["exact", "day"],
        "grouped": ["exact"],
        "include_autodetected": ["true"],
        "include_metrics": ["exact", "in"],
        "range": ["exact", "in"],
        "record": ["exact", "in"],
        "start": ["exact"],
        "time": ["exact", "day"],
        "trainingroutine": ["exact", "in", "isnull"],
        "user": ["exact", "in"],
    },
    list_methods=("get",),
    detail_methods=(),
)

# -- GPS ----------------------------------------------------------------------------------------------

TRACK = ResourceDef(
    name="track",
    fields=(
        F("area", "geometry", nullable=True),
        F("distance", "float", readonly=True, blank=True),
        F("end_date", "datetime", readonly=True, nullable=True, blank=True),
        F("id", "integer", readonly=True, unique=True),
        F("importfile", "related", "to_one", readonly=True, nullable=True, blank=True),
        F("name", blank=True, default=""),
        F("range", "related", "to_one", nullable=True, blank=True),
        F("resource_uri", readonly=True),
        F("start_date", "datetime", readonly=True, nullable=True, blank=True),
        F("user", "related", "to_one"),
    ),
    filtering={
        "end_date": ["exact", "gt", "gte", "lt", "lte"],
        "id": ALL,
        "range": ALL,
        "start_date": ["exact", "gt", "gte", "lt", "lte"],
        "user": ALL,
    },
    ordering=("id", "user", "range", "start_date", "end_date"),
    list_methods=("get", "post", "patch"),
    detail_methods=("get", "put", "patch", "delete"),
)

TRACKPOINT = ResourceDef(
    name="trackpoint",
    fields=(
        F("altitude", "float", nullable=True, default=None),
        F("course", "float", nullable=True, default=None),
        F("horizontal_accuracy", "float", nullable=True, default=None),
        F("id", "integer", readonly=True, unique=True),
        F("position", "geometry"),
        F("range", "related", "to_one", nullable=True, blank=True),
        F("record", "related", "to_one", nullable=True, blank=True),
        F("resource_uri", readonly=True),
        F("speed", "float", nullable=True, default=None),
        F("time", "datetime", nullable=True, ticks=True, help_text="UTC. Filter with ISO dates or HexoTimestamps."),
        F(
            "timestamp",
            "datetime",
            nullable=True,
            ticks=True,
            help_text="The point's time; filter with HexoTimestamps or ISO dates.",
        ),
        F("track", "related", "to_one"),
        F("user", "related", "to_one", nullable=True),
        F("vertical_accuracy", "float", nullable=True, default=None),
    ),
    filtering={
        "end": ["exact"],
        "id": ALL,
        "range": ALL,
        "record": ALL,
        "start": ["exact"],
        "time": ["exact", "range", "gt", "gte", "lt", "lte"],
        "timestamp": ["range", "gt", "gte", "lt", "lte"],
        "track": 2,
        "user": ["exact"],
    },
    ordering=("id", "track", "time"),
    list_methods=("get", "post", "patch"),
    detail_methods=("get", "put", "patch", "delete"),
    params=("start", "end"),
)

# -- biometric data -------------------------------------------------------------------------------------

_DATA_FIELDS = (
    F("datatype", "related", "to_one", blank=True),
    F("end", "integer"),
    F("flat", "integer"),
    F("max_values", "integer"),
    F("no_timestamps", "integer"),
    F("range", "related", "to_one"),
    F("record", "related", "to_one", blank=True, nullable=True),
    F("seconds", "integer"),
    F("start", "integer"),
    F("timestamp", "integer"),
    F("user", "related", "to_one"),
)
_DATA_FILTERING = {
    "datatype": ALL,
    "end": ["exact"],
    "flat": ["exact"],
    "id": ALL,
    "max_values": ["exact"],
    "no_timestamps": ["exact"],
    "range": ALL,
    "record": ALL,
    "seconds": ["exact"],
    "start": ["exact"],
    "timestamp": ["range", "gt", "gte", "lt", "lte"],
    "user": ["exact"],
}


def data_resource(name: str) -> ResourceDef:
    """`/api/data/` and the per-datatype endpoints share one schema (notes §3)."""
    return ResourceDef(name=name, fields=_DATA_FIELDS, filtering=_DATA_FILTERING, detail_methods=(), max_limit=DATA_MAX)


DATA = data_resource("data")

# Per-datatype endpoints of the reference schema: same schema as /api/data/, with the datatype(s) fixed.
# IDs the sandbox's catalog lacks (hrvhf 277, hrvlf 276, nnoverrr 274, triangular 275, qrs 17) or that
# have no known ID (hrvhfnorm, pohr) are served with no samples.
DATATYPE_ENDPOINTS: dict[str, tuple[int, ...]] = {
    "acc": (4145, 4146, 4147),
    "activity": (49,),
    "ann": (271,),
    "breathingrate": (33,),
    "breathingratestatus": (1001,),
    "cadence": (53,),
    "deviceposition": (269,),
    "ecg": (4113, 4114, 4115),
    "expiration": (35,),
    "heartrate": (19,),
    "heartratestatus": (1000,),
    "hrvhf": (277,),
    "hrvhfnorm": (),
    "hrvlf": (276,),
    "inspiration": (34,),
    "minuteventilation": (36,),
    "minuteventilationadjusted": (38,),
    "nninterval": (318,),
    "nnoverrr": (274,),
    "pohr": (),
    "ppg": (64,),
    "ptt": (97,),
    "qrs": (17,),
    "respiration": (4129, 4130),
    "sdnn": (272,),
    "sleepphase": (280,),
    "sleepposition": (270,),
    "spo2": (66,),
    "step": (52,),
    "systolicpressure": (98,),
    "temperature": (81,),
    "temperaturestatus": (1003,),
    "tidalvolume": (37,),
    "tidalvolumeadjusted": (39,),
    "triangular": (275,),
}
DATA_ALIASES = ("datafile",)  # same as /api/data/

# -- import (seed: "The Hexoskin system allows to upload data from TCX or FIT files") ------------------

IMPORT = ResourceDef(
    name="import",
    fields=(
        F("content_type", readonly=True, help_text="application/vnd.garmin.tcx+xml or application/vnd.ant.fit"),
        F("created", "datetime", readonly=True),
        F("id", "integer", readonly=True, unique=True),
        F("progress", "float", readonly=True, help_text="0 to 1."),
        F("resource_uri", readonly=True),
        F(
            "results",
            "dict",
            readonly=True,
            nullable=True,
            help_text="Once progress is 1: the created range, record (when the file holds biometrics), "
            "laps and track, or an error.",
        ),
        F("user", "related", "to_one", readonly=True),
    ),
    filtering={"id": ALL, "user": ["exact"]},
    ordering=("id", "created"),
    list_methods=("get", "post"),
    detail_methods=("get",),
)

# -- studies (seed doc, "Studies"; shapes partly sandbox choices, see docs/sandbox.md) -----------------

STUDY = ResourceDef(
    name="study",
    fields=(
        F("admins", "related", "to_many", readonly=True),
        F("created", "datetime", readonly=True),
        F("description", blank=True, default=""),
        F("end_date", "date", nullable=True),
        F("groups", "related", "to_many", readonly=True),
        F("id", "integer", readonly=True, unique=True),
        F("last_modified", "datetime", readonly=True),
        F("name"),
        F("owner", "related", "to_one", readonly=True),
        F("planning", "list", nullable=True, help_text="The planning items (seed: Studies, Planning)."),
        F("resource_uri", readonly=True),
        F("start_date", "date"),
        F("timezone", readonly=True),
        F("uuid", readonly=True, unique=True, help_text="Prefix of the subjects' usernames: <uuid>_<id>."),
    ),
    filtering={"id": ALL, "owner": ["exact"], "uuid": ["exact", "in"]},
    ordering=("id", "uuid"),
    list_methods=("get",),
    detail_methods=("get", "patch"),
)

STUDYGROUP = ResourceDef(
    name="studygroup",
    fields=(
        F("description", blank=True, default=""),
        F("id", "integer", readonly=True, unique=True),
        F("name"),
        F("resource_uri", readonly=True),
        F("study", "related", "to_one"),
    ),
    filtering={"id": ALL, "name": ["exact"], "study": ["exact", "in"]},
    ordering=("id", "name"),
    list_methods=("get",),
    detail_methods=("get",),
)

STUDYMEMBER = ResourceDef(
    name="studymember",
    fields=(
        F("end_date", "date", nullable=True),
        F("group", "related", "to_one", nullable=True, help_text="The current group (the latest assignment)."),
        F(
            "group_history",
            "list",
            readonly=True,
            help_text="Every assignment: group, since (date it applies from) and assigned_at (when it was "
            "recorded). A later assignment may apply retrospectively.",
        ),
        F("id", "integer", readonly=True, unique=True),
        F("last_modified", "datetime", readonly=True),
        F("resource_uri", readonly=True),
        F("start_date", "date", help_text="The subject's onboarding date."),
        F("study", "related", "to_one"),
        F("subject_id", readonly=True),
        F("user", "related", "to_one"),
    ),
    filtering={
        "group": ["exact", "in"],
        "id": ALL,
        "last_modified": CMP,
        "start_date": CMP,
        "study": ["exact", "in"],
        "user": ["exact", "in"],
    },
    ordering=("id", "user", "start_date", "last_modified"),
    list_methods=("get",),
    detail_methods=("get", "patch"),
)

CALENDAR = ResourceDef(
    name="calendar",
    fields=(
        F("date", "date", readonly=True),
        F("done", "boolean", readonly=True),
        F(
            "done_by",
            "related",
            "to_one",
            readonly=True,
            nullable=True,
            help_text="The range or survey response that fulfilled the event (sandbox extension).",
        ),
        F("event_schedule", "dict", readonly=True),
        F("id", "integer", readonly=True, unique=True),
        F("name", readonly=True),
        F("study", "related", "to_one", readonly=True),
        F("user", "related", "to_one", readonly=True),
    ),
    filtering={
        "date": CMP,
        "done": ["exact"],
        "end": ["exact"],
        "id": ALL,
        "study": ["exact"],
        "user": ["exact", "in"],
    },
    ordering=("date", "id", "user"),
    list_methods=("get",),
    detail_methods=(),
    params=("end",),
)

SURVEY = ResourceDef(
    name="survey",
    fields=(
        F("description", blank=True, default=""),
        F("id", "integer", readonly=True, unique=True),
        F("name"),
        F("questions", "list", readonly=True),
        F("resource_uri", readonly=True),
        F("study", "related", "to_one"),
    ),
    filtering={"id": ALL, "study": ["exact"]},
    ordering=("id",),
    list_methods=("get",),
    detail_methods=("get",),
)

SURVEYRESPONSE = ResourceDef(
    name="surveyresponse",
    fields=(
        F("answers", "dict", help_text="Question key -> answer."),
        F("created", "datetime", readonly=True),
        F("date", "date", help_text="The study day the answers are about (the subject's local date)."),
        F("id", "integer", readonly=True, unique=True),
        F("resource_uri", readonly=True),
        F("survey", "related", "to_one"),
        F("user", "related", "to_one"),
    ),
    filtering={"created": CMP, "date": CMP, "id": ALL, "survey": ["exact", "in"], "user": ["exact", "in"]},
    ordering=("id", "date", "created", "user"),
    list_methods=("get", "post"),
    detail_methods=("get",),
)
