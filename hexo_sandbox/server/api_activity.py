"""Records, ranges and what describes them: datatype, metric, unit, activitytype, trainingroutine,
activityattribute(value), annotation, report, and import (TCX/FIT upload with progress)."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from flask import Response

from hexo_pipeline.hexoskin import datatypes
from hexo_pipeline.hexoskin.timestamps import TICKS_PER_SECOND

from ..formats import activity_readers
from ..world.catalog import (
    ACTIVITY_ATTRIBUTES,
    ACTIVITY_TYPES,
    HRV_METRIC_IDS,
    METRICS,
    TRAINING_ROUTINES,
    UNITS,
    Metric,
)
from ..world.study import Annotation, Range, Record
from ..world.truth import profile_of
from . import exchange
from . import resource_defs as R
from .api import Ctx, Provider, editable, iso, json_response, require_object, start_date, uri, uri_id
from .api_people import user_summary
from .state import ImportJob
from .tastypie import ApiError

MIN_HRV_BEATS = 128  # HRV "needs more than 128 good beats" (notes §4.1); else -1


# -- catalogs -------------------------------------------------------------------------------------------


class DatatypeProvider(Provider):
    definition = R.DATATYPE

    def rows(self, ctx, query):
        return [{"dataid": d.id, "_obj": d} for d in datatypes.DATATYPES]

    def serialize(self, ctx, row, extra):
        d = row["_obj"]
        return {
            "dataid": d.id,
            "hexo_freq": d.hexo_freq,
            "info": d.info or d.name,
            "name": d.name,
            "resource_uri": f"/api/datatype/{d.id}/",
        }


def unit_json(unit_id: int) -> dict[str, Any]:
    u = UNITS[unit_id]
    return {"id": u.id, "info": u.info, "resource_uri": uri("unit", u.id), "si_long": u.si_long, "si_short": u.si_short}


class UnitProvider(Provider):
    definition = R.UNIT

    def rows(self, ctx, query):
        return [{"id": i} for i in sorted(UNITS)]

    def serialize(self, ctx, row, extra):
        return unit_json(row["id"])


class MetricProvider(Provider):
    definition = R.METRIC

    def rows(self, ctx, query):
        return [{"id": m.id, "name": m.name, "_obj": m} for m in sorted(METRICS.values(), key=lambda m: m.id)]

    def serialize(self, ctx, row, extra):
        m: Metric = row["_obj"]
        return {
            "description": m.description or m.title,
            "id": m.id,
            "name": m.name,
            "resource_uri": uri("metric", m.id),
            "type": "value",
            "unit": uri("unit", m.unit_id),
            "value": None,
            "writable": False,
        }


class ActivityTypeProvider(Provider):
    definition = R.ACTIVITYTYPE

    def rows(self, ctx, query):
        return [
            {"id": a.id, "base": a.base, "category": a.category, "user": None, "_obj": a}
            for a in sorted(ACTIVITY_TYPES.values(), key=lambda a: a.id)
        ]

    def serialize(self, ctx, row, extra):
        a = row["_obj"]
        return {
            "base": a.base,
            "category": a.category,
            "default_metrics": [uri("metric", m) for m in a.default_metrics],
            "description": a.description,
            "id": a.id,
            "name": a.name,
            "resource_uri": uri("activitytype", a.id),
            "user": None,
            "using": True,
        }


class TrainingRoutineProvider(Provider):
    definition = R.TRAININGROUTINE

    def rows(self, ctx, query):
        return [
            {"id": t.id, "activitytype": t.activitytype, "user": None, "last_used": None, "_obj": t}
            for t in sorted(TRAINING_ROUTINES.values(), key=lambda t: t.id)
        ]

    def serialize(self, ctx, row, extra):
        t = row["_obj"]
        steps = [{**s, "index": i} for i, s in enumerate(t.steps)]
        return {
            "activitytype": uri("activitytype", t.activitytype),
            "application_metadata": None,
            "description": t.description,
            "id": t.id,
            "importfile": None,
            "last_used": None,
            "metadata": {"geo": t.geo},
            "name": t.name,
            "resource_uri": uri("trainingroutine", t.id),
            "steps": steps,
            "user": None,
            "using": True,
        }

    def detail_response(self, ctx, row):
        fmt = exchange.wanted_format(ctx.request.headers.get("Accept", ""))
        if fmt is None:
            return None
        return Response(
            exchange.export_routine(row["id"], fmt),
            mimetype=fmt,
            headers={"Content-Disposition": f"attachment; filename=trainingroutine_{row['id']}.{_ext(fmt)}"},
        )


class ActivityAttributeProvider(Provider):
    definition = R.ACTIVITYATTRIBUTE

    def rows(self, ctx, query):
        return [{"id": i, "user": None, "datatype": None, "_obj": a} for i, a in sorted(ACTIVITY_ATTRIBUTES.items())]

    def serialize(self, ctx, row, extra):
        return attribute_json(row["id"])


def attribute_json(attr_id: int, value: Any = None) -> dict[str, Any]:
    a = ACTIVITY_ATTRIBUTES[attr_id]
    return {
        "attrtype": a["attrtype"],
        "id": attr_id,
        "name": a["name"],
        "resource_uri": uri("activityattribute", attr_id),
        "unit": unit_json(a["unit"]),
        "user": None,
        "value": value,
    }


class ActivityAttributeValueProvider(Provider):
    definition = R.ACTIVITYATTRIBUTEVALUE

    def rows(self, ctx, query):
        visible = {rg.id for rg, _ in ctx.state.visible_ranges(ctx.user_id)}
        now = ctx.study.now()
        return [
            {
                "id": v.id,
                "activityattribute": v.attribute_id,
                "range": v.range_id,
                "user": v.user_id,
                "start": v.start,
                "value": v.value,
                "_obj": v,
            }
            for v in list(ctx.study.attribute_values.values())
            if v.range_id in visible and v.created <= now
        ]

    def serialize(self, ctx, row, extra):
        v = row["_obj"]
        return {
            "activityattribute": uri("activityattribute", v.attribute_id),
            "id": v.id,
            "note": v.note,
            "range": uri("range", v.range_id),
            "resource_uri": uri("activityattributevalue", v.id),
            "start": v.start,
            "value": v.value,
        }


# -- metrics ----------------------------------------------------------------------------------------------


def metric_json(metric: Metric, stats: dict[str, Any]) -> dict[str, Any]:
    value = stats.get(metric.stat)
    if metric.id in HRV_METRIC_IDS and stats.get("rr_clean_n", 0) < MIN_HRV_BEATS:
        value = -1  # the API's "HRV not calculated" marker (notes §4.1)
    elif value is None or (isinstance(value, float) and math.isnan(value)):
        value = None
    else:
        value = round(float(value) * metric.scale, 6)
    zone = None
    if metric.zones and isinstance(value, float) and value >= 0:
        zone = sum(1 for z in metric.zones if value >= z)
    return {
        "id": metric.id,
        "name": metric.name,
        "outputtype": "value",
        "resource_uri": uri("metric", metric.id),
        "title": metric.title,
        "unit": unit_json(metric.unit_id),
        "value": value,
        "zone": zone,
        "zones": list(metric.zones),
    }


def parse_metric_ids(raw: str | None) -> list[int]:
    ids = []
    for part in (raw or "").split(","):
        part = part.strip().rstrip("/").rpartition("/")[2]
        if part.isdigit() and int(part) in METRICS and int(part) not in ids:
            ids.append(int(part))
    return ids


def window_metrics(ctx: Ctx, rec: Record | None, t0: int, t1: int, ids: list[int]) -> list[dict[str, Any]]:
    if not ids:
        return []
    if rec is None:
        return [metric_json(METRICS[m], {}) for m in ids]
    sums = ctx.state.sums(rec, max(t0, rec.start), min(t1, rec.end), activity=1 in ids)
    user = ctx.study.users[rec.user_id]
    stats = sums.finish(profile_of(user, ctx.study.start_date.year))
    return [metric_json(METRICS[m], stats) for m in ids]


# -- records ----------------------------------------------------------------------------------------------


def record_last_modified(ctx: Ctx, rec: Record):
    full = ctx.study.records[rec.id]
    if full.synced_at <= ctx.study.now():
        return full.synced_at
    return full.partial_synced_at


class RecordProvider(Provider):
    definition = R.RECORD

    def rows(self, ctx, query):
        return [
            {
                "id": r.id,
                "user": r.user_id,
                "start": r.start,
                "end": r.end,
                "device": r.device,
                "last_modified": record_last_modified(ctx, r),
                "_obj": r,
            }
            for r in sorted(ctx.state.visible_records(ctx.user_id), key=lambda r: r.id)
        ]

    def serialize(self, ctx, row, extra):
        rec: Record = row["_obj"]
        user = ctx.study.users[rec.user_id]
        out = {
            "data_status": {},
            "dev_id": rec.device,
            "device": f"/api/device/{rec.device}/",
            "device_start": rec.start,
            "end": rec.end,
            "firmware_rev": "1.0.5",
            "id": rec.id,
            "importfile": uri("import", rec.import_id),
            "last_modified": iso(row["last_modified"]),
            "resource_uri": uri("record", rec.id),
            "soft_protocole": 0,
            "soft_uid": "HXDEV-AUTO",
            "start": rec.start,
            "start_date": start_date(rec.start),
            "status": ctx.study.record_status(rec),
            "user": user_summary(user),
        }
        if extra.get("include_metrics"):
            out["metrics"] = window_metrics(ctx, rec, rec.start, rec.end, parse_metric_ids(extra["include_metrics"]))
        return out

    def detail_response(self, ctx, row):
        fmt = exchange.wanted_format(ctx.request.headers.get("Accept", ""))
        if fmt is None:
            return None
        rec = row["_obj"]
        body = exchange.export_activity(
            ctx.state, rec, rec.start, rec.end, [(rec.start, rec.end)], "other", fmt, with_rr=False
        )
        return Response(
            body, mimetype=fmt, headers={"Content-Disposition": f"attachment; filename=record_{rec.id}.{_ext(fmt)}"}
        )

    def delete(self, ctx, row):
        rec = row["_obj"]
        if not ctx.can_write_for(rec.user_id):
            raise ApiError(403, "You may not delete this record.")
        ctx.study.records.pop(rec.id, None)


# -- ranges -----------------------------------------------------------------------------------------------


def range_status(ctx: Ctx, rec: Record | None) -> str:
    """The most important status of the range's records, or 'empty' when it has none (notes §4.2)."""
    return "empty" if rec is None else ctx.study.record_status(rec)


