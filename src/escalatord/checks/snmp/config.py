"""Keys every SNMP check shares: the agent, the SNMP version and its credentials, and how
long one request may take. The `snmp` and `snmp_interface` configs subclass `SnmpTargetConfig`.

    host = "10.20.0.1"
    port = 161                       # default
    version = "2c"                   # "1", "2c" (default) or "3"
    community = "${SNMP_COMMUNITY}"  # v1/v2c; or community_file = "/etc/escalatord/community"
    # SNMPv3: the security level follows from the keys that are set
    user = "escalatord"              # alone: noAuthNoPriv
    auth_protocol = "SHA"            # MD5, SHA (default), SHA224, SHA256, SHA384, SHA512
    auth_key = "${SNMP_AUTH_KEY}"    # + auth_key: authNoPriv (8+ characters)
    priv_protocol = "AES"            # DES, AES (default, AES-128), AES192, AES256, AES192C…
    priv_key = "${SNMP_PRIV_KEY}"    # + priv_key: authPriv (8+ characters; needs auth_key)
    context = ""                     # SNMPv3 context name (some devices use one per VLAN/VRF)
    request_timeout = "3s"           # one try; default: the check's timeout shared by the tries
    request_retries = 2              # tries after the first (default 2)

Secrets (`community`, `auth_key`, `priv_key`) are SecretStr: never in a repr, a log line or a
config error. Each also works as `X_file` through the loader.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, SecretStr, field_validator, model_validator

from escalatord.checks.base import CheckConfig
from escalatord.checks.hosts import validate_host
from escalatord.core.durations import format_duration
from escalatord.fields import Duration

AUTH_PROTOCOLS = ("MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512")
# AES is AES-128 ("AES128" is accepted too). AES192/AES256 follow draft-blumenthal (net-snmp's
# AES-192/AES-256); the C variants use the key extension Cisco and many other vendors use
# (net-snmp's AES-192-C/AES-256-C).
PRIV_PROTOCOLS = ("DES", "AES", "AES192", "AES256", "AES192C", "AES256C")
MIN_KEY_LENGTH = 8  # RFC 3414's passphrase minimum; net-snmp refuses shorter ones
TICK = 0.1  # pysnmp checks its retransmission timers every 0.1 s
Version = Literal["1", "2c", "3"]


def _seconds(td: timedelta) -> str:
    return f"{round(td.total_seconds(), 3):g}s"


def _version(value: Any) -> Any:
    aliases = {1: "1", 2: "2c", 3: "3", "v1": "1", "2": "2c", "v2c": "2c", "v3": "3"}
    if isinstance(value, bool):
        return value
    key = value.strip().lower() if isinstance(value, str) else value
    return aliases.get(key, key)


def _protocol(value: Any, known: tuple[str, ...], key: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} must be one of {', '.join(known)}")
    name = value.strip().upper().replace("-", "").replace("_", "")
    name = {"SHA1": "SHA", "AES128": "AES"}.get(name, name)
    if name not in known:
        raise ValueError(f"unknown {key} {value!r}: use one of {', '.join(known)}")
    return name


class SnmpTargetConfig(CheckConfig):
    """The agent to ask and how; see the module docstring."""

    host: str
    port: int = 161
    version: Annotated[Version, BeforeValidator(_version)] = "2c"
    community: SecretStr | None = None
    user: str | None = Field(default=None, min_length=1, max_length=32)
    auth_protocol: str | None = None
    auth_key: SecretStr | None = None
    priv_protocol: str | None = None
    priv_key: SecretStr | None = None
    context: str = ""
    request_timeout: Duration | None = None
    request_retries: int = Field(default=2, ge=0, le=10)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return validate_host(value)

    @field_validator("port")
    @classmethod
    def _port(cls, value: int) -> int:
        if not 1 <= value <= 65535:
            raise ValueError("port must be between 1 and 65535 (SNMP agents listen on 161)")
        return value

    @field_validator("auth_protocol")
    @classmethod
    def _auth_protocol(cls, value: Any) -> str | None:
        return _protocol(value, AUTH_PROTOCOLS, "auth_protocol")

    @field_validator("priv_protocol")
    @classmethod
    def _priv_protocol(cls, value: Any) -> str | None:
        return _protocol(value, PRIV_PROTOCOLS, "priv_protocol")

    @field_validator("community")
    @classmethod
    def _community(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            raise ValueError("community must not be empty")
        return value

    @field_validator("auth_key", "priv_key")
    @classmethod
    def _key(cls, value: SecretStr | None, info: Any) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_KEY_LENGTH:
            raise ValueError(
                f"{info.field_name} must be at least {MIN_KEY_LENGTH} characters "
                "(RFC 3414; net-snmp refuses shorter passphrases)"
            )
        return value

    @field_validator("request_timeout")
    @classmethod
    def _request_timeout(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value.total_seconds() < TICK:
            raise ValueError('request_timeout must be at least 100ms, e.g. request_timeout = "2s"')
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SnmpTargetConfig:
        v3_keys = ("user", "auth_protocol", "auth_key", "priv_protocol", "priv_key")
        if self.version == "3":
            if self.community is not None:
                raise ValueError(
                    'community is for SNMP version "1" or "2c"; version "3" authenticates '
                    "with user, auth_key and priv_key"
                )
            if self.user is None:
                raise ValueError('version = "3" needs user (and usually auth_key and priv_key)')
            for proto, key in (("auth_protocol", "auth_key"), ("priv_protocol", "priv_key")):
                if getattr(self, proto) is not None and getattr(self, key) is None:
                    raise ValueError(
                        f"{proto} is set but {key} is not: set {key} or remove {proto}"
                    )
            if self.priv_key is not None and self.auth_key is None:
                raise ValueError(
                    "priv_key without auth_key: SNMPv3 has no privacy without authentication "
                    "(authPriv); add auth_key, or remove priv_key for noAuthNoPriv"
                )
        else:
            extra = [k for k in v3_keys if getattr(self, k) is not None]
            if self.context:
                extra.append("context")
            if extra:
                raise ValueError(
                    f"{', '.join(extra)}: SNMPv3 keys, but version is {self.version!r}; "
                    'set version = "3" or remove them'
                )
            if self.community is None:
                raise ValueError(
                    f"version {self.version!r} needs community (or community_file): the agent "
                    "answers only requests with its community string"
                )
        tries = self.request_retries + 1
        if self.request_timeout is not None:
            # pysnmp counts in 0.1 s ticks: a try lasts request_timeout rounded up to one.
            ticks = math.ceil(self.request_timeout.total_seconds() / TICK - 1e-9)
            total = timedelta(seconds=round(ticks * TICK, 1) * tries)
            if total >= self.timeout:
                raise ValueError(
                    f"request_timeout × (request_retries + 1) = {_seconds(total)} must be "
                    f"shorter than timeout ({_seconds(self.timeout)}), so a silent agent "
                    'reads "no response" rather than "timed out": lower request_timeout or '
                    "request_retries, or raise timeout"
                )
        elif self.try_timeout < TICK:
            raise ValueError(
                f"timeout {format_duration(self.timeout)} is too short for "
                f"{tries} tries of at least 100ms each: raise timeout or lower request_retries"
            )
        return self

    @property
    def security_level(self) -> str:
        """noAuthNoPriv, authNoPriv or authPriv (SNMPv3); noAuthNoPriv for v1/v2c."""
        if self.priv_key is not None:
            return "authPriv"
        return "authNoPriv" if self.auth_key is not None else "noAuthNoPriv"

    @property
    def try_timeout(self) -> float:
        """Seconds one try waits for an answer.

        Unset, the check's timeout less a margin (10%, 0.3 s to 1 s) is shared evenly by the
        tries, rounded down to pysnmp's 0.1 s timer tick, so every try gets its full wait and
        the run still ends before the check's hard timeout. With SNMPv3 one more share is kept
        for the discovery request that tells a dead agent from a wrong priv_key or a changed
        engine ID (discovery.py).
        """
        if self.request_timeout is not None:
            return self.request_timeout.total_seconds()
        total = self.timeout.total_seconds()
        # The margin also covers a new engine's first request, which sets the engine up.
        budget = total - min(1.0, max(0.3, total * 0.1))
        shares = self.request_retries + 1 + (self.version == "3")
        return math.floor(budget / shares / TICK + 1e-9) * TICK

    @property
    def address(self) -> str:
        """The agent as shown in summaries: 10.0.0.1:161, [2001:db8::1]:161."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"
