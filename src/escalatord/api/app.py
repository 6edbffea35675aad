"""The HTTP API served inside the daemon's loop. Later work adds routes here.

Each route module declares what it uses (`HealthSources` and `MetricSources` here,
`AckServices`, `IngestServices`, `ListingServices`) and is handed only that; escalatord/app.py
builds them from the running daemon. Packages above the API (heartbeats) pass their routes in
as `extra_routes`, so the API never imports them.
"""

from __future__ import annotations

import gc
import itertools
import math
import os
import time
from collections.abc import Iterable, Mapping, Reversible, Sequence, Sized
from dataclasses import dataclass
from typing import Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from escalatord import __version__
from escalatord.api import ack, confirm, ingest, listings, silences

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
LATENESS_QUANTILES = (0.5, 0.99)
# Lateness figures cover the newest runs only, so they show how the daemon does now rather
# than since start (at 167 checks/s: the last 30 s; at 1,000 checks a minute: 5 minutes).
LATENESS_WINDOW = 5_000

# A metric family as the daemon's parts report theirs: (name, kind, help, [(labels, value)]).
Family = tuple[str, str, str, Sequence[tuple[str, float]]]


class Families(Protocol):
    """A part of the daemon that reports its own metric families (probe workers, traps, …)."""

    def metrics(self) -> Iterable[Family]: ...


class TimedFamilies(Protocol):
    """Metric families computed at a given time (store/health.py `WriteHealth`)."""

    def metrics(self, now: float, wall: float) -> Iterable[Family]: ...


class Scheduler(Protocol):
    """The check scheduler's state and figures (monitor/scheduler.py `CheckScheduler`)."""

    @property
    def running(self) -> bool: ...

    @property
    def lateness(self) -> Reversible[float]: ...  # seconds, newest last

    @property
    def skipped(self) -> int: ...


class Overload(Families, Protocol):
    """The daemon's overload (monitor/overload.py): in words, [] when it keeps up."""

    def problems(self) -> list[str]: ...


class Checks(Protocol):
    """The monitor as /healthz and /metrics see it (monitor/runner.py `Monitor`)."""

    @property
    def overload(self) -> Overload: ...

    @property
    def checks(self) -> Sized: ...

    @property
    def scheduler(self) -> Scheduler: ...

    @property
    def completed(self) -> int: ...

    @property
    def flapping(self) -> Sized:
        """The checks flapping now (core/flapping.py)."""


class Delivery(Protocol):
    """The dispatcher's delivery counters (notify/dispatcher.py `Dispatcher`)."""

    @property
    def sent(self) -> int: ...

    @property
    def failed(self) -> int: ...

    @property
    def fallbacks(self) -> int: ...

    @property
    def unreached(self) -> int: ...

    @property
    def deferred(self) -> int: ...

    @property
    def outcomes(self) -> Mapping[tuple[str, str], int]: ...


class StoreHealth(Protocol):
    """The store as /healthz sees it (store/db.py `Store.problems`)."""

    async def problems(self) -> list[str]: ...


class ProbeWorkers(Families, Protocol):
    """The probe worker processes (monitor/probes.py `ProbePool`)."""

    @property
    def workers(self) -> Sized: ...

    @property
    def alive(self) -> int: ...


@dataclass(frozen=True)
class HealthSources:
    """What GET /healthz judges the daemon by."""

    store: StoreHealth
    monitor: Checks
    probes: ProbeWorkers | None  # None: checks run in the daemon's process


@dataclass(frozen=True)
class MetricSources:
    """What GET /metrics reports."""

    monitor: Checks
    dispatcher: Delivery
    store_health: TimedFamilies  # writes to the store (store/health.py)
    # Further parts' own families, reported in this order: probe workers and SNMP traps
    # (when configured), then the API's connections (api/connections.py).
    families: Sequence[Families]


