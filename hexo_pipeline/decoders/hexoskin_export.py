"""Read a whole Hexoskin/Astroskin binary export (zip file or folder) into one long table per family.

Layouts accepted: files at the top (`ECG_I.wav`, ...), one folder down (`record_37700/ECG_I.wav`), or two
(`User_<id>/record_<id>/...`, HxConvertSourceFile). Each folder holding signal files is one record, timed
by the info.json beside them. Zip members are streamed one at a time (zipfile.open), never extracted.

File name -> datatype, in this order of preference (hexoskin_api_notes.md §5.1):
1. the catalog name (`ECG_I`, `heart_rate`, ...); 2. a numeric stem (`4113.wav`, as load_hx_data accepts);
3. a known alias (`heartrate`, `breathingrate`, `temperature`, `minute_ventilation_cl`, `tidal_volume_ml`).
When two files resolve to one datatype, the better match is read and the other is reported as a
duplicate. That matters for `temperature.wav`: the vendor decoder maps it to 81 like
`temperature_celcius.wav`, but in the real 2017 Astroskin export both exist and hold DIFFERENT signals
(2273..4094 vs 3440..7913), so `temperature` is only used when `temperature_celcius` is absent.
Unknown files are reported in `skipped`, never fatal; so is a known file that fails to decode.

Output: `SignalExport.tables[Family]`, schema `SIGNAL_SCHEMA` (ts, datatype_id, value RAW), sorted by
(datatype_id, ts).
"""

from __future__ import annotations

import os
import re
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from hexo_pipeline.decoders import hexoskin_binary as hb
from hexo_pipeline.decoders.errors import DecodeError
from hexo_pipeline.decoders.schemas import SIGNAL_SCHEMA, TIME_NS
from hexo_pipeline.hexoskin import datatypes as catalog
from hexo_pipeline.hexoskin.datatypes import Datatype, Family

SIGNAL_EXTENSIONS = (".wav", ".hxd", ".csv")
# Names used by older exports and by the vendor decoder for catalog datatypes (notes §5.1, S3, S5).
ALIASES: dict[str, int] = {
    "heartrate": 19,
    "breathingrate": 33,
    "temperature": 81,
    "minute_ventilation_cl": 38,
    "tidal_volume_ml": 39,
    "ecg": 4113,
}
NOT_SIGNALS = {"statistics.csv": "record statistics (metrics), not a signal"}
# Preference when several files give the same datatype: exact name > numeric stem > alias; wav > hxd > csv.
_MATCH_RANK = {"name": 0, "id": 1, "alias": 2}
_KIND_RANK = {"wav": 0, "hxd": 1, "csv": 2}


@dataclass(frozen=True)
class ChannelSummary:
    member: str
    datatype_id: int
    name: str
    family: Family
    kind: str                 # wav | hxd | csv
    n_samples: int
    n_null_dropped: int = 0   # `nan` cells of event CSVs
    rate_hz: float | None = None


@dataclass(frozen=True)
class SkippedMember:
    member: str
    kind: str                 # unknown | duplicate | not_signal | error
    reason: str


