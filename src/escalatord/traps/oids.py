"""OIDs of trap config and summaries.

Names resolve through `escalatord.checks.snmp.mibnames`, the resolver the SNMP checks use too
(IF-MIB and HOST-RESOURCES-MIB objects it lists, and the MIBs shipped with pysnmp, such as
SNMPv2-MIB's coldStart), with notifications allowed. Anything else is written numerically.
"""

from __future__ import annotations

from escalatord.checks.snmp.mibnames import format_oid
from escalatord.checks.snmp.mibnames import resolve as resolve_oid

SNMP_TRAPS = "1.3.6.1.6.3.1.1.5"  # the standard traps; v1 generic trap N is snmpTraps.(N+1)
LINK_DOWN = f"{SNMP_TRAPS}.3"
LINK_UP = f"{SNMP_TRAPS}.4"
IF_INDEX = "1.3.6.1.2.1.2.2.1.1"
IF_ADMIN_STATUS = "1.3.6.1.2.1.2.2.1.7"  # linkDown carries it: 2 is down (shut)
# Short names for summaries: "linkDown trap from 10.0.0.1" reads better than the OID.
TRAP_NAMES = {
    f"{SNMP_TRAPS}.1": "coldStart",
    f"{SNMP_TRAPS}.2": "warmStart",
    LINK_DOWN: "linkDown",
    LINK_UP: "linkUp",
    f"{SNMP_TRAPS}.5": "authenticationFailure",
    f"{SNMP_TRAPS}.6": "egpNeighborLoss",
}


def resolve(text: str) -> str:
    """The dotted numeric form of an OID written in config; ValueError naming the fix."""
    return format_oid(resolve_oid(text, allow_notification=True))


def name_of(oid: str) -> str:
    """A short readable name for a trap OID ("linkDown"), or the OID itself."""
    return TRAP_NAMES.get(oid, oid)
