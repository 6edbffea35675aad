"""What a received trap means for the configured checks. Pure: no sockets, no clock.

A decoded `Trap` (its sender, its trap OID, its varbinds) and the checks that may care about
it go in; a list of `Feed` (check name, result, state-machine settings) comes out, for
`Monitor.on_passive()`. SNMPv1 traps arrive already converted to the SNMPv2 form (RFC 3584:
generic trap N → snmpTraps.N+1, enterprise-specific → enterprise.0.specific, the agent
address in snmpTrapAddress.0), so one code path handles both versions.

Two kinds of check are fed:

- `snmp_trap` checks whose `host` is the trap's source and whose `trap_oids` (problem) or
  `clear_oids` (ok) hold the trap OID, when the trap carries every `match_varbinds` entry.
- `snmp_interface` checks, by linkDown / linkUp (IF-MIB, snmpTraps.3 / .4): the ifIndex
  varbind (ifIndex.N) selects the check whose host is the trap's source and whose ifIndex is
  N. linkDown is critical (ok when the trap says the interface is admin down, as the poll
  judges it), linkUp ok, both at once; the check's next poll (after its `retry_interval`)
  confirms or corrects that.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from escalatord.core.state import Settings
from escalatord.core.status import Result, Status
from escalatord.traps.check import SnmpTrapConfig, canonical_address, immediate
from escalatord.traps.oids import IF_ADMIN_STATUS, IF_INDEX, LINK_DOWN, LINK_UP, name_of

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
SNMP_TRAP_ENTERPRISE = "1.3.6.1.6.3.1.1.4.3.0"
SNMP_TRAP_ADDRESS = "1.3.6.1.6.3.18.1.3.0"  # a v1 trap's agent-addr (RFC 3584)
SNMP_TRAP_COMMUNITY = "1.3.6.1.6.3.18.1.4.0"  # a v1 trap's community: a secret, never shown
HIDDEN = frozenset(
    {SYS_UPTIME, SNMP_TRAP_OID, SNMP_TRAP_COMMUNITY, SNMP_TRAP_ADDRESS, SNMP_TRAP_ENTERPRISE}
)

SUMMARY_VARBINDS = 4  # varbinds shown in a summary...
VALUE_CHARS = 60  # ...each value cut to this many characters
SUMMARY_CHARS = 300


@dataclass(frozen=True)
class Trap:
    """One received notification, in SNMPv2 form, values as text."""

    source: str  # the sender's IP address (canonical)
    oid: str  # snmpTrapOID.0
    varbinds: tuple[tuple[str, str], ...] = ()  # (OID, value) after sysUpTime and snmpTrapOID
    agent: str | None = None  # an SNMPv1 trap's agent-addr, when it names another address

    @property
    def sources(self) -> tuple[str, ...]:
        """The addresses a check's host may equal: the sender and a v1 agent address."""
        return (self.source,) if self.agent is None else (self.source, self.agent)

    def value(self, oid: str) -> str | None:
        """The value of the varbind `oid`, or None."""
        return next((v for o, v in self.varbinds if o == oid), None)


@dataclass(frozen=True)
class Interface:
    """An `snmp_interface` check as trap mapping sees it."""

    name: str
    addresses: frozenset[str]  # its host, as IP addresses
    if_index: int | None  # configured or last resolved
    retry_interval: timedelta  # how soon its poll confirms what a trap said


@dataclass(frozen=True)
class Feed:
    """A result for one check, with the state-machine settings to feed it with."""

    check: str
    result: Result
    params: Settings


def decode(source: str, varbinds: Sequence[tuple[str, str]]) -> Trap | None:
    """A `Trap` from the sender's address and the varbinds as (dotted OID, text) pairs, or
    None when it is not a notification (no snmpTrapOID.0) or the sender is no IP address."""
    address = canonical_address(source)
    oid = next((v for o, v in varbinds if o == SNMP_TRAP_OID), None)
    if address is None or not oid:
        return None
    agent = canonical_address(next((v for o, v in varbinds if o == SNMP_TRAP_ADDRESS), ""))
    rest = tuple((o, v) for o, v in varbinds if o not in (SYS_UPTIME, SNMP_TRAP_OID))
    return Trap(address, oid.strip("."), rest, agent if agent not in (None, address) else None)


