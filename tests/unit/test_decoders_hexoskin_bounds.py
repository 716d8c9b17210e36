"""Bounds of the Hexoskin export decoders (decoders/hexoskin_export.py, module doc; issue 8): every bomb
is refused as a whole record with a `too_large` DecodeError naming the member, before its samples are
decoded; honest exports (the real 129 s Astroskin record) still read whole."""

from __future__ import annotations

import collections
import zipfile
from pathlib import Path

import numpy as np
import pytest
from bombs import hxd_bomb_folder, wav_bytes, wav_header, write_zeros_member
from fuzzing import mutated_export

from hexo_pipeline.decoders import DecodeError, read_export, read_exports
from hexo_pipeline.decoders import hexoskin_export as hx


@pytest.fixture
def export_dir(shared_dir: Path) -> Path:
    path = shared_dir / "reference" / "real_exports" / "astroskin_record_122445"
    assert path.is_dir()
    return path


def real_members(export_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(export_dir.iterdir())}


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def refused(path: Path, match: str, **kwargs) -> DecodeError:
    with pytest.raises(DecodeError, match=match) as caught:
        read_exports(path, **kwargs)
    assert caught.value.code == "too_large"
    assert "\n" not in str(caught.value)  # one line
    return caught.value


def test_the_issue_hxd_bomb_as_a_folder_is_refused_from_its_size(export_dir: Path, tmp_path: Path) -> None:
    # A folder has no zip directory: the member's size (67 M events) against the record's duration (the
    # zip cases, and their memory, are in tests/integration/test_import_export_bounds.py).
    err = refused(hxd_bomb_folder(export_dir, tmp_path / "hxd_folder"), r"67,108,864 events in a record of")
    assert err.source.endswith("hxd_folder:RR_interval.hxd")


def test_a_wav_header_declaring_more_than_its_data_is_refused(export_dir: Path, tmp_path: Path) -> None:
    members = real_members(export_dir)
    members["ECG_I.wav"] = wav_bytes(bytes(512), 256, declared_frames=2**29)  # 1 GiB declared, 1 s held
    refused(make_zip(tmp_path / "lying.zip", members), r"ECG_I.wav: WAV header declares 536,870,912 samples")
    # Up to a second short (a recording cut by power loss) is kept, with a warning.
    members["ECG_I.wav"] = wav_bytes(bytes(2 * 33_000), 256, declared_frames=33_024)
    export = read_export(make_zip(tmp_path / "cut.zip", members))
    assert export.channel("ECG_I").n_samples == 33_000
    assert any("shorter than declared" in w for w in export.warnings)


def test_a_channel_longer_than_the_others_is_refused(export_dir: Path, tmp_path: Path) -> None:
    members = real_members(export_dir)
    noise = np.random.default_rng(1).integers(0, 4096, 256 * 3600, dtype="<i2").tobytes()
    members["ECG_I.wav"] = wav_bytes(noise, 256)  # an hour of honest-looking noise in a 129 s record
    refused(make_zip(tmp_path / "long.zip", members), r"ECG_I.wav: 921,600 samples at 256 Hz \(3,600 s\)")


def test_a_highly_compressed_member_is_refused(export_dir: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "ratio.zip", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("info.json", (export_dir / "info.json").read_bytes())
        frames = 16 * 2**20
        write_zeros_member(zf, "ECG_I.wav", 44 + 2 * frames, head=wav_header(256, frames))  # 32 MB, under the cap
    refused(tmp_path / "ratio.zip", r"ECG_I.wav: compresses [\d,]+:1")


def test_the_callers_duration_bounds_the_channels(export_dir: Path, tmp_path: Path) -> None:
    assert read_export(export_dir).n_samples == read_exports(export_dir, duration_s=131)[0].n_samples
    refused(export_dir, r"heart_rate.wav: 128 samples at 1 Hz \(128 s\) in a record of 60 s", duration_s=60)


def test_event_csv_is_counted_against_the_duration(export_dir: Path, tmp_path: Path) -> None:
    members = {"info.json": (export_dir / "info.json").read_bytes()}
    members["heart_rate.wav"] = wav_header(1, 0)  # a 0-second record
    members["RR_interval.csv"] = b"time [s],RR_interval [s/256](/api/datatype/18/)\n" + b"0.0,200\n" * 20_000
    refused(make_zip(tmp_path / "csv.zip", members), r"RR_interval.csv: 20,000 events in 0 s")
    members["RR_interval.csv"] = b"time [s],RR_interval [s/256](/api/datatype/18/)\n" + b"0.0,200\n" * 50
    assert read_export(make_zip(tmp_path / "ok.zip", members)).channel("RR_interval").n_samples == 50


def test_hxd_events_are_counted_against_the_wav_channels(export_dir: Path, tmp_path: Path) -> None:
    members = real_members(export_dir)
    events = np.zeros(hx.allowed_events(129) + 1, dtype=[("t", "<u8"), ("v", "<i8")])
    members["RR_interval.hxd"] = events.tobytes()
    del members["RR_interval.csv"]
    refused(make_zip(tmp_path / "events.zip", members), r"RR_interval.hxd: [\d,]+ events in a record of 129 s")


def test_a_damaged_zip_stream_is_a_decode_error(export_dir: Path, tmp_path: Path) -> None:
    good = make_zip(tmp_path / "good.zip", real_members(export_dir))
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as zf:
        info = zf.getinfo("ECG_I.wav")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + 200 : start + 400] = bytes(200)  # corrupt the deflate stream past the WAV header
    (tmp_path / "damaged.zip").write_bytes(bytes(data))
    export = read_export(tmp_path / "damaged.zip")  # one damaged member: skipped with its reason
    assert any(s.member == "ECG_I.wav" and s.kind == "error" for s in export.skipped)
    (tmp_path / "truncated.zip").write_bytes(data[:5000])  # no central directory
    with pytest.raises(DecodeError, match="not a zip file"):
        read_exports(tmp_path / "truncated.zip")


# ------------------------------------------------------------------------------ mutated exports
# The case builder (tests/fuzzing.py:mutated_export) is shared with `make fuzz` (entry hexoskin_export),
# which runs thousands of these under a memory and time limit.
# Found by `python` loops of 2,000-3,000 cases before the fix: a member header pointing before the file
# start (OSError from seek) and a directory claiming zip version 19.5 (NotImplementedError).
REGRESSIONS = ["export:3", "export:663"]


@pytest.mark.parametrize("cases", [REGRESSIONS + [f"export:ci:{i}" for i in range(150)]], ids=["150+2"])
def test_mutated_exports_raise_only_decode_errors(export_dir: Path, tmp_path: Path, cases: list[str]) -> None:
    path = tmp_path / "mutated.zip"
    outcomes = collections.Counter()
    for case in cases:
        path.write_bytes(mutated_export(case, export_dir))
        try:
            read_exports(path)
            outcomes["ok"] += 1
        except DecodeError as exc:  # anything else escapes and fails the test, naming the case
            outcomes[exc.code] += 1
    assert sum(outcomes.values()) == len(cases)
