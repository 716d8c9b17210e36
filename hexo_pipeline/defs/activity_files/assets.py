"""Activity-file assets: each subject-day's range exports (TCX + FIT from the API) and the inbox of
files users drop in, converted into the lake, with their checks beside them.

Undecodable files are quarantined with their reason (`hexo_pipeline.ingest.activity_files`), the
partition's other files still land, and the failure shows as a failed ERROR check naming file and
reason. The work itself is plain Python in `ingest/activity_files.py`.
"""

import os
from collections import Counter
from datetime import timedelta

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from ...ingest.activity_files import (
    FILES_DATASET,
    INBOX,
    RANGE_EXPORT,
    TABLE_DATASETS,
    IngestReport,
    all_quarantined,
    inbox_fingerprint,
    ingest_inbox,
    ingest_range_exports,
    list_inbox,
    ranges_starting_on,
)
from ...ingest.subject_day import now_utc
from ..partitions import subject_day_partitions
from ..resources import HexoskinResource, LakeResource, StudyResource
from ..shared import API_POOL, API_RETRY, BACKFILL, MAX_LISTED, SubjectDayRun, listing

# Range exports are shown with the subject-day assets; the ingestion job selects them explicitly
# (defs/jobs.py), so its schedule and the late-data sensor fetch them with each subject-day.
RANGE_GROUP = "subject_day"
INBOX_GROUP = "activity_files"
DATASETS = [FILES_DATASET, *TABLE_DATASETS.values()]
_DESCRIPTIONS = {
    FILES_DATASET: "One row per TCX/FIT file landed (range exports and inbox): source, sha256, decoder used",
    "activities": "Activities (TCX Activity / FIT session) of every landed file",
    "activity_laps": "Laps of every landed TCX/FIT file",
    "activity_trackpoints": "Trackpoints (TCX) and records (FIT), time-only trackpoints kept",
    "activity_rr_intervals": "RR intervals from FIT hrv messages, implausible ones flagged (rr_plausible)",
}
# A trackpoint may sit this far outside its range: FIT stores whole seconds, TCX the 1 Hz sample ends.
RANGE_TOLERANCE = timedelta(seconds=2)

RANGE_CHECKS = [
    dg.AssetCheckSpec(
        "range_exports_decoded",
        asset=FILES_DATASET,
        description="every range export downloaded and decoded (else: quarantined, with reason)",
    ),
    dg.AssetCheckSpec(
        "trackpoints_inside_range",
        asset="activity_trackpoints",
        description="every range-export trackpoint lies inside its range's window",
    ),
    dg.AssetCheckSpec(
        "rr_intervals_plausible",
        asset="activity_rr_intervals",
        description="RR intervals inside the plausible band (flagged rows are kept)",
    ),
]


@dg.multi_asset(
    name="range_exports",
    specs=[dg.AssetSpec(ds, group_name=RANGE_GROUP, deps=["ranges"], description=_DESCRIPTIONS[ds]) for ds in DATASETS],
    partitions_def=subject_day_partitions,
    backfill_policy=BACKFILL,
    retry_policy=API_RETRY,
    pool=API_POOL,
    check_specs=RANGE_CHECKS,
)
def range_exports(
    context: dg.AssetExecutionContext, hexoskin: HexoskinResource, storage: LakeResource, study: StudyResource
):
    """TCX and FIT of each top-level range starting on the subject-day: downloaded to `exports/`, kept,
    converted to the activity datasets (inbox rows in the same partitions are left alone)."""
    lake = storage.lake()
    tz = study.settings().timezone
    report = IngestReport()
    run = SubjectDayRun(context, DATASETS, RANGE_CHECKS)
    with run.recording_failures(storage), hexoskin.client() as api:
        for key, subject, day in run:
            ranges = lake.read_partition("ranges", subject, day)
            part = ingest_range_exports(
                api, ranges, subject=subject, day=day, tz=tz, data_root=storage.root, received_at=now_utc()
            )
            report.extend(part)
            for o in part.failures:
                context.log.error(f"{key}: {o.describe()}")
            windows = {int(r["range_id"]): (r["start_at"], r["end_at"]) for r in ranges_starting_on(ranges, day, tz)}
            run.problems["trackpoints_inside_range"] += _trackpoints_outside(
                lake.read_partition("activity_trackpoints", subject, day), windows, key
            )
            run.problems["rr_intervals_plausible"] += _implausible_rr(
                lake.read_partition("activity_rr_intervals", subject, day), key, RANGE_EXPORT
            )
    run.problems["range_exports_decoded"] = [o.describe() for o in report.failures]
    rows = report.rows()
    for ds in DATASETS:
        run.count(ds, rows[ds])
    yield from run.results(
        metadata=_report_metadata(report),
        asset_metadata={ds: {"rows_landed": rows[ds], **_partition_meta(report, ds)} for ds in DATASETS},
        check_metadata={"range_exports_decoded": {"decoded_by_fallback": _fallback_listing(report)}},
        warn=["rr_intervals_plausible"],
    )


