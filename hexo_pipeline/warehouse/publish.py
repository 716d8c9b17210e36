"""Publication of the DuckDB warehouse: build in a new file, then swap it in with one atomic rename.

DuckDB admits one writer process per file, and a BI tool holding the file open (even read-only) blocks
writers. So nothing ever writes the published file:

    $HEXO_DATA_DIR/warehouse/
        hexo.duckdb               the published marts: BI tools open it read-only
        hexo.previous.duckdb      the build published before it (kept for rollback and comparison)
        build/<stamp>/hexo.duckdb  a build in progress (dbt writes here), seeded with a copy of hexo.duckdb
                                  so incremental models only process what changed in the lake
        last_build/               manifest.json and run_results.json of the last published build

`Warehouse.build()` takes an exclusive lock (one builder at a time, whatever process), seeds the build
file, and `Build.publish()` finalizes it (drops the staging views, which point at lake paths, records
`meta.build_info`, checkpoints so no WAL is left), then `os.replace`s it over hexo.duckdb after linking
the old one to hexo.previous.duckdb. The file is written in DuckDB's current storage format; BI tools
that embed an older DuckDB read a copy in an older format with HEXO_WAREHOUSE_STORAGE_VERSION=v1.1.0. A reader opening hexo.duckdb gets the old file or the new one,
complete either way; a reader that has the old one open keeps reading it. A failed build publishes
nothing: the last good file stays.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
PUBLISHED = "hexo.duckdb"
PREVIOUS = "hexo.previous.duckdb"
BUILD_FILE = "hexo.duckdb"  # same stem as the published file: DuckDB names the catalog after it
# Schemas of the build that must not reach BI readers: views over lake paths.
UNPUBLISHED_SCHEMAS = ("staging",)
# dbt project files whose change makes the seed (last published file) unusable for incremental models.
_PROJECT_GLOBS = ("dbt_project.yml", "models/**/*.sql", "models/**/*.yml", "macros/**/*.sql", "seeds/**/*.csv")


class PublicationError(RuntimeError):
    """A build could not be published; the previously published file is untouched."""


def project_fingerprint(project_dir: Path = DBT_PROJECT_DIR) -> str:
    """A hash of the dbt project's models, macros and seeds."""
    digest = hashlib.sha256()
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
    def in_data_dir(cls, data_dir: str | os.PathLike[str] | None = None) -> "Warehouse":
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
        return self.data_dir / "lake"

    @contextmanager
    def build(self, *, full_refresh: bool = False) -> Iterator["Build"]:
        """A new build file, seeded from the published one unless `full_refresh` or the dbt project changed
        since; removed on exit unless published. Builders are serialized by an exclusive file lock."""
        builds = self.root / "build"
        builds.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".build.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            for stale in builds.iterdir():  # left by a builder that crashed: the lock says none is running
                shutil.rmtree(stale, ignore_errors=True)
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
            folder = builds / stamp
            folder.mkdir()
            build = Build(self, folder, fingerprint=project_fingerprint())
            try:
                build.seed(full_refresh=full_refresh)
                yield build
            finally:
                shutil.rmtree(folder, ignore_errors=True)
                fcntl.flock(lock, fcntl.LOCK_UN)


@dataclass
class Build:
    warehouse: Warehouse
    folder: Path
    fingerprint: str
    seeded_from: Path | None = None
    published: bool = False
    started: float = 0.0

    @property
    def path(self) -> Path:
        return self.folder / BUILD_FILE

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
            "DBT_LOG_PATH": str(self.folder / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
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

    def seed(self, *, full_refresh: bool) -> None:
        self.started = time.monotonic()
        published = self.warehouse.published
        if full_refresh or not published.exists():
            return
        if _read_build_info(published).get("project_fingerprint") != self.fingerprint:
            return  # models changed since: incremental tables may not match them, rebuild from the lake
        shutil.copyfile(published, self.path)
        self.seeded_from = published

    def publish(self) -> dict:
        """Finalize the build file and make it hexo.duckdb (the old one becomes hexo.previous.duckdb)."""
        if not self.path.exists():
            raise PublicationError(f"no build file at {self.path}")
        info = self._finalize()
        wal = self.path.with_name(self.path.name + ".wal")
        if wal.exists():
            raise PublicationError(f"{wal} left after checkpoint: the build file is still open somewhere")
        ready = self._for_older_readers(os.environ.get("HEXO_WAREHOUSE_STORAGE_VERSION", "").strip())
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
        info = {
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "project_fingerprint": self.fingerprint,
            "seeded_from_previous": self.seeded_from is not None,
            "build_seconds": round(time.monotonic() - self.started, 1),
            "lake": str(self.warehouse.lake),
            "duckdb_version": duckdb.__version__,
        }
        con = duckdb.connect(str(self.path))
        try:
            for schema in UNPUBLISHED_SCHEMAS:
                con.execute(f'drop schema if exists "{schema}" cascade')
            con.execute("create schema if not exists meta")
            con.execute("create or replace table meta.build_info (key varchar, value varchar)")
            con.executemany("insert into meta.build_info values (?, ?)", [(k, str(v)) for k, v in info.items()])
            marts = con.execute("select count(*) from duckdb_tables() where schema_name = 'marts'").fetchone()[0]
            if not marts:
                raise PublicationError("the build holds no marts table")
            con.execute("checkpoint")
        finally:
            con.close()
        return info

    def _for_older_readers(self, storage_version: str) -> Path:
        """The file to publish: the build itself, or (HEXO_WAREHOUSE_STORAGE_VERSION=v1.1.0, for BI tools
        embedding an older DuckDB) a copy written in that storage format."""
        if not storage_version:
            return self.path
        if not re.fullmatch(r"v\d+\.\d+\.\d+", storage_version):
            raise PublicationError(f"HEXO_WAREHOUSE_STORAGE_VERSION={storage_version!r}: expected e.g. v1.1.0")
        target = self.folder / "compat" / BUILD_FILE
        target.parent.mkdir()
        con = duckdb.connect()
        try:
            con.execute(f"attach '{self.path}' as build (read_only)")
            con.execute(f"attach '{target}' as compat (storage_version '{storage_version}')")
            con.execute("copy from database build to compat")
        finally:
            con.close()
        return target

    def _keep_artifacts(self) -> None:
        dest = self.warehouse.root / "last_build"
        dest.mkdir(exist_ok=True)
        for name in ("manifest.json", "run_results.json"):
            src = self.target_path / name
            if src.exists():
                shutil.copyfile(src, dest / name)


def _read_build_info(path: Path) -> dict[str, str]:
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return {}
    try:
        return dict(con.execute("select key, value from meta.build_info").fetchall())
    except duckdb.Error:
        return {}
    finally:
        con.close()


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
