"""Mutations of the real activity files and Hexoskin exports, and the contract every decoder entry point
must keep on them.

Used by tests/unit/test_fuzz_decoders.py (hypothesis, bounded, in CI), tests/unit/test_decoders_hexoskin_bounds.py
and tests/fuzz_long.py (`make fuzz`, long runs with a memory and time limit per case). The contract: a
damaged input gives a DecodeError, anything else gives tables with the project's schemas; never a generic
exception.
"""

from __future__ import annotations

import gzip
import io
import os
import random
import re
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from hexo_pipeline.decoders import ACTIVITY_TABLE_SCHEMAS, DecodeError, convert_bytes, read_exports
from hexo_pipeline.decoders import hexoskin_binary as hb
from hexo_pipeline.decoders.fit import decode_fit
from hexo_pipeline.decoders.schemas import SIGNAL_SCHEMA
from hexo_pipeline.decoders.tcx import decode_tcx
from hexo_pipeline.lake.contract import MONITORING_SCHEMA

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HEXO_SHARED_DIR", REPO.parent / "shared"))
REAL = SHARED / "reference" / "real_files"
CORPUS = REPO / "tests" / "fuzz_corpus"
REAL_EXPORT = SHARED / "reference" / "real_exports" / "astroskin_record_122445"
# fit_monitoring: the FIT decoder on Garmin monitoring files (seeds built with fit-tool: no real one in shared/);
# hexoskin_export: a mutated export zip through read_exports (the importer's decoding, no lake writes);
# hexoskin_members: one mutated member (WAV, .hxd, event CSV, info.json) through every single-member decoder.
ENTRIES = ("fit", "tcx", "convert", "fit_monitoring", "hexoskin_export", "hexoskin_members")

# Element texts a broken or hostile writer may put where a number or a time belongs.
BAD_TEXTS = (
    "inf",
    "-inf",
    "nan",
    "NaN",
    "1e309",
    "-99999999999",
    "99999999999999999999999",
    "abc",
    "",
    " ",
    "0x1F",
    "1,5",
    "--1",
    "1e-400",
    "9" * 400,
    "2021-13-45T99:99:99Z",
    "-0",
    "+1.5e3",
    "\u0663\u0662",
    "1_000",
)


def real_files(entry: str) -> list[bytes]:
    """Seed inputs: the real files the entry point is meant for (convert gets all of them)."""
    if entry == "fit_monitoring":
        from monitoring_fit import monitoring_seeds

        return monitoring_seeds()
    if entry == "hexoskin_export":
        return [zip_bytes(export_members())]
    if entry == "hexoskin_members":
        return [*export_members().values(), rr_hxd()]
    folders = {"fit": ("fit", "fit_invalid"), "tcx": ("tcx",), "convert": ("fit", "fit_invalid", "tcx")}[entry]
    files = sorted(p for f in folders for p in (REAL / f).iterdir() if p.suffix in (".fit", ".tcx"))
    return [p.read_bytes() for p in files]


def case_input(entry: str, case: str) -> bytes:
    """The input of fuzz case `case` (e.g. "1:fit:488"): rebuilt from the real files, so the corpus
    stores recipes (and the sha256 they must give), never copies of the shared files."""
    if entry == "hexoskin_export":
        return mutated_export(case)
    seeds = real_files(entry)
    rng = random.Random(case)
    seed = seeds[rng.randrange(len(seeds))]
    if seed.startswith(b"time [s]") and rng.random() < 0.5:
        return _csv_cells(seed, rng)  # a well-formed event CSV with bad cells: reaches the value checks
    return mutate(seed, seeds, rng)


# ------------------------------------------------------------------------------ Hexoskin exports
def export_members(export_dir: Path = REAL_EXPORT) -> dict[str, bytes]:
    """The members of the real Astroskin export (a folder in shared/), by file name."""
    return {p.name: p.read_bytes() for p in sorted(export_dir.iterdir())}