class RangeProvider(Provider):
    definition = R.RANGE

    def rows(self, ctx, query):
        visible = sorted(ctx.state.visible_ranges(ctx.user_id), key=lambda p: p[0].id)
        children: dict[int, list[int]] = {}
        for rg, _ in visible:  # laps listed by their parent: indexed once per request
            if rg.parent_id is not None:
                children.setdefault(rg.parent_id, []).append(rg.id)
        now = ctx.study.now()
        values: dict[int, dict[int, float]] = {}
        for v in list(ctx.study.attribute_values.values()):
            if v.created <= now:
                values.setdefault(v.range_id, {})[v.attribute_id] = v.value
        return [
            {
                "id": rg.id,
                "user": rg.user_id,
                "start": rg.start,
                "end": rg.end,
                "rank": rg.rank,
                "trainingroutine": rg.trainingroutine,
                "activitytype": rg.activitytype,
                "duration": (rg.end - rg.start) / TICKS_PER_SECOND,
                "last_modified": rg.last_modified or rg.created,
                "labels": None,
                "_obj": rg,
                "_record": rec,
                "_children": children.get(rg.id, []),
                "_values": values.get(rg.id, {}),
            }
            for rg, rec in visible
        ]

    def serialize(self, ctx, row, extra):
        rg: Range = row["_obj"]
        rec = row["_record"]
        ids = list(ACTIVITY_TYPES[rg.activitytype].default_metrics)
        ids += [m for m in parse_metric_ids(extra.get("include_metrics")) if m not in ids]
        children = sorted(row["_children"])
        values = row["_values"]
        attrs = [1, 2, 3] if rg.kind in ("walk", "run") else []
        return {
            "activityattributes": [attribute_json(a, values.get(a)) for a in attrs],
            "activitytype": uri("activitytype", rg.activitytype),
            "created": iso(rg.created),
            "duration": str(timedelta(seconds=round((rg.end - rg.start) / TICKS_PER_SECOND))),
            "end": rg.end,
            "id": rg.id,
            "labels": [],
            "last_modified": iso(row["last_modified"]),
            "metrics": window_metrics(ctx, rec, rg.start, rg.end, ids),
            "name": rg.name,
            "note": rg.note,
            "parent": uri("range", rg.parent_id),
            "ranges": [uri("range", c) for c in children],
            "rank": rg.rank,
            "resource_uri": uri("range", rg.id),
            "start": rg.start,
            "start_date": start_date(rg.start),
            "status": range_status(ctx, rec),
            "trainingroutine": uri("trainingroutine", rg.trainingroutine),
            "user": uri("user", rg.user_id),
        }

    def detail_response(self, ctx, row):
        fmt = exchange.wanted_format(ctx.request.headers.get("Accept", ""))
        if fmt is None:
            return None
        rg: Range = row["_obj"]
        rec = row["_record"]
        if rec is None:
            raise ApiError(404, "This range has no record: there is no data to export.")
        laps = sorted((r.start, r.end) for r in list(ctx.study.ranges.values()) if r.parent_id == rg.id)
        body = exchange.export_activity(
            ctx.state, rec, rg.start, rg.end, laps or [(rg.start, rg.end)], rg.kind, fmt, with_rr=True
        )
        return Response(
            body, mimetype=fmt, headers={"Content-Disposition": f"attachment; filename=range_{rg.id}.{_ext(fmt)}"}
        )

    def create(self, ctx, body):
        body = require_object(body)
        user_id = uri_id(body.get("user", ctx.user_id), "user")
        if user_id not in ctx.visible_users():
            raise ApiError(400, "Unknown user.")
        if not ctx.can_write_for(user_id):
            raise ApiError(403, "You may not create ranges for this user.")
        try:
            start, end = int(body["start"]), int(body["end"])
        except (KeyError, TypeError, ValueError):
            raise ApiError(400, "A range needs integer start and end (HexoTimestamps).") from None
        if end <= start:
            raise ApiError(400, "A range's end must be after its start.")
        routine = uri_id(body.get("trainingroutine", 7), "trainingroutine")
        if routine not in TRAINING_ROUTINES:
            raise ApiError(400, f"Unknown trainingroutine {routine!r}.")
        study = ctx.study
        rec = next(
            (
                r
                for r in ctx.state.visible_records(ctx.user_id)
                if r.user_id == user_id and r.start <= start and end <= r.end
            ),
            None,
        )
        rid = ctx.state.next_id("range", study.ranges)
        now = study.now()
        study.ranges[rid] = Range(
            id=rid,
            user_id=user_id,
            record_id=rec.id if rec else None,
            start=start,
            end=end,
            name=str(body.get("name") or TRAINING_ROUTINES[routine].name),
            kind="manual",
            trainingroutine=routine,
            created=now,
            rank=int(body.get("rank", 0)),
            parent_id=uri_id(body.get("parent"), "range"),
            note=str(body.get("note", "")),
        )
        return self.find(ctx, str(rid))

    def update(self, ctx, row, body, partial):
        rg: Range = row["_obj"]
        if not ctx.can_write_for(rg.user_id):
            raise ApiError(403, "You may not edit this range.")
        values = (
            editable(body, ("name", "note"), "range")
            if partial
            else {k: v for k, v in body.items() if k in ("name", "note")}
        )
        for key, value in values.items():
            setattr(rg, key, str(value))
        rg.last_modified = ctx.study.now()

    def delete(self, ctx, row):
        rg: Range = row["_obj"]
        if not ctx.can_write_for(rg.user_id):
            raise ApiError(403, "You may not delete this range.")
        for child in [r.id for r in list(ctx.study.ranges.values()) if r.parent_id == rg.id] + [rg.id]:
            ctx.study.ranges.pop(child, None)


