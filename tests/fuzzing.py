"""Mutations of the real activity files and the contract every decoder entry point must keep on them.

Used by tests/test_fuzz_decoders.py (hypothesis, bounded, in CI) and tests/fuzz_long.py (`make fuzz`,
long runs with a memory and time limit per case). The contract: a damaged input gives a DecodeError,
anything else gives tables with the project's schemas; never a generic exception.
"""

from __future__ import annotations

import gzip
import os
import random
import re
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from hexo_pipeline.decoders import ACTIVITY_TABLE_SCHEMAS, DecodeError, convert_bytes
from hexo_pipeline.decoders.fit import decode_fit
from hexo_pipeline.decoders.tcx import decode_tcx
from hexo_pipeline.lake.contract import MONITORING_SCHEMA

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HEXO_SHARED_DIR", REPO.parent / "shared"))
REAL = SHARED / "reference" / "real_files"
CORPUS = REPO / "tests" / "fuzz_corpus"
# fit_monitoring: the FIT decoder on Garmin monitoring files (seeds built with fit-tool: no real one in shared/)
ENTRIES = ("fit", "tcx", "convert", "fit_monitoring")

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
    folders = {"fit": ("fit", "fit_invalid"), "tcx": ("tcx",), "convert": ("fit", "fit_invalid", "tcx")}[entry]
    files = sorted(p for f in folders for p in (REAL / f).iterdir() if p.suffix in (".fit", ".tcx"))
    return [p.read_bytes() for p in files]


def case_input(entry: str, case: str) -> bytes:
    """The input of fuzz case `case` (e.g. "1:fit:488"): rebuilt from the real files, so the corpus
    stores recipes (and the sha256 they must give), never copies of the shared files."""
    seeds = real_files(entry)
    rng = random.Random(case)
    return mutate(seeds[rng.randrange(len(seeds))], seeds, rng)


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
    return convert_bytes(data, path="fuzz")


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
    for name, schema in {**ACTIVITY_TABLE_SCHEMAS, "monitoring": MONITORING_SCHEMA}.items():
        table = getattr(result, name, None)
        if table is None:  # TCX results have no rr_intervals
            continue
        assert isinstance(table, pa.Table)
        assert table.schema.remove_metadata().equals(schema), name