def zip_bytes(members: dict[str, bytes]) -> bytes:
    """The members deflated in a zip, with a fixed date (the corpus checks a case's sha256)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(2017, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def mutated_export(case: str, export_dir: Path = REAL_EXPORT) -> bytes:
    """Fuzz case `case`: the real export zipped, then either the zip's bytes or one member mutated
    (flips, truncation, splices, extreme size fields)."""
    rng = random.Random(case)
    members = export_members(export_dir)
    if rng.random() < 0.3:
        data = zip_bytes(members)
        return mutate(data, [data], rng)
    name = rng.choice(sorted(members))
    members[name] = mutate(members[name], [members[name]], rng)
    return zip_bytes(members)


def rr_hxd(export_dir: Path = REAL_EXPORT) -> bytes:
    """An .hxd seed (the real export holds none): its RR_interval.csv as '<Qq' (offset ticks, value)."""
    (column,) = hb.decode_event_csv((export_dir / "RR_interval.csv").read_bytes())
    records = np.empty(column.values.size, dtype=hb.HXD_DTYPE)
    records["offset_ticks"] = np.rint(column.time_s * 256).astype(np.uint64)
    records["value"] = column.values
    return records.tobytes()


def _csv_cells(data: bytes, rng: random.Random) -> bytes:
    """One to four cells of an event CSV's body replaced by BAD_TEXTS."""
    head, _, body = data.partition(b"\n")
    spans = [m.span() for m in re.finditer(rb"[^,\n]+", body)]
    for a, b in sorted(rng.sample(spans, min(len(spans), rng.randint(1, 4))), reverse=True):
        body = body[:a] + BAD_TEXTS[rng.randrange(len(BAD_TEXTS))].encode() + body[b:]
    return head + b"\n" + body


def mutate(data: bytes, others: list[bytes], rng: random.Random) -> bytes:
    """One to three random mutations: byte flips, truncation, splices, chunk duplication or deletion,
    XML text replacement (TCX) and FIT header/definition size fields set to extreme values."""
    if data.lstrip()[:1] == b"<" and rng.random() < 0.6:
        data = _xml_text(data, others, rng)  # well-formed XML with bad values: reaches the tables
    else:
        for _ in range(rng.randint(1, 3)):
            data = _MUTATORS[rng.randrange(len(_MUTATORS))](data, others, rng)
    if rng.random() < 0.05:
        data = gzip.compress(data, mtime=0)
    return data


def _flip(data: bytes, _others: list[bytes], rng: random.Random) -> bytes:
    if not data:
        return data
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(buf))
        buf[i] = rng.randrange(256) if rng.random() < 0.5 else buf[i] ^ (1 << rng.randrange(8))
    return bytes(buf)


