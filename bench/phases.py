"""Where a start goes: `escalatord run` with 10,000 mixed checks, timed phase by phase.

    .venv/bin/python bench/phases.py --repeat 5 --pycache /tmp/escalatord-pyc

Each repeat starts a fresh process that runs the daemon's own `escalatord run` code with
timers wrapped around its steps (imports, config, store, state load, scheduler, API) and
exits once started; the database keeps a stored state for every check (a restart). Times are
seconds since the process's first line of Python. `scenarios.py startup` measures the same
start from outside (process start → /healthz 200); this tells what it is made of.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from datetime import timedelta

from lifecycle import _every_check_has_run
from session import Session
from workload import Workload

# Runs in the daemon's process: wraps the steps, prints {"phase": seconds}, exits when started.
TIMED_RUN = r"""
import json, os, sys, time
t0 = time.perf_counter()
marks = {}
import escalatord.cli as cli
marks["imports: cli"] = time.perf_counter() - t0
import gc
gc.disable()  # as `escalatord run` does before it imports the daemon
t = time.perf_counter()
import escalatord.daemon
marks["imports: daemon"] = time.perf_counter() - t
import escalatord.app as A
from escalatord.monitor.runner import Monitor
from escalatord.monitor.scheduler import CheckScheduler
from escalatord.store.db import Store

def timed(owner, name, label, is_async=False):
    f = getattr(owner, name)
    def add(t):
        marks[label] = marks.get(label, 0.0) + time.perf_counter() - t
    async def aw(*a, **k):
        t = time.perf_counter(); r = await f(*a, **k); add(t); return r
    def w(*a, **k):
        t = time.perf_counter(); r = f(*a, **k); add(t); return r
    setattr(owner, name, aw if is_async else w)

timed(cli, "_load", "config")
timed(Store, "open", "store open", True)
timed(Monitor, "load", "states load", True)
timed(CheckScheduler, "set_checks", "scheduler")
timed(A, "build_check", "build checks")  # summed over the checks
start = A.App.start
async def started(self):
    await start(self)
    marks["started"] = time.perf_counter() - t0
    print(json.dumps(marks), flush=True)
    os._exit(0)
A.App.start = started
sys.argv = ["escalatord", "run", "--config", sys.argv[1]]
cli.main()
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checks", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--pycache", default="", help="PYTHONPYCACHEPREFIX: keep bytecode there")
    args = ap.parse_args()
    env = dict(os.environ)
    if args.pycache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = args.pycache
    runs = []
    with Session(Workload("mixed", args.checks, timedelta(seconds=60))) as s:
        s.start_daemon(pycache=args.pycache).wait_healthy(120)  # makes the database
        s.stop_daemon()
        _every_check_has_run(s.database, s.config)
        for _ in range(args.repeat + 1):  # the first fills the bytecode cache: not counted
            out = subprocess.run(
                [sys.executable, "-c", TIMED_RUN, str(s.config)],
                env=env, capture_output=True, text=True, timeout=120, check=True,
            )  # fmt: skip
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    runs = runs[1:]
    medians = {k: round(statistics.median(r.get(k, 0.0) for r in runs), 3) for k in runs[0]}
    print(json.dumps({"checks": args.checks, "repeat": args.repeat, "median_s": medians}))


if __name__ == "__main__":
    main()
