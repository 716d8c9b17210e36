"""Biometric data: /api/data/ (and /api/datafile/) and the per-datatype endpoints (/api/heartrate/ ...).

Same schema for all (notes §3). Select by record, range, or user with start and end (HexoTimestamps;
filters are ANDed). JSON (default; `flat=1` for one datatype gives [[ts, v], ...], plus `no_timestamps=1`
gives [v, ...]), CSV (Accept: text/csv) and the binary zip (Accept: application/octet-stream). JSON and
CSV keep at most 65535 points per datatype (max_values lowers it), subsampling with a stride of
ceil(n / cap); the zip ignores the cap and streams (never held whole in memory).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator
from typing import Any

import numpy as np
from flask import Response

from hexo_pipeline.hexoskin import datatypes

from ..formats import data_encoders
from ..world.physiology import ACC_IDS, ECG_IDS, RESP_IDS, RecordSignals
from ..world.study import Record
from . import resource_defs as R
from .api import Ctx, Provider
from .tastypie import ApiError, ResourceDef

GROUPS = (ECG_IDS, RESP_IDS, ACC_IDS)  # channels generated together for the zip
JSON_TYPE = "application/json"
ZIP_TYPE = "application/octet-stream"
CSV_TYPE = "text/csv"


class DataProvider(Provider):
    def __init__(self, definition: ResourceDef, fixed: tuple[int, ...] | None):
        self.definition = definition
        self.fixed = fixed  # the endpoint's datatypes; None for /api/data/ (datatype= required)

    def list_response(self, ctx: Ctx) -> Response:
        args = list(ctx.request.args.items(multi=True))
        query = self.definition.parse_query(args)
        params = {name: (op, values) for name, op, values in query.filters}
        if self.fixed is not None:
            dt_ids = [d for d in self.fixed if d in datatypes.BY_ID]
        else:
            dt_ids = _datatype_ids(params.get("datatype"))
        windows = data_windows(ctx, params)
        accept = ctx.request.headers.get("Accept", JSON_TYPE)
        user_id = windows[0][0].user_id if windows else _selected_user(ctx, params)
        if ZIP_TYPE in accept:
            return zip_response(ctx, windows, dt_ids)
        cap = R.DATA.max_limit
        if "max_values" in params:
            cap = max(1, min(cap, int(params["max_values"][1][0])))
        series = {dt: _series(ctx.state, windows, dt) for dt in dt_ids}
        if CSV_TYPE in accept:
            return Response(data_encoders.data_csv(series, cap=cap), mimetype=CSV_TYPE)
        flat = bool(params.get("flat", (None, [0]))[1][0])
        if flat and len(dt_ids) != 1:
            raise ApiError(400, "flat=1 needs exactly one datatype.")
        no_ts = bool(params.get("no_timestamps", (None, [0]))[1][0])
        return Response(
            data_encoders.data_json(series, user_id, flat=flat, no_timestamps=no_ts, cap=cap), mimetype=JSON_TYPE
        )


def _selected_user(ctx: Ctx, params: dict) -> int:
    return params["user"][1][0] if "user" in params else ctx.user_id


def data_windows(ctx: Ctx, params: dict) -> list[tuple[Record, int, int]]:
    """(record as visible now, t0, t1) windows in ticks for a data request."""
    state = ctx.state
    recs = state.visible_records(ctx.user_id)
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
        ranges = {rg.id: rg for rg, _ in state.visible_ranges(ctx.user_id)}
        rg = ranges.get(params["range"][1][0])
        if rg is None:
            raise ApiError(404, "No such range.")
        recs = [r for r in recs if r.user_id == rg.user_id]
        t0, t1 = max(t0, rg.start), min(t1, rg.end)
    else:
        uid = _selected_user(ctx, params)
        if uid not in ctx.visible_users():
            raise ApiError(404, "No such user.")
        if math.isinf(t0) or math.isinf(t1):
            raise ApiError(400, "Give a record, a range, or a start and an end.")
        recs = [r for r in recs if r.user_id == uid]
    out = []
    for rec in sorted(recs, key=lambda r: r.start):
        a, b = max(rec.start, t0), min(rec.end, t1)
        if a < b:
            out.append((rec, int(a), int(b)))
    return out


def zip_response(ctx: Ctx, windows: list[tuple[Record, int, int]], dt_ids: list[int]) -> Response:
    """The zip is streamed as it is generated (chunked transfer): no temporary file, bounded memory."""
    state, path = ctx.state, ctx.request.full_path
    chunks: Iterator[bytes] = data_encoders.iter_data_zip(_zip_parts(state, windows, dt_ids, path))
    name = f"record_{windows[0][0].id}.zip" if len(windows) == 1 else "data.zip"
    return Response(chunks, mimetype=ZIP_TYPE, headers={"Content-Disposition": f"attachment; filename={name}"})


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


def _series(state, windows, dt_id: int) -> tuple[np.ndarray, np.ndarray]:
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
            if rec.import_id is not None:  # an imported record has no value where the file had none
                keep = raw > 0
                raw, ts = raw[keep], ts[keep]
        else:
            offsets, raw = sig.events_raw(dt_id, (t0 - rec.start) / 256, (t1 - rec.start) / 256)
            ts = rec.start + offsets.astype(np.int64)
        all_ts.append(ts)
        all_v.append(raw)
    if not all_ts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(all_ts), np.concatenate(all_v)


def _zip_parts(state, windows, dt_ids: list[int], request_path: str):
    """One folder per record: WAV per synchronous channel, .hxd per event channel, and info.json.

    A window is widened to whole seconds of its record ([s0, s1) seconds from record start), so every
    channel shares the folder's time base `start` (info.json): raw sample k at start + k/fs, 1 Hz
    sample k at start + (k+1) s, events at start + offset. The binary format ignores max_values.
    Each channel is generated when its entry is written, so at most one channel is in memory.
    """
    for rec, t0, t1 in windows:
        sig = state.signals(rec)
        s0 = math.floor((t0 - rec.start) / 256)
        s1 = min(math.ceil((t1 - rec.start) / 256), math.floor((rec.end - rec.start) / 256))
        if s1 <= s0:
            continue
        base = rec.start + s0 * 256
        folder = f"record_{rec.id}"
        yield f"{folder}/info.json", data_encoders.info_json(rec.id, base, rec.user_id, request_path)
        available = [d for d in dt_ids if d in sig.datatype_ids()]
        done: set[int] = set()
        for dt_id in available:
            if dt_id in done:
                continue
            dt = datatypes.get(dt_id)
            if not dt.synchronous:
                offsets, raw = sig.events_raw(dt_id, float(s0), float(s1))
                yield f"{folder}/{dt.name}.hxd", data_encoders.hxd_bytes(offsets - np.uint64(s0 * 256), raw)
                continue
            j0 = int(math.ceil(s0 * dt.rate_hz))
            j1 = min(int(math.ceil(s1 * dt.rate_hz)), sig.n_samples(dt_id))
            if j1 <= j0:
                continue
            group = next((g for g in GROUPS if dt_id in g), ())
            members = [d for d in available if d in group]
            if isinstance(sig, RecordSignals) and len(members) > 1:
                done.update(members)
                yield from _wav_group(sig, folder, members, j0, j1, dt.rate_hz)
            else:
                yield f"{folder}/{dt.name}.wav", _wav(sig, dt_id, j0, j1, dt.rate_hz)


WAV_CHUNK_S = 600  # a WAV entry is generated 10 minutes at a time: ~2 MB of int64 for 256 Hz ECG


def _wav(sig, dt_id: int, j0: int, j1: int, rate_hz: float) -> Iterator[bytes]:
    """A WAV entry generated lazily and piecewise (when the zip writer reaches it)."""
    step = max(1, int(round(rate_hz * WAV_CHUNK_S)))
    chunks = (sig.sync_raw(dt_id, a, min(j1, a + step)) for a in range(j0, j1, step))
    yield from data_encoders.wav_stream(j1 - j0, rate_hz, chunks)


def _wav_group(sig: RecordSignals, folder: str, members: list[int], j0: int, j1: int, rate_hz: float):
    """WAV entries of channels generated together (ECG leads, respiration bands, accelerometer axes):
    the first is streamed as it is generated; the others wait in spooled temporary files (on disk past
    8 MB) until their turn in the zip, so memory stays bounded."""
    step = max(1, int(round(rate_hz * WAV_CHUNK_S)))
    spools = {d: tempfile.SpooledTemporaryFile(max_size=8 << 20) for d in members[1:]}

    def first() -> Iterator[bytes]:
        yield data_encoders.wav_header(j1 - j0, rate_hz)
        for a in range(j0, j1, step):
            chunk = sig.sync_raw_group(members, a, min(j1, a + step))
            for d in members[1:]:
                spools[d].write(data_encoders.pcm16_bytes(chunk[d]))
            yield data_encoders.pcm16_bytes(chunk[members[0]])

    def rest(d: int) -> Iterator[bytes]:
        with spools.pop(d) as spool:
            spool.seek(0)
            yield data_encoders.wav_header(j1 - j0, rate_hz)
            while block := spool.read(1 << 20):
                yield block

    try:
        yield f"{folder}/{datatypes.get(members[0]).name}.wav", first()
        for d in members[1:]:
            yield f"{folder}/{datatypes.get(d).name}.wav", rest(d)
    finally:
        for spool in spools.values():
            spool.close()


def providers() -> tuple[Provider, ...]:
    out: list[Provider] = [DataProvider(R.DATA, None)]
    out += [DataProvider(R.data_resource(alias), None) for alias in R.DATA_ALIASES]
    out += [DataProvider(R.data_resource(name), fixed) for name, fixed in R.DATATYPE_ENDPOINTS.items()]
    return tuple(out)
