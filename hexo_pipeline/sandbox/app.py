"""The sandbox's Flask application: a Hexoskin-compatible API over a synthetic study.

Routing, authentication, permissions and the Tastypie views live here; the study metadata comes from
`study`, signals from `physiology`, file encodings from `formats`.
"""

from __future__ import annotations

import io
import json
import math
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
from flask import Flask, Response, request

from ..hexoskin import datatypes
from ..hexoskin.timestamps import TICKS_PER_SECOND
from . import formats
from .auth import AuthServer, Principal
from .faults import FaultConfig, FaultInjector
from .physiology import RecordSignals
from .resources import (
    DATA, DATATYPE, DATATYPE_ENDPOINTS, METRICS, PROFILE, RANGE, RECORD, USER, data_resource,
    datatype_json, metric_ids_for, metric_json, profile_json, range_json, range_row, record_json,
    record_row, user_row, user_summary,
)
from .study import Range, Record, Study, StudyConfig, build_study
from .tastypie import ApiError, ResourceDef, paginate, parse_datetime

JSON_TYPE = "application/json"
ZIP_TYPE = "application/octet-stream"
CSV_TYPE = "text/csv"


@dataclass
class Credentials:
    client_id: str
    client_secret: str
    api_keys: list[tuple[str, str, int]]  # (public, private, owner user id)


@dataclass
class SandboxState:
    study: Study
    auth: AuthServer
    credentials: Credentials
    faults: FaultInjector
    _signals: OrderedDict = field(default_factory=OrderedDict)
    _truth: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def signals(self, rec: Record) -> RecordSignals:
        """Per-record generators, LRU-cached: they hold whole-record event series (beats, breaths)."""
        with self._lock:
            sig = self._signals.get(rec.id)
            if sig is not None:
                self._signals.move_to_end(rec.id)
                return sig
        # Always from the full record: a partially synced copy must serve the same samples.
        sig = RecordSignals(self.study.records[rec.id].spec(self.study.config.seed))
        with self._lock:
            self._signals[rec.id] = sig
            while len(self._signals) > 32:
                self._signals.popitem(last=False)
        return sig

    def truth(self, rec: Record, t0_s: float, t1_s: float) -> dict:
        key = (rec.id, t0_s, t1_s)
        with self._lock:
            if key in self._truth:
                return self._truth[key]
        value = self.signals(rec).truth(t0_s, t1_s)
        with self._lock:
            self._truth[key] = value
        return value

    def info(self, base_url: str) -> dict:
        return {
            "base_url": base_url,
            "oauth2": {
                "client_id": self.credentials.client_id,
                "client_secret": self.credentials.client_secret,
                "token_url": f"{base_url}/api/connect/oauth2/token/",
                "authorize_url": f"{base_url}/api/connect/oauth2/auth/",
            },
            "accounts": [
                {"username": u.username, "password": u.password, "role": u.role, "user_id": u.id}
                for u in self.study.users.values()
            ],
            "api_keys": [{"public": p, "private": s, "user_id": uid} for p, s, uid in self.credentials.api_keys],
            "study": {"uuid": self.study.uuid, "timezone": self.study.config.timezone,
                      "start": self.study.config.start.isoformat(), "days": self.study.config.days},
        }


def build_state(config: StudyConfig, faults: FaultConfig | None = None) -> SandboxState:
    from .study import _secret  # deterministic per seed: same seed, same credentials

    study = build_study(config)
    faults = faults or FaultConfig()
    owner = next(u for u in study.users.values() if u.role == "owner")
    creds = Credentials(
        client_id=f"sandbox-client-{config.seed}",
        client_secret=_secret(config.seed, "client-secret"),
        api_keys=[(f"sandbox-key-{config.seed}", _secret(config.seed, "api-private"), owner.id)],
    )
    auth = AuthServer(
        users={u.username: (u.id, u.password) for u in study.users.values()},
        clients={creds.client_id: creds.client_secret},
        api_keys={p: (s, uid) for p, s, uid in creds.api_keys},
        token_lifetime_s=faults.token_lifetime_s,
    )
    return SandboxState(study=study, auth=auth, credentials=creds, faults=FaultInjector(faults, config.seed))