# -- annotations ------------------------------------------------------------------------------------------


class AnnotationProvider(Provider):
    """Seed example: POST {"datatype": "4096", "start": 123456, "user": 835, "annotation": "Hey guys!"}
    returns annotation, datatype URI, id, last_update, record, resource_uri, start, start_date and user.
    The reference schema names the modification time `last_modified` (a datetime); the seed's response
    shows `last_update` (a HexoTimestamp). Both are served: the schema's field and the seed's example key."""

    definition = R.ANNOTATION

    def rows(self, ctx, query):
        visible, now = ctx.visible_users(), ctx.study.now()
        return [
            {
                "id": a.id,
                "user": a.user_id,
                "record": a.record_id,
                "datatype": a.datatype,
                "start": a.start,
                "last_modified": a.last_modified or a.created,
                "_obj": a,
            }
            for a in sorted(ctx.study.annotations.values(), key=lambda a: a.id)
            if a.user_id in visible and a.created <= now
        ]

    def serialize(self, ctx, row, extra):
        a: Annotation = row["_obj"]
        changed = a.last_modified or a.created
        return {
            "annotation": a.text,
            "datatype": uri("datatype", a.datatype),
            "id": a.id,
            "last_modified": iso(changed),
            "last_update": round(changed.timestamp() * TICKS_PER_SECOND),
            "record": uri("record", a.record_id),
            "resource_uri": uri("annotation", a.id),
            "start": a.start,
            "start_date": start_date(a.start),
            "user": uri("user", a.user_id),
        }

    def create(self, ctx, body):
        body = require_object(body)
        try:
            user_id = uri_id(body["user"], "user")
            start = int(body["start"])
            datatype = int(uri_id(body.get("datatype", 4096), "datatype"))
        except (KeyError, TypeError, ValueError):
            raise ApiError(400, "An annotation needs user, start (HexoTimestamp) and datatype.") from None
        if user_id not in ctx.visible_users():
            raise ApiError(400, f"Unknown user {body['user']!r}.")
        if not ctx.can_write_for(user_id):
            raise ApiError(403, "You may not annotate this user's data.")
        study = ctx.study
        rec = next(
            (r for r in ctx.state.visible_records(ctx.user_id) if r.user_id == user_id and r.start <= start < r.end),
            None,
        )
        aid = ctx.state.next_id("annotation", study.annotations)
        study.annotations[aid] = Annotation(
            aid, user_id, rec.id if rec else None, start, str(body.get("annotation", "")), study.now(), datatype
        )
        return self.find(ctx, str(aid))

    def update(self, ctx, row, body, partial):
        a: Annotation = row["_obj"]
        if not ctx.can_write_for(a.user_id):
            raise ApiError(403, "You may not edit this annotation.")
        values = editable(body, ("annotation", "start", "datatype", "user", "record"), "annotation")
        if "annotation" in values:
            a.text = str(values["annotation"])
        if "start" in values:
            a.start = int(values["start"])
        a.last_modified = ctx.study.now()

    def delete(self, ctx, row):
        a: Annotation = row["_obj"]
        if not ctx.can_write_for(a.user_id):
            raise ApiError(403, "You may not delete this annotation.")
        ctx.study.annotations.pop(a.id, None)