class InboxConfig(dg.Config):
    reprocess: bool = False  # convert every inbox file again (e.g. after a decoder upgrade)


INBOX_CHECKS = [
    dg.AssetCheckSpec(
        "inbox_files_decoded",
        asset="inbox_files",
        description="every inbox file decoded; quarantined files (with reason) fail this check",
    ),
    dg.AssetCheckSpec(
        "inbox_rr_intervals_plausible",
        asset="inbox_files",
        description="RR intervals of inbox files inside the plausible band (flagged, kept)",
    ),
]


def settle_seconds() -> float:
    """Inbox files younger than this are left for the next run: a copy may still be under way."""
    return float(os.environ.get("HEXO_INBOX_SETTLE_S", "10"))


@dg.asset(
    group_name=INBOX_GROUP,
    check_specs=INBOX_CHECKS,
    deps=[],
    description="TCX/FIT files dropped into $HEXO_DATA_DIR/inbox/ (inbox/<subject>/file for a known "
    "subject), converted into the activity datasets with their source recorded",
)
def inbox_files(context: dg.AssetExecutionContext, config: InboxConfig, storage: LakeResource, study: StudyResource):
    report = ingest_inbox(
        storage.root,
        tz=study.settings().timezone,
        received_at=now_utc(),
        settle_s=settle_seconds(),
        reprocess=config.reprocess,
    )
    for o in report.failures:
        context.log.error(o.describe())
    lake = storage.lake()
    implausible: list[str] = []
    for subject, day in sorted({o.partition for o in report.by_status("landed") if o.partition}):
        implausible += _implausible_rr(
            lake.read_partition("activity_rr_intervals", subject, day), f"{day}|{subject}", INBOX
        )
    yield dg.MaterializeResult(
        metadata=_report_metadata(report)
        | {
            **{f"rows_{ds}": n for ds, n in sorted(report.rows().items())},
            **{
                f"partitions_{ds}": ", ".join(f"{k} {v}" for k, v in sorted(c.items()))
                for ds, c in sorted(report.partitions.items())
            },
        }
    )
    yield _failures_check(
        "inbox_files_decoded", "inbox_files", report, still_quarantined=all_quarantined(storage.root, "inbox")
    )
    yield dg.AssetCheckResult(
        check_name="inbox_rr_intervals_plausible",
        asset_key="inbox_files",
        passed=not implausible,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=listing(implausible),
    )


