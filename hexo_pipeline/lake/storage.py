"""Where the lake's bytes live: a local folder (the default) or S3-compatible object storage.

`HEXO_LAKE_URL=s3://bucket/prefix` (study_settings.lake_url) puts the lake there; the AWS SDK reads the
standard variables itself (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL for
MinIO/Ceph/R2). A local lake root is a `pathlib.Path`; a remote one a `upath.UPath` over fsspec's `s3fs`,
the filesystem dbt-duckdb registers too (dbt_project/profiles.yml), so the lake code keeps its pathlib
shape and only the operations below differ.

Atomicity: a local file is written to a temp file and renamed (os.replace). A remote object is written to
a local temp file, then uploaded in one PUT (multipart for large files): S3 shows an object whole or not
at all, so no reader sees half a file, and the manifest entry is written after the upload has returned.
Object stores have no folders: `ensure_folder` and `prune_empty` do nothing there.

Beside the lake: the quarantine and the range exports are data too; `beside_lake` puts them in
`$HEXO_DATA_DIR/<name>` beside a local lake (as always) and under `<lake URL>/_<name>/` beside a remote one,
so every machine of a deployment sees them (the inbox stays a local folder: users drop files into it).

Several writers: every remote upload carries a write token (object metadata `hexo-write`), so a writer
can tell, after recording its manifest entry, whether the object is still the one it uploaded
(`upload_token`, `stored_token`; store.py uses it). Locks (flock) stay on the local disk: for a remote lake
under `$HEXO_DATA_DIR/.lake_locks/`; they order the processes of one machine, correctness across machines
does not depend on them (docs/deploy_lake_s3.md).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..study_settings import LAKE_URL_VARIABLE, lake_url

REMOTE_PROTOCOLS = ("s3", "s3a")


def data_dir() -> Path:
    return Path(os.environ.get("HEXO_DATA_DIR", "data")).resolve()


def is_remote(path: Any) -> bool:
    return getattr(path, "protocol", "") in REMOTE_PROTOCOLS


def lake_root(root: str | os.PathLike[str]) -> Path:
    """A lake root from a folder or an `s3://` URL."""
    if is_remote(root):
        return root
    text = str(root) if not isinstance(root, Path) else None
    if text is not None and "://" in text:
        protocol = text.split("://", 1)[0]
        if protocol not in REMOTE_PROTOCOLS:
            raise ValueError(f"{LAKE_URL_VARIABLE}={text!r}: only s3:// URLs (or a local folder) are supported")
        return remote_path(text)
    return root if isinstance(root, Path) else Path(root)


def configured_lake_root(data_root: str | os.PathLike[str] | None = None) -> Path:
    """The lake of this environment: HEXO_LAKE_URL when set, else `<data dir>/lake`."""
    url = lake_url()
    return lake_root(url) if url else Path(data_root or data_dir()) / "lake"


def remote_path(url: str) -> Path:
    try:
        from upath import UPath
    except ImportError:
        raise ValueError(f"{LAKE_URL_VARIABLE}={url!r} needs the s3 extra: pip install 'hexo-pipeline[s3]'") from None
    _quiet_orphaned_connection_errors()
    # No listing cache: other processes write the lake, and a cached listing would hide their files.
    return UPath(url.rstrip("/"), use_listings_cache=False)


def _quiet_orphaned_connection_errors() -> None:
    """When the storage server drops mid-upload, aiohttp leaves a body-writing task whose connection error
    nobody awaits; asyncio then prints "Task exception was never retrieved" and a traceback. The request
    that owned it fails too and reaches the user as one line (`explain_storage_error`), so that echo is
    dropped; every other loop error keeps asyncio's default report."""
    import fsspec.asyn

    loop = fsspec.asyn.get_loop()
    if loop.get_exception_handler() is None:
        loop.set_exception_handler(_drop_orphaned_connection_error)


def _drop_orphaned_connection_error(loop, context: dict) -> None:
    err = context.get("exception")
    if isinstance(err, OSError) and type(err).__module__.startswith("aiohttp"):
        return
    loop.default_exception_handler(context)


def beside_lake(name: str, data_root: str | os.PathLike[str] | None = None, lake: Path | None = None) -> Path:
    """Where a data area beside the lake lives (`quarantine`, `exports`): `<data dir>/<name>` beside a local
    lake, `<lake URL>/_<name>` beside a remote one (keys starting with `_` are not datasets)."""
    root = lake if lake is not None else configured_lake_root(data_root)
    if is_remote(root):
        return root / f"_{name}"
    return Path(data_root or data_dir()) / name


