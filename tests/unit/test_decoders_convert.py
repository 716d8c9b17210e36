"""convert_file: content sniffing, metadata, typed errors, one schema across sources."""

from __future__ import annotations

import gzip
import hashlib
import os
import zipfile
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from hexo_pipeline.decoders import ACTIVITY_TABLE_SCHEMAS, DecodeError, convert_bytes, convert_file, sniff_format


def _shared_dir() -> Path:
    env = os.environ.get("HEXO_SHARED_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared"


REAL = _shared_dir() / "reference" / "real_files"


@pytest.fixture
def real() -> Path:
    if not _shared_dir().is_dir():
        pytest.skip("../shared is absent")
    return REAL


def test_sniffing_uses_content_not_names(real: Path, tmp_path: Path) -> None:
    fit = (real / "fit" / "garmin-fenix-5-run.fit").read_bytes()
    tcx = (real / "tcx" / "test.tcx").read_bytes()
    assert sniff_format(fit) == "fit" and sniff_format(tcx) == "tcx"
    misnamed_fit = tmp_path / "looks_like.tcx"
    misnamed_fit.write_bytes(fit)
    misnamed_tcx = tmp_path / "looks_like.fit"
    misnamed_tcx.write_bytes(tcx)
    assert convert_file(misnamed_fit).source.format == "fit"
    assert convert_file(misnamed_tcx).source.format == "tcx"
    assert sniff_format(b"<?xml version='1.0'?><gpx xmlns='http://www.topografix.com/GPX/1/1'/>") is None
    assert sniff_format(b"\xef\xbb\xbf  <TrainingCenterDatabase/>") == "tcx"


def test_fit_source_metadata(real: Path) -> None:
    path = real / "fit" / "garmin-fenix-5-run.fit"
    c = convert_file(path)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert (c.source.sha256, c.source_id, c.source.size_bytes) == (sha, sha, path.stat().st_size)
    assert (c.source.format, c.source.decoder, c.source.manufacturer, c.source.device) == (
        "fit",
        "fitparse",
        "garmin",
        "fenix5",
    )
    assert c.source.partial is False and c.source.crc_ok is True and c.source.decode_seconds > 0
    tables = c.tables
    assert set(tables) == {"activities", "laps", "trackpoints", "rr_intervals"}
    for name, table in tables.items():
        assert table.schema.equals(ACTIVITY_TABLE_SCHEMAS[name])  # metadata aside
        assert table.schema.metadata[b"hexo.decoder"] == b"fitparse"
        assert set(table["source"].unique().to_pylist()) <= {sha}
    assert tables["rr_intervals"].num_rows == 113


def test_tcx_source_metadata_and_custom_source_id(real: Path) -> None:
    c = convert_file(real / "tcx" / "cross-country-skiing_activity_1.tcx", source_id="range/42")
    assert (c.source.format, c.source.decoder, c.source.device) == ("tcx", "lxml", "vívoactive HR")
    assert c.trackpoints.num_rows == 486 and c.rr_intervals.num_rows == 0
    assert c.trackpoints["source"].unique().to_pylist() == ["range/42"]


def test_gzipped_files(real: Path, tmp_path: Path) -> None:
    for name in ("fit/garmin-edge-820-bike.fit", "tcx/no_hr.tcx"):
        raw = (real / name).read_bytes()
        gz = tmp_path / (Path(name).name + ".gz")
        gz.write_bytes(gzip.compress(raw))
        c = convert_file(gz)
        plain = convert_bytes(raw)
        assert c.source.compression == "gzip" and c.source.sha256 == hashlib.sha256(gz.read_bytes()).hexdigest()
        assert c.trackpoints.drop_columns(["source"]).equals(plain.trackpoints.drop_columns(["source"]))


def test_fallback_is_recorded(real: Path) -> None:
    c = convert_file(real / "fit_invalid" / "activity-filecrc.fit")
    assert c.source.decoder == "fitdecode" and "FitCRCError" in c.source.fallback_reason
    assert c.source.crc_ok is False
    assert c.tables["trackpoints"].schema.metadata[b"hexo.crc_ok"] == b"False"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("activity-settings-corruptheader.fit", "invalid_header"),
        ("activity-settings-nodata.fit", "no_data"),
        ("activity-unexpected-eof.fit", "truncated"),
    ],
)
def test_invalid_fit_raises_typed_error_naming_the_file(real: Path, name: str, code: str) -> None:
    path = real / "fit_invalid" / name
    with pytest.raises(DecodeError) as err:
        convert_file(path)
    assert err.value.code == code and err.value.source == str(path) and str(path) in str(err.value)
    assert err.value.partial.source.partial is True  # salvage, clearly marked
    assert convert_file(path, allow_partial=True).source.partial is True


def test_unsupported_inputs(real: Path, tmp_path: Path) -> None:
    cases = {
        "records.csv": ((real / "fit" / "garmin-fenix-5-run-records.csv").read_bytes(), "unsupported_format"),
        "empty.fit": (b"", "no_data"),
        "gpx.xml": (b"<gpx/>", "unsupported_format"),
        "broken.gz": (b"\x1f\x8b\x08\x00garbage", "malformed"),
    }
    with zipfile.ZipFile(tmp_path / "export.zip", "w") as zf:
        zf.writestr("ECG_I.wav", b"RIFF")
    cases["export.zip"] = ((tmp_path / "export.zip").read_bytes(), "unsupported_format")
    for name, (data, code) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(DecodeError) as err:
            convert_file(path)
        assert err.value.code == code, name
    with pytest.raises(DecodeError, match="cannot read"):
        convert_file(tmp_path / "missing.fit")


def test_one_parquet_dataset_across_sources(real: Path, tmp_path: Path) -> None:
    """TCX and FIT outputs must land in the same dataset without schema conflicts."""
    files = [
        real / "tcx" / "test.tcx",
        real / "tcx" / "cross-country-skiing_activity_1.tcx",
        real / "fit" / "garmin-fenix-5-walk.fit",
        real / "fit" / "sample_mulitple_header.fit",
        real / "fit_invalid" / "activity-filecrc.fit",
    ]
    expected = {name: 0 for name in ACTIVITY_TABLE_SCHEMAS}
    for i, path in enumerate(files):
        c = convert_file(path)
        for name, table in c.tables.items():
            (tmp_path / name).mkdir(exist_ok=True)
            pq.write_table(table, tmp_path / name / f"{i}.parquet")
            expected[name] += table.num_rows
    for name, schema in ACTIVITY_TABLE_SCHEMAS.items():
        dataset = ds.dataset(tmp_path / name, format="parquet")
        assert dataset.schema.remove_metadata().equals(schema)
        assert dataset.to_table().num_rows == expected[name]
    assert expected["trackpoints"] == 384 + 486 + 17 + 1773 + 14


def test_sizes_beyond_the_memory_bound_are_refused(real: Path, tmp_path: Path, monkeypatch) -> None:
    from hexo_pipeline.decoders import convert as convert_mod

    raw = (real / "tcx" / "no_hr.tcx").read_bytes()
    monkeypatch.setattr(convert_mod, "MAX_ACTIVITY_BYTES", len(raw) - 1)
    for name, data in (("big.tcx", raw), ("bomb.tcx.gz", gzip.compress(raw))):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(DecodeError) as err:
            convert_file(path)
        assert err.value.code == "too_large", name
