"""Failed ingestion steps, per subject-day, in the lake (dataset `ingest_failures`), so the warehouse can
say what failed and when (`fct_subject_day_completeness`). Plain Python: `defs/shared.py` calls it.

One row per (step, subject-day) whose latest attempt failed: the step (the Dagster asset that writes the
datasets), the datasets it writes, the error's class and first line, when it failed and the run. A later
attempt that gets through the subject-day removes the step's row (the partition file goes when it holds no
row). Writes go through `Lake.write_partition` (atomic, recorded in the manifest, on S3 as on disk), as a
read-merge-write under the lake merge lock, so two steps of one subject-day never lose each other's row.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..lake import Lake
from ..lake.contract import INGEST_FAILURES_DATASET, INGEST_FAILURES_SCHEMA
from .lake_merge import lake_lock, merge_partition

MESSAGE_CHARS = 500


def one_line(error: BaseException) -> str:
    """The error's message on one line, bounded (no traceback, no secrets beyond what the message says)."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 3] + "..."


def record_failure(
    lake: Lake,
    data_root: str | os.PathLike[str],
    *,
    step: str,
    datasets: Iterable[str],
    subject: str,
    day: date,
    error: BaseException,
    run_id: str | None = None,
    failed_at: datetime | None = None,
) -> None:
    """Record (or replace) the failure of `step` for one subject-day."""
    failed_at = failed_at or datetime.now(UTC)
    row = pa.Table.from_pylist(
        [
            {
                "step": step,
                "datasets": ", ".join(sorted(datasets)),
                "error_class": type(error).__name__,
                "message": one_line(error),
                "failed_at": failed_at,
                "run_id": run_id,
                "received_at": failed_at,
            }
        ],
        schema=INGEST_FAILURES_SCHEMA,
    )
    with lake_lock(data_root):
        merge_partition(
            lake, INGEST_FAILURES_DATASET, subject, day, row, _of_step(step), sort_by=[("step", "ascending")]
        )


def clear_failures(
    lake: Lake, data_root: str | os.PathLike[str], *, step: str, subject_days: Iterable[tuple[str, date]]
) -> int:
    """Remove `step`'s failure rows of these subject-days (they went through); returns how many went."""
    cleared = 0
    for subject, day in subject_days:
        if not lake.partition_file(INGEST_FAILURES_DATASET, subject, day).exists():
            continue  # the usual case: nothing failed there, one existence check and no lock
        with lake_lock(data_root):
            status = merge_partition(
                lake, INGEST_FAILURES_DATASET, subject, day, None, _of_step(step), sort_by=[("step", "ascending")]
            )
        cleared += status != "unchanged"
    return cleared


def _of_step(step: str):
    def replaced(existing: pa.Table) -> np.ndarray:
        return pc.equal(existing.column("step"), step).to_numpy(zero_copy_only=False)

    return replaced
