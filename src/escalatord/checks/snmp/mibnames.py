"""OIDs written as numbers ("1.3.6.1.2.1.1.3.0") or as `MIB::name.index`, resolved once.

pysnmp 7 ships compiled MIBs for the SNMP framework (SNMPv2-MIB, RFC1213-MIB's ip/tcp/udp
groups, SNMP-FRAMEWORK-MIB, …) but not IF-MIB or HOST-RESOURCES-MIB, the two that network and
server checks use most. Their commonly polled objects are listed here (`KNOWN`); any other
name is looked up in the MIBs pysnmp ships, with pysnmp's own MIB directory as the only source:
no MIB compiler runs and nothing is fetched. Anything else is written as a numeric OID.

`resolve()` is cached: config validation resolves every name (an unknown one is a config
error naming the fix) and the checks reuse the result, so no request pays for a lookup.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from functools import cache
from typing import Literal

Oid = tuple[int, ...]
Kind = Literal["scalar", "column", "notification"]

_IF = "1.3.6.1.2.1.2.2.1."  # IF-MIB::ifEntry
_IFX = "1.3.6.1.2.1.31.1.1.1."  # IF-MIB::ifXEntry
_HR = "1.3.6.1.2.1.25."


def _columns(prefix: str, names: str) -> dict[str, tuple[str, Kind]]:
    return {name: (f"{prefix}{n}", "column") for n, name in enumerate(names.split(), 1)}


KNOWN: dict[str, dict[str, tuple[str, Kind]]] = {
    "IF-MIB": {
        "ifNumber": ("1.3.6.1.2.1.2.1", "scalar"),
        "ifTableLastChange": ("1.3.6.1.2.1.31.1.5", "scalar"),
        **_columns(
            _IF,
            "ifIndex ifDescr ifType ifMtu ifSpeed ifPhysAddress ifAdminStatus ifOperStatus "
            "ifLastChange ifInOctets ifInUcastPkts ifInNUcastPkts ifInDiscards ifInErrors "
            "ifInUnknownProtos ifOutOctets ifOutUcastPkts ifOutNUcastPkts ifOutDiscards "
            "ifOutErrors ifOutQLen ifSpecific",
        ),
        **_columns(
            _IFX,
            "ifName ifInMulticastPkts ifInBroadcastPkts ifOutMulticastPkts ifOutBroadcastPkts "
            "ifHCInOctets ifHCInUcastPkts ifHCInMulticastPkts ifHCInBroadcastPkts ifHCOutOctets "
            "ifHCOutUcastPkts ifHCOutMulticastPkts ifHCOutBroadcastPkts ifLinkUpDownTrapEnable "
            "ifHighSpeed ifPromiscuousMode ifConnectorPresent ifAlias ifCounterDiscontinuityTime",
        ),
        "linkDown": ("1.3.6.1.6.3.1.1.5.3", "notification"),
        "linkUp": ("1.3.6.1.6.3.1.1.5.4", "notification"),
    },
    "HOST-RESOURCES-MIB": {
        **{
            name: (f"{_HR}1.{n}", "scalar")
            for n, name in enumerate(
                "hrSystemUptime hrSystemDate hrSystemInitialLoadDevice "
                "hrSystemInitialLoadParameters hrSystemNumUsers hrSystemProcesses "
                "hrSystemMaxProcesses".split(),
                1,
            )
        },
        "hrMemorySize": (f"{_HR}2.2", "scalar"),
        **_columns(
            f"{_HR}2.3.1.",
            "hrStorageIndex hrStorageType hrStorageDescr hrStorageAllocationUnits "
            "hrStorageSize hrStorageUsed hrStorageAllocationFailures",
        ),
        **_columns(
            f"{_HR}3.2.1.",
            "hrDeviceIndex hrDeviceType hrDeviceDescr hrDeviceID hrDeviceStatus hrDeviceErrors",
        ),
        **_columns(f"{_HR}3.3.1.", "hrProcessorFrwID hrProcessorLoad"),
        "hrSWOSIndex": (f"{_HR}4.1", "scalar"),
        **_columns(
            f"{_HR}4.2.1.",
            "hrSWRunIndex hrSWRunName hrSWRunID hrSWRunPath hrSWRunParameters hrSWRunType "
            "hrSWRunStatus",
        ),
        **_columns(f"{_HR}5.1.1.", "hrSWRunPerfCPU hrSWRunPerfMem"),
    },
}

_NUMERIC = re.compile(r"^\.?\d+(\.\d+)*$")
_NAMED = re.compile(r"^(?P<mib>[A-Za-z][\w-]*)::(?P<name>[A-Za-z][\w-]*)(?P<index>(\.\d+)*)$")
EXAMPLES = '"1.3.6.1.2.1.1.3.0", "SNMPv2-MIB::sysUpTime.0" or "IF-MIB::ifOperStatus.3"'


def format_oid(oid: Oid) -> str:
    return ".".join(map(str, oid))


@cache
def resolve(text: str, *, allow_notification: bool = False) -> Oid:
    """The numeric OID of `text`; ValueError naming the problem and the accepted forms.

    A scalar written without its instance gets ".0" (`SNMPv2-MIB::sysUpTime` is
    `...1.3.0`); a table column needs its row index (`IF-MIB::ifOperStatus.3`).
    """
    text = text.strip()
    if _NUMERIC.match(text):
        oid = tuple(int(p) for p in text.lstrip(".").split("."))
        if len(oid) < 2 or oid[0] > 2 or (oid[0] < 2 and oid[1] > 39):
            raise ValueError(
                f"{text!r} is not a valid OID: it starts with 0, 1 or 2 (and after 0 or 1 "
                'comes a number up to 39), e.g. "1.3.6.1.2.1.1.3.0"'
            )
        return oid
    found = _NAMED.match(text)
    if not found:
        raise ValueError(f"{text!r} is not an OID: write it as {EXAMPLES}")
    mib, name, index = found["mib"], found["name"], found["index"]
    base, kind = _lookup(mib, name)
    if kind == "notification" and not allow_notification:
        raise ValueError(f"{mib}::{name} is a notification (a trap), not an object to GET")
    suffix = tuple(int(p) for p in index.lstrip(".").split(".")) if index else ()
    if kind == "scalar" and suffix not in ((), (0,)):
        raise ValueError(f"{mib}::{name} is a scalar: its only instance is {mib}::{name}.0")
    if kind == "scalar":
        suffix = (0,)
    if kind == "column" and not suffix:
        raise ValueError(
            f"{mib}::{name} is a table column: add the row index, e.g. {mib}::{name}.1"
        )
    return base + suffix


def _lookup(mib: str, name: str) -> tuple[Oid, Kind]:
    if mib in KNOWN:
        if name not in KNOWN[mib]:
            raise ValueError(_unknown(mib, name, KNOWN[mib]))
        oid, kind = KNOWN[mib][name]
        return tuple(int(p) for p in oid.split(".")), kind
    return _shipped(mib, name)


def _shipped(mib: str, name: str) -> tuple[Oid, Kind]:
    """Look `mib::name` up in the compiled MIBs that come with pysnmp."""
    from pysnmp.smi import error as smi_error

    builder = _builder()
    try:
        builder.load_modules(mib)
    except smi_error.MibNotFoundError:
        known = ", ".join([*KNOWN, "SNMPv2-MIB", "RFC1213-MIB"])
        raise ValueError(
            f"unknown MIB {mib!r}: names work for {known} and the other MIBs pysnmp ships; "
            "write other objects as numeric OIDs"
        ) from None
    try:
        (node,) = builder.import_symbols(mib, name)
    except smi_error.SmiError:
        symbols = builder.mibSymbols.get(mib, {})
        raise ValueError(_unknown(mib, name, symbols)) from None
    scalar, column, notification = builder.import_symbols(
        "SNMPv2-SMI", "MibScalar", "MibTableColumn", "NotificationType"
    )
    if isinstance(node, column):
        return tuple(node.name), "column"
    if isinstance(node, scalar):
        return tuple(node.name), "scalar"
    if isinstance(node, notification):
        return tuple(node.name), "notification"
    raise ValueError(f"{mib}::{name} is not a readable object (a table, entry or group?)")


def _unknown(mib: str, name: str, names: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(names), n=3)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return (
        f"unknown object {mib}::{name}; {hint}"
        "(docs/snmp.md lists the names; or write the numeric OID)"
    )


@cache
def _builder():  # type: ignore[no-untyped-def]
    """A MIB builder reading only pysnmp's own compiled MIBs (no compiler, no network)."""
    import os

    import pysnmp.smi.mibs
    from pysnmp.smi import builder

    mib_builder = builder.MibBuilder()
    own = os.path.dirname(pysnmp.smi.mibs.__file__)
    mib_builder.set_mib_sources(builder.DirMibSource(own))
    return mib_builder
