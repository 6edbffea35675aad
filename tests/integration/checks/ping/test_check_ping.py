"""The ping check: ICMP to loopback, and to dead targets this test makes and removes.

Nothing leaves the machine: live targets are 127.0.0.0/8 and ::1; dead ones are a blackhole
route for 198.18.0.77, or addresses routed into a network namespace over a veth pair (its
router answers "host unreachable" or drops silently). Each address is only pinged after the
route that keeps it local has been checked, and the route is removed afterwards. Tests that
need root or `ip` are skipped with the reason (`pytest -rs` shows it).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from escalatord.checks.base import CheckContext, execute
from escalatord.checks.ping.check import PingCheck, assess
from escalatord.checks.ping.icmp_mode import UNPRIVILEGED_FIX
from escalatord.checks.ping.pinger import Echo, IcmpUnavailable, Pinger, PingStats
from escalatord.core.status import Status
from tests.support import programs

BLACKHOLED = "198.18.0.77"
ROUTER_UNREACHABLE = "198.18.0.79"  # the namespace's router answers "host unreachable"
ROUTER_DROPS = "198.18.0.80"  # the namespace's router drops it silently


def make(context: CheckContext, host: str, **keys: Any) -> PingCheck:
    keys.setdefault("packet_interval", "20ms")
    keys.setdefault("timeout", "2s")
    return PingCheck(PingCheck.Config(name="host", type="ping", host=host, **keys), context)


def open_sockets() -> int:
    """How many sockets this process holds (from /proc/self/fd)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:  # closed while we looked
            pass
    return count


def ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


@pytest.fixture
async def privileged() -> AsyncIterator[CheckContext]:
    """A context with icmp_privileged = true; skips when raw sockets are not allowed."""
    try:
        Pinger(4, privileged=True).close()
    except IcmpUnavailable as exc:
        pytest.skip(f"raw ICMP sockets need root or CAP_NET_RAW: {exc}")
    ctx = CheckContext(icmp_privileged=True)
    yield ctx
    await ctx.aclose()


@pytest.fixture
def can_route() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to add and remove routes")
    programs.require("ip")


@pytest.fixture
def blackhole(can_route: None) -> Iterator[str]:
    """A blackhole route for one address of the benchmark range, removed afterwards."""
    added = ip("route", "add", "blackhole", f"{BLACKHOLED}/32")
    if added.returncode != 0:
        pytest.skip(f"`ip route add blackhole {BLACKHOLED}/32` failed: {added.stderr.strip()}")
    try:
        assert "blackhole" in ip("route", "show", f"{BLACKHOLED}/32").stdout
        yield BLACKHOLED
    finally:
        ip("route", "del", "blackhole", f"{BLACKHOLED}/32")


@pytest.fixture
def router_namespace(can_route: None) -> Iterator[None]:
    """A namespace reached over a veth pair, routing ROUTER_UNREACHABLE to an `unreachable`
    route and ROUTER_DROPS to a blackhole; the host routes both into it. Removed afterwards."""
    ns, host_if = f"esc{os.getpid()}", f"esc{os.getpid()}a"
    steps = [
        ("netns", "add", ns),
        ("link", "add", host_if, "type", "veth", "peer", "name", "esc0", "netns", ns),
        ("addr", "add", "198.18.1.1/30", "dev", host_if),
        ("link", "set", host_if, "up"),
        ("-n", ns, "addr", "add", "198.18.1.2/30", "dev", "esc0"),
        ("-n", ns, "link", "set", "esc0", "up"),
        ("-n", ns, "route", "add", "unreachable", f"{ROUTER_UNREACHABLE}/32"),
        ("-n", ns, "route", "add", "blackhole", f"{ROUTER_DROPS}/32"),
        ("route", "add", f"{ROUTER_UNREACHABLE}/32", "via", "198.18.1.2"),
        ("route", "add", f"{ROUTER_DROPS}/32", "via", "198.18.1.2"),
    ]
    try:
        for step in steps:
            done = ip(*step)
            if done.returncode != 0:
                pytest.skip(f"`ip {' '.join(step)}` failed: {done.stderr.strip()}")
        forward = ["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"]
        subprocess.run(forward, check=True, capture_output=True)
        for address in (ROUTER_UNREACHABLE, ROUTER_DROPS):  # never ping out of the machine
            assert f"dev {host_if}" in ip("route", "get", address).stdout
        yield
    finally:
        ip("link", "del", host_if)  # takes its routes with it
        ip("netns", "del", ns)


