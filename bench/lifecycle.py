"""Start-up and reload with many checks, measured from outside the process.

`startup`: process start → first `/healthz` 200, and → the "started" log line (its JSON
`timestamp`), repeated; the daemon is stopped between repeats and starts on a fresh database.

`reload`: with the daemon running and every check run at least once, the config is
rewritten (one check added, the rule's runbook changed: the existing checks are unchanged)
and SIGHUP sent. Reload time = SIGHUP → the "reloaded" log line (its timestamp), also what
the harness saw polling the log. Whether a check missed a run: the harness reads every
check's `last_check_at` from the daemon's SQLite file every 2 s from one interval before
the SIGHUP to one interval after it, which recovers each run's time (a value stays for a
whole interval, so no run is unseen). For each check, the gap between its last run before
the SIGHUP and its first run after it must be about one interval: no run after it, or a gap
over 1.5 intervals, is a missed run; a gap under half an interval is an extra run.
"""

from __future__ import annotations

import contextlib
import re
import signal
import sqlite3
import statistics
import sys
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from checks import default_warmup
from daemon import peak_rss_mb
from session import Session
from workload import Workload


def _log_time(event: dict) -> float:
    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()


def startup(
    workload: Workload,
    *,
    repeat: int = 3,
    uvloop: bool = False,
    timeout: float = 120,
    pycache: str = "",
    existing_db: bool = False,
) -> dict:
    """Seconds to /healthz 200 and to the "started" line, per repeat, and their medians.
    Each start gets a new database (a first start: the schema is created), or with
    `existing_db` the database the previous start left, with a stored state for every
    check (a restart; the first run makes it)."""
    runs = []
    with Session(workload) as s:
        for i in range(repeat):
            if s.database.exists() and not existing_db:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{s.database}{suffix}").unlink(missing_ok=True)
            t0 = time.time()
            daemon = s.start_daemon(uvloop=uvloop, pycache=pycache)
            healthy = daemon.wait_healthy(timeout)
            started = _log_time(daemon.wait_log("started", 0, timeout)) - t0
            time.sleep(2)
            rss = peak_rss_mb(daemon.pid)
            s.stop_daemon()
            if existing_db:
                _every_check_has_run(s.database, s.config)
            runs.append({"healthy_s": round(healthy, 2), "started_s": round(started, 2)})
            print(f"  start {i + 1}: {runs[-1]}, peak RSS {rss} MB", file=sys.stderr)
    return {
        "scenario": "startup",
        "checks": workload.checks,
        "mix": workload.mix,
        "bytecode_cache": bool(pycache),
        "existing_db": existing_db,
        "runs": runs,
        "healthy_s_median": statistics.median(r["healthy_s"] for r in runs),
        "started_s_median": statistics.median(r["started_s"] for r in runs),
    }


def _every_check_has_run(database: Path, config: Path) -> None:
    """Give every check a stored state, as a daemon that ran for a while leaves them: a
    restart then reads 10,000 states, not the few of the seconds the previous start ran."""
    names = re.findall(r'^name = "(.+)"$', config.read_text(), re.MULTILINE)
    with contextlib.closing(sqlite3.connect(database, timeout=5)) as db, db:
        (at,) = db.execute("SELECT max(last_check_at) FROM check_states").fetchone()
        db.executemany(
            'INSERT OR IGNORE INTO check_states ("check", status, hard, attempts, '
            "last_status, last_summary, last_check_at, since) "
            "VALUES (?, 'ok', 1, 0, 'ok', 'bench: filled in', ?, ?)",
            [(name, at, at) for name in names],
        )


def _last_runs(database: Path) -> dict[str, str]:
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)) as db:
        return dict(db.execute('SELECT "check", last_check_at FROM check_states'))


def reload(
    workload: Workload, *, uvloop: bool = False, timeout: float = 120, pycache: str = ""
) -> dict:
    """SIGHUP with a changed config under load: how long it takes, and runs missed across it."""
    interval = workload.interval.total_seconds()
    seen: dict[str, set[str]] = {}

    def sample_until(end: float) -> None:
        while time.monotonic() < end:
            for name, at in _last_runs(s.database).items():
                if at is not None:
                    seen.setdefault(name, set()).add(at)
            time.sleep(min(2.0, max(0.0, end - time.monotonic())))

    with Session(workload) as s:
        daemon = s.start_daemon(uvloop=uvloop, pycache=pycache)
        daemon.wait_healthy(timeout)
        warm = max(default_warmup(workload.checks, workload.interval), interval) + 5
        print(f"  warming up {warm:g} s", file=sys.stderr)
        time.sleep(warm)
        sample_until(time.monotonic() + interval + 2)
        s.write_config(replace(workload, checks=workload.checks + 1, rule_note="-v2"))
        before = daemon.snapshot()
        lines = len(daemon.log_events())
        hup = time.time()
        daemon.proc.send_signal(signal.SIGHUP)
        done = daemon.wait_log("reloaded", lines, timeout)
        seen_after = time.time() - hup
        reload_s = _log_time(done) - hup
        print(f"  reloaded in {reload_s:.2f} s (log), {seen_after:.2f} s seen", file=sys.stderr)
        sample_until(time.monotonic() + 3)
        around = daemon.snapshot()  # its lateness window (the newest runs) spans the reload
        sample_until(time.monotonic() + interval + 2)
        after = daemon.snapshot()
        rss = peak_rss_mb(daemon.pid)
    missed, extra, gaps, judged = [], [], [], 0
    for name, values in seen.items():
        if name.endswith(f"{workload.checks:05d}"):  # the check the reload added
            continue
        runs = sorted(datetime.fromisoformat(v).timestamp() for v in values)
        prev = [t for t in runs if t <= hup]
        nxt = [t for t in runs if t > hup]
        if not prev:
            continue  # no run seen before the SIGHUP: cannot be judged
        judged += 1
        if not nxt:
            missed.append(name)
            continue
        gap = nxt[0] - prev[-1]
        gaps.append(gap)
        if gap > 1.5 * interval:
            missed.append(name)
        elif gap < 0.5 * interval:
            extra.append(name)
    return {
        "scenario": "reload",
        "checks": workload.checks,
        "mix": workload.mix,
        "interval_s": interval,
        "reload_s": round(reload_s, 3),
        "reload_seen_by_harness_s": round(seen_after, 3),
        "checks_judged": judged,
        "missed_runs": len(missed),
        "missed_examples": sorted(missed)[:5],
        "extra_runs": len(extra),
        "gap_across_reload_s": {
            "min": round(min(gaps), 2) if gaps else None,
            "max": round(max(gaps), 2) if gaps else None,
        },
        "lateness_max_ms_around_reload": round(around.max * 1000, 1),
        "lateness_max_ms_one_interval_later": round(after.max * 1000, 1),
        "skipped_during": after.skipped - before.skipped,
        "peak_rss_mb": rss,
    }