# -- report -----------------------------------------------------------------------------------------------


class ReportProvider(Provider):
    """GET /api/report/?include_metrics=1,44&record=37700 -> {"metrics": [...], "timeranges": [...]} (seed).
    Also range=<id>, or user=<id>&start=&end= (HexoTimestamps)."""

    definition = R.REPORT

    def list_response(self, ctx):
        args = list(ctx.request.args.items(multi=True))
        query = self.definition.parse_query(args)
        params = {name: values for name, _, values in query.filters}
        ids = parse_metric_ids(",".join(str(v) for v in params.get("include_metrics", [])))
        if not ids:
            raise ApiError(400, "Give include_metrics=<metric ids>.")
        state = ctx.state
        if "record" in params:
            recs = {r.id: r for r in state.visible_records(ctx.user_id)}
            rec = recs.get(params["record"][0])
            if rec is None:
                raise ApiError(404, "No such record.")
            window = (rec, rec.start, rec.end)
        elif "range" in params:
            ranges = {rg.id: (rg, rec) for rg, rec in state.visible_ranges(ctx.user_id)}
            if params["range"][0] not in ranges:
                raise ApiError(404, "No such range.")
            rg, rec = ranges[params["range"][0]]
            window = (rec, rg.start, rg.end)
        elif {"user", "start", "end"} <= set(params):
            uid, t0, t1 = params["user"][0], params["start"][0], params["end"][0]
            if uid not in ctx.visible_users():
                raise ApiError(404, "No such user.")
            recs = [r for r in state.visible_records(ctx.user_id) if r.user_id == uid and r.start < t1 and r.end > t0]
            return self._report(ctx, ids, [(r, max(t0, r.start), min(t1, r.end)) for r in recs], uid, t0, t1)
        else:
            raise ApiError(400, "Give record=, range=, or user= with start= and end=.")
        rec, t0, t1 = window
        return self._report(ctx, ids, [(rec, t0, t1)] if rec else [], (rec.user_id if rec else ctx.user_id), t0, t1)

    def _report(self, ctx, ids, parts, user_id, t0, t1):
        from ..world.truth import Sums

        total = Sums()
        for rec, a, b in parts:
            total.merge(ctx.state.sums(rec, a, b, activity=1 in ids))
        stats = total.finish(profile_of(ctx.study.users[user_id], ctx.study.start_date.year))
        return json_response(
            {
                "metrics": [metric_json(METRICS[m], stats) for m in ids],
                "timeranges": [{"end": t1, "start": t0, "user": uri("user", user_id)}],
            }
        )


