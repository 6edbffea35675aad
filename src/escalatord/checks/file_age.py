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
directory is read in a worker thread, so a slow network share never stalls other checks.
"""

from __future__ import annotations

import asyncio
import glob
import os
import stat
import time
from dataclasses import dataclass
from datetime import timedelta

from pydantic import Field, model_validator

from escalatord.checks.base import Check, CheckConfig, Result, Status
from escalatord.config.types import Duration, format_duration

_WILDCARD = ("*", "?", "[")


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

    async def probe(self) -> Result:
        cfg = self.config
        try:
            found = await asyncio.to_thread(scan, cfg.path)
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
