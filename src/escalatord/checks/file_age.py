"""The `file_age` check: for interfaces that drop files, the newest one must be recent.

    [[check]]
    name = "bank-statements"
    type = "file_age"
    path = "/srv/sftp/bank/incoming/*.csv"   # a glob ("**" for subdirectories), a directory
                                             # (every file directly in it) or one file
    max_age = "26h"                          # the newest file must be younger: else critical
    # warning_age = "25h"                    # older than this: warning
    # min_count = 1                          # fewer matching files: critical

Only regular files count (symlinks are followed). Ages are from modification times. The
directory is read in a worker thread of the file_age checks' own small pool (SCAN_THREADS,
shared through the check context), so a slow network share never stalls other checks nor
the threads other parts of the daemon use. A scan hung on a dead mount keeps its thread
after the check's timeout; while it does, runs of that check are not started again (no pile
of stuck threads) and report unknown: "previous scan still running".
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import glob
import os
import stat
import time
from dataclasses import dataclass
from datetime import timedelta

from pydantic import Field, model_validator

from escalatord.checks.base import Check, CheckConfig, CheckContext
from escalatord.core.durations import format_duration
from escalatord.core.status import Result, Status
from escalatord.fields import Duration
from escalatord.workers import WorkerPool

_WILDCARD = ("*", "?", "[")
SCAN_THREADS = 4  # shared by every file_age check of a daemon; more scans wait their turn
POOL_KEY = "file_age.threads"


class FileAgeConfig(CheckConfig):
    path: str = Field(min_length=1)
    max_age: Duration
    warning_age: Duration | None = None
    min_count: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _ages(self) -> FileAgeConfig:
        if not os.path.isabs(self.path):
            raise ValueError(f"path must be absolute, e.g. /srv/incoming/*.csv, not {self.path!r}")
        if self.warning_age is not None and self.warning_age >= self.max_age:
            raise ValueError("warning_age must be shorter than max_age")
        return self


@dataclass(frozen=True)
class Scan:
    count: int
    newest: str | None  # path of the newest file
    newest_mtime: float | None
    missing: bool = False  # the directory or file named by a plain path does not exist


def scan(path: str) -> Scan:
    """Count the regular files `path` names and find the newest. Raises OSError (permission)."""
    if any(c in path for c in _WILDCARD):
        candidates = glob.iglob(path, recursive=True)
    elif os.path.isdir(path):
        candidates = (entry.path for entry in os.scandir(path))
    elif os.path.exists(path):
        candidates = iter([path])
    else:
        return Scan(0, None, None, missing=True)
    count, newest, newest_mtime = 0, None, None
    for candidate in candidates:
        try:
            info = os.stat(candidate)
        except FileNotFoundError:  # removed while we looked
            continue
        if not stat.S_ISREG(info.st_mode):
            continue
        count += 1
        if newest_mtime is None or info.st_mtime > newest_mtime:
            newest, newest_mtime = candidate, info.st_mtime
    return Scan(count, newest, newest_mtime)


class FileAgeCheck(Check):
    """One directory scan per run; see the module docstring for the keys."""

    Config = FileAgeConfig
    config: FileAgeConfig

    def __init__(self, config: FileAgeConfig, context: CheckContext):
        super().__init__(config, context)
        self._scan: concurrent.futures.Future[Scan] | None = None  # the last scan started

    async def probe(self) -> Result:
        cfg = self.config
        if self._scan is not None and not self._scan.done():
            return Result(
                Status.UNKNOWN,
                f"previous scan of {cfg.path} still running (a hung network file system?)",
            )
        pool: WorkerPool = self.context.shared(
            POOL_KEY, lambda: WorkerPool("file_age", SCAN_THREADS)
        )
        self._scan = pool.submit(scan, cfg.path)
        try:
            found = await asyncio.wrap_future(self._scan)
        except OSError as exc:
            return Result(Status.UNKNOWN, f"cannot read {cfg.path}: {exc.strerror or exc}")
        if found.missing:
            return Result(Status.CRITICAL, f"{cfg.path} does not exist")
        measurements = {"count": float(found.count)}
        if found.newest is None or found.newest_mtime is None:
            return Result(Status.CRITICAL, f"no files match {cfg.path}", measurements)
        age = timedelta(seconds=max(0.0, time.time() - found.newest_mtime))
        measurements["newest_age_s"] = round(age.total_seconds(), 3)
        line = (
            f"newest file {os.path.basename(found.newest)} is {_age(age)} old; "
            f"{found.count} file{'s' if found.count != 1 else ''}"
        )
        if age > cfg.max_age:
            return Result(
                Status.CRITICAL, f"{line}; older than max_age {_age(cfg.max_age)}", measurements
            )
        if found.count < cfg.min_count:
            return Result(
                Status.CRITICAL, f"{line}, expected at least {cfg.min_count}", measurements
            )
        if cfg.warning_age is not None and age > cfg.warning_age:
            return Result(
                Status.WARNING,
                f"{line}; older than warning_age {_age(cfg.warning_age)}",
                measurements,
            )
        return Result(Status.OK, line, measurements)


def _age(age: timedelta) -> str:
    return format_duration(timedelta(seconds=round(age.total_seconds())))