def local_lock_folder(root: Path) -> Path:
    """Where the lake's flock files live: beside the manifest for a local lake; for a remote one, a
    local folder named after its URL (object storage has no locks)."""
    if not is_remote(root):
        return root / "_manifest"
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(root))
    return data_dir() / ".lake_locks" / name


# -- files -------------------------------------------------------------------------------------------


def ensure_folder(folder: Path) -> None:
    if not is_remote(folder):
        folder.mkdir(parents=True, exist_ok=True)


def remove(path: Path) -> bool:
    """Delete a file; True if it was there."""
    if not is_remote(path):
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True
    # S3 answers a DELETE of a missing key with success: ask first, so "was it there" stays true.
    if not path.fs.exists(path.path):
        return False
    path.fs.rm_file(path.path)
    return True


def remove_many(paths: list[Path]) -> None:
    """Delete files (one batched request per 1,000 objects on S3)."""
    remote = [p for p in paths if is_remote(p)]
    for p in paths:
        if not is_remote(p):
            p.unlink(missing_ok=True)
    if remote:
        remote[0].fs.rm([p.path for p in remote])


def prune_empty(folder: Path, stop: Path) -> None:
    """Remove empty folders up to `stop` (object storage has none)."""
    if is_remote(folder):
        return
    while folder != stop and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def read_table(path: Path, **options: Any) -> pa.Table:
    if is_remote(path):
        return pq.read_table(path.path, filesystem=path.fs, **options)
    return pq.read_table(path, **options)


def read_metadata(path: Path) -> pq.FileMetaData:
    if is_remote(path):
        with path.fs.open(path.path, "rb") as fh:
            return pq.read_metadata(fh)
    return pq.read_metadata(path)


@dataclass(frozen=True)
class FileFacts:
    size: int
    sha256: str


# Size and hash of the objects this process uploaded, so a manifest entry does not download them again.
_uploaded: dict[str, FileFacts] = {}
# The write token of each object this process uploaded last (object metadata WRITE_TOKEN).
_tokens: dict[str, str] = {}
WRITE_TOKEN = "hexo-write"


def file_facts(path: Path) -> FileFacts:
    """Size and sha256 of a file (of an object this process just uploaded: from the upload)."""
    if is_remote(path):
        known = _uploaded.pop(str(path), None)
        if known is not None:
            return known
        digest = hashlib.sha256()
        with path.fs.open(path.path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        return FileFacts(path.fs.size(path.path), digest.hexdigest())
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return FileFacts(path.stat().st_size, digest.hexdigest())


def upload(local: Path, target: Path) -> FileFacts:
    """Put a finished local file at a remote path in one request (an object appears whole or not at all),
    tagged with a new write token."""
    facts = file_facts(local)
    token = secrets.token_hex(12)
    target.fs.put_file(str(local), target.path, Metadata={WRITE_TOKEN: token})
    if len(_uploaded) > 1024:
        _uploaded.clear()
    if len(_tokens) > 1024:
        _tokens.clear()
    _uploaded[str(target)] = facts
    _tokens[str(target)] = token
    return facts


def upload_token(path: Path) -> str | None:
    """The write token of this process's last upload of `path` (None: a local file, or not uploaded here)."""
    return _tokens.get(str(path)) if is_remote(path) else None


def stored_token(path: Path) -> str | None:
    """The write token of the object now at `path` (one HEAD); None when it is missing or has none."""
    try:
        return path.fs.metadata(path.path).get(WRITE_TOKEN)
    except FileNotFoundError:
        return None


def move_file(local: Path, target: Path) -> None:
    """Move a finished local file to `target`, whole or not at all: a rename on the local disk, else one
    upload (the local file is removed once the object is stored). A folder (an export folder refused
    whole) is moved with its files, one object each."""
    if is_remote(target):
        if local.is_dir():
            target.fs.put(str(local), target.path, recursive=True)
            shutil.rmtree(local)
            return
        target.fs.put_file(str(local), target.path)
        local.unlink()
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(local), target)


@contextmanager
def local_copy(path: Path) -> Iterator[Path]:
    """A local file holding `path`'s bytes: itself on the local disk, else a download removed afterwards."""
    if not is_remote(path):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="hexo-get-", ignore_cleanup_errors=True) as folder:
        local = Path(folder) / path.name
        path.fs.get_file(path.path, str(local))
        yield local


