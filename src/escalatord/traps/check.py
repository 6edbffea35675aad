"""The `snmp_trap` check: a passive check set by SNMP traps the daemon receives (`[traps]`).

    [[check]]
    name = "core-switch-power"
    type = "snmp_trap"
    host = "10.0.0.2"                          # the address the traps come from
    trap_oids = ["1.3.6.1.4.1.9.9.13.3.0.5"]   # numeric, or MIB::name ("SNMPv2-MIB::coldStart")
    status = "critical"                        # what a matching trap sets: warning|critical|unknown
    clear_oids = ["1.3.6.1.4.1.9.9.13.3.0.6"]  # traps that set it back to ok...
    clear_after = "30m"                        # ...and/or: ok when no matching trap came this long
    match_varbinds = { "1.3.6.1.4.1.9.9.13.1.5.1.3" = "2" }  # optional: the trap must carry these

A trap matches when it comes from `host` (the UDP sender, or for SNMPv1 the agent address in
the trap), its trap OID (v1 traps converted per RFC 3584) is listed, and it carries every
`match_varbinds` entry: a varbind whose OID is the key or lies under it, with the value as
text (numbers as digits, OIDs and IP addresses dotted). Either `clear_oids` or `clear_after`
(or both) is required: a trap-driven problem must have a way to end.

A trap is a confirmed event, so it changes the state at once: `retries`, `retry_interval` and
`recover_after` do not apply. The scheduler runs the check every `interval` to judge
`clear_after`; the mapping of traps to results is in `escalatord.traps.mapping` (pure).
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from escalatord.checks.base import Check, CheckConfig, CheckContext
from escalatord.core.durations import format_duration
from escalatord.core.state import Settings
from escalatord.core.status import Judged, Result, Status
from escalatord.fields import Duration
from escalatord.traps import oids

if TYPE_CHECKING:
    from escalatord.core.state import CheckState
    from escalatord.store.db import Store


def canonical_address(text: str) -> str | None:
    """An IP address in canonical form (IPv4-mapped IPv6 as IPv4); None if `text` is not one."""
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)


def _oid_list(key: str, value: tuple[str, ...]) -> tuple[str, ...]:
    out = []
    for index, text in enumerate(value):  # from 0, as every index in config/loader.py
        try:
            out.append(oids.resolve(text))
        except ValueError as exc:
            raise ValueError(f"{key}[{index}]: {exc}") from None
    return tuple(dict.fromkeys(out))


class SnmpTrapConfig(CheckConfig):
    host: str
    trap_oids: tuple[str, ...] = Field(min_length=1)
    status: Literal["warning", "critical", "unknown"] = "critical"
    clear_oids: tuple[str, ...] = ()
    clear_after: Duration | None = None
    match_varbinds: dict[str, str] = Field(default_factory=dict)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        address = canonical_address(value)
        if address is None:
            raise ValueError(
                'host must be the IP address the traps come from, e.g. "10.0.0.1" or "::1" '
                "(traps carry addresses, not names)"
            )
        return address

    @field_validator("trap_oids")
    @classmethod
    def _trap_oids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _oid_list("trap_oids", value)

    @field_validator("clear_oids")
    @classmethod
    def _clear_oids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _oid_list("clear_oids", value)

    @field_validator("match_varbinds")
    @classmethod
    def _match_varbinds(cls, value: dict[str, str]) -> dict[str, str]:
        out = {}
        for key, expected in value.items():
            try:
                out[oids.resolve(key)] = expected
            except ValueError as exc:
                raise ValueError(f"match_varbinds: {exc}") from None
        return out

    @field_validator("clear_after")
    @classmethod
    def _clear_after(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError('clear_after must be longer than 0s, e.g. clear_after = "30m"')
        return value

    @model_validator(mode="after")
    def _clearing(self) -> SnmpTrapConfig:
        both = sorted(set(self.trap_oids) & set(self.clear_oids))
        if both:
            raise ValueError(
                f"{', '.join(both)} is in both trap_oids and clear_oids; a trap either sets "
                "the problem or clears it"
            )
        if not self.clear_oids and self.clear_after is None:
            raise ValueError(
                "set clear_oids (traps that end the problem) and/or clear_after (ok again when "
                'no matching trap came for that long, e.g. clear_after = "30m"); without '
                "either the check could never recover"
            )
        return self


def immediate(every: timedelta) -> Settings:
    """State-machine settings that make one result hard, next run `every` away."""
    return Settings.immediate(every)


def clear_due(config: SnmpTrapConfig, problem_at: datetime | None, now: datetime) -> Result | None:
    """The ok result `clear_after` gives at `now` for a problem last set at `problem_at`, or
    None when there is nothing to clear yet. Pure."""
    if config.clear_after is None or problem_at is None or now - problem_at < config.clear_after:
        return None
    return Result(
        Status.OK,
        f"no matching trap for {format_duration(config.clear_after)} (clear_after)",
        at=now,
    )


class SnmpTrapCheck(Check):
    """A passive check judged from received traps; see the module docstring for the keys."""

    Config = SnmpTrapConfig
    config: SnmpTrapConfig
    kind: ClassVar[Literal["active", "passive"]] = "passive"

    def __init__(self, config: CheckConfig, context: CheckContext):
        super().__init__(config, context)
        # When the last problem trap came (None: no problem pending a clear_after). Kept in
        # memory; after a restart or reload it is seeded from the stored state (`resume`).
        self.problem_at: datetime | None = None
        self.resumed = False

    def params(self) -> Settings:
        """A trap is a confirmed event: one result changes the state."""
        return immediate(self.config.interval)

    def resume(self, state: CheckState | None, now: datetime) -> None:
        """Take up a problem the state says is still open (after a restart or a reload that
        rebuilt this check): clear_after counts from the last result, or from now."""
        if self.resumed:
            return
        self.resumed = True
        if state is not None and self.problem_at is None:
            open_problem = state.status.is_problem or (
                state.pending is not None and state.pending.is_problem
            )
            if open_problem:
                self.problem_at = state.last_check_at or now

    def noted(self, result: Result) -> None:
        """Remember a trap result fed for this check (its time starts clear_after)."""
        self.problem_at = result.at if result.status.is_problem else None

    async def evaluate(self, store: Store, now: datetime) -> Judged:
        """The scheduler's run: ok when `clear_after` has passed since the last problem trap."""
        result = clear_due(self.config, self.problem_at, now)
        if result is None:
            return Judged(None)
        self.problem_at = None
        return Judged((result, self.params()))

    async def probe(self) -> Result:
        # Only the running daemon receives the traps.
        return Result(
            Status.UNKNOWN,
            "an snmp_trap check is set by the traps the running daemon receives ([traps] "
            "listen); it cannot be run by hand",
        )
