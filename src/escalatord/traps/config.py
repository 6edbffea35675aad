"""The `[traps]` section: where the SNMP trap receiver listens and which communities it accepts.

    [traps]
    listen = "0.0.0.0:162"              # or "[::]:162"; port 162 needs CAP_NET_BIND_SERVICE
    communities = ["${TRAP_COMMUNITY}"] # or communities_file = "/etc/escalatord/trap-communities"
    # enabled = true

Communities are secrets: never shown in messages or logs. A `communities_file` holds one
community a line (blank lines and `#` comments are skipped).
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import BeforeValidator, Field, SecretStr, field_validator

from escalatord.fields import Strict

LISTEN_EXAMPLE = '"0.0.0.0:162", "127.0.0.1:1162" or "[::]:162"'


def _lines(value: object) -> object:
    """A `communities_file` gives one string: one community a line."""
    if isinstance(value, str):
        lines = (line.strip() for line in value.splitlines())
        return tuple(line for line in lines if line and not line.startswith("#"))
    return value


Communities = Annotated[tuple[SecretStr, ...], BeforeValidator(_lines)]


def split_listen(value: str) -> tuple[str, int]:
    """`"host:port"` or `"[v6]:port"` → (address, port); ValueError naming the format."""
    host, sep, port = value.strip().rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    address = host[1:-1] if bracketed else host
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        parsed = None
    ok = (
        sep
        and parsed is not None
        and (parsed.version == 4 or bracketed)
        and port.isdigit()
        and 0 < int(port) < 65536
    )
    if not ok:
        raise ValueError(
            f"listen must be an IP address and a UDP port, e.g. {LISTEN_EXAMPLE} "
            "(IPv6 in brackets; a host name is not accepted)"
        )
    return str(parsed), int(port)


class TrapsConfig(Strict):
    """Where the SNMP v1/v2c trap receiver listens and which communities it accepts."""

    enabled: bool = True
    listen: str = "0.0.0.0:162"
    communities: Communities = Field(repr=False)

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        split_listen(value)
        return value.strip()

    @field_validator("communities")
    @classmethod
    def _communities(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        if not value:
            raise ValueError(
                'at least one community is needed, e.g. communities = ["${TRAP_COMMUNITY}"] '
                "or communities_file with one community a line; traps with any other "
                "community are dropped"
            )
        # Values are never quoted back: they are secrets. Indexes count from 0 (config/loader.py).
        for index, community in enumerate(value):
            text = community.get_secret_value()
            where = f"communities[{index}]"
            if not text.strip():
                raise ValueError(f"{where} is empty; remove it or give the community")
            if not text.isascii() or not text.isprintable():
                raise ValueError(f"{where} must be printable ASCII (no control characters)")
        return tuple(SecretStr(c.get_secret_value().strip()) for c in value)

    @property
    def listen_host(self) -> str:
        return split_listen(self.listen)[0]

    @property
    def listen_port(self) -> int:
        return split_listen(self.listen)[1]

    def community_values(self) -> tuple[str, ...]:
        return tuple(c.get_secret_value() for c in self.communities)