@contextmanager
def writing_file(target: Path) -> Iterator[Path]:
    """The path to write `target` through: itself for a local lake (the caller writes temp + rename),
    else a local temp file that is uploaded when the block ends without error (and dropped otherwise)."""
    if not is_remote(target):
        yield target
        return
    with tempfile.TemporaryDirectory(prefix="hexo-lake-", ignore_cleanup_errors=True) as folder:
        local = Path(folder) / target.name
        yield local
        upload(local, target)


def write_bytes_atomic(data: bytes, target: Path) -> None:
    """A small file whole or not at all: temp + fsync + rename locally, one PUT remotely."""
    if is_remote(target):
        target.fs.pipe_file(target.path, data)
        return
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)


class RemoteStagedParquetFile:
    """`decoders.parquet.StagedParquetFile` for a remote target: the row groups go to a local temp file,
    uploaded on `commit()`; `abort()` leaves the remote object as it was."""

    def __init__(self, target: Path, schema: pa.Schema, **options: Any):
        from ..decoders.parquet import StagedParquetFile

        self.path = target
        self._folder = Path(tempfile.mkdtemp(prefix="hexo-lake-"))
        self._local = StagedParquetFile(self._folder / target.name, schema, **options)

    @property
    def rows(self) -> int:
        return self._local.rows

    def write(self, table: pa.Table) -> None:
        self._local.write(table)

    def commit(self) -> Path:
        try:
            upload(self._local.commit(), self.path)
        finally:
            shutil.rmtree(self._folder, ignore_errors=True)
        return self.path

    def abort(self) -> None:
        try:
            self._local.abort()
        finally:
            shutil.rmtree(self._folder, ignore_errors=True)


def staged_parquet_file(target: Path, schema: pa.Schema, **options: Any):
    """A Parquet file written row group by row group that appears at `target` only on `commit()`."""
    if is_remote(target):
        return RemoteStagedParquetFile(target, schema, **options)
    from ..decoders.parquet import StagedParquetFile

    return StagedParquetFile(target, schema, **options)


# -- listings ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listed:
    path: Path
    relative: str  # to the folder listed, "/"-separated
    size: int
    stamp: str  # changes when the file is replaced (mtime locally, ETag/LastModified remotely)


def list_files(folder: Path) -> list[Listed]:
    """Every file under `folder`, recursively (remote: one paginated LIST of the prefix, no per-object call)."""
    if is_remote(folder):
        base = folder.path.rstrip("/")
        try:
            found = folder.fs.find(base, detail=True)
        except FileNotFoundError:
            return []
        out = []
        for key, info in sorted(found.items()):
            if info.get("type") == "directory" or not key.startswith(base + "/"):
                continue
            rel = key[len(base) + 1 :]
            stamp = f"{info.get('ETag', '')}:{info.get('LastModified', '')}"
            out.append(Listed(folder / rel, rel, int(info.get("size") or 0), stamp))
        return out
    if not folder.is_dir():
        return []
    out = []
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            path = Path(dirpath) / name
            stat = path.stat()
            out.append(Listed(path, path.relative_to(folder).as_posix(), stat.st_size, str(stat.st_mtime_ns)))
    return sorted(out, key=lambda f: f.relative)


def list_folders(folder: Path) -> list[Path]:
    """The sub-folders of a folder (remote: the common prefixes of one delimited LIST)."""
    if is_remote(folder):
        try:
            entries = folder.fs.ls(folder.path, detail=True)
        except FileNotFoundError:
            return []
        return sorted(
            (folder / e["name"].rstrip("/").rsplit("/", 1)[-1] for e in entries if e.get("type") == "directory"),
            key=str,
        )
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def duckdb_connection(root: Path):
    """A DuckDB connection that reads the lake's paths (a remote lake through its fsspec filesystem,
    since DuckDB extensions such as httpfs cannot be assumed to download)."""
    import duckdb

    con = duckdb.connect()
    if is_remote(root):
        con.register_filesystem(root.fs)
    return con


def explain_storage_error(err: BaseException) -> str | None:
    """One line for a failure of the lake's object storage (unreachable, refused credentials, no bucket)."""
    url = lake_url() or "the lake"
    module = type(err).__module__ or ""
    name = type(err).__name__
    if module.startswith(("botocore", "aiobotocore", "aiohttp")) or name in ("NoCredentialsError",):
        return (
            f"the lake's object storage failed at {url} ({name}: {_first_line(err)}): check "
            f"{LAKE_URL_VARIABLE}, AWS_ENDPOINT_URL, AWS_REGION and the AWS credentials, then run again "
            "(partitions already written are kept; `hexo-pipeline lake verify` checks the lake)"
        )
    return None


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else ""
