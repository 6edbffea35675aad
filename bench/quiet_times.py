"""Cost of asking every check whether it is in maintenance at one instant (the calendar's 5 s
look for /metrics, and the release at a window's end), on the event loop's thread:

    .venv/bin/python bench/quiet_times.py --checks 10000

One recurring `[[maintenance]]` window with `children = true` over one site of fifty; the
figure is the time for all checks, at an instant outside the window and one inside it.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from escalatord.config.loader import load_text
from escalatord.escalation.quiet import QuietView

WINDOW = """
[[rule]]
name = "all"

[[maintenance]]
name = "nightly"
match = { site = "s1" }
schedule = "0 22 * * sat"
duration = "4h"
timezone = "America/New_York"
children = true
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=10_000)
    args = parser.parse_args()
    checks = "".join(
        f'[[check]]\nname = "c{i}"\ntype = "tcp"\nhost = "127.0.0.1"\nport = 9\n'
        f'labels = {{ site = "s{i % 50}" }}\n'
        for i in range(args.checks)
    )
    config = load_text(checks + WINDOW, "bench.toml")
    times = QuietView(lambda: config).static()
    for label, at in (
        ("outside", datetime(2026, 12, 9, 12, tzinfo=UTC)),
        ("inside", datetime(2026, 12, 13, 4, tzinfo=UTC)),
    ):
        started = time.perf_counter()
        quiet = sum(1 for c in config.checks if times.of(c.name, c.labels, at))
        spent = (time.perf_counter() - started) * 1000
        print(f"{label} the window: {quiet} of {args.checks} quiet, {spent:.1f} ms")


if __name__ == "__main__":
    main()