@dataclass(frozen=True)
class ApiServices:
    """Everything the API's own routes use, one part per route module."""

    health: HealthSources
    metrics: MetricSources
    ingest: ingest.IngestServices
    listings: listings.ListingServices
    ack: ack.AckServices
    silences: silences.SilenceServices | None = None  # run-time silences (api/silences.py)
    confirm: confirm.ConfirmServices | None = None  # contact tests' links (api/confirm.py)


def build(services: ApiServices, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """A Starlette application serving the API's routes, then `extra_routes` from packages
    above the API (the heartbeat endpoint), with JSON errors for all of them."""
    health = services.health

    async def healthz(_request: Request) -> JSONResponse:
        # The store: it answers reads, writes succeed, its file is the one opened (store/health.py).
        problems = await health.store.problems()
        store_ok = not problems
        scheduler_ok = health.monitor.scheduler.running
        # Probe workers: one dead worker among N is degraded (its checks report unknown until
        # it is back), not down; with none alive no check can run.
        probes = health.probes
        probes_ok = probes is None or probes.alive > 0
        if not scheduler_ok:
            problems.append("the check scheduler is not running")
        if not probes_ok:
            problems.append("no probe worker is alive")
        healthy = not problems
        # Overloaded but working: 200 "degraded", saying how far behind (docs/overload.md).
        degraded = health.monitor.overload.problems() if healthy else []
        body = {
            "status": ("degraded" if degraded else "ok") if healthy else "unhealthy",
            "problems": problems or degraded,
            "store": store_ok,
            "scheduler": scheduler_ok,
            "version": __version__,
            "checks": len(health.monitor.checks),
        }
        if probes is not None:
            workers = {"configured": len(probes.workers), "alive": probes.alive}
            body["probe_workers"] = workers
        return JSONResponse(body, status_code=200 if healthy else 503)

    async def metrics(_request: Request) -> Response:
        return Response(prometheus_text(services.metrics), media_type=PROMETHEUS_TEXT)

    async def not_found(_request: Request, _exc: Exception) -> JSONResponse:
        return JSONResponse({"error": "not found"}, status_code=404)

    async def method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
        # Errors are JSON everywhere (DESIGN.md); keep the Allow header Starlette computed.
        headers = getattr(exc, "headers", None) or {}
        return JSONResponse(
            {"error": f"method {request.method} not allowed"}, status_code=405, headers=headers
        )

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/metrics", metrics),
            *extra_routes,
            *ingest.routes(services.ingest),
            *listings.routes(services.listings),
            *ack.routes(services.ack),
            *(silences.routes(services.silences) if services.silences is not None else ()),
            *(confirm.routes(services.confirm) if services.confirm is not None else ()),
        ],
        exception_handlers={404: not_found, 405: method_not_allowed},
    )