def create_app(state: SandboxState) -> Flask:
    app = Flask("hexo_sandbox")
    app.config["SANDBOX"] = state
    resources: dict[str, ResourceDef] = {r.name: r for r in (USER, PROFILE, DATATYPE, RECORD, RANGE, DATA)}
    for name in DATATYPE_ENDPOINTS:
        resources[name] = data_resource(name)

    def json_response(payload: Any, status: int = 200, headers: dict | None = None) -> Response:
        return Response(json.dumps(payload), status=status, mimetype=JSON_TYPE, headers=headers)

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        return json_response({"error": err.message}, err.status, err.headers)

    @app.errorhandler(404)
    def _not_found(_err):
        return json_response({"error": "Not found."}, 404)

    @app.errorhandler(405)
    def _not_allowed(_err):
        return json_response({"error": "Method not allowed."}, 405)

    @app.before_request
    def _inject_faults():
        if request.path.startswith("/api/") and not request.path.startswith("/api/connect/"):
            return state.faults.before_request(request)
        return None

    @app.after_request
    def _maybe_truncate(response: Response):
        if request.path.startswith("/api/") and not request.path.startswith("/api/connect/"):
            return state.faults.after_request(request, response)
        return response

    # -- OAuth2 ---------------------------------------------------------------------------------

    @app.post("/api/connect/oauth2/token/")
    def token():
        return json_response(state.auth.token_endpoint(request.headers.get("Authorization"),
                                                       request.form.to_dict()))

    @app.get("/api/connect/oauth2/auth/")
    def authorize():
        location = state.auth.authorize(request.headers.get("Authorization"), request.args.to_dict())
        return Response(status=302, headers={"Location": location})

    # -- discovery ----------------------------------------------------------------------------------

    @app.get("/api/")
    def index():
        principal()
        return json_response({name: {"list_endpoint": r.list_endpoint, "schema": f"{r.list_endpoint}schema/"}
                              for name, r in sorted(resources.items())})

    @app.get("/api/<name>/schema/")
    def schema(name: str):
        principal()
        res = resources.get(name)
        if res is None:
            raise ApiError(404, f"No resource named '{name}'.")
        return json_response(res.schema())

    # -- list and detail views ------------------------------------------------------------------------

    @app.route("/api/<name>/", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def list_view(name: str):
        res = resources.get(name)
        if res is None:
            raise ApiError(404, f"No resource named '{name}'.")
        if request.method.lower() not in res.list_methods:
            raise ApiError(405, f"Method {request.method} is not allowed on the {name} list.")
        who = principal()
        if request.method != "GET":
            raise ApiError(501, f"{request.method} on {name} lists is not implemented by the sandbox yet.")
        if name == "data" or name in DATATYPE_ENDPOINTS:
            return data_view(res, who, DATATYPE_ENDPOINTS.get(name))
        args = list(request.args.items(multi=True))
        query = res.parse_query(args)
        rows = res.apply(visible_rows(name, who), query)
        page, meta = paginate(rows, query, request.path, args)
        return json_response({"meta": meta, "objects": [serialize(name, r, query.extra) for r in page]})

    @app.route("/api/<name>/<obj_id>/", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def detail_view(name: str, obj_id: str):
        res = resources.get(name)
        if res is None:
            raise ApiError(404, f"No resource named '{name}'.")
        if request.method.lower() not in res.detail_methods:
            raise ApiError(405, f"Method {request.method} is not allowed on a {name} detail.")
        who = principal()
        row = next((r for r in visible_rows(name, who) if str(r[res.id_field]) == obj_id), None)
        if row is None:
            raise ApiError(404, f"No {name} with id {obj_id}.")
        if request.method == "GET":
            return json_response(serialize(name, row, request.args.to_dict()))
        if request.method in ("PUT", "PATCH"):
            return update(name, row, who)
        raise ApiError(501, f"{request.method} on a {name} detail is not implemented by the sandbox yet.")

    # -- helpers --------------------------------------------------------------------------------------

    def principal() -> Principal:
        full_url = f"{request.scheme}://{request.host}{request.environ.get('RAW_URI') or request.full_path}"
        if full_url.endswith("?") and "?" not in (request.environ.get("RAW_URI") or ""):
            full_url = full_url[:-1]
        return state.auth.authenticate(request.headers, full_url)

    def visible_user_ids(who: Principal) -> set[int]:
        user = state.study.users[who.user_id]
        if user.role == "owner":  # the study owner sees every subject of the study
            return set(state.study.users)
        return {user.id}

    def visible_records(who: Principal) -> list[Record]:
        ids = visible_user_ids(who)
        out = []
        for rec in state.study.records.values():
            if rec.user_id in ids:
                seen = state.study.visible_record(rec)
                if seen is not None:
                    out.append(seen)
        return out

    def visible_ranges(who: Principal) -> list[tuple[Range, Record]]:
        recs = {r.id: r for r in visible_records(who)}
        return [(rg, recs[rg.record_id]) for rg in state.study.ranges.values()
                if rg.record_id in recs and rg.end <= recs[rg.record_id].end]

    def visible_rows(name: str, who: Principal) -> list[dict[str, Any]]:
        study = state.study
        if name == "user":
            return [user_row(study.users[i]) for i in sorted(visible_user_ids(who))]
        if name == "profile":
            return [{"id": study.users[i].profile_id, "user": i, "_obj": study.users[i]}
                    for i in sorted(visible_user_ids(who))]
        if name == "datatype":
            return [{"dataid": d.id, "_obj": d} for d in datatypes.DATATYPES]
        if name == "record":
            return [record_row(r, study) for r in sorted(visible_records(who), key=lambda r: r.id)]
        if name == "range":
            rows = []
            for rg, rec in sorted(visible_ranges(who), key=lambda p: p[0].id):
                row = range_row(rg)
                row["_record"] = rec
                rows.append(row)
            return rows
        raise ApiError(404, f"No resource named '{name}'.")

    def serialize(name: str, row: dict[str, Any], extra: dict[str, str]) -> dict[str, Any]:
        obj = row["_obj"]
        if name == "user":
            out = user_summary(obj)
            return out
        if name == "profile":
            return profile_json(obj)
        if name == "datatype":
            return datatype_json(obj)
        if name == "record":
            metrics = None
            if extra.get("include_metrics"):
                metrics = record_metrics(obj, extra["include_metrics"])
            return record_json(obj, state.study, metrics)
        if name == "range":
            rec: Record = row["_record"]
            status = state.study.record_status(rec)
            return range_json(obj, status, range_metrics(obj, rec, extra.get("include_metrics")))
        raise ApiError(404, name)

    def range_metrics(rg: Range, rec: Record, include: str | None) -> list[dict]:
        t0 = (rg.start - rec.start) / TICKS_PER_SECOND
        t1 = (rg.end - rec.start) / TICKS_PER_SECOND
        truth = state.truth(rec, t0, t1)
        return [metric_json(METRICS[m], _metric_value(METRICS[m], truth)) for m in metric_ids_for(rg, include)]

    def record_metrics(rec: Record, include: str) -> list[dict]:
        truth = state.truth(rec, 0.0, (rec.end - rec.start) / TICKS_PER_SECOND)
        ids = [int(p) for p in include.split(",") if p.strip().isdigit() and int(p) in METRICS]
        return [metric_json(METRICS[m], _metric_value(METRICS[m], truth)) for m in ids]

    def update(name: str, row: dict[str, Any], who: Principal):
        if who.scope != "readwrite":
            raise ApiError(403, "This token's scope is readonly.")
        try:
            body = request.get_json(force=True)
        except Exception:
            raise ApiError(400, "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        obj = row["_obj"]
        editable = {"user": ("first_name", "last_name"), "range": ("name", "note"),
                    "profile": ("gender", "date_of_birth")}.get(name, ())
        unknown = [k for k in body if k not in editable]
        if unknown and request.method == "PATCH":
            raise ApiError(400, f"Fields not editable on {name}: {', '.join(sorted(unknown))}.")
        for key in editable:
            if key in body:
                setattr(obj, key, body[key])
        return json_response(serialize(name, row, {}), 202)

    # -- data -----------------------------------------------------------------------------------------

    def data_view(res: ResourceDef, who: Principal, fixed: tuple[int, ...] | None):
        args = list(request.args.items(multi=True))
        query = res.parse_query(args)
        params = {name: (op, values) for name, op, values in query.filters}
        dt_ids = list(fixed) if fixed else _datatype_ids(params.get("datatype"))
        windows = data_windows(who, params)
        accept = request.headers.get("Accept", JSON_TYPE)
        user_id = windows[0][0].user_id if windows else who.user_id
        if ZIP_TYPE in accept:
            return zip_response(windows, dt_ids)
        cap = DATA.max_limit
        if "max_values" in params:
            cap = max(1, min(cap, int(params["max_values"][1][0])))
        series = {dt: _series(state, windows, dt) for dt in dt_ids}
        if CSV_TYPE in accept:
            return Response(formats.data_csv(series, cap=cap), mimetype=CSV_TYPE)
        flat = bool(params.get("flat", (None, [0]))[1][0])
        if flat and len(dt_ids) != 1:
            raise ApiError(400, "flat=1 needs exactly one datatype.")
        no_ts = bool(params.get("no_timestamps", (None, [0]))[1][0])
        return Response(formats.data_json(series, user_id, flat=flat, no_timestamps=no_ts, cap=cap),
                        mimetype=JSON_TYPE)

    def data_windows(who: Principal, params: dict) -> list[tuple[Record, int, int]]:
        """(record as visible now, t0, t1) windows in ticks for a data request."""
        recs = visible_records(who)
        t0, t1 = -math.inf, math.inf
        if "start" in params:
            t0 = params["start"][1][0]
        if "end" in params:
            t1 = params["end"][1][0]
        if "timestamp" in params:
            op, values = params["timestamp"]
            if op == "range":
                t0, t1 = max(t0, values[0]), min(t1, values[1])
            elif op in ("gt", "gte"):
                t0 = max(t0, values[0])
            else:
                t1 = min(t1, values[0])
        if "record" in params:
            op, values = params["record"]
            wanted = set(values)
            recs = [r for r in recs if r.id in wanted]
            if not recs:
                raise ApiError(404, "No such record.")
        elif "range" in params:
            ranges = {rg.id: rg for rg, _ in visible_ranges(who)}
            rg = ranges.get(params["range"][1][0])
            if rg is None:
                raise ApiError(404, "No such range.")
            recs = [r for r in recs if r.user_id == rg.user_id]
            t0, t1 = max(t0, rg.start), min(t1, rg.end)
        else:
            if "user" in params:
                uid = params["user"][1][0]
                if uid not in visible_user_ids(who):
                    raise ApiError(404, "No such user.")
            else:
                uid = who.user_id
            if math.isinf(t0) or math.isinf(t1):
                raise ApiError(400, "Give a record, a range, or a start and an end.")
            recs = [r for r in recs if r.user_id == uid]
        out = []
        for rec in sorted(recs, key=lambda r: r.start):
            a, b = max(rec.start, t0), min(rec.end, t1)
            if a < b:
                out.append((rec, int(a), int(b)))
        return out

    def zip_response(windows: list[tuple[Record, int, int]], dt_ids: list[int]) -> Response:
        spool = tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024)
        formats.write_data_zip(spool, _zip_parts(state, windows, dt_ids, request.full_path))
        size = spool.tell()
        spool.seek(0)

        def chunks() -> Iterator[bytes]:
            with spool:
                while block := spool.read(1 << 20):
                    yield block

        name = f"record_{windows[0][0].id}.zip" if len(windows) == 1 else "data.zip"
        return Response(chunks(), mimetype=ZIP_TYPE, headers={
            "Content-Length": str(size), "Content-Disposition": f"attachment; filename={name}"})

    return app


# -- data assembly (module level: pure functions of the state) -------------------------------------

def _datatype_ids(spec: tuple[str, list[Any]] | None) -> list[int]:
    if spec is None:
        raise ApiError(400, "Give one or more datatypes (datatype= or datatype__in=).")
    ids = [int(v) for v in spec[1]]
    unknown = [i for i in ids if i not in datatypes.BY_ID]
    if unknown:
        raise ApiError(400, f"Unknown datatype(s): {unknown}.")
    return ids


def _sample_range(dt: datatypes.Datatype, rec: Record, t0: int, t1: int, n: int) -> tuple[int, int]:
    """Indices j of samples whose time lies in [t0, t1). Sample j sits at start + (j + phase) * period."""
    period = 256 / dt.rate_hz
    phase = 1 if dt.first_sample_at_period else 0
    j0 = math.ceil((t0 - rec.start) / period - phase)
    j1 = math.ceil((t1 - rec.start) / period - phase)
    return max(0, j0), min(n, max(0, j1))


def _series(state: SandboxState, windows, dt_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Absolute tick timestamps and raw values of one datatype over the windows."""
    dt = datatypes.get(dt_id)
    all_ts, all_v = [], []
    for rec, t0, t1 in windows:
        sig = state.signals(rec)
        if dt_id not in sig.datatype_ids():
            continue
        if dt.synchronous:
            j0, j1 = _sample_range(dt, rec, t0, t1, sig.n_samples(dt_id))
            if j1 <= j0:
                continue
            raw = sig.sync_raw(dt_id, j0, j1)
            period = 256 / dt.rate_hz
            phase = 1 if dt.first_sample_at_period else 0
            ts = rec.start + np.round((np.arange(j0, j1) + phase) * period).astype(np.int64)
        else:
            offsets, raw = sig.events_raw(dt_id, (t0 - rec.start) / 256, (t1 - rec.start) / 256)
            ts = rec.start + offsets.astype(np.int64)
        all_ts.append(ts)
        all_v.append(raw)
    if not all_ts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(all_ts), np.concatenate(all_v)


def _zip_parts(state: SandboxState, windows, dt_ids: list[int], request_path: str):
    """One folder per record: WAV per synchronous channel, .hxd per event channel, and info.json.

    A window is widened to whole seconds of its record ([s0, s1) seconds from record start), so every
    channel shares the folder's time base `start` (info.json): raw sample k at start + k/fs, 1 Hz
    sample k at start + (k+1) s, events at start + offset. The binary format ignores max_values.
    """
    for rec, t0, t1 in windows:
        sig = state.signals(rec)
        s0 = math.floor((t0 - rec.start) / 256)
        s1 = min(math.ceil((t1 - rec.start) / 256), math.floor((rec.end - rec.start) / 256))
        if s1 <= s0:
            continue
        base = rec.start + s0 * 256
        folder = f"record_{rec.id}"
        yield f"{folder}/info.json", formats.info_json(rec.id, base, rec.user_id, request_path)
        for dt_id in dt_ids:
            if dt_id not in sig.datatype_ids():
                continue
            dt = datatypes.get(dt_id)
            if dt.synchronous:
                per_s = dt.rate_hz
                j0 = int(math.ceil(s0 * per_s))
                j1 = min(int(math.ceil(s1 * per_s)), sig.n_samples(dt_id))
                if j1 > j0:
                    yield f"{folder}/{dt.name}.wav", formats.wav_bytes(sig.sync_raw(dt_id, j0, j1), dt.rate_hz)
            else:
                offsets, raw = sig.events_raw(dt_id, float(s0), float(s1))
                yield f"{folder}/{dt.name}.hxd", formats.hxd_bytes(offsets - np.uint64(s0 * 256), raw)


def _metric_value(metric, truth: dict) -> float | None:
    value = truth.get(metric.truth_key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return -1 if metric.id in (180, 1080) else None  # the API's "not computed" marker for HRV
    return round(float(value) * metric.scale, 6)
