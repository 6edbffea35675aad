"""The config a benchmark runs: N checks of the chosen kinds against the local targets.

Kinds: `ping` (one 127.x.y.z address per check), `http` (a path per check on the local HTTP
target), `tcp` (one of the local listeners), `snmp` (a v2c GET of a system OID on the local
agent, with `expect` set to its value). `mixed` is ping / http / snmp in turn (issue 6);
`mixed-tcp` is the older ping / http / tcp mix (bench/RESULTS.md's first sections).

With `paging=True` every http check carries the label `bench = "page"` and a rule pages a
`webhook` notifier pointing at the targets' sink at level 0, so an http target that starts
failing opens an incident and sends one page (`retries = 1`: the first failure is hard).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from targets import COMMUNITY, SNMP_OIDS, Targets

from escalatord.core.durations import format_duration

MIXES = {
    "mixed": ("ping", "http", "snmp"),
    "mixed-tcp": ("ping", "http", "tcp"),
}
KINDS = ("ping", "http", "tcp", "snmp")


def kinds_of(mix: str) -> tuple[str, ...]:
    return MIXES.get(mix, (mix,))


def loopback_addresses():
    """127.1.0.1, 127.1.0.2, ...: distinct addresses, skipping .0 and .255 host parts."""
    i = 1 << 16
    while True:
        b, c, d = (i >> 16) & 255, (i >> 8) & 255, i & 255
        if d not in (0, 255):
            yield f"127.{b}.{c}.{d}"
        i += 1


@dataclass
class Workload:
    """What to generate; `extra_checks` adds checks beyond `checks` (the reload scenario)."""

    mix: str
    checks: int
    interval: timedelta
    ping_count: int = 3
    probe_workers: int = 0  # [daemon] probe_workers: 0 runs probes in the daemon's process
    paging: bool = False
    retries: int | None = None  # None: the daemon's default (3)
    rule_note: str = ""  # changes the rule's runbook: a config change that touches no check
    http_options: tuple[str, ...] = ()  # extra TOML lines for every http check (A/B runs)


def config_text(
    w: Workload, targets: Targets, workdir: Path, port: int, snmp_port: int | None
) -> str:
    kinds = kinds_of(w.mix)
    addresses = loopback_addresses()
    oids = sorted(SNMP_OIDS)
    lines = [
        "[daemon]",
        f'database = "sqlite:///{workdir}/escalatord.db"',
        f'listen = "127.0.0.1:{port}"',
        f"icmp_privileged = {'true' if 'ping' in kinds else 'false'}",
        f"probe_workers = {w.probe_workers}",
        "",
        "[defaults]",
        f'interval = "{format_duration(w.interval)}"',
        'timeout = "10s"',
    ]
    if w.retries is not None:
        lines.append(f"retries = {w.retries}")
    for i in range(w.checks):
        kind = kinds[i % len(kinds)]
        lines += ["", "[[check]]", f'name = "{kind}-{i:05d}"', f'type = "{kind}"']
        if kind == "ping":
            lines += [f'host = "{next(addresses)}"', f"count = {w.ping_count}"]
        elif kind == "http":
            lines.append(f'url = "{targets.http_url(i)}"')
            lines += w.http_options
            if w.paging:
                lines.append('labels = { bench = "page" }')
        elif kind == "snmp":
            if snmp_port is None:
                raise ValueError("snmp checks need the SNMP agent")
            oid = oids[i % len(oids)]
            lines += [
                'host = "127.0.0.1"',
                f"port = {snmp_port}",
                f'community = "{COMMUNITY}"',
                f'oid = "{oid}"',
                f'expect = "{SNMP_OIDS[oid]}"',
            ]
        else:
            port_ = targets.tcp_ports[i % len(targets.tcp_ports)]
            lines += ['host = "127.0.0.1"', f"port = {port_}"]
    if w.paging:
        lines += [
            "",
            "[[rule]]",
            'name = "bench pages"',
            'match = { bench = "page" }',
            'severity = "critical"',
            'policy = "page-now"',
            f'runbook = "https://runbooks.invalid/bench{w.rule_note}"',
            "",
            "[[policy]]",
            'name = "page-now"',
            "  [[policy.level]]",
            '  after = "0m"',
            '  notify = ["sink"]',
            "",
            "[[notifier]]",
            'name = "sink"',
            'type = "webhook"',
            f'url = "{targets.sink_url}"',
        ]
    return "\n".join(lines) + "\n"
