"""Failure-to-page latency: `storm` (many incidents opening at once) and `pages` (a steady
stream of incidents under load).

Paging checks are http checks labelled `bench = "page"` with `retries = 1`, so the first
failed run is hard: it is the confirming result. A rule pages the `webhook` notifier `sink`
at level 0; the targets' sink stamps each POST with its arrival time. Latency per incident
= arrival of its `triggered` page − the payload's `incident.opened_at` (the transition's
time). Both clocks are this machine's wall clock.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta

from checks import default_warmup
from daemon import Daemon, peak_rss_mb
from session import Session
from workload import Workload


def latency_stats(pages: list[dict], event: str = "triggered") -> dict:
    """p50 / p99 / max milliseconds from `opened_at` to arrival, over the first page of each
    incident with `event` (a retried delivery is not a new page)."""
    first: dict[str, dict] = {}
    for page in pages:
        if page["event"] == event and page["id"] not in first:
            first[page["id"]] = page
    by_time = sorted(
        ((p["at"] - datetime.fromisoformat(p["opened_at"]).timestamp()) * 1000, p["at"])
        for p in first.values()
    )
    if not by_time:
        return {"incidents": 0}
    lat = [ms for ms, _ in by_time]
    in_order = [ms for ms, _ in sorted(by_time, key=lambda x: x[1])]

    def q(x: float) -> float:
        return round(lat[min(len(lat) - 1, max(0, round(x * len(lat) + 0.5) - 1))], 1)

    return {
        "incidents": len(lat),
        "p50_ms": q(0.5),
        "p99_ms": q(0.99),
        "max_ms": round(lat[-1], 1),
        "first_page_ms": round(in_order[0], 1),  # pays one-off costs (the notifier's client)
        "max_after_first_ms": round(max(in_order[1:], default=0.0), 1),
    }


def _http_indexes(w: Workload) -> list[int]:
    from workload import kinds_of

    kinds = kinds_of(w.mix)
    return [i for i in range(w.checks) if kinds[i % len(kinds)] == "http"]


def _start(s: Session, uvloop: bool, startup_timeout: float) -> Daemon:
    daemon = s.start_daemon(uvloop=uvloop)
    startup = daemon.wait_healthy(startup_timeout)
    print(f"  healthy after {startup:.2f} s", file=sys.stderr)
    return daemon


def storm(
    incidents: int = 100,
    *,
    background: int = 1000,
    interval: timedelta = timedelta(seconds=1),
    mix: str = "http",
    wait: float = 30.0,
    uvloop: bool = False,
    snmp_agent: str = "snmpd",
    startup_timeout: float = 120,
    keep: bool = False,
) -> dict:
    """`incidents` http targets start failing together; how fast each incident is paged."""
    w = Workload(mix, background + incidents, interval, paging=True, retries=1)
    with Session(w, snmp_agent=snmp_agent, keep=keep) as s:
        failing = _http_indexes(w)[:incidents]
        if len(failing) < incidents:
            raise ValueError(f"only {len(failing)} http checks: raise --background or use http")
        daemon = _start(s, uvloop, startup_timeout)
        warm = max(5.0, 2 * interval.total_seconds())  # every check has run: state rows exist
        print(f"  warming up {warm:g} s", file=sys.stderr)
        time.sleep(warm)
        before = daemon.snapshot()
        t0 = time.time()
        s.targets.set_failing(fail=failing)
        deadline = time.monotonic() + wait
        pages: list[dict] = []
        while time.monotonic() < deadline:
            pages = [p for p in s.targets.pages() if p["event"] == "triggered"]
            if len({p["id"] for p in pages}) >= incidents:
                break
            time.sleep(0.05)
        after = daemon.snapshot()
        rss = peak_rss_mb(daemon.pid)
    stats = latency_stats(pages)
    last = max((p["at"] for p in pages), default=t0)
    opened = [datetime.fromisoformat(p["opened_at"]).timestamp() for p in pages]
    return {
        "scenario": "storm",
        "incidents_wanted": incidents,
        "background_checks": background,
        "mix": mix,
        "interval_s": interval.total_seconds(),
        **stats,
        "opened_within_s": round(max(opened) - min(opened), 2) if opened else None,
        "failure_to_last_page_s": round(last - t0, 2),
        "checks_per_s_during": round((after.done - before.done) / (after.at - before.at), 1),
        "lateness_max_ms_during": round(after.max * 1000, 1),
        "peak_rss_mb": rss,
    }


def steady_pages(
    *,
    paging: int = 300,
    background: int = 3000,
    interval: timedelta = timedelta(seconds=5),
    mix: str = "mixed",
    seconds: float = 120.0,
    per_second: float = 2.0,
    down_for: float = 15.0,
    uvloop: bool = False,
    snmp_agent: str = "snmpd",
    startup_timeout: float = 120,
    keep: bool = False,
) -> dict:
    """Under load, `per_second` targets start failing each second and recover after
    `down_for` s; page latency over every incident that opened in `seconds`."""
    w = Workload(mix, background + paging, interval, paging=True, retries=1)
    with Session(w, snmp_agent=snmp_agent, keep=keep) as s:
        pool = _http_indexes(w)
        if len(pool) < 3 * per_second * down_for:
            raise ValueError("too few http checks for that failure rate: raise --background")
        daemon = _start(s, uvloop, startup_timeout)
        warm = default_warmup(w.checks, w.interval)
        print(f"  warming up {warm:g} s", file=sys.stderr)
        time.sleep(warm)
        before = daemon.snapshot()
        down: list[tuple[float, int]] = []  # (since, index), oldest first
        nxt = 0
        start = time.monotonic()
        failed = 0
        while (now := time.monotonic()) < start + seconds:
            due = int((now - start) * per_second) - failed
            fail = []
            for _ in range(due):
                fail.append(pool[nxt % len(pool)])
                down.append((now, pool[nxt % len(pool)]))
                nxt += 1
                failed += 1
            ok = []
            while down and down[0][0] < now - down_for:
                ok.append(down.pop(0)[1])
            if fail or ok:
                s.targets.set_failing(fail=fail, ok=ok)
            time.sleep(0.05)
        s.targets.set_failing(ok=[i for _, i in down])
        time.sleep(interval.total_seconds() + 2)  # the last incidents are paged
        after = daemon.snapshot()
        pages = s.targets.pages()
        rss = peak_rss_mb(daemon.pid)
    return {
        "scenario": "pages",
        "paging_checks": paging,
        "background_checks": background,
        "mix": mix,
        "interval_s": interval.total_seconds(),
        "failures_started": failed,
        **latency_stats(pages),
        "resolved_pages": latency_stats(pages, "resolved").get("incidents", 0),
        "checks_per_s": round((after.done - before.done) / (after.at - before.at), 1),
        "lateness_p99_ms_end": round(after.p99 * 1000, 1),
        "lateness_max_ms_end": round(after.max * 1000, 1),
        "peak_rss_mb": rss,
    }