async def test_loopback_is_ok_with_rtt(privileged: CheckContext):
    """127.0.0.1 answers every echo: ok, "rtt avg ... ms, loss 0%", with rtt measurements."""
    result = await execute(make(privileged, "127.0.0.1", count=3))
    assert result.status is Status.OK, result.summary
    assert result.summary.startswith("rtt avg ") and result.summary.endswith("loss 0%")
    assert result.measurements["received"] == 3
    assert result.measurements["loss_pct"] == 0
    m = result.measurements
    assert 0 <= m["rtt_min_ms"] <= m["rtt_avg_ms"] <= m["rtt_max_ms"]


async def test_many_hosts_share_one_socket(privileged: CheckContext):
    """20 concurrent checks of distinct 127.0.0.x hosts are all ok through ONE socket,
    which context.aclose() releases."""
    before = open_sockets()
    checks = [make(privileged, f"127.0.0.{i}", count=2) for i in range(2, 22)]
    results = await asyncio.gather(*(execute(c) for c in checks))
    assert [r.status for r in results] == [Status.OK] * 20, [r.summary for r in results]
    assert all(r.measurements["received"] == 2 for r in results)
    assert open_sockets() == before + 1
    await privileged.aclose()
    assert open_sockets() == before


async def test_ipv6_loopback(privileged: CheckContext):
    """::1 answers over ICMPv6: ok with rtt measurements."""
    if "00000000000000000000000000000001" not in _read("/proc/net/if_inet6"):
        pytest.skip("this machine has no IPv6 loopback address")
    result = await execute(make(privileged, "::1", count=2))
    assert result.status is Status.OK, result.summary
    assert result.measurements["received"] == 2


async def test_host_name_is_resolved(privileged: CheckContext):
    """A host name is resolved each run and the address used is named in the summary."""
    if "localhost" not in _read("/etc/hosts"):
        pytest.skip("/etc/hosts has no localhost entry (resolving it could leave the machine)")
    result = await execute(make(privileged, "localhost", count=1))
    assert result.status is Status.OK, result.summary
    assert result.summary.endswith(("(127.0.0.1)", "(::1)"))


@pytest.mark.netns
async def test_blackholed_address_is_no_reply(privileged: CheckContext, blackhole: str):
    """An address behind a blackhole route is critical "no reply" with every packet lost."""
    result = await execute(make(privileged, blackhole, count=2))
    assert result.status is Status.CRITICAL
    assert result.summary.startswith("no reply, 2/2 lost")
    assert result.measurements["loss_pct"] == 100


@pytest.mark.netns
async def test_router_unreachable_is_named(privileged: CheckContext, router_namespace: None):
    """An ICMP "host unreachable" from a router is critical and names the router."""
    result = await execute(make(privileged, ROUTER_UNREACHABLE, count=2))
    assert result.status is Status.CRITICAL
    assert result.summary == "no reply, 2/2 lost: host unreachable (reported by 198.18.1.2)"


@pytest.mark.netns
async def test_silence_is_no_reply_before_the_timeout(
    privileged: CheckContext, router_namespace: None
):
    """Packets dropped without a word give "no reply" within the timeout, not "timed out"."""
    result = await execute(make(privileged, ROUTER_DROPS, count=2, timeout="400ms"))
    assert result.status is Status.CRITICAL
    assert result.summary == "no reply, 2/2 lost"


