"""What several domains share: pools, retry and backfill policies, and the loop of a subject-day
multi-asset (`SubjectDayRun`)."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
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

    Wrapped in `with run.recording_failures(storage):`, a subject-day whose step fails is recorded in the
    lake (`ingest_failures`, ingest/failures.py) and one that goes through has its earlier failure cleared.
    """

    def __init__(
        self, context: dg.AssetExecutionContext, assets: Sequence[str], checks: Sequence[dg.AssetCheckSpec] = ()
    ):
        self.keys = list(context.partition_keys)
        self.assets = list(assets)
        self.checks = list(checks)
        self.rows: Counter = Counter()
        self.problems: dict[str, list[str]] = {spec.name: [] for spec in self.checks}
        self.step = context.op_def.name  # the (multi-)asset's name: what failed
        self.run_id = context.run.run_id
        self.log = context.log
        self.current: tuple[str, date] | None = None  # the subject-day being processed
        self.done: list[tuple[str, date]] = []  # subject-days the step went through
        self.failed: dict[tuple[str, date], BaseException] = {}  # subject-days the step gave up on

    def __iter__(self) -> Iterator[tuple[str, str, date]]:
        for key in self.keys:
            subject, day = split_key(key)
            self.current = (subject, day)
            yield key, subject, day
            if (subject, day) not in self.failed:
                self.done.append((subject, day))
            self.current = None

    def fail(self, subject: str, day: date, error: BaseException) -> None:
        """This subject-day failed, though the step goes on with the others (recorded like a raise)."""
        self.failed[(subject, day)] = error

    @contextmanager
    def recording_failures(self, storage) -> Iterator[None]:
        """Record in the lake the subject-days this step failed (the one it was on when it raised, or
        every one it had not reached when it failed before starting), and clear the failures of those it
        went through. `storage` is the LakeResource."""
        from ..ingest.failures import clear_failures, record_failure

        lake, root = storage.lake(), storage.root
        try:
            yield
        except Exception as exc:
            if self.current is not None:
                self.failed[self.current] = exc
            else:
                reached = set(self.done) | set(self.failed)
                for key in self.keys:
                    if split_key(key) not in reached:
                        self.failed[split_key(key)] = exc
            raise
        finally:
            try:
                for (subject, day), error in self.failed.items():
                    record_failure(
                        lake,
                        root,
                        step=self.step,
                        datasets=self.assets,
                        subject=subject,
                        day=day,
                        error=error,
                        run_id=self.run_id,
                    )
                clear_failures(lake, root, step=self.step, subject_days=self.done)
            except Exception as exc:  # noqa: BLE001 - never hide the step's own outcome behind this one
                self.log.error(f"{self.step}: the lake's failure log was not updated: {exc}")

    def count(self, asset: str, rows: int | object | None) -> None:
        """Adds a table's rows (or a number) to an asset's total."""
        self.rows[asset] += rows if isinstance(rows, int) else (0 if rows is None else rows.num_rows)

    def results(
        self,
        metadata: Mapping[str, object] | None = None,
        asset_metadata: Mapping[str, Mapping[str, object]] | None = None,
        check_metadata: Mapping[str, Mapping[str, object]] | None = None,
        warn: Sequence[str] = (),
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        """`metadata` goes on every asset, `asset_metadata[asset]` / `check_metadata[check]` on one;
        checks named in `warn` fail with WARN severity."""
        shared = {"partitions": len(self.keys), **(metadata or {})}
        for asset in self.assets:
            yield dg.MaterializeResult(
                asset_key=asset,
                metadata={
                    **shared,
                    "rows": self.rows[asset],
                    "dagster/row_count": self.rows[asset],
                    **(asset_metadata or {}).get(asset, {}),
                },
            )
        for spec in self.checks:
            found = self.problems[spec.name]
            yield dg.AssetCheckResult(
                check_name=spec.name,
                asset_key=spec.asset_key,
                passed=not found,
                severity=dg.AssetCheckSeverity.WARN if spec.name in warn else dg.AssetCheckSeverity.ERROR,
                metadata={**listing(found), **(check_metadata or {}).get(spec.name, {})},
            )


def listing(problems: Sequence[str]) -> dict[str, object]:
    """Check metadata: how many problems, and the first MAX_LISTED of them."""
    return {"count": len(problems), "problems": "\n".join(problems[:MAX_LISTED]) or "none"}


# -- what every asset carries in the UI: owners, kinds, tags, and for lake datasets their path and schema --

OWNERS = ["team:hexo-pipeline"]
_LAYER_OF_GROUP = {
    "study": "lake",
    "subject_day": "lake",
    "activity_files": "lake",
    "warehouse": "warehouse",
    "report": "report",
}
_KINDS_OF_LAYER = {"lake": {"parquet", "python"}, "warehouse": {"dbt", "duckdb"}, "report": {"html", "python"}}
_LAKE_DATASET_OF_ASSET = {"datatype_catalog": "datatypes"}  # asset keys that differ from their dataset's name


def asset_conventions(spec: dg.AssetSpec) -> dg.AssetSpec:
    """Owners, kinds and tags (`layer`, `domain`) on every asset; a lake asset also gets its folder and the
    column schema of its lake contract (`dagster/column_schema`), shown before anything is materialized."""
    from ..lake.contract import DATASETS
    from ..lake.storage import configured_lake_root

    group = spec.group_name or "default"
    layer = _LAYER_OF_GROUP.get(group, "lake")
    tags = {"layer": layer, "domain": group}
    if spec.key.path[0] in ("staging", "intermediate", "marts", "reference"):
        tags["dbt_layer"] = spec.key.path[0]
    metadata: dict[str, object] = {}
    name = spec.key.to_user_string()
    dataset = DATASETS.get(_LAKE_DATASET_OF_ASSET.get(name, name))
    if dataset is not None and layer == "lake":
        metadata["dagster/column_schema"] = table_schema(dataset.schema)
        metadata["lake_path"] = dg.MetadataValue.path(str(configured_lake_root() / dataset.name))
        metadata["lake_layout"] = dataset.layout
    columns = spec.metadata.get("dagster/column_schema")
    if layer == "warehouse" and isinstance(columns, dg.TableSchema):
        types = published_column_types().get(tuple(spec.key.path[-2:]), {})
        if types:  # dbt's YAML names the columns; the published warehouse knows their types
            metadata["dagster/column_schema"] = dg.TableSchema(
                columns=[
                    dg.TableColumn(
                        c.name,
                        types.get(c.name.lower(), c.type),
                        description=c.description,
                        constraints=c.constraints,
                        tags=c.tags,
                    )
                    for c in columns.columns
                ]
            )
    return spec.merge_attributes(
        owners=[o for o in OWNERS if o not in spec.owners],
        kinds=_KINDS_OF_LAYER[layer] - set(spec.kinds),
        tags=tags,
        metadata=metadata,
    )


@functools.lru_cache(maxsize=1)
def published_column_types() -> dict[tuple[str, str], dict[str, str]]:
    """(schema, table) -> column -> DuckDB type, from the published warehouse (read-only, once per load);
    empty before the first build."""
    import duckdb

    from ..warehouse import Warehouse

    path = Warehouse.in_data_dir().published
    if not path.exists():
        return {}
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return {}
    try:
        rows = con.execute(
            "select table_schema, table_name, column_name, data_type from information_schema.columns"
        ).fetchall()
    finally:
        con.close()
    types: dict[tuple[str, str], dict[str, str]] = {}
    for schema, table, column, data_type in rows:
        types.setdefault((schema, table), {})[column.lower()] = data_type
    return types


def table_schema(schema) -> dg.TableSchema:
    """A pyarrow schema (the lake contract) as the column schema Dagster shows."""
    return dg.TableSchema(columns=[dg.TableColumn(field.name, str(field.type)) for field in schema])
