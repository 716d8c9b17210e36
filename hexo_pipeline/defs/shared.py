"""What several domains share: pools, retry and backfill policies, and the loop of a subject-day
multi-asset (`SubjectDayRun`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import date

import dagster as dg

from .partitions import split_key

API_POOL = "hexoskin_api"  # concurrency pool: bounds parallel API-facing steps across runs
WAREHOUSE_POOL = "duckdb_warehouse"  # one dbt build at a time (limit 1 in dagster.yaml)
API_RETRY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
# A backfill of N subject-days becomes ceil(N / 50) runs instead of N (docs/architecture.md).
BACKFILL = dg.BackfillPolicy.multi_run(max_partitions_per_run=50)
MAX_LISTED = 20  # problems listed in a check's metadata (the count has them all)


class SubjectDayRun:
    """The partition keys of one run of a subject-day multi-asset, the rows it wrote per asset and the
    problems each check found; `results()` yields one MaterializeResult per asset and one
    AssetCheckResult per check.

        run = SubjectDayRun(context, assets=[...], checks=[...])
        for key, subject, day in run:
            ...; run.count("records", table); run.problems["records_inside_day"] += [...]
        yield from run.results()
    """

    def __init__(self, context: dg.AssetExecutionContext, assets: Sequence[str],
                 checks: Sequence[dg.AssetCheckSpec] = ()):
        self.keys = list(context.partition_keys)
        self.assets = list(assets)
        self.checks = list(checks)
        self.rows: Counter = Counter()
        self.problems: dict[str, list[str]] = {spec.name: [] for spec in self.checks}

    def __iter__(self) -> Iterator[tuple[str, str, date]]:
        for key in self.keys:
            subject, day = split_key(key)
            yield key, subject, day

    def count(self, asset: str, rows: "int | object | None") -> None:
        """Adds a table's rows (or a number) to an asset's total."""
        self.rows[asset] += rows if isinstance(rows, int) else (0 if rows is None else rows.num_rows)

    def results(self, metadata: Mapping[str, object] | None = None,
                asset_metadata: Mapping[str, Mapping[str, object]] | None = None,
                check_metadata: Mapping[str, Mapping[str, object]] | None = None,
                warn: Sequence[str] = ()) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        """`metadata` goes on every asset, `asset_metadata[asset]` / `check_metadata[check]` on one;
        checks named in `warn` fail with WARN severity."""
        shared = {"partitions": len(self.keys), **(metadata or {})}
        for asset in self.assets:
            yield dg.MaterializeResult(asset_key=asset, metadata={**shared, "rows": self.rows[asset],
                                                                  **(asset_metadata or {}).get(asset, {})})
        for spec in self.checks:
            found = self.problems[spec.name]
            yield dg.AssetCheckResult(
                check_name=spec.name, asset_key=spec.asset_key, passed=not found,
                severity=dg.AssetCheckSeverity.WARN if spec.name in warn else dg.AssetCheckSeverity.ERROR,
                metadata={**listing(found), **(check_metadata or {}).get(spec.name, {})})


def listing(problems: Sequence[str]) -> dict[str, object]:
    """Check metadata: how many problems, and the first MAX_LISTED of them."""
    return {"count": len(problems), "problems": "\n".join(problems[:MAX_LISTED]) or "none"}
