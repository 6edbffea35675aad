"""Host values of checks: IP literals in canonical form, or syntactically valid host names.

Configs with thousands of checks parse these at every start, so an IPv4 literal is recognised
by the C `inet_pton` before the much slower `ipaddress` handles everything else (bench/RESULTS.md,
'Issue 6: start-up under 2 s'). `normalize` keys the replies of the shared ping and SNMP sockets.
"""

from __future__ import annotations

import ipaddress
import re
import socket

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")


def ip_literal(host: str) -> str | None:
    """`host` in canonical form when it is an IPv4 or IPv6 address (with an IPv6 zone), else
    None. The same answer as `str(ipaddress.ip_address(host))`."""
    try:
        socket.inet_pton(socket.AF_INET, host)
    except (OSError, ValueError):  # ValueError: an embedded NUL
        pass
    else:
        # inet_pton takes only dotted quads of decimal octets without leading zeros, which
        # is exactly what ipaddress accepts, and they are already canonical.
        return host
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def validate_host(value: str) -> str:
    """An IP literal (returned in canonical form) or a syntactically valid host name."""
    value = value.strip()
    literal = ip_literal(value)
    if literal is not None:
        return literal
    name = value.removesuffix(".")
    if name and len(name) <= 253 and all(_LABEL.match(p) for p in name.split(".")):
        return value
    raise ValueError(
        'host must be an IPv4 or IPv6 address or a host name, e.g. "10.0.0.1", "::1" '
        'or "router.example.org"'
    )


def normalize(address: str) -> str:
    """The canonical text of an IP literal without any IPv6 scope: how replies are keyed.

    The scope is dropped because the kernel may report it by name ("%eth0") where the
    config gave a number ("%2"), or the other way round. (inet_pton/inet_ntop rather than
    `ipaddress`: this runs for every packet, and they are much faster.)
    """
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        return socket.inet_ntop(family, socket.inet_pton(family, address.partition("%")[0]))
    except OSError:
        raise ValueError(f"not an IP address: {address!r}") from None
