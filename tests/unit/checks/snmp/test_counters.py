"""Traffic rates from two polls of interface counters (pure): wraps, resets, restarts."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from escalatord.checks.snmp.counters import Rates, Sample, delta, format_bps, rates

BASE = Sample(
    at=1000.0,
    index=3,
    uptime=100_000,
    width=64,
    in_octets=0,
    out_octets=0,
    in_errors=0,
    out_errors=0,
)


def test_rates_use_the_agents_uptime_as_the_clock():
    """Elapsed time is sysUpTime's difference (60 s here) even when the poller saw 0.5 s."""
    later = replace(
        BASE, at=1000.5, uptime=106_000, in_octets=750_000_000, out_octets=75_000_000, in_errors=30
    )
    got = rates(BASE, later)
    assert got == Rates(seconds=60.0, in_bps=100e6, out_bps=10e6, errors_per_s=0.5)
    assert got.utilisation(1e9) == 10.0
    assert got.utilisation(None) is None


def test_without_uptime_the_pollers_clock_is_used():
    """An agent without sysUpTime (or a frozen one) falls back to the poller's clock."""
    first, later = replace(BASE, uptime=None), replace(BASE, at=1010.0, uptime=None, in_octets=10)
    assert rates(first, later).seconds == 10.0  # type: ignore[union-attr]
    frozen = replace(BASE, at=1002.0, in_octets=10)
    assert rates(BASE, frozen).seconds == 2.0  # type: ignore[union-attr]


def test_a_32_bit_counter_that_went_back_wrapped_once():
    """Counter32 from near 2^32 to a small value grew by the distance across the wrap."""
    first = replace(BASE, width=32, in_octets=2**32 - 100, in_errors=2**32 - 1)
    later = replace(first, uptime=101_000, in_octets=900, in_errors=4)
    got = rates(first, later)
    assert isinstance(got, Rates)
    assert got.in_bps == 1000 * 8 / 10
    assert got.errors_per_s == 5 / 10


def test_resets_restarts_and_renumbering_give_no_rate_but_a_reason():
    """A 64-bit counter going back, sysUpTime going back, a new index or counter width: no
    rate, and a phrase saying why."""
    busy = replace(BASE, in_octets=10**12)
    reset = replace(BASE, uptime=106_000, in_octets=5)
    assert rates(busy, reset) == "a 64-bit octet counter went back (reset on the agent)"
    restarted = replace(BASE, uptime=300, in_octets=5)
    assert "the agent restarted (sysUpTime went back)" in rates(busy, restarted)  # type: ignore[operator]
    moved = replace(BASE, uptime=106_000, index=12)
    assert rates(BASE, moved) == "the interface moved from ifIndex 3 to 12"
    narrower = replace(BASE, uptime=106_000, width=32)
    assert rates(BASE, narrower) == "the agent switched from 64-bit to 32-bit counters"
    assert rates(BASE, BASE) == "no time passed since the previous poll"


@given(
    start=st.integers(min_value=0, max_value=2**32 - 1),
    growth=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_any_single_wrap_of_a_32_bit_counter_is_measured_exactly(start, growth):
    """For any start value and any growth below 2^32, the delta is exactly the growth."""
    assert delta(start, (start + growth) % 2**32, 32) == growth


def test_bits_per_second_read_like_a_person_writes_them():
    """format_bps picks the unit: 950 b/s, 1.5 kb/s, 600 Mb/s, 1 Gb/s."""
    assert [format_bps(x) for x in (950, 1500, 600e6, 1e9, 0)] == [
        "950 b/s",
        "1.5 kb/s",
        "600 Mb/s",
        "1 Gb/s",
        "0 b/s",
    ]
