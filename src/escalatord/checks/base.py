"""The contract every check type fulfils, and the one place a run is timed out.

A check type is a subclass of `Check` with a nested pydantic `Config` model (a subclass of
`CheckConfig`) holding its own keys. The registry maps `type = "..."` to the class.
`execute()` runs one probe with a hard timeout and turns every failure into a `Result`, so a
hung or crashing probe never escapes into the scheduler.
"""

from __future__ import annotations

import abc
import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from escalatord.core.durations import format_duration
from escalatord.core.status import Judged, Result, Status
from escalatord.fields import Duration, Percent, Strict, positive_timeout

if TYPE_CHECKING:
    from escalatord.checks.ping.icmp_mode import IcmpMode

# Plugin authors import the words a check speaks from here (docs/plugins.md).
__all__ = ["Check", "CheckConfig", "CheckContext", "Judged", "Result", "Status", "execute"]


class CheckConfig(Strict):
    """Keys every check has. Type modules subclass this with their own keys.

    `interval`, `timeout`, `retries`, `retry_interval`, `recover_after` and the flap keys are
    filled from `[defaults]` by the loader when a check does not set them.
    """

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    type: str
    interval: Duration = timedelta(seconds=60)
    timeout: Duration = timedelta(seconds=10)
    retries: int = Field(default=3, ge=1, le=100)
    retry_interval: Duration = timedelta(seconds=15)
    recover_after: int = Field(default=1, ge=1, le=100)
    labels: dict[str, str] = Field(default_factory=dict)
    # Parents (core/topology.py): unreachable when ANY of depends_on is down, or when ALL of
    # depends_on_any (redundant paths) are down.
    depends_on: tuple[str, ...] = ()
    depends_on_any: tuple[str, ...] = ()
    enabled: bool = True
    description: str = ""
    # Flap detection (core/flapping.py): the weighted share of status changes over the last 21
    # results; flapping above flap_high, stable again once not above flap_low (Icinga's 30/25).
    flap_detection: bool = True
    flap_low: Percent = 25.0
    flap_high: Percent = 30.0

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: timedelta) -> timedelta:
        return positive_timeout(value)

    @model_validator(mode="after")
    def _flap_thresholds(self) -> CheckConfig:
        check_flap_thresholds(self.flap_low, self.flap_high)
        return self


def check_flap_thresholds(low: float, high: float) -> None:
    """Raise unless `low` <= `high`: the band between them keeps a flapping check flapping."""
    if low > high:
        raise ValueError(
            f"flap_low ({low:g}%) must not be above flap_high ({high:g}%): a check starts "
            'flapping above flap_high and stops once not above flap_low, e.g. flap_low = "25%", '
            'flap_high = "30%" (the defaults)'
        )


class CheckContext:
    """Process-wide resources shared by checks (an HTTP client pool, one ICMP socket).

    app.py makes one per daemon (the CLI one per command); checks ask it for a resource by key
    and it is created on first use and closed by `aclose()`. Nothing here is global.
    """

    def __init__(
        self,
        *,
        icmp_privileged: bool | Literal["auto"] = "auto",
        icmp_mode: IcmpMode | None = None,
    ):
        self.icmp_privileged = icmp_privileged  # the setting: true, false or "auto"
        # The ICMP socket this process pings with: handed in (a probe worker gets the
        # daemon's), else decided on first use (checks/ping/icmp_mode.py, `mode_of`).
        self.icmp_mode = icmp_mode
        self._resources: dict[str, Any] = {}

    def shared(self, key: str, factory: Callable[[], Any]) -> Any:
        """The resource stored under `key`, made by `factory()` the first time."""
        if key not in self._resources:
            self._resources[key] = factory()
        return self._resources[key]

    async def aclose(self) -> None:
        """Close every resource that has an `aclose()` or `close()`; errors are swallowed."""
        resources, self._resources = list(self._resources.values()), {}
        for res in resources:
            closer = getattr(res, "aclose", None) or getattr(res, "close", None)
            if closer is None:
                continue
            try:
                out = closer()
                if asyncio.iscoroutine(out):
                    await out
            except Exception:  # closing is best effort at shutdown
                pass


class Check(abc.ABC):
    """Base class of check types. Subclasses set `Config` and implement `probe()`.

    `probe()` returns a Result (status and summary); it may raise, and may hang: `execute()`
    bounds it by the check's timeout. Resources shared across runs (clients, sockets) are
    created lazily and released in `close()`.
    """

    Config: ClassVar[type[CheckConfig]] = CheckConfig
    kind: ClassVar[Literal["active", "passive"]] = "active"

    def __init__(self, config: CheckConfig, context: CheckContext):
        self.config = config
        self.context = context

    @property
    def name(self) -> str:
        return self.config.name

    @abc.abstractmethod
    async def probe(self) -> Result:
        """One run against the target: its status and a one-line summary."""

    async def close(self) -> None:
        """Release shared resources. Called on shutdown and when a reload drops the check."""
        return  # optional: most types hold nothing of their own

    def absorb(self, result: Result) -> None:
        """Learn from a result of this check probed in a worker process (`[daemon]
        probe_workers`): the daemon's own object never probes, yet others may read what the
        probe found (the trap receiver reads an snmp_interface check's resolved ifIndex)."""
        return  # optional: most types keep nothing the daemon's process reads


async def execute(check: Check, now: datetime | None = None) -> Result:
    """Run one probe with the check's hard timeout; never raises (except cancellation)."""
    timeout = check.config.timeout.total_seconds()
    started = time.monotonic()
    try:
        result = await asyncio.wait_for(check.probe(), timeout)
    except TimeoutError:
        result = Result(Status.CRITICAL, f"timed out after {format_duration(check.config.timeout)}")
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a bug or an odd failure in one probe must not stop the others
        result = Result(Status.UNKNOWN, f"check failed to run: {type(exc).__name__}: {exc}")
    duration = time.monotonic() - started
    return Result(
        status=result.status,
        summary=result.summary,
        measurements=dict(result.measurements),
        duration=duration,
        at=now or datetime.now(UTC),
    )
