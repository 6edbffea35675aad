"""The file_age check on real files in a temporary directory (ages set with os.utime)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from escalatord.checks import file_age
from escalatord.checks.base import CheckContext, execute
from escalatord.checks.file_age import FileAgeCheck
from escalatord.core.status import Status

HOUR = 3600


def make(path: Path | str, **keys: Any) -> FileAgeCheck:
    keys.setdefault("max_age", "26h")
    config = FileAgeCheck.Config(name="drop", type="file_age", path=str(path), **keys)
    return FileAgeCheck(config, CheckContext())


def drop(folder: Path, name: str, hours_ago: float) -> Path:
    path = folder / name
    path.write_text("record\n")
    then = time.time() - hours_ago * HOUR
    os.utime(path, (then, then))
    return path


async def test_recent_file_is_ok(tmp_path: Path):
    """A newest file younger than max_age is ok, named with its age and the file count."""
    drop(tmp_path, "statement-1.csv", 30)
    drop(tmp_path, "statement-2.csv", 2)
    result = await execute(make(tmp_path / "*.csv"))
    assert result.status is Status.OK
    assert result.summary == "newest file statement-2.csv is 2h old; 2 files"
    assert result.measurements["count"] == 2
    assert 2 * HOUR - 5 < result.measurements["newest_age_s"] < 2 * HOUR + 60


async def test_stale_newest_file_is_critical(tmp_path: Path):
    """When even the newest file is older than max_age, the check is critical."""
    drop(tmp_path, "statement.csv", 27)
    result = await execute(make(tmp_path))
    assert result.status is Status.CRITICAL
    assert result.summary.endswith("older than max_age 1d2h")


async def test_warning_age(tmp_path: Path):
    """Older than warning_age but younger than max_age is a warning."""
    drop(tmp_path, "statement.csv", 25.5)
    result = await execute(make(tmp_path, warning_age="25h"))
    assert result.status is Status.WARNING and "older than warning_age 1d1h" in result.summary


async def test_too_few_files_and_no_files(tmp_path: Path):
    """Fewer files than min_count, or none at all, is critical."""
    drop(tmp_path, "a.hl7", 1)
    few = await execute(make(tmp_path / "*.hl7", min_count=3))
    assert few.status is Status.CRITICAL and few.summary.endswith("expected at least 3")
    none = await execute(make(tmp_path / "*.csv"))
    assert none.status is Status.CRITICAL and none.summary == f"no files match {tmp_path}/*.csv"


async def test_only_regular_files_count_and_globs_recurse(tmp_path: Path):
    """Directories never count; "**" finds files in subdirectories."""
    (tmp_path / "archive").mkdir()
    drop(tmp_path / "archive", "old.csv", 1)
    assert (await execute(make(tmp_path))).summary == f"no files match {tmp_path}"
    deep = await execute(make(tmp_path / "**" / "*.csv"))
    assert deep.status is Status.OK and "old.csv" in deep.summary


async def test_missing_directory_is_critical(tmp_path: Path):
    """A directory that does not exist is critical, named."""
    result = await execute(make(tmp_path / "gone"))
    assert result.status is Status.CRITICAL and result.summary == f"{tmp_path}/gone does not exist"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any directory")
async def test_unreadable_directory_is_unknown(tmp_path: Path):
    """A directory escalatord may not read is unknown: the check could not look."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        result = await execute(make(locked))
    finally:
        locked.chmod(0o700)
    assert result.status is Status.UNKNOWN and "Permission denied" in result.summary


def test_config_errors():
    """A relative path and a warning_age not shorter than max_age are refused."""
    with pytest.raises(ValidationError, match="path must be absolute"):
        FileAgeCheck.Config(name="d", type="file_age", path="incoming/*.csv", max_age="1h")
    with pytest.raises(ValidationError, match="warning_age must be shorter than max_age"):
        FileAgeCheck.Config(name="d", type="file_age", path="/srv", max_age="1h", warning_age="2h")


class _HungShare:
    """Stands in for a dead NFS mount: every scan blocks in its worker thread until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.scans = 0

    def scan(self, path: str) -> file_age.Scan:
        self.scans += 1
        self.release.wait(30)
        return file_age.Scan(0, None, None, missing=True)


@pytest.fixture
def hung(monkeypatch) -> Iterator[_HungShare]:
    share = _HungShare()
    monkeypatch.setattr(file_age, "scan", share.scan)
    yield share
    share.release.set()


async def test_a_stuck_scan_is_not_started_again(tmp_path: Path, hung: _HungShare):
    """While the previous scan is still stuck after its timeout, a run reports unknown
    "previous scan still running" and starts no second scan."""
    check = make(tmp_path, timeout="200ms")
    first = await execute(check)
    second = await execute(check)
    assert first.status is Status.CRITICAL and "timed out" in first.summary
    assert second.status is Status.UNKNOWN
    assert "previous scan of" in second.summary and "still running" in second.summary
    assert hung.scans == 1
    hung.release.set()
    for _ in range(250):  # the stuck scan ends: the next run scans again
        if check._scan is not None and check._scan.done():
            break
        await asyncio.sleep(0.02)
    third = await execute(check)
    assert hung.scans == 2 and "does not exist" in third.summary  # what the stand-in returns


async def test_stuck_scans_leave_the_loops_shared_threads_free(tmp_path: Path, hung: _HungShare):
    """Scans stuck on a dead share do not hold the event loop's default executor, which other
    parts of the daemon use: a job there still runs."""
    loop = asyncio.get_running_loop()
    loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=1))
    context = CheckContext()
    try:
        checks = [
            FileAgeCheck(
                FileAgeCheck.Config(
                    name=f"drop-{i}",
                    type="file_age",
                    path=str(tmp_path),
                    max_age="1h",
                    timeout="100ms",
                ),
                context,
            )
            for i in range(3)
        ]
        results = [await execute(check) for check in checks]
        assert all("timed out" in r.summary for r in results)
        assert await asyncio.wait_for(loop.run_in_executor(None, lambda: "ran"), 10) == "ran"
    finally:
        hung.release.set()
        await context.aclose()