async def test_unprivileged_socket_refused_names_the_fix():
    """Without raw sockets and outside ping_group_range the result is unknown, naming the fix."""
    try:
        low, high = map(int, _read("/proc/sys/net/ipv4/ping_group_range").split())
    except ValueError:
        pytest.skip("no net.ipv4.ping_group_range on this machine")
    if any(low <= gid <= high for gid in {os.getgid(), *os.getgroups()}):
        pytest.skip(f"net.ipv4.ping_group_range ({low} {high}) includes this process's group")
    ctx = CheckContext(icmp_privileged=False)
    try:
        result = await execute(make(ctx, "127.0.0.1"))
    finally:
        await ctx.aclose()
    assert result.status is Status.UNKNOWN
    assert UNPRIVILEGED_FIX in result.summary
    assert "ping_group_range" in result.summary


_UNPRIVILEGED_RUN = """
import asyncio, json
from escalatord.checks.base import CheckContext, execute
from escalatord.checks.ping.check import PingCheck

async def main():
    ctx = CheckContext(icmp_privileged=False)
    out = {}
    for host in ("127.0.0.1", "::1"):
        config = PingCheck.Config(name="x", type="ping", host=host, packet_interval="10ms")
        result = await execute(PingCheck(config, ctx))
        out[host] = [result.status.value, result.summary]
    await ctx.aclose()
    print(json.dumps(out))

asyncio.run(main())
"""


@pytest.mark.netns
def test_unprivileged_sockets_work_where_ping_group_range_allows(can_route: None):
    """With ping_group_range widened, unprivileged datagram sockets ping 127.0.0.1 and ::1 ok.

    The sysctl is per network namespace: the check runs in a throwaway one, lo up."""
    ns = f"escdg{os.getpid()}"
    if ip("netns", "add", ns).returncode != 0:
        pytest.skip("cannot create a network namespace")
    try:
        ip("-n", ns, "link", "set", "lo", "up")
        run = ["ip", "netns", "exec", ns]
        sysctl = ["sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"]
        subprocess.run([*run, *sysctl], check=True, capture_output=True)
        done = subprocess.run(
            [*run, sys.executable, "-c", _UNPRIVILEGED_RUN],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    finally:
        ip("netns", "del", ns)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert results["127.0.0.1"][0] == "ok", results
    assert results["::1"][0] == "ok", results
    assert results["127.0.0.1"][1].endswith("loss 0%")


def stats(*rtts: float | None) -> PingStats:
    return PingStats("127.0.0.1", tuple(Echo(r) for r in rtts))


def test_loss_within_max_loss_is_ok():
    """1 of 3 lost (33%) is ok under the default max_loss of 50%."""
    result = assess(stats(1.0, None, 3.0), make(CheckContext(), "127.0.0.1").config)
    assert result.status is Status.OK
    assert result.summary == "rtt avg 2.0 ms, loss 33.3%"


def test_loss_above_max_loss_is_critical():
    """2 of 3 lost (67%) is critical under max_loss 50%, naming the threshold."""
    result = assess(stats(1.0, None, None), make(CheckContext(), "127.0.0.1").config)
    assert result.status is Status.CRITICAL
    assert result.summary == "2/3 lost (66.7%, above max_loss 50%), rtt avg 1.0 ms"


def test_average_rtt_above_max_rtt_is_a_warning():
    """An average rtt above max_rtt is a warning naming the limit."""
    config = make(CheckContext(), "127.0.0.1", max_rtt="100ms").config
    result = assess(stats(90.0, 150.0, 120.0), config)
    assert result.status is Status.WARNING
    assert result.summary == "rtt avg 120 ms, above max_rtt 100ms, loss 0%"
    assert result.measurements["rtt_avg_ms"] == 120


def test_total_loss_is_no_reply_even_when_max_loss_allows_it():
    """100% loss is critical "no reply" even with max_loss = 100%."""
    result = assess(stats(None), make(CheckContext(), "127.0.0.1", max_loss="100%").config)
    assert result.status is Status.CRITICAL
    assert result.summary == "no reply, 1/1 lost"


def _read(path: str) -> str:
    try:
        with open(path) as fh:
            return fh.read()
    except OSError:
        return ""