def prometheus_text(sources: MetricSources) -> str:
    """The daemon's metrics in Prometheus text format (version 0.0.4).

    Lateness quantiles and max cover the newest LATENESS_WINDOW runs, so they describe recent
    behaviour; the summary has no `_sum`/`_count` because those must be cumulative and the
    scheduler keeps a bounded window of samples, not a running total.
    """
    scheduler = sources.monitor.scheduler
    dispatcher = sources.dispatcher
    lines: list[str] = []

    def metric(name: str, kind: str, help_: str, samples: Sequence[tuple[str, float]]) -> None:
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(f"{name}{labels} {_number(value)}" for labels, value in samples)

    metric(
        "escalatord_checks_completed_total",
        "counter",
        "Check runs that produced a result.",
        [("", sources.monitor.completed)],
    )
    metric(
        "escalatord_checks_flapping",
        "gauge",
        "Checks flapping now: one flapping incident each instead of a page per change.",
        [("", len(sources.monitor.flapping))],
    )
    late = sorted(itertools.islice(reversed(scheduler.lateness), LATENESS_WINDOW))
    metric(
        "escalatord_scheduler_lateness_seconds",
        "summary",
        f"Seconds between a check's scheduled time and its start, newest {LATENESS_WINDOW} runs.",
        [(f'{{quantile="{q}"}}', _quantile(late, q)) for q in LATENESS_QUANTILES],
    )
    metric(
        "escalatord_scheduler_lateness_max_seconds",
        "gauge",
        "Largest lateness over the same newest runs as escalatord_scheduler_lateness_seconds.",
        [("", late[-1] if late else float("nan"))],
    )
    metric(
        "escalatord_scheduler_lateness_samples",
        "gauge",
        "How many of the newest runs the lateness figures cover.",
        [("", len(late))],
    )
    metric(
        "escalatord_scheduler_skipped_total",
        "counter",
        "Runs not started: the previous run of the check was still going, or the daemon was "
        "behind by a whole interval.",
        [("", scheduler.skipped)],
    )
    for name, kind, help_, samples in sources.monitor.overload.metrics():
        metric(name, kind, help_, samples)  # how far behind, loop lag (monitor/overload.py)
    metric(
        "escalatord_notifications_sent_total",
        "counter",
        "Notifications delivered.",
        [("", dispatcher.sent)],
    )
    metric(
        "escalatord_notifications_failed_total",
        "counter",
        "Notifications given up on after their retries.",
        [("", dispatcher.failed)],
    )
    metric(
        "escalatord_notifications_fallback_total",
        "counter",
        "Pages handed to a notifier's fallback after it failed for good.",
        [("", dispatcher.fallbacks)],
    )
    metric(
        "escalatord_pages_unreached_total",
        "counter",
        "Escalation steps whose pages reached nobody (the next level was paged at once).",
        [("", dispatcher.unreached)],
    )
    metric(
        "escalatord_notifications_deferred_total",
        "counter",
        "Sends postponed by a rate limit, open circuit breaker or Retry-After.",
        [("", dispatcher.deferred)],
    )
    metric(
        "escalatord_notifier_outcomes_total",
        "counter",
        "Outcomes of send attempts, by notifier.",
        [
            (f'{{notifier="{_label(name)}",outcome="{_label(outcome)}"}}', count)
            for (name, outcome), count in sorted(dispatcher.outcomes.items())
        ],
    )
    for name, kind, help_, samples in sources.store_health.metrics(time.monotonic(), time.time()):
        metric(name, kind, help_, samples)  # writes to the store (store/health.py)
    for part in sources.families:  # probe workers, SNMP traps, API connections
        for name, kind, help_, samples in part.metrics():
            metric(name, kind, help_, samples)
    cpu = os.times()
    metric(
        "process_cpu_seconds_total",
        "counter",
        "User and system CPU time of the daemon process.",
        [("", cpu.user + cpu.system)],
    )
    rss = _rss_bytes()
    if rss is not None:
        metric(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory of the daemon process.",
            [("", rss)],
        )
    # Python's garbage collector, named as prometheus_client names it. Start-up runs with it
    # off and freezes what it built (cli.py, app.settle_heap): these show it is on again.
    # (No count of frozen objects: gc.get_freeze_count() walks them all, a stall on every
    # scrape; bench/RESULTS.md, "Paging and throughput after the start-up work".)
    gc_stats = gc.get_stats()
    metric(
        "python_gc_collections_total",
        "counter",
        "Garbage collections, by generation.",
        [(f'{{generation="{g}"}}', s["collections"]) for g, s in enumerate(gc_stats)],
    )
    metric(
        "python_gc_objects_collected_total",
        "counter",
        "Objects the garbage collector freed, by generation.",
        [(f'{{generation="{g}"}}', s["collected"]) for g, s in enumerate(gc_stats)],
    )
    return "\n".join(lines) + "\n"


def _quantile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank quantile of sorted samples; NaN when there are none (Prometheus' way)."""
    if not ordered:
        return float("nan")
    rank = math.ceil(round(len(ordered) * q, 9))  # rounded first: 0.99 * n is inexact
    return ordered[min(len(ordered), max(1, rank)) - 1]


def _rss_bytes() -> int | None:
    """Resident set size from /proc (Linux); None elsewhere."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def _number(value: float) -> str:
    if value != value:  # NaN
        return "NaN"
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _label(value: str) -> str:
    """A Prometheus label value, escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