def if_index(trap: Trap) -> int | None:
    """N from the trap's ifIndex.N varbind (its value if the OID has no index), or None."""
    for oid, value in trap.varbinds:
        if oid.startswith(IF_INDEX + "."):
            suffix = oid[len(IF_INDEX) + 1 :]
            text = suffix if suffix.isdigit() else value
            # isascii: str.isdigit() also accepts "²", which int() refuses.
            return int(text) if text.isascii() and text.isdigit() else None
    return None


def _carries(trap: Trap, wanted: dict[str, str]) -> bool:
    """Whether, for every entry, a varbind at the OID or under it has that value."""
    return all(
        any((o == oid or o.startswith(oid + ".")) and v == value for o, v in trap.varbinds)
        for oid, value in wanted.items()
    )


def _text(value: str) -> str:
    """A varbind value fit for a one-line summary: no control characters, cut short."""
    clean = "".join(c if c.isprintable() else " " for c in value)
    clean = " ".join(clean.split())
    return clean if len(clean) <= VALUE_CHARS else clean[:VALUE_CHARS] + "…"


def describe(trap: Trap) -> str:
    """ "<trap> trap from <source>" and its first varbinds, e.g. for an incident summary."""
    text = f"{name_of(trap.oid)} trap from {trap.source}"
    if trap.agent is not None:
        text += f" (agent {trap.agent})"
    shown = [(o, v) for o, v in trap.varbinds if o not in HIDDEN]
    if shown:
        parts = [f"{o}={_text(v)}" for o, v in shown[:SUMMARY_VARBINDS]]
        more = len(shown) - SUMMARY_VARBINDS
        text += ": " + ", ".join(parts) + (f" (+{more} more)" if more > 0 else "")
    return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS] + "…"


def judge(trap: Trap, config: SnmpTrapConfig, now: datetime) -> Result | None:
    """The result a trap gives an `snmp_trap` check, or None when it does not match it."""
    if config.host not in trap.sources or not _carries(trap, config.match_varbinds):
        return None
    if trap.oid in config.trap_oids:
        return Result(Status(config.status), describe(trap), at=now)
    if trap.oid in config.clear_oids:
        return Result(Status.OK, f"cleared by {describe(trap)}", at=now)
    return None


def link_result(trap: Trap, interface: Interface, now: datetime) -> Result | None:
    """The result a linkDown / linkUp trap gives an `snmp_interface` check, or None."""
    if trap.oid not in (LINK_DOWN, LINK_UP) or interface.if_index is None:
        return None
    index = if_index(trap)
    if index != interface.if_index or not interface.addresses.intersection(trap.sources):
        return None
    down = trap.oid == LINK_DOWN
    what = "linkDown" if down else "linkUp"
    summary = f"{what} trap from {trap.source} (ifIndex {index})"
    if down and trap.value(f"{IF_ADMIN_STATUS}.{index}") in ("2", "down"):
        # Shut by an operator: ok, as the check's poll judges an admin-down interface.
        return Result(Status.OK, f"{summary}: admin down", at=now)
    return Result(Status.CRITICAL if down else Status.OK, summary, at=now)


def route(
    trap: Trap,
    trap_checks: Iterable[SnmpTrapConfig],
    interfaces: Iterable[Interface],
    now: datetime,
) -> list[Feed]:
    """Every check result `trap` causes, in the order the checks were given."""
    feeds = []
    for config in trap_checks:
        result = judge(trap, config, now)
        if result is not None:
            # The check keeps its interval, on which clear_after is judged.
            feeds.append(Feed(config.name, result, immediate(config.interval)))
    for interface in interfaces:
        result = link_result(trap, interface, now)
        if result is not None:
            # Its next poll comes after retry_interval, to confirm or correct the trap.
            feeds.append(Feed(interface.name, result, immediate(interface.retry_interval)))
    return feeds