@dataclass(frozen=True)
class SignalExport:
    """One record of an export, decoded."""

    source: str               # the zip or folder path
    record_dir: str           # folder of the record inside it ('' at top level)
    info: hb.RecordInfo
    tables: dict[Family, pa.Table]
    channels: tuple[ChannelSummary, ...]
    skipped: tuple[SkippedMember, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def n_samples(self) -> int:
        return sum(t.num_rows for t in self.tables.values())

    @property
    def n_null_dropped(self) -> int:
        return sum(c.n_null_dropped for c in self.channels)

    @property
    def errors(self) -> tuple[SkippedMember, ...]:
        return tuple(s for s in self.skipped if s.kind == "error")

    def channel(self, name_or_id: str | int) -> ChannelSummary:
        for c in self.channels:
            if c.name == name_or_id or c.datatype_id == name_or_id:
                return c
        raise KeyError(name_or_id)


# ------------------------------------------------------------------------------------ containers
class _Container:
    """A zip or a folder, seen as POSIX relative member names with a streaming opener."""

    def __init__(self, path: Path):
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        if path.is_dir():
            self.members = sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
        elif zipfile.is_zipfile(path):
            self._zip = zipfile.ZipFile(path)
            self.members = sorted(i.filename for i in self._zip.infolist() if not i.is_dir())
        else:
            raise DecodeError("not a zip file or a folder", code="unsupported_format", source=str(path))

    @contextmanager
    def open(self, member: str) -> Iterator[BinaryIO]:
        if self._zip is not None:
            with self._zip.open(member) as fh:  # decompresses as it is read: one member at a time
                yield fh
        else:
            with open(self.path / member, "rb") as fh:
                yield fh

    def read(self, member: str) -> bytes:
        with self.open(member) as fh:
            return fh.read()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def _ignored(member: str) -> bool:
    parts = PurePosixPath(member).parts
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


# --------------------------------------------------------------------------------- name mapping
def resolve_datatype(stem: str) -> tuple[Datatype, str] | None:
    """File stem -> (datatype, how matched) or None if unknown."""
    if stem in catalog.BY_NAME:
        return catalog.BY_NAME[stem], "name"
    if stem.isdigit() and int(stem) in catalog.BY_ID:
        return catalog.BY_ID[int(stem)], "id"
    lowered = stem.lower()
    for name, dt in catalog.BY_NAME.items():
        if name.lower() == lowered:
            return dt, "name"
    if lowered in ALIASES and ALIASES[lowered] in catalog.BY_ID:
        return catalog.BY_ID[ALIASES[lowered]], "alias"
    return None


# --------------------------------------------------------------------------------------- reading
def read_exports(path: str | os.PathLike[str], *, start_ticks: int | None = None) -> list[SignalExport]:
    """Every record in a zip/folder export (one per folder holding signal files).

    `start_ticks` overrides info.json (needed only when info.json is missing, e.g. a hand-made zip).
    """
    container = _Container(Path(path))
    try:
        groups: dict[str, list[str]] = defaultdict(list)
        for member in container.members:
            if not _ignored(member):
                parent = PurePosixPath(member).parent
                groups["" if parent == PurePosixPath(".") else str(parent)].append(member)
        records = [d for d, ms in groups.items()
                   if any(PurePosixPath(m).suffix.lower() in SIGNAL_EXTENSIONS for m in ms)]
        if not records:
            raise DecodeError("no signal files (.wav, .hxd, .csv) in the export", code="no_data",
                              source=str(path))
        return [_read_record(container, d, groups[d], start_ticks) for d in sorted(records)]
    finally:
        container.close()


def read_export(path: str | os.PathLike[str], *, start_ticks: int | None = None) -> SignalExport:
    """The single record of an export; DecodeError if it holds several (use read_exports)."""
    records = read_exports(path, start_ticks=start_ticks)
    if len(records) != 1:
        raise DecodeError(f"export holds {len(records)} records ({[r.record_dir for r in records]}); "
                          f"use read_exports", code="malformed", source=str(path))
    return records[0]


def _read_record(container: _Container, record_dir: str, members: list[str],
                 start_ticks: int | None) -> SignalExport:
    source = str(container.path)
    warnings: list[str] = []
    skipped: list[SkippedMember] = []
    info_member = next((m for m in members if PurePosixPath(m).name.lower() == "info.json"), None)
    if start_ticks is not None:
        info = hb.RecordInfo(start_ticks=start_ticks,
                             ticks_per_second=hb.detect_ticks_per_second(start_ticks))
    elif info_member is not None:
        try:
            info = hb.parse_info_json(container.read(info_member))
        except DecodeError as exc:
            raise exc.with_source(f"{source}:{info_member}")
        warnings.extend(info.warnings)
    else:
        raise DecodeError(f"no info.json in {record_dir or 'the export root'}: the record start is unknown "
                          f"(pass start_ticks)", code="missing_metadata", source=source)

    # Resolve every member first so duplicates are decided before any bytes are decoded.
    candidates: dict[int, list[tuple[tuple[int, int], str, str, Datatype]]] = defaultdict(list)
    for member in members:
        name = PurePosixPath(member).name
        suffix = PurePosixPath(member).suffix.lower()
        if member == info_member:
            continue
        if name.lower() in NOT_SIGNALS:
            skipped.append(SkippedMember(member, "not_signal", NOT_SIGNALS[name.lower()]))
            continue
        if suffix not in SIGNAL_EXTENSIONS:
            skipped.append(SkippedMember(member, "unknown", f"unsupported file type {suffix or '(none)'}"))
            continue
        kind = suffix[1:]
        resolved = resolve_datatype(PurePosixPath(member).stem)
        if kind == "csv" and resolved is None:
            resolved = _datatype_from_csv_header(container, member)
        if resolved is None:
            skipped.append(SkippedMember(member, "unknown", "file name matches no datatype in the catalog"))
            continue
        dt, how = resolved
        candidates[dt.id].append(((_MATCH_RANK[how], _KIND_RANK[kind]), member, kind, dt))

    per_family: dict[Family, list[tuple[int, np.ndarray, np.ndarray]]] = defaultdict(list)
    channels: list[ChannelSummary] = []
    for dt_id in sorted(candidates):
        ranked = sorted(candidates[dt_id])
        _, member, kind, dt = ranked[0]
        for _, other, _, _ in ranked[1:]:
            skipped.append(SkippedMember(other, "duplicate",
                                         f"datatype {dt_id} ({dt.name}) is read from {member}; this file "
                                         f"is an alias or duplicate and is not decoded"))
        try:
            decoded = _decode_member(container, member, kind, dt, info, warnings)
        except DecodeError as exc:
            skipped.append(SkippedMember(member, "error", exc.reason))
            warnings.append(f"{member}: {exc.reason}")
            continue
        for summary, ts_ns, values in decoded:
            channels.append(summary)
            per_family[summary.family].append((summary.datatype_id, ts_ns, values))

    tables = {family: _family_table(parts) for family, parts in per_family.items()}
    return SignalExport(source=source, record_dir=record_dir, info=info, tables=tables,
                        channels=tuple(sorted(channels, key=lambda c: c.datatype_id)),
                        skipped=tuple(skipped), warnings=tuple(warnings))


def _datatype_from_csv_header(container: _Container, member: str) -> tuple[Datatype, str] | None:
    """A CSV with an unknown name may still declare its datatype URI in the header."""
    with container.open(member) as fh:
        head = fh.readline(4096).decode("utf-8", "replace")
    ids = re.findall(r"/api/(?:v\d+/)?datatype/(\d+)/", head)
    if len(ids) == 1 and int(ids[0]) in catalog.BY_ID:
        return catalog.BY_ID[int(ids[0])], "id"
    return None


def _decode_member(container: _Container, member: str, kind: str, dt: Datatype, info: hb.RecordInfo,
                   warnings: list[str]) -> list[tuple[ChannelSummary, np.ndarray, np.ndarray]]:
    start_ns = info.start_ns
    if kind == "wav":
        with container.open(member) as fh:
            wav = hb.decode_wav(fh, signed=dt.signed)
        rate, warning = hb.wav_rate_hz(wav.framerate, dt)
        if warning:
            warnings.append(f"{member}: {warning}")
        if wav.truncated:
            warnings.append(f"{member}: data chunk shorter than declared ({wav.values.size} of "
                            f"{wav.declared_frames} samples kept)")
        ts = start_ns + hb.synchronous_offsets_ns(wav.values.size, rate,
                                                  at_period_end=dt.first_sample_at_period)
        summary = ChannelSummary(member, dt.id, dt.name, dt.family, kind, int(wav.values.size), 0, rate)
        return [(summary, ts, wav.values.astype(np.int64))]

    if kind == "hxd":
        records = hb.decode_hxd(container.read(member))
        ts = start_ns + records["offset_ticks"].astype(np.int64) * (hb.NS_PER_SECOND // info.ticks_per_second)
        summary = ChannelSummary(member, dt.id, dt.name, dt.family, kind, int(records.size))
        return [(summary, ts, records["value"].astype(np.int64))]

    out = []
    for col in hb.decode_event_csv(container.read(member)):
        col_dt = dt
        if col.datatype_id is not None and col.datatype_id != dt.id:
            # The header URI is explicit; the file name may be an alias or a user's rename.
            if col.datatype_id not in catalog.BY_ID:
                raise DecodeError(f"header declares datatype {col.datatype_id}, not in the catalog")
            warnings.append(f"{member}: header datatype {col.datatype_id} differs from the file name's "
                            f"{dt.id}; the header wins")
            col_dt = catalog.BY_ID[col.datatype_id]
        ts = start_ns + hb.csv_seconds_to_offsets_ns(col.time_s, info.ticks_per_second)
        summary = ChannelSummary(member, col_dt.id, col_dt.name, col_dt.family, kind, int(col.values.size),
                                 col.n_null_dropped)
        out.append((summary, ts, col.values))
    return out


def _family_table(parts: list[tuple[int, np.ndarray, np.ndarray]]) -> pa.Table:
    """Concatenate channels in datatype order, each sorted by time: the table is sorted by (id, ts)."""
    ids, stamps, values = [], [], []
    for dt_id, ts, val in sorted(parts, key=lambda p: p[0]):
        if ts.size > 1 and np.any(ts[1:] < ts[:-1]):  # events are usually ordered already; be sure
            order = np.argsort(ts, kind="stable")
            ts, val = ts[order], val[order]
        ids.append(np.full(ts.size, dt_id, dtype=np.int32))
        stamps.append(ts)
        values.append(val)
    return pa.Table.from_arrays(
        [pa.array(np.concatenate(stamps), type=TIME_NS),
         pa.array(np.concatenate(ids), type=pa.int32()),
         pa.array(np.concatenate(values), type=pa.int64())],
        schema=SIGNAL_SCHEMA)
