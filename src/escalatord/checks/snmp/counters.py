"""Interface traffic from two polls of SNMP counters: octets and errors per second, wrap-safe.

Pure: a `Sample` is what one poll read (with the time it was read passed in), `rates()` turns
two of them into a `Rates`, or into the reason there is no rate this poll:

- Elapsed time comes from the agent's sysUpTime (hundredths of a second) when both polls have
  it: it is the agent's own clock, untouched by network delays. Otherwise the poller's clock.
- sysUpTime going back means the agent restarted and its counters started over: no rate.
- A 32-bit counter (Counter32: ifInOctets, ifInErrors, …) that went back wrapped once past
  2^32; a 64-bit one (ifHCInOctets) cannot wrap in any real interval, so going back means it
  was reset: no rate. A 32-bit octet counter wraps every 2^32 × 8 / speed seconds (34 s at
  1 Gb/s): more than one wrap between polls cannot be seen, which is why 64-bit counters are
  used wherever the agent has them.
- A different ifIndex or counter width than last time (re-resolved interface, agent change):
  no rate.
"""

from __future__ import annotations

from dataclasses import dataclass

UPTIME_HZ = 100  # sysUpTime counts hundredths of a second


@dataclass(frozen=True)
class Sample:
    """The counters one poll read for one interface."""

    at: float  # seconds on the poller's monotonic clock when the answer arrived
    index: int
    uptime: int | None  # sysUpTime, hundredths of a second
    width: int  # 64 when the octets are ifHC*Octets, else 32
    in_octets: int | None
    out_octets: int | None
    in_errors: int | None  # Counter32
    out_errors: int | None  # Counter32


@dataclass(frozen=True)
class Rates:
    seconds: float
    in_bps: float | None
    out_bps: float | None
    errors_per_s: float | None

    def utilisation(self, speed_bps: float | None) -> float | None:
        """The busier direction's share of the link speed, in percent (full duplex)."""
        busiest = max((r for r in (self.in_bps, self.out_bps) if r is not None), default=None)
        if busiest is None or not speed_bps:
            return None
        return busiest / speed_bps * 100


def delta(previous: int | None, current: int | None, width: int) -> int | None:
    """How much a counter grew; None when it cannot be known (unread, or a 64-bit reset)."""
    if previous is None or current is None:
        return None
    if current >= previous:
        return current - previous
    if width == 32:
        return current + (1 << 32) - previous  # wrapped once
    return None


def rates(previous: Sample, current: Sample) -> Rates | str:
    """Per-second rates between two polls, or why there are none (a short phrase)."""
    if current.index != previous.index:
        return f"the interface moved from ifIndex {previous.index} to {current.index}"
    if current.width != previous.width:
        return f"the agent switched from {previous.width}-bit to {current.width}-bit counters"
    seconds = current.at - previous.at
    if current.uptime is not None and previous.uptime is not None:
        if current.uptime < previous.uptime:
            return "the agent restarted (sysUpTime went back), its counters start over"
        if current.uptime > previous.uptime:
            seconds = (current.uptime - previous.uptime) / UPTIME_HZ
    if seconds <= 0:
        return "no time passed since the previous poll"
    octets_in = delta(previous.in_octets, current.in_octets, current.width)
    octets_out = delta(previous.out_octets, current.out_octets, current.width)
    reset = [
        d is None and p is not None and c is not None
        for d, p, c in (
            (octets_in, previous.in_octets, current.in_octets),
            (octets_out, previous.out_octets, current.out_octets),
        )
    ]
    if any(reset):
        return "a 64-bit octet counter went back (reset on the agent)"
    errors_in = delta(previous.in_errors, current.in_errors, 32)
    errors_out = delta(previous.out_errors, current.out_errors, 32)
    errors = None if errors_in is None or errors_out is None else errors_in + errors_out
    return Rates(
        seconds=seconds,
        in_bps=None if octets_in is None else octets_in * 8 / seconds,
        out_bps=None if octets_out is None else octets_out * 8 / seconds,
        errors_per_s=None if errors is None else errors / seconds,
    )


def format_bps(bps: float) -> str:
    """1234567 -> "1.23 Mb/s"."""
    for unit, size in (("Tb/s", 1e12), ("Gb/s", 1e9), ("Mb/s", 1e6), ("kb/s", 1e3)):
        if bps >= size:
            return f"{bps / size:.3g} {unit}"
    return f"{bps:.3g} b/s"
