"""`hexo-pipeline convert FILE... --out DIR` on every real file: the lake's tables without Dagster."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from hexo_pipeline.cli import main
from hexo_pipeline.decoders import convert_file
from hexo_pipeline.ingest.activity_files import LAKE_SCHEMAS

INVALID = ("activity-settings-corruptheader.fit", "activity-settings-nodata.fit", "activity-unexpected-eof.fit")


@pytest.fixture
def real(shared_dir: Path) -> Path:
    return shared_dir / "reference" / "real_files"


def activity_files(real: Path) -> list[Path]:
    return sorted(
        p for sub in ("fit", "tcx", "fit_invalid") for p in (real / sub).iterdir() if p.suffix in (".fit", ".tcx")
    )


def test_convert_every_real_file(real: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    files = activity_files(real)
    assert main(["convert", *map(str, files), "--out", str(out)]) == 1  # some files are damaged
    captured = capsys.readouterr()
    for name in INVALID:
        assert f"{name}: FAILED [" in captured.err and "add --partial" in captured.err
    assert "9 of 12 files converted" in captured.out
    assert "activity-filecrc.fit: fit via fitdecode (fallback: fitparse FitCRCError" in captured.out
    for path in files:
        if path.name in INVALID:
            assert not list(out.glob(f"*/{path.name}.parquet"))
            continue
        expected = convert_file(path)
        for dataset, table in (
            ("activity_trackpoints", expected.trackpoints),
            ("activity_laps", expected.laps),
            ("activity_rr_intervals", expected.rr_intervals),
        ):
            written = out / dataset / f"{path.name}.parquet"
            if table.num_rows == 0:
                assert not written.exists()
                continue
            got = pq.read_table(written)
            assert got.schema.remove_metadata().equals(LAKE_SCHEMAS[dataset])
            assert got.select(table.column_names).equals(table.replace_schema_metadata(None)), (dataset, path.name)
            assert set(got["source_kind"].to_pylist()) == {"convert"}
        row = pq.read_table(out / "activity_files" / f"{path.name}.parquet").to_pylist()[0]
        assert (row["decoder"], row["file_path"]) == (expected.source.decoder, str(path.resolve()))
    # One glob reads every file's rows (schemas union cleanly), time-only TCX trackpoints included.
    con = duckdb.connect()
    n, time_only = con.execute(
        f"select count(*), count(*) filter (where file_path like '%.tcx' and latitude_deg is null "
        f"and heart_rate_bpm is null and distance_m is null) "
        f"from read_parquet('{out}/activity_trackpoints/*.parquet')"
    ).fetchone()
    assert n == 2809 + 15 + 21 + 17 + 1773 + 14 + 486 + 384 + 384
    assert time_only == 2  # test.tcx's and no_hr.tcx's last trackpoint


def test_partial_flag_and_name_collisions(real: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    eof = real / "fit_invalid" / "activity-unexpected-eof.fit"
    twin = tmp_path / "b" / "test.tcx"
    twin.parent.mkdir()
    twin.write_bytes(gzip.compress((real / "tcx" / "no_hr.tcx").read_bytes()))  # gzipped, same name
    rc = main(["convert", str(eof), str(real / "tcx" / "test.tcx"), str(twin), "--out", str(out), "--partial"])
    assert rc == 0
    assert "PARTIAL" in capsys.readouterr().out
    names = sorted(p.name for p in (out / "activity_trackpoints").iterdir())
    assert len(names) == 3 and "test.tcx.parquet" in names and any(n.startswith("test.tcx-") for n in names)
    files = pq.read_table(out / "activity_files" / "activity-unexpected-eof.fit.parquet").to_pylist()[0]
    assert files["partial"] is True and files["n_trackpoints"] == 14
    assert main(["convert", str(tmp_path / "empty_dir_that_is_missing"), "--out", str(out)]) == 1


def test_console_script_entry_point(real: Path, tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("hexo-pipeline")
    if not exe.exists():
        pytest.skip("console script not installed in this environment")
    src = tmp_path / "run.fit"
    shutil.copyfile(real / "fit" / "garmin-fenix-5-run.fit", src)
    done = subprocess.run(
        [str(exe), "convert", str(src), "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "21 trackpoints, 113 rr_intervals" in done.stdout
    assert pq.read_table(tmp_path / "o" / "activity_rr_intervals" / "run.fit.parquet").num_rows == 113


def test_one_bad_file_does_not_stop_the_others(real: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    """`convert a.fit bad.fit b.tcx`: a, b converted; bad reported on one line; exit 1; no traceback."""
    from hexo_pipeline.ingest import convert_cli

    a, bad, b = tmp_path / "a.fit", tmp_path / "bad.fit", tmp_path / "b.tcx"
    shutil.copyfile(real / "fit" / "garmin-fenix-5-run.fit", a)
    bad.write_bytes((real / "fit" / "garmin-fenix-5-walk.fit").read_bytes())
    shutil.copyfile(real / "tcx" / "no_hr.tcx", b)
    real_convert = convert_cli.convert_file

    def convert_or_crash(path, **kw):
        if Path(path).name == "bad.fit":  # an unexpected failure, not a DecodeError
            raise RuntimeError("disk on fire\nsecond line")
        return real_convert(path, **kw)

    monkeypatch.setattr(convert_cli, "convert_file", convert_or_crash)
    out = tmp_path / "out"
    assert main(["convert", str(a), str(bad), str(b), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert f"{bad}: FAILED [RuntimeError] disk on fire second line" in captured.err
    assert "Traceback" not in captured.err + captured.out
    assert "2 of 3 files converted" in captured.out and "1 of 3 files FAILED" in captured.err
    assert {p.name for p in (out / "activity_trackpoints").iterdir()} == {"a.fit.parquet", "b.tcx.parquet"}
    assert main(["convert", str(bad), "--out", str(out), "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_damaged_files_are_reported_one_line_each(real: Path, tmp_path: Path, capsys) -> None:
    """Real files with garbage values or bytes: typed one-line reasons, the good file still converts."""
    tcx = (real / "tcx" / "test.tcx").read_bytes()
    cases = {
        "inf.tcx": tcx.replace(b"<AltitudeMeters>", b"<AltitudeMeters>inf", 1),
        "abc.tcx": tcx.replace(b"<TotalTimeSeconds>", b"<TotalTimeSeconds>abc", 1),
        "huge.tcx": tcx.replace(b"<Value>", b"<Value>-99999999999", 1),
        "cut.fit": (real / "fit" / "garmin-edge-820-bike.fit").read_bytes()[:300],
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    good = tmp_path / "good.tcx"
    good.write_bytes(tcx)
    rc = main(["convert", *(str(tmp_path / n) for n in cases), str(good), "--out", str(tmp_path / "out")])
    assert rc == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "FAILED [" in line]
    assert len(lines) == 4 and "Traceback" not in err
    assert all("[implausible_value] bad number for" in line for line in lines if ".tcx" in line)
    assert (tmp_path / "out" / "activity_trackpoints" / "good.tcx.parquet").exists()
