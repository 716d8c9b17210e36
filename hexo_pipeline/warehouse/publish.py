"""Publication of the DuckDB warehouse: dbt builds a persistent state database, BI reads a marts-only copy.

    $HEXO_DATA_DIR/warehouse/
        hexo.duckdb               the published marts (schema `marts`, and `meta.build_info`): BI opens it
                                  read-only
        hexo.previous.duckdb      the file published before it (kept for rollback and comparison)
        state/hexo.duckdb         dbt's own database: staging views and tables, intermediate and incremental
                                  tables, marts. Persistent, written in place by each build, never opened by BI
        build/<stamp>/            a build in progress: dbt's target/ (and its dbt.log), the file being published
        last_failed_build.log     dbt's warnings and errors of the last build that failed (nothing published)
        last_build/               manifest.json, run_results.json and dbt's parse (partial_parse.msgpack) of the
                                  last published build

`Warehouse.build()` takes an exclusive lock (one builder at a time, whatever process), checks the lake
(`verify_lake`: a lake whose files and manifest disagree is not built, one line names the file), folds
the lake manifest's log into its snapshot, and keeps the state database unless the dbt project or the
study settings changed since it was last published (`project_fingerprint`) or `full_refresh`: then it starts empty and dbt
rebuilds everything from the lake. `Build.publish()` copies the `marts` schema into a new file
(`ATTACH`, one `CREATE TABLE AS` per mart, comments kept), records `meta.build_info`, checkpoints, then
`os.replace`s it over hexo.duckdb after linking the old one to hexo.previous.duckdb. A publication costs
the size of the marts, not of the history the incremental models keep.

A reader opening hexo.duckdb gets the old file or the new one, complete either way; a reader that has the
old one open keeps reading it. A failed build publishes nothing: the last good file stays. The state
database stays usable after a failed build: incremental models load and delete whole lake partitions
(macros/lake.sql), each compares its own rows with the lake manifest, so the next build redoes exactly
what the failed one left undone; the subject-scoped models (dbt_project/macros/subjects.sql) rebuild the
subjects whose inputs changed since the last complete publication, which records their marks
(`meta.subject_marks_built`), so a failed build's subjects are rebuilt by the next. The published file is
written in DuckDB's current storage format; BI tools that embed an older DuckDB read it in an older format
with HEXO_WAREHOUSE_STORAGE_VERSION=v1.1.0.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
PUBLISHED = "hexo.duckdb"
PREVIOUS = "hexo.previous.duckdb"
BUILD_FILE = "hexo.duckdb"  # same stem as the published file: DuckDB names the catalog after it
STATE_DIR = "state"
LAST_BUILD = "last_build"
FAILED_BUILD_LOG = "last_failed_build.log"  # dbt's log (warnings and errors) of the last build not published
PARTIAL_PARSE = "partial_parse.msgpack"  # dbt's parse cache, in its target folder
# The schemas BI readers get (and meta.build_info).
PUBLISHED_SCHEMAS = ("marts",)
# A build folds a dataset's manifest log into its snapshot once the log has this many files (a day's
# ingestion of a cohort: hundreds). A few late partitions stay in the log: dbt reads a short log at little
# cost, and a checkpoint rewrites the dataset's whole snapshot (~0.1 s each at 500 x 730).
CHECKPOINT_LOG_FILES = 32
# dbt project files whose change makes the state database unusable for incremental models.
_PROJECT_GLOBS = ("dbt_project.yml", "models/**/*.sql", "models/**/*.yml", "macros/**/*.sql", "seeds/**/*.csv")


class PublicationError(RuntimeError):
    """A build could not be published; the previously published file is untouched."""


def project_fingerprint(project_dir: Path = DBT_PROJECT_DIR, settings: Mapping[str, Any] | None = None) -> str:
    """A hash of the dbt project's models, macros and seeds, and of the study settings the models compute
    with (the dbt vars but the lake's location): the incremental tables hold rows computed with both, so a
    change of either (HEXO_STUDY_TZ, a valid-day threshold) must rebuild them, not leave old rows beside
    new ones."""
    digest = hashlib.sha256()
    if settings:
        kept = {k: v for k, v in settings.items() if k != "lake_root"}
        digest.update(json.dumps(kept, sort_keys=True, default=str).encode())
    for pattern in _PROJECT_GLOBS:
        for path in sorted(project_dir.glob(pattern)):
            digest.update(str(path.relative_to(project_dir)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Warehouse:
    """The warehouse folder of a data dir."""

    data_dir: Path

    @classmethod
    def in_data_dir(cls, data_dir: str | os.PathLike[str] | None = None) -> Warehouse:
        return cls(Path(data_dir or os.environ.get("HEXO_DATA_DIR", "data")).resolve())

    @property
    def root(self) -> Path:
        return self.data_dir / "warehouse"

    @property
    def published(self) -> Path:
        return self.root / PUBLISHED

    @property
    def previous(self) -> Path:
        return self.root / PREVIOUS

    @property
    def lake(self) -> Path:
        """The lake's root: `<data dir>/lake`, or the HEXO_LAKE_URL object-storage prefix (a UPath)."""
        from ..lake.storage import configured_lake_root

        return configured_lake_root(self.data_dir)

    @property
    def state(self) -> Path:
        """dbt's persistent database (incremental state); never published, never opened by BI."""
        return self.root / STATE_DIR / BUILD_FILE

    @contextmanager
    def lock(self) -> Iterator[None]:
        """The builders' exclusive lock (also held by lake compaction: no build reads a lake mid-change)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".build.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def check_lake(self, lake=None) -> None:
        """verify_lake over the datasets the marts read (files written since the last publication read in
        depth); raises PublicationError naming the first problem, so nothing is built from a damaged lake."""
        from ..lake import Lake, contract, verify_lake

        lake = lake or Lake(self.lake)
        since = _parse_time(_read_build_info(self.published).get("built_at"))
        problems = verify_lake(lake, since=since, datasets=contract.read_by_marts())
        if problems:
            more = f" (and {len(problems) - 1} more: `hexo-pipeline lake verify`)" if len(problems) > 1 else ""
            raise PublicationError(f"lake check failed, nothing built: {problems[0]}{more}")

    @contextmanager
    def build(
        self, *, full_refresh: bool = False, verify: bool = True, settings: Mapping[str, Any] | None = None
    ) -> Iterator[Build]:
        """A build into the state database, reset when `full_refresh`, the dbt project or the study
        `settings` (the build's dbt vars) changed; its folder is removed on exit. Builders are serialized by an exclusive file lock. With `verify`, a lake
        that fails `verify_lake` raises PublicationError before dbt runs."""
        from ..lake import Lake

        builds = self.root / "build"
        with self.lock():
            builds.mkdir(parents=True, exist_ok=True)
            for stale in builds.iterdir():  # left by a builder that crashed: the lock says none is running
                shutil.rmtree(stale, ignore_errors=True)
            lake = Lake(self.lake)
            if verify:
                self.check_lake(lake)
            lake.manifest.checkpoint(min_log_files=CHECKPOINT_LOG_FILES)
            (self.root / FAILED_BUILD_LOG).unlink(missing_ok=True)  # the log of the last build, when it failed
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            folder = builds / stamp
            folder.mkdir()
            build = Build(
                self, folder, fingerprint=project_fingerprint(settings=settings), lake_version=lake.manifest.version()
            )
            try:
                build.seed(full_refresh=full_refresh)
                build.reuse_parse()
                with lake.manifest.reading():  # no checkpoint removes a log file while dbt reads it
                    yield build
            finally:
                build.keep_failure_log()
                shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Build:
    warehouse: Warehouse
    folder: Path
    fingerprint: str
    lake_version: str = ""  # the lake manifest's version this build reads (Manifest.version)
    inputs: str = ""  # a digest of the build's other inputs (dbt vars, selection), set by the caller
    seeded_from: Path | None = None
    complete: bool = True  # every model was built (no --select): publication records the subjects' marks
    published: bool = False
    started: float = 0.0

    @property
    def path(self) -> Path:
        """The database dbt writes: the warehouse's persistent state database."""
        return self.warehouse.state

    @property
    def target_path(self) -> Path:
        """dbt's target folder of this build (not dbt_project/target: parallel builds must not share it)."""
        return self.folder / "target"

    @property
    def env(self) -> dict[str, str]:
        """What the dbt process needs: dbt_project/profiles.yml writes to HEXO_WAREHOUSE_BUILD_PATH and the
        sources read $HEXO_DATA_DIR/lake."""
        return {
            "HEXO_WAREHOUSE_BUILD_PATH": str(self.path),
            "HEXO_DATA_DIR": str(self.warehouse.data_dir),
            "DBT_TARGET_PATH": str(self.target_path),
            # dbt's file log (target/dbt.log: dagster-dbt points DBT_LOG_PATH there) at warnings and errors only:
            # at debug (dbt's default) it writes every statement of every node (~1 s of a 33 s late build at
            # 500 x 730, measured: dbt is one GIL-bound process) into a folder removed after the build. A failed
            # build's log is kept (FAILED_BUILD_LOG); DBT_LOG_LEVEL_FILE=debug puts every statement in it.
            "DBT_LOG_LEVEL_FILE": os.environ.get("DBT_LOG_LEVEL_FILE") or "warn",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            # DuckDB's threads (profiles.yml): the cores this process may use, as DuckDB's own default
            "HEXO_DUCKDB_THREADS": os.environ.get("HEXO_DUCKDB_THREADS") or str(len(os.sched_getaffinity(0))),
            # dbt's threads (profiles.yml, default 2). A full build runs one model at a time: its heaviest
            # models each scan the whole history, and two at once share DuckDB's memory_limit but not the
            # memory DuckDB does not count (readers' buffers), which took a 500 x 730 build to 7.6 GB.
            "HEXO_DBT_THREADS": os.environ.get("HEXO_DBT_THREADS") or ("2" if self.seeded_from else "1"),
        }

    @contextmanager
    def environment(self) -> Iterator[dict[str, str]]:
        """Export `env` to this process while a dbt subprocess is started from it (dagster-dbt copies
        os.environ), then restore it."""
        saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        try:
            yield self.env
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def is_current(self) -> bool:
        """The published marts were built from this very lake, dbt project and inputs: a build would
        change nothing (the no-change run costs a manifest listing instead of a dbt build)."""
        info = _read_build_info(self.warehouse.published)
        return (
            bool(self.lake_version)
            and info.get("lake_version") == self.lake_version
            and info.get("project_fingerprint") == self.fingerprint
            and info.get("inputs") == self.inputs
        )

    def seed(self, *, full_refresh: bool) -> None:
        """Keep the state database for an incremental build, or start it empty (full rebuild)."""
        self.started = time.monotonic()
        state = self.path
        state.parent.mkdir(parents=True, exist_ok=True)
        if state.exists() and not full_refresh and _read_state_fingerprint(state) == self.fingerprint:
            self.seeded_from = state
            return
        # models changed since (or a reset was asked, or the file is unreadable): rebuild from the lake
        for path in (state, state.with_name(state.name + ".wal")):
            path.unlink(missing_ok=True)

    def reuse_parse(self) -> None:
        """Give dbt the last published build's parse (dbt's partial_parse.msgpack in its target folder): each
        build has its own target folder, and a full parse of the project costs 25-35 s of every build. dbt
        checks the file itself (project files, vars, profile, its version) and parses again what changed."""
        kept = self.warehouse.root / LAST_BUILD / PARTIAL_PARSE
        if kept.exists():
            self.target_path.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(kept, self.target_path / PARTIAL_PARSE)

    def publish(self) -> dict:
        """Copy the marts into a new file and make it hexo.duckdb (the old one becomes hexo.previous.duckdb)."""
        if not self.path.exists():
            raise PublicationError(f"no build file at {self.path}")
        info = self._finalize()
        ready = self._export_marts(info, os.environ.get("HEXO_WAREHOUSE_STORAGE_VERSION", "").strip())
        wal = ready.with_name(ready.name + ".wal")
        if wal.exists():
            raise PublicationError(f"{wal} left after checkpoint: the file is still open somewhere")
        root = self.warehouse.root
        published, previous = self.warehouse.published, self.warehouse.previous
        if published.exists():
            keep = root / f".{PREVIOUS}.tmp"
            keep.unlink(missing_ok=True)
            try:
                os.link(published, keep)  # the same inode: readers of the old file are not disturbed
            except OSError:
                shutil.copyfile(published, keep)
            os.replace(keep, previous)
        os.replace(ready, published)
        _fsync_dir(root)
        self._keep_artifacts()
        self.published = True
        return info

    def _finalize(self) -> dict:
        """Check the state holds marts, record the project fingerprint it was built with."""
        info = {
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "project_fingerprint": self.fingerprint,
            "lake_version": self.lake_version,
            "inputs": self.inputs,
            "seeded_from_previous": self.seeded_from is not None,
            "build_seconds": round(time.monotonic() - self.started, 1),
            "lake": str(self.warehouse.lake),
            "duckdb_version": duckdb.__version__,
        }
        con = duckdb.connect(str(self.path))
        try:
            marts = con.execute("select count(*) from duckdb_tables() where schema_name = 'marts'").fetchall()[0][0]
            if not marts:
                raise PublicationError("the build holds no marts table")
            con.execute("create schema if not exists meta")
            con.execute("create or replace table meta.state_info (key varchar, value varchar)")
            con.execute("insert into meta.state_info values ('project_fingerprint', ?)", [self.fingerprint])
            marks = con.execute(
                "select count(*) from duckdb_tables() where schema_name = 'intermediate' "
                "and table_name = 'int_build__subject_marks'"
            ).fetchall()[0][0]
            if self.complete and marks:
                # what the subject-scoped models now reflect (dbt_project/macros/subjects.sql); a build of a
                # --select did not rebuild them all, so it leaves the last complete build's marks in place
                con.execute(
                    "create or replace table meta.subject_marks_built as "
                    "select username, mark from intermediate.int_build__subject_marks"
                )
            con.execute("checkpoint")
        finally:
            con.close()
        return info

    def _export_marts(self, info: dict, storage_version: str) -> Path:
        """A new file holding only the published schemas and meta.build_info (optionally in an older storage
        format, HEXO_WAREHOUSE_STORAGE_VERSION=v1.1.0, for BI tools embedding an older DuckDB)."""
        if storage_version and not re.fullmatch(r"v\d+\.\d+\.\d+", storage_version):
            raise PublicationError(f"HEXO_WAREHOUSE_STORAGE_VERSION={storage_version!r}: expected e.g. v1.1.0")
        target = self.folder / "publish" / BUILD_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        option = f" (storage_version '{storage_version}')" if storage_version else ""
        con = duckdb.connect()
        try:
            con.execute(f"attach '{self.path}' as state (read_only)")
            con.execute(f"attach '{target}' as pub{option}")
            tables = con.execute(
                "select schema_name, table_name, comment from duckdb_tables() where database_name = 'state' "
                f"and schema_name in ({', '.join('?' * len(PUBLISHED_SCHEMAS))}) order by all",
                list(PUBLISHED_SCHEMAS),
            ).fetchall()
            columns = con.execute(
                "select schema_name, table_name, column_name, comment from duckdb_columns() "
                "where database_name = 'state' and comment is not null and comment <> '' order by all"
            ).fetchall()
            for schema in sorted({t[0] for t in tables}):
                con.execute(f'create schema pub."{schema}"')
            for schema, table, comment in tables:
                con.execute(f'create table pub."{schema}"."{table}" as select * from state."{schema}"."{table}"')
                if comment:
                    con.execute(f'comment on table pub."{schema}"."{table}" is {_sql_string(comment)}')
            published = {(t[0], t[1]) for t in tables}
            for schema, table, column, comment in columns:
                if (schema, table) in published:
                    con.execute(f'comment on column pub."{schema}"."{table}"."{column}" is {_sql_string(comment)}')
            con.execute("create schema pub.meta")
            con.execute("create table pub.meta.build_info (key varchar, value varchar)")
            con.executemany("insert into pub.meta.build_info values (?, ?)", [(k, str(v)) for k, v in info.items()])
            con.execute("detach pub")
        finally:
            con.close()
        return target

    def keep_failure_log(self) -> None:
        """dbt's log of a build that published nothing, kept as FAILED_BUILD_LOG (its folder is removed). Best
        effort: a full disk, a likely reason for the failure, must not replace the build's own error."""
        log = self.target_path / "dbt.log"
        if self.published or not log.exists():
            return
        with suppress(OSError):
            shutil.copyfile(log, self.warehouse.root / FAILED_BUILD_LOG)

    def _keep_artifacts(self) -> None:
        dest = self.warehouse.root / LAST_BUILD
        dest.mkdir(exist_ok=True)
        for name in ("manifest.json", "run_results.json", PARTIAL_PARSE):
            src = self.target_path / name
            if src.exists():
                shutil.copyfile(src, dest / name)


def _read_meta(path: Path, table: str) -> dict[str, str]:
    if not path.exists():
        return {}
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return {}
    try:
        return dict(con.execute(f"select key, value from meta.{table}").fetchall())
    except duckdb.Error:
        return {}
    finally:
        con.close()


def _read_build_info(path: Path) -> dict[str, str]:
    return _read_meta(path, "build_info")


def _read_state_fingerprint(path: Path) -> str | None:
    return _read_meta(path, "state_info").get("project_fingerprint")


def _parse_time(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def build_info(path: str | os.PathLike[str]) -> dict[str, str]:
    """meta.build_info of a published file ({} when absent)."""
    return _read_build_info(Path(path))


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def run_results_summary(target_path: Path) -> dict:
    """Counts of dbt results by status from run_results.json ({} when absent)."""
    path = target_path / "run_results.json"
    if not path.exists():
        return {}
    counts: dict[str, int] = {}
    for result in json.loads(path.read_text())["results"]:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    return counts
