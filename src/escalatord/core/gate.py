"""Per-notifier admission: rate limit, circuit breaker and server back-off, as a pure object.

The dispatcher asks `admit(now)` before each attempt. 0 means "send now" (and the send is
counted); a positive number is how many seconds to wait, and the message is rescheduled for
then without counting an attempt. Outcomes are reported with `success` and `failure`. Time
is passed in (seconds, any monotonic origin), never read here, so tests use a virtual clock.

- Rate limit: a token bucket of `count` messages refilled evenly over `period`, so "20/1m"
  allows a burst of 20 and then one message every 3 s.
- Circuit breaker: `threshold` retryable failures in a row open the circuit for `cooldown`;
  then one trial message goes through (half-open). Its success closes the circuit, its
  failure opens it again. A permanent failure (a 4xx) proves the endpoint answers, so it
  counts as the endpoint being up.
- Server back-off: a failure that carries Retry-After (429, 503) holds every message of the
  notifier until then, not only the one that got the answer.
"""

from __future__ import annotations

from dataclasses import dataclass

TRIAL_WAIT = 1.0  # while the half-open trial is in flight, others look again this much later


@dataclass
class Gate:
    rate: tuple[int, float] | None = None  # (messages, per seconds)
    threshold: int = 5
    cooldown: float = 60.0

    def __post_init__(self) -> None:
        self.tokens = float(self.rate[0]) if self.rate else 0.0
        self.refilled_at: float | None = None
        self.failures = 0  # retryable failures in a row
        self.open_until: float | None = None  # circuit open until then
        self.trial = False  # the half-open trial message is in flight
        self.hold_until = 0.0  # a server's Retry-After

    @property
    def state(self) -> str:
        """'closed', 'open' or 'half-open' (as of the last call)."""
        if self.open_until is None:
            return "closed"
        return "half-open" if self.trial else "open"

    def admit(self, now: float) -> float:
        """0.0 to send now (the send is counted), else seconds to wait before asking again."""
        if now < self.hold_until:
            return self.hold_until - now
        if self.open_until is not None:
            if now < self.open_until:
                return self.open_until - now
            if self.trial:
                return TRIAL_WAIT
        wait = self._take_token(now)
        if wait > 0:
            return wait
        if self.open_until is not None:
            self.trial = True  # this send is the half-open trial
        return 0.0

    def blocked_for(self, now: float) -> float:
        """Seconds until the circuit or a Retry-After lets messages through again (0: now).
        Unlike admit(), it changes nothing."""
        until = self.hold_until
        if self.open_until is not None:
            until = max(until, self.open_until)
        return max(0.0, until - now)

    def success(self, now: float) -> None:
        """The endpoint accepted a message (or answered that one message was wrong)."""
        self.failures = 0
        self.open_until = None
        self.trial = False

    def failure(self, now: float, retry_after: float | None = None) -> bool:
        """A retryable failure; returns True when this failure opened the circuit."""
        if retry_after:
            self.hold_until = max(self.hold_until, now + retry_after)
        self.failures += 1
        was_open = self.open_until is not None
        if self.trial or self.failures >= self.threshold:
            self.open_until = now + self.cooldown
            self.trial = False
            return not was_open
        return False

    def _take_token(self, now: float) -> float:
        if self.rate is None:
            return 0.0
        count, period = self.rate
        per_second = count / period
        if self.refilled_at is not None:
            self.tokens = min(float(count), self.tokens + (now - self.refilled_at) * per_second)
        self.refilled_at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / per_second