@dg.sensor(target=[inbox_files], minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def inbox_sensor(context: dg.SensorEvaluationContext, storage: LakeResource):
    """Requests `inbox_files` when a settled file in the inbox appears, disappears or changes. The cursor
    is a digest of the sorted (path, size, mtime) of settled files; files still being copied (modified
    in the last HEXO_INBOX_SETTLE_S seconds) are left out until they settle."""
    ready, pending = list_inbox(storage.root / "inbox", settle_s=settle_seconds())
    cursor = inbox_fingerprint(ready)
    if cursor == context.cursor:
        return dg.SkipReason(f"inbox unchanged ({len(ready)} files, {len(pending)} still settling)")
    if not ready and context.cursor is None:
        return dg.SensorResult(skip_reason=dg.SkipReason("inbox empty"), cursor=cursor)
    # No run_key: the cursor already prevents repeats, and an inbox may legitimately return to an
    # earlier state (a quarantined file dropped in again) that must be processed again.
    return dg.SensorResult(run_requests=[dg.RunRequest()], cursor=cursor)


# -------------------------------------------------------------------------------------------- helpers
def _trackpoints_outside(trackpoints: pa.Table | None, windows: dict, key: str) -> list[str]:
    if trackpoints is None or not windows:
        return []
    out = []
    tp = trackpoints.filter(pc.equal(trackpoints["source_kind"], RANGE_EXPORT))
    for range_id, (start, end) in windows.items():
        rows = tp.filter(pc.equal(tp["range_id"], range_id))
        if rows.num_rows == 0:
            continue
        times = rows["time"]
        bad = (
            pc.sum(
                pc.or_(
                    pc.less(times, pa.scalar(start - RANGE_TOLERANCE, times.type)),
                    pc.greater(times, pa.scalar(end + RANGE_TOLERANCE, times.type)),
                )
            ).as_py()
            or 0
        )
        if bad:
            out.append(
                f"{key} range {range_id}: {bad} of {rows.num_rows} trackpoints outside "
                f"[{start.isoformat()}, {end.isoformat()}]"
            )
    return out


def _implausible_rr(rr: pa.Table | None, key: str, kind: str) -> list[str]:
    if rr is None:
        return []
    rr = rr.filter(pc.equal(rr["source_kind"], kind))
    flagged = rr.filter(pc.invert(rr["rr_plausible"]))
    out = []
    for path in sorted(set(flagged["file_path"].to_pylist())):
        values = flagged.filter(pc.equal(flagged["file_path"], path))["rr_s"].to_pylist()
        out.append(f"{key} {path}: {len(values)} implausible RR (e.g. {values[:3]} s), kept and flagged")
    return out


def _failures_check(
    name: str, asset: str, report: IngestReport, still_quarantined: dict[str, str] | None = None
) -> dg.AssetCheckResult:
    problems = [o.describe() for o in report.failures]
    meta = listing(problems)
    passed = not problems
    if still_quarantined is not None:
        # Files quarantined by earlier runs keep the check failed until someone deals with them.
        meta["still_in_quarantine"] = dg.MetadataValue.md(
            "\n".join(f"- `{p}`: {r}" for p, r in list(still_quarantined.items())[:MAX_LISTED]) or "none"
        )
        meta["quarantined_total"] = len(still_quarantined)
        passed = passed and not still_quarantined
    meta["decoded_by_fallback"] = _fallback_listing(report)
    return dg.AssetCheckResult(check_name=name, asset_key=asset, passed=passed, metadata=meta)


def _fallback_listing(report: IngestReport) -> str:
    fallback = [o for o in report.by_status("landed", "unchanged") if o.fallback_reason]
    return "\n".join(f"{o.file_path}: {o.decoder} ({o.fallback_reason})" for o in fallback[:MAX_LISTED]) or "none"


def _report_metadata(report: IngestReport) -> dict:
    statuses = Counter(o.status for o in report.outcomes)
    decoders = Counter(o.decoder for o in report.outcomes if o.decoder)
    return {
        "files": len(report.outcomes),
        **{f"files_{s}": n for s, n in sorted(statuses.items())},
        "decoders": ", ".join(f"{d} {n}" for d, n in sorted(decoders.items())) or "none",
        "quarantined": "\n".join(o.describe() for o in report.quarantined[:MAX_LISTED]) or "none",
        "seconds": round(report.seconds, 3),
    }


def _partition_meta(report: IngestReport, dataset: str) -> dict:
    return {f"partitions_{k}": v for k, v in sorted(report.partitions.get(dataset, Counter()).items())}
