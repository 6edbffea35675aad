"""SNMP response values as checks use them: text to show and compare, numbers to judge.

A v2c/v3 response carries noSuchObject, noSuchInstance or endOfMibView in place of a value
that does not exist; `missing()` names them.
"""

from __future__ import annotations

import socket
from typing import Any

from pyasn1.type import univ
from pysnmp.proto import rfc1902

from escalatord.checks.snmp.mibnames import format_oid

_MISSING = {"NoSuchObject": "noSuchObject", "NoSuchInstance": "noSuchInstance"}
_MISSING["EndOfMibView"] = "endOfMibView"


def missing(value: Any) -> str | None:
    """ "noSuchObject", "noSuchInstance" or "endOfMibView" for those markers, else None."""
    return _MISSING.get(type(value).__name__)


def render(value: Any) -> str:
    """A response value as text: numbers in decimal, printable strings as they are, other
    octets in hex ("0x0a1b"), addresses and OIDs dotted."""
    if (marker := missing(value)) is not None:
        return marker
    if isinstance(value, rfc1902.IpAddress):
        raw = bytes(value)
        return socket.inet_ntoa(raw) if len(raw) == 4 else "0x" + raw.hex()
    if isinstance(value, univ.OctetString):
        raw = bytes(value)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return "0x" + raw.hex()
        printable = all(c.isprintable() or c in "\t\r\n" for c in text.rstrip("\x00"))
        return text.rstrip("\x00") if printable else "0x" + raw.hex()
    if isinstance(value, univ.ObjectIdentifier):
        return format_oid(tuple(value))
    if isinstance(value, univ.Integer):
        return str(int(value))
    if isinstance(value, univ.Null):
        return ""
    return str(value.prettyPrint())


def number(value: Any) -> float | None:
    """The value as a number: integers, counters, gauges, timeticks, or a string holding a
    decimal number (e.g. UCD-SNMP-MIB's load averages "0.15"); else None."""
    if missing(value) is not None or isinstance(value, rfc1902.IpAddress):
        return None
    if isinstance(value, univ.Integer):
        return float(int(value))
    if isinstance(value, univ.OctetString):
        try:
            result = float(bytes(value).decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            return None
        return result if result == result and abs(result) != float("inf") else None
    return None
