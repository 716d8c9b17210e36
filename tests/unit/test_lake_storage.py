"""Where the lake lives: HEXO_LAKE_URL picks object storage, the folder stays the default (no network)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from hexo_pipeline.lake import Lake, storage
from hexo_pipeline.user_errors import explain


def test_the_local_folder_stays_the_default(monkeypatch, tmp_path):
    monkeypatch.delenv("HEXO_LAKE_URL", raising=False)
    monkeypatch.setenv("HEXO_DATA_DIR", str(tmp_path))
    lake = Lake.in_data_dir()
    assert lake.root == tmp_path / "lake" and isinstance(lake.root, Path)
    assert not lake.is_remote
    assert lake.locks == tmp_path / "lake" / "_manifest"


def test_hexo_lake_url_switches_the_lake_to_object_storage(monkeypatch, tmp_path):
    pytest.importorskip("s3fs")
    monkeypatch.setenv("HEXO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HEXO_LAKE_URL", "s3://bucket/hexo/study-a/")
    lake = Lake.in_data_dir(tmp_path)
    assert lake.is_remote
    assert str(lake.root) == "s3://bucket/hexo/study-a"
    assert str(lake.partition_file("records", "u_1", date(2026, 1, 2))) == (
        "s3://bucket/hexo/study-a/records/subject=u_1/date=2026-01-02/part-0.parquet"
    )
    # object storage has no locks: they stay on the local disk, never inside the data dir's lake folder
    assert lake.locks.is_relative_to(tmp_path / ".lake_locks")
    assert not (tmp_path / "lake").exists()


def test_only_s3_urls_are_accepted():
    with pytest.raises(ValueError, match="HEXO_LAKE_URL"):
        storage.lake_root("gs://bucket/prefix")


def test_an_unreachable_store_is_one_line_naming_the_variables(monkeypatch):
    botocore_exceptions = pytest.importorskip("botocore.exceptions")
    monkeypatch.setenv("HEXO_LAKE_URL", "s3://bucket/prefix")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-print-me")
    try:
        raise botocore_exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:9/bucket")
    except Exception as inner:
        try:
            raise OSError("upload failed") from inner
        except OSError as exc:
            line = explain(exc)
    assert line is not None and "\n" not in line
    assert "s3://bucket/prefix" in line and "AWS_ENDPOINT_URL" in line
    assert "do-not-print-me" not in line


def test_an_orphaned_upload_task_after_a_server_drop_prints_no_traceback(monkeypatch, caplog):
    """The server vanishing mid-upload leaves an aiohttp task whose error nobody awaits; its request already
    fails as one line, so asyncio's "Task exception was never retrieved" traceback must not reach the user.
    Any other loop error keeps asyncio's report."""
    import asyncio
    import logging

    import fsspec.asyn
    from aiohttp.client_exceptions import ClientConnectionResetError

    monkeypatch.setenv("HEXO_LAKE_URL", "s3://hexo-lake/study")
    storage.configured_lake_root()
    loop = fsspec.asyn.get_loop()

    def report(err: BaseException) -> None:
        async def fail() -> None:
            raise err

        async def orphan() -> None:
            task = asyncio.ensure_future(fail())
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            del task  # never awaited: asyncio reports it when the task is collected

        asyncio.run_coroutine_threadsafe(orphan(), loop).result(5)
        import gc

        gc.collect()
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0.05), loop).result(5)

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        report(ClientConnectionResetError("Cannot write to closing transport"))
        assert "never retrieved" not in caplog.text
        report(RuntimeError("a real bug"))
        assert "never retrieved" in caplog.text and "a real bug" in caplog.text
