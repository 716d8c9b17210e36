"""One entry for activity files: `convert_file(path) -> ConvertedFile`, format chosen by content.

Sniffing looks at bytes, never at the file name (uploads and API downloads are often misnamed):
- FIT: byte 0 is the header size (12 or 14) and bytes 8..11 are ".FIT";
- TCX: an XML document whose root element is TrainingCenterDatabase (any namespace prefix);
- gzip (`.fit.gz`, `.tcx.gz` as platforms export them): decompressed, then sniffed again.
Anything else raises DecodeError(code="unsupported_format"); a Hexoskin binary export (zip) is pointed
to `hexoskin_export.read_export`, which produces signal tables rather than activity tables.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
from lxml import etree

from hexo_pipeline.decoders.errors import DecodeError
from hexo_pipeline.decoders.fit import FitResult, decode_fit
from hexo_pipeline.decoders.schemas import ACTIVITY_TABLE_SCHEMAS, MONITORING_SCHEMA
from hexo_pipeline.decoders.tcx import decode_tcx

# Memory bound: the largest real activity files are tens of MiB (a 24,239-record multisport FIT is
# ~1 MiB); anything beyond this, as given or once gunzipped, is refused before it is decoded.
MAX_ACTIVITY_BYTES = 256 << 20


@dataclass(frozen=True)
class SourceInfo:
    path: str
    sha256: str  # of the bytes as given (compressed if gzip)
    size_bytes: int
    format: str  # "fit" | "tcx"
    compression: str | None  # "gzip" | None
    decoder: str  # "fitparse" | "fitdecode" | "lxml"
    decoder_version: str
    fallback_reason: str | None  # why the primary decoder was not used
    manufacturer: str | None
    device: str | None  # product / creator name
    serial_number: str | None
    crc_ok: bool | None
    partial: bool
    warnings: tuple[str, ...]
    decode_seconds: float

    def as_metadata(self) -> dict[str, str]:
        """Flat string map for Parquet key-value metadata (no secrets: file facts only)."""
        facts = {k: v for k, v in asdict(self).items() if k != "warnings"}
        return {f"hexo.{k}": "" if v is None else str(v) for k, v in facts.items()} | {
            "hexo.warnings": " | ".join(self.warnings)
        }


@dataclass(frozen=True)
class ConvertedFile:
    source: SourceInfo
    source_id: str  # the value of every table's `source` column
    activities: pa.Table
    laps: pa.Table
    trackpoints: pa.Table
    rr_intervals: pa.Table
    extra: dict[str, str] = field(default_factory=dict)
    monitoring: pa.Table = field(default_factory=MONITORING_SCHEMA.empty_table)  # FIT monitoring files

    @property
    def tables(self) -> dict[str, pa.Table]:
        meta = self.source.as_metadata()
        return {name: getattr(self, name).replace_schema_metadata(meta) for name in ACTIVITY_TABLE_SCHEMAS}


def sniff_format(data: bytes) -> str | None:
    """'fit', 'tcx', 'gzip', 'zip' or None, from the leading bytes."""
    if len(data) >= 12 and data[0] in (12, 14) and data[8:12] == b".FIT":
        return "fit"
    if data[:2] == b"\x1f\x8b":
        return "gzip"
    if data[:4] == b"PK\x03\x04":
        return "zip"
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<") and _xml_root_localname(data) == "TrainingCenterDatabase":
        return "tcx"
    return None


def _xml_root_localname(data: bytes) -> str | None:
    """Local name of the root element, reading only until it starts."""
    try:
        for _, el in etree.iterparse(io.BytesIO(data), events=("start",), resolve_entities=False, no_network=True):
            return etree.QName(el).localname
    except (etree.LxmlError, ValueError, UnicodeError):  # not XML, or XML lxml cannot read
        return None
    return None


def convert_file(
    path: str | os.PathLike[str], *, source_id: str | None = None, allow_partial: bool = False, strict_crc: bool = False
) -> ConvertedFile:
    """Decode a FIT or TCX file (optionally gzipped) into the four activity tables.

    source_id: value of the tables' `source` column; default the file's sha256.
    allow_partial: return what a truncated/corrupt FIT holds (marked partial) instead of raising.
    strict_crc: treat a FIT CRC mismatch as an error instead of a flagged success.
    """
    p = Path(path)
    try:
        if p.stat().st_size > MAX_ACTIVITY_BYTES:
            raise DecodeError(
                f"{p.stat().st_size} bytes: larger than the {MAX_ACTIVITY_BYTES >> 20} MiB "
                f"accepted for an activity file",
                code="too_large",
                source=str(p),
            )
        data = p.read_bytes()
    except OSError as exc:
        raise DecodeError(f"cannot read: {exc}", code="malformed", source=str(p)) from exc
    try:
        return convert_bytes(data, path=str(p), source_id=source_id, allow_partial=allow_partial, strict_crc=strict_crc)
    except DecodeError as exc:
        raise exc.with_source(str(p)) from exc.__cause__


def convert_bytes(
    data: bytes,
    *,
    path: str = "<bytes>",
    source_id: str | None = None,
    allow_partial: bool = False,
    strict_crc: bool = False,
) -> ConvertedFile:
    """convert_file for bytes already in memory (e.g. an API download)."""
    started = time.perf_counter()
    if len(data) > MAX_ACTIVITY_BYTES:
        raise DecodeError(
            f"{len(data)} bytes: larger than the {MAX_ACTIVITY_BYTES >> 20} MiB accepted for an activity file",
            code="too_large",
        )
    sha256 = hashlib.sha256(data).hexdigest()
    source_id = source_id or sha256
    compression = None
    fmt = sniff_format(data)
    payload = data
    if fmt == "gzip":
        compression = "gzip"
        payload = _gunzip(data)
        fmt = sniff_format(payload)
    if fmt == "zip":
        raise DecodeError(
            "a zip archive: Hexoskin binary exports are read with hexoskin_export.read_export",
            code="unsupported_format",
        )
    if fmt is None:
        if not payload:
            raise DecodeError("empty file", code="no_data")
        raise DecodeError(
            "neither FIT (no '.FIT' signature at byte 8) nor TCX (no TrainingCenterDatabase root element)",
            code="unsupported_format",
        )

    def info(
        *,
        decoder: str,
        decoder_version: str,
        fallback_reason: str | None = None,
        manufacturer: str | None = None,
        device: str | None = None,
        serial_number: str | None = None,
        crc_ok: bool | None = None,
        partial: bool = False,
        warnings: tuple[str, ...] = (),
    ) -> SourceInfo:
        return SourceInfo(
            path=path,
            sha256=sha256,
            size_bytes=len(data),
            format=fmt,
            compression=compression,
            decoder=decoder,
            decoder_version=decoder_version,
            fallback_reason=fallback_reason,
            manufacturer=manufacturer,
            device=device,
            serial_number=serial_number,
            crc_ok=crc_ok,
            partial=partial,
            warnings=warnings,
            decode_seconds=time.perf_counter() - started,
        )

    if fmt == "tcx":
        tcx = decode_tcx(payload, source=source_id)
        return ConvertedFile(
            source=info(decoder="lxml", decoder_version=etree.__version__, device=tcx.device),
            source_id=source_id,
            activities=tcx.activities,
            laps=tcx.laps,
            trackpoints=tcx.trackpoints,
            rr_intervals=ACTIVITY_TABLE_SCHEMAS["rr_intervals"].empty_table(),
            extra={"application": tcx.application or ""},
        )

    def from_fit(fit: FitResult) -> ConvertedFile:
        return ConvertedFile(
            source=info(
                decoder=fit.decoder,
                decoder_version=fit.decoder_version,
                fallback_reason=fit.fallback_reason,
                manufacturer=fit.manufacturer,
                device=fit.product,
                serial_number=fit.serial_number,
                crc_ok=fit.crc_ok,
                partial=fit.partial,
                warnings=fit.warnings,
            ),
            source_id=source_id,
            activities=fit.activities,
            laps=fit.laps,
            trackpoints=fit.trackpoints,
            rr_intervals=fit.rr_intervals,
            extra={"file_type": fit.file_type or ""},
            monitoring=fit.monitoring,
        )

    try:
        fit = decode_fit(payload, source=source_id, allow_partial=allow_partial, strict_crc=strict_crc)
    except DecodeError as exc:
        if exc.partial is not None:  # keep the salvage usable at this level too
            raise DecodeError(exc.reason, code=exc.code, partial=from_fit(exc.partial)) from exc
        raise
    return from_fit(fit)


def _gunzip(data: bytes) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
            out = gz.read(MAX_ACTIVITY_BYTES + 1)  # never more than the bound in memory
    except (OSError, EOFError, zlib.error) as exc:
        raise DecodeError(f"corrupt gzip: {exc}", code="malformed") from exc
    if len(out) > MAX_ACTIVITY_BYTES:
        raise DecodeError(f"gzip expands beyond {MAX_ACTIVITY_BYTES >> 20} MiB", code="too_large")
    return out
