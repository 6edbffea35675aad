"""Sign-in attempts: at most MAX_FAILURES failed ones per WINDOW per client address and per
person name, then 429 with Retry-After until the oldest failure leaves the window.

Kept in the daemon's memory (one process): a restart forgets them, and each node of a
cluster counts its own. The client address is what uvicorn reports: behind a reverse proxy on
the same machine it is the proxy's X-Forwarded-For (uvicorn trusts it from 127.0.0.1), so
every visitor is not counted as one. Counting per name as well means guessing one person's
password from many addresses is limited too; it also means anyone can hold a person's sign-in
for WINDOW with MAX_FAILURES wrong tries — the price of not being guessable, which the person
sees as "too many attempts, try again in N s".

Time is passed in: the decisions are pure given the failures recorded.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from datetime import datetime, timedelta

MAX_FAILURES = 5
WINDOW = timedelta(minutes=5)
MAX_KEYS = 10_000  # addresses and names remembered at most: the oldest are forgotten first


class LoginLimiter:
    """Failed sign-ins by key (`("addr", ip)`, `("name", person)`), pruned as time passes."""

    def __init__(self, max_failures: int = MAX_FAILURES, window: timedelta = WINDOW):
        self.max_failures = max_failures
        self.window = window
        self._failures: OrderedDict[tuple[str, str], deque[datetime]] = OrderedDict()

    def _recent(self, key: tuple[str, str], now: datetime) -> deque[datetime]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, keys: list[tuple[str, str]], now: datetime) -> int | None:
        """Seconds until a sign-in under `keys` may be tried again; None when it may now."""
        waits = []
        for key in keys:
            times = self._recent(key, now)
            if len(times) >= self.max_failures:
                free_at = times[-self.max_failures] + self.window
                waits.append(max(1, math.ceil((free_at - now).total_seconds())))
        return max(waits) if waits else None

    def failed(self, keys: list[tuple[str, str]], now: datetime) -> None:
        """Record a failed sign-in under each of `keys`."""
        for key in keys:
            times = self._recent(key, now)
            times.append(now)
            self._failures[key] = times
            self._failures.move_to_end(key)
        while len(self._failures) > MAX_KEYS:
            self._failures.popitem(last=False)

    def succeeded(self, name_key: tuple[str, str]) -> None:
        """A person signed in: their name's failures are forgotten (not the address's)."""
        self._failures.pop(name_key, None)