# -- import -----------------------------------------------------------------------------------------------


class ImportProvider(Provider):
    """POST the raw TCX or FIT file (Content-Type says which); poll the returned resource_uri: progress
    goes 0 -> 0.5 -> 1 (one step per GET of the import's detail), then `results` holds the created range,
    record (when the file has biometrics), laps (rank-1 ranges) and track, or {"error": ...}."""

    definition = R.IMPORT

    def rows(self, ctx, query):
        return [
            {"id": j.id, "user": j.user_id, "created": j.created, "_obj": j}
            for j in sorted(ctx.state.imports.values(), key=lambda j: j.id)
            if j.user_id == ctx.user_id
        ]

    def serialize(self, ctx, row, extra):
        j: ImportJob = row["_obj"]
        return {
            "content_type": j.content_type,
            "created": iso(j.created),
            "id": j.id,
            "progress": j.progress,
            "resource_uri": uri("import", j.id),
            "results": j.results,
            "user": uri("user", j.user_id),
        }

    def create(self, ctx, body):
        content_type = (ctx.request.headers.get("Content-Type") or "").split(";")[0].strip()
        if content_type not in (activity_readers.TCX_TYPE, activity_readers.FIT_TYPE):
            raise ApiError(
                400, f"Send the file with Content-Type {activity_readers.TCX_TYPE} or {activity_readers.FIT_TYPE}."
            )
        data = ctx.request.get_data()
        if not data:
            raise ApiError(400, "The request body is empty: send the file's content.")
        try:
            parsed, error = activity_readers.parse(content_type, data), None
        except activity_readers.ImportFailed as exc:
            parsed, error = None, str(exc)
        state = ctx.state
        jid = state.next_id("import", state.imports)
        state.imports[jid] = ImportJob(jid, ctx.user_id, content_type, ctx.study.now(), parsed, error)
        return self.find(ctx, str(jid))

    def detail_response(self, ctx, row):
        job: ImportJob = row["_obj"]
        with ctx.state.lock:
            if job.progress < 1.0:
                job.progress = min(1.0, job.progress + 0.5)
                if job.progress >= 1.0:
                    job.results = (
                        {"error": job.error}
                        if job.parsed is None
                        else exchange.apply_import(ctx.state, job, ctx.study.now())
                    )
        return None


def _ext(fmt: str) -> str:
    return "tcx" if fmt == exchange.TCX_TYPE else "fit"


PROVIDERS: tuple[Provider, ...] = (
    DatatypeProvider(),
    UnitProvider(),
    MetricProvider(),
    ActivityTypeProvider(),
    TrainingRoutineProvider(),
    ActivityAttributeProvider(),
    ActivityAttributeValueProvider(),
    RecordProvider(),
    RangeProvider(),
    AnnotationProvider(),
    ReportProvider(),
    ImportProvider(),
)
