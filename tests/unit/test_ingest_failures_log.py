"""The lake's log of failed ingestion steps (ingest/failures.py): one row per step and subject-day, the
latest failure replacing an earlier one, cleared per step, the partition deleted (manifest `delete`) when
it holds no row."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from hexo_pipeline.ingest.failures import clear_failures, one_line, record_failure
from hexo_pipeline.lake import Lake

DAY = date(2026, 10, 5)


def test_failures_are_recorded_per_step_and_cleared_per_step(tmp_path: Path) -> None:
    lake = Lake.in_data_dir(tmp_path)
    at = datetime(2026, 10, 6, 1, tzinfo=UTC)

    def fail(step: str, datasets: list[str], error: Exception, run_id: str) -> None:
        record_failure(
            lake,
            tmp_path,
            step=step,
            datasets=datasets,
            subject="u1",
            day=DAY,
            error=error,
            run_id=run_id,
            failed_at=at,
        )

    fail("records_and_ranges", ["records", "ranges"], RuntimeError("first\nattempt"), "r1")
    fail("records_and_ranges", ["records", "ranges"], ConnectionError("HTTP 500 after 5 retries"), "r2")
    fail("signals", ["signals_ecg"], ValueError("bad zip"), "r2")
    rows = {r["step"]: r for r in lake.read_partition("ingest_failures", "u1", DAY).to_pylist()}
    assert set(rows) == {"records_and_ranges", "signals"}  # the latest failure of each step
    assert (rows["records_and_ranges"]["error_class"], rows["records_and_ranges"]["message"]) == (
        "ConnectionError",
        "HTTP 500 after 5 retries",
    )
    assert rows["records_and_ranges"]["datasets"] == "ranges, records" and rows["signals"]["run_id"] == "r2"

    assert clear_failures(lake, tmp_path, step="signals", subject_days=[("u1", DAY), ("u2", DAY)]) == 1
    assert lake.read_partition("ingest_failures", "u1", DAY)["step"].to_pylist() == ["records_and_ranges"]
    assert clear_failures(lake, tmp_path, step="records_and_ranges", subject_days=[("u1", DAY)]) == 1
    assert lake.read_partition("ingest_failures", "u1", DAY) is None
    (entry,) = lake.manifest.current("ingest_failures", include_deletes=True).to_pylist()
    assert entry["op"] == "delete"


def test_one_line_is_one_bounded_line() -> None:
    assert one_line(RuntimeError("a\n  b\tc")) == "a b c"
    assert len(one_line(RuntimeError("x" * 5000))) == 500
    assert one_line(RuntimeError()) == "RuntimeError"