def _truncate(data: bytes, _others: list[bytes], rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def _splice(data: bytes, others: list[bytes], rng: random.Random) -> bytes:
    other = others[rng.randrange(len(others))]
    return data[: rng.randrange(len(data) + 1)] + other[rng.randrange(len(other) + 1) :]


def _chunk(data: bytes, _others: list[bytes], rng: random.Random) -> bytes:
    if len(data) < 2:
        return data
    i = rng.randrange(len(data))
    j = min(len(data), i + rng.randint(1, 256))
    return data[:j] + data[i:] if rng.random() < 0.5 else data[:i] + data[j:]  # duplicate or delete


def _xml_text(data: bytes, _others: list[bytes], rng: random.Random) -> bytes:
    spans = [m.span(1) for m in re.finditer(rb">([^<>]{1,40})<", data[:2_000_000])]
    attrs = [m.span(1) for m in re.finditer(rb'="([^"]{1,40})"', data[:2_000_000])]
    spans = spans + attrs
    if not spans:
        return _flip(data, _others, rng)
    out = data
    for a, b in sorted(rng.sample(spans, min(len(spans), rng.randint(1, 4))), reverse=True):
        out = out[:a] + BAD_TEXTS[rng.randrange(len(BAD_TEXTS))].encode() + out[b:]
    return out


def _fit_sizes(data: bytes, _others: list[bytes], rng: random.Random) -> bytes:
    """Header data_size or a byte after a definition record header set to an extreme value."""
    if len(data) < 14:
        return data
    buf = bytearray(data)
    if rng.random() < 0.5:
        buf[4:8] = rng.choice([b"\xff\xff\xff\xff", b"\xff\xff\xff\x7f", b"\x00\x00\x00\x00", rng.randbytes(4)])
    else:
        defs = [i for i in range(buf[0], min(len(buf), 50_000)) if buf[i] & 0xF0 == 0x40]
        if defs:
            i = rng.choice(defs) + rng.randint(1, 8)
            if i < len(buf):
                buf[i] = rng.choice([0x00, 0xFF, 0xFE, 0x7F, rng.randrange(256)])
    return bytes(buf)


_MUTATORS: list[Callable[[bytes, list[bytes], random.Random], bytes]] = [
    _flip,
    _flip,
    _truncate,
    _splice,
    _chunk,
    _xml_text,
    _xml_text,
    _fit_sizes,
]


def run_entry(entry: str, data: bytes) -> object:
    if entry in ("fit", "fit_monitoring"):
        return decode_fit(data, source="fuzz")
    if entry == "tcx":
        return decode_tcx(data, source="fuzz")
    if entry == "hexoskin_export":
        return _read_export_bytes(data)
    if entry == "hexoskin_members":
        return _decode_member_bytes(data)
    return convert_bytes(data, path="fuzz")


def _read_export_bytes(data: bytes) -> list:
    """read_exports takes a path (it streams zip members): the bytes go through a temporary file."""
    with tempfile.TemporaryDirectory(prefix="hexo-fuzz-") as tmp:
        path = Path(tmp) / "export.zip"
        path.write_bytes(data)
        return read_exports(path)


def _decode_member_bytes(data: bytes) -> list:
    """Every single-member decoder on the same bytes: any may refuse them with a DecodeError, nothing
    else may escape. The results of those that accepted them, or the first DecodeError if none did."""
    decoders = (
        lambda: hb.decode_wav(data, signed=True),
        lambda: hb.decode_wav(io.BytesIO(data), signed=False),  # the export streams zip members
        lambda: hb.read_wav_header(io.BytesIO(data)),
        lambda: hb.decode_hxd(data),
        lambda: hb.decode_event_csv(data),
        lambda: hb.parse_info_json(data),
    )
    results, first_error = [], None
    for decode in decoders:
        try:
            results.append(decode())
        except DecodeError as exc:
            first_error = first_error or exc
    if first_error is not None and not results:
        raise first_error
    return results


def check(entry: str, data: bytes) -> str:
    """Run one input; 'ok' or 'decode_error:<code>'. Any other exception propagates: that is a finding.
    Tables returned must carry the project's schemas."""
    try:
        result = run_entry(entry, data)
    except DecodeError as exc:
        assert exc.code and exc.reason
        if exc.partial is not None:
            _check_tables(exc.partial)
        return f"decode_error:{exc.code}"
    _check_tables(result)
    return "ok"


def _check_tables(result: object) -> None:
    if isinstance(result, list):  # read_exports: one SignalExport per record; member decoders: no tables
        for export in result:
            for table in getattr(export, "tables", {}).values():
                assert table.schema.remove_metadata().equals(SIGNAL_SCHEMA)
        return
    for name, schema in {**ACTIVITY_TABLE_SCHEMAS, "monitoring": MONITORING_SCHEMA}.items():
        table = getattr(result, name, None)
        if table is None:  # TCX results have no rr_intervals
            continue
        assert isinstance(table, pa.Table)
        assert table.schema.remove_metadata().equals(schema), name
