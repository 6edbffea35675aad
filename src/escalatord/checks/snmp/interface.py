"""The `snmp_interface` check: one interface's status and, optionally, its traffic and errors.

    [[check]]
    name = "boston-uplink"
    type = "snmp_interface"
    host = "10.20.0.1"
    community = "${SNMP_COMMUNITY}"   # and the other keys of config.py
    interface = "ge-0/0/1"            # matched against ifName, ifDescr or ifAlias…
    # match = "any"                   # …or only "name", "descr" or "alias"
    # if_index = 3                    # instead of interface: a fixed ifIndex
    # utilisation_warning = "70"      # ranges of percent of the link speed (the busier way)
    # utilisation_critical = "90"
    # errors_warning = "1"            # ranges of (in + out) errors per second
    # errors_critical = "10"
    # speed_mbps = 50                 # the link's real speed when the port's is not (a WAN
    #                                 # contract on a gigabit port); default ifHighSpeed/ifSpeed

Status: admin down is ok ("admin down"); with admin up, oper down, lowerLayerDown or
notPresent is critical, testing is a warning, dormant is ok with a note (a dial-on-demand or
standby link waits for traffic), unknown is unknown. Thresholds apply to an interface that is
up; they need two polls, so the first run after start (or reload, or an index change) says
"first poll" and judges the status only.

A name is resolved to an ifIndex by walking the columns `match` allows (GETBULK on v2c/v3) and
cached. Every poll GETs the status with the column the name was found in, in one request; a
different value there, or no such instance, means the index moved (a reboot, a module added):
the name is resolved again. No match is unknown (critical once the interface was seen and is
gone); several interfaces with that name are unknown, naming them.
"""

from __future__ import annotations

import difflib
import time
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from escalatord.checks.base import Check, CheckContext
from escalatord.checks.ranges import Range, parse_range
from escalatord.checks.snmp.config import SnmpTargetConfig
from escalatord.checks.snmp.counters import Rates, Sample, format_bps, rates
from escalatord.checks.snmp.failures import MissingOid, SnmpFailure
from escalatord.checks.snmp.mibnames import Oid
from escalatord.checks.snmp.session import SnmpTarget
from escalatord.checks.snmp.values import missing, render
from escalatord.core.status import Result, Status

SYS_UPTIME: Oid = (1, 3, 6, 1, 2, 1, 1, 3, 0)
_IF = (1, 3, 6, 1, 2, 1, 2, 2, 1)
_IFX = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)
COLUMNS: dict[str, Oid] = {
    "ifDescr": (*_IF, 2),
    "ifSpeed": (*_IF, 5),
    "ifAdminStatus": (*_IF, 7),
    "ifOperStatus": (*_IF, 8),
    "ifInOctets": (*_IF, 10),
    "ifInErrors": (*_IF, 14),
    "ifOutOctets": (*_IF, 16),
    "ifOutErrors": (*_IF, 20),
    "ifName": (*_IFX, 1),
    "ifHCInOctets": (*_IFX, 6),
    "ifHCOutOctets": (*_IFX, 10),
    "ifHighSpeed": (*_IFX, 15),
    "ifAlias": (*_IFX, 18),
}
MATCH_COLUMNS = {"name": ("ifName",), "descr": ("ifDescr",), "alias": ("ifAlias",)}
MATCH_COLUMNS["any"] = ("ifName", "ifDescr", "ifAlias")
# What SNMPv1 can fetch (no Counter64) in the one GET of a poll.
_V1_POLL = ("ifAdminStatus", "ifOperStatus", "ifDescr", "ifSpeed", "ifInOctets", "ifOutOctets")
_V1_POLL += ("ifInErrors", "ifOutErrors")
_POLL = (*_V1_POLL, "ifName", "ifAlias", "ifHighSpeed", "ifHCInOctets", "ifHCOutOctets")
OPER = {1: "up", 2: "down", 3: "testing", 4: "unknown", 5: "dormant", 6: "notPresent"}
OPER[7] = "lowerLayerDown"
_ORDER = (Status.CRITICAL, Status.UNKNOWN, Status.WARNING)


def _percent_range(value: Any) -> Any:
    if isinstance(value, str):
        value = value.replace("%", "")
    return parse_range(value)


PercentRange = Annotated[Range, BeforeValidator(_percent_range)]
ErrorRange = Annotated[Range, BeforeValidator(parse_range)]


class SnmpInterfaceConfig(SnmpTargetConfig):
    interface: str | None = Field(default=None, min_length=1)
    if_index: int | None = Field(default=None, ge=1, le=2147483647)
    match: Literal["any", "name", "descr", "alias"] = "any"
    utilisation_warning: PercentRange | None = None
    utilisation_critical: PercentRange | None = None
    errors_warning: ErrorRange | None = None
    errors_critical: ErrorRange | None = None
    speed_mbps: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _which(self) -> SnmpInterfaceConfig:
        if (self.interface is None) == (self.if_index is None):
            raise ValueError(
                'set exactly one of interface (a name, e.g. interface = "ge-0/0/1") '
                "and if_index (e.g. if_index = 3)"
            )
        if self.if_index is not None and "match" in self.model_fields_set:
            raise ValueError("match applies to interface names; remove it when if_index is set")
        return self


def judge_status(admin: int | None, oper: int | None) -> tuple[Status, str]:
    """The status of an interface from ifAdminStatus and ifOperStatus (pure)."""
    if admin == 2:
        return Status.OK, "admin down"
    if admin == 3:
        return Status.WARNING, "admin testing"
    name = OPER.get(oper or 0)
    if name is None:
        return Status.UNKNOWN, f"unexpected ifOperStatus {oper}"
    if name in ("down", "lowerLayerDown", "notPresent"):
        return Status.CRITICAL, f"{name} (admin up)"
    if name == "testing":
        return Status.WARNING, "testing"
    if name == "unknown":
        return Status.UNKNOWN, "oper status unknown (the agent cannot tell)"
    return Status.OK, name


def judge(
    label: str,
    status: tuple[Status, str],
    measured: Rates | str | None,
    speed_bps: float | None,
    config: SnmpInterfaceConfig,
    measurements: dict[str, float],
) -> Result:
    """The Result of one poll (pure): the status decides unless the interface is up; then
    the thresholds on traffic and errors do."""
    state, text = status
    summary = f"{label}: {text}"
    if text != "up":
        return Result(state, summary, measurements)
    if measured is None:
        return Result(state, f"{summary}; first poll, rates from the next one", measurements)
    if isinstance(measured, str):
        return Result(state, f"{summary}; no rates this poll: {measured}", measurements)
    parts, findings = [], []
    if measured.in_bps is not None and measured.out_bps is not None:
        parts.append(f"in {format_bps(measured.in_bps)}, out {format_bps(measured.out_bps)}")
        measurements.update(in_bps=round(measured.in_bps, 3), out_bps=round(measured.out_bps, 3))
    use = measured.utilisation(speed_bps)
    if use is not None:
        parts.append(f"{use:.3g}% of {format_bps(speed_bps or 0)}")
        measurements["utilisation_pct"] = round(use, 3)
        findings += _limits(
            use, f"utilisation {use:.3g}%", config.utilisation_critical, config.utilisation_warning
        )
    elif config.utilisation_warning or config.utilisation_critical:
        findings.append((Status.UNKNOWN, "utilisation unknown: the agent reports no speed"))
    if (errors := measured.errors_per_s) is not None:
        parts.append(f"{errors:.3g} errors/s")
        measurements["errors_per_s"] = round(errors, 4)
        findings += _limits(
            errors, f"{errors:.3g} errors/s", config.errors_critical, config.errors_warning
        )
    detail = ", ".join(parts)
    if not findings:
        return Result(state, f"{summary}, {detail}" if detail else summary, measurements)
    worst = min((s for s, _ in findings), key=_ORDER.index)
    problems = "; ".join(t for _, t in findings)
    return Result(worst, f"{summary}, {problems} ({detail})", measurements)


def _limits(
    value: float, text: str, critical: Range | None, warning: Range | None
) -> list[tuple[Status, str]]:
    if critical is not None and critical.violates(value):
        return [(Status.CRITICAL, f"{text} (critical: {critical.describe(nonnegative=True)})")]
    if warning is not None and warning.violates(value):
        return [(Status.WARNING, f"{text} (warning: {warning.describe(nonnegative=True)})")]
    return []


class _Moved(Exception):
    """The cached ifIndex no longer carries the configured name."""


class SnmpInterfaceCheck(Check):
    """Polls one interface; see the module docstring for the keys and the rules."""

    Config = SnmpInterfaceConfig
    config: SnmpInterfaceConfig

    def __init__(self, config: SnmpInterfaceConfig, context: CheckContext):
        super().__init__(config, context)
        self._target = SnmpTarget(config, context)
        self._index: int | None = config.if_index
        self._column: str | None = None  # where the name was found: checked on every poll
        self._seen_at: int | None = None  # the index the name was last found at
        self._previous: Sample | None = None

    @property
    def host(self) -> str:
        """The agent's address as configured (for the trap receiver)."""
        return self.config.host

    @property
    def if_index(self) -> int | None:
        """The configured ifIndex, or the one the name was last resolved to."""
        return self._index

    async def probe(self) -> Result:
        result = await self._probe()
        if self._index is not None and "if_index" not in result.measurements:
            # The resolved index travels with the result: a daemon whose probes run in worker
            # processes learns it through absorb(), so linkDown/linkUp traps still match.
            result.measurements["if_index"] = float(self._index)
        return result

    def absorb(self, result: Result) -> None:
        index = result.measurements.get("if_index")
        if index is not None:
            self._index = int(index)

    async def _probe(self) -> Result:
        cfg = self.config
        try:
            if self._index is None:
                if (failed := await self._resolve()) is not None:
                    return failed
            try:
                values = await self._poll()
            except _Moved:  # a reboot or a new module renumbered the interfaces
                if (failed := await self._resolve()) is not None:
                    return failed
                values = await self._poll()
        except _Moved:
            return Result(Status.UNKNOWN, f"{self._label({})}: the agent keeps moving it")
        except MissingOid:  # v1: the index is gone
            agent = self._target.address
            return Result(Status.UNKNOWN, f"ifIndex {cfg.if_index} does not exist on {agent}")
        except SnmpFailure as exc:
            return exc.result()
        return self._assess(values)

    def _label(self, values: dict[str, Any]) -> str:
        if self.config.interface is not None:
            return f"{self.config.interface} (ifIndex {self._index})"
        name = render(values.get("ifName") or values.get("ifDescr") or "")
        return f"{name} (ifIndex {self._index})" if name else f"ifIndex {self._index}"

    async def _poll(self) -> dict[str, Any]:
        """One GET of status, counters and the name column; raises _Moved when it moved."""
        assert self._index is not None
        names = _V1_POLL if self.config.version == "1" else _POLL
        if self._column is not None and self._column not in names:
            names = (*names, self._column)
        oids = [SYS_UPTIME] + [(*COLUMNS[n], self._index) for n in names]
        try:
            answer = await self._target.get(oids)
        except MissingOid:
            if self.config.if_index is None:
                raise _Moved from None
            raise
        raw = dict(zip(("sysUpTime", *names), (value for _, value in answer), strict=True))
        if missing(raw.get("ifOperStatus")) is not None:
            if self.config.if_index is None:
                raise _Moved
            raise MissingOid(oids[2])
        if self._column is not None and render(raw.get(self._column)) != self.config.interface:
            raise _Moved
        values = {k: v for k, v in raw.items() if missing(v) is None}
        values["_at"] = time.monotonic()
        return values

    async def _resolve(self) -> Result | None:
        """Find the configured name's ifIndex by walking; a Result when that is impossible."""
        cfg = self.config
        assert cfg.interface is not None
        found: dict[int, list[str]] = {}
        seen: set[str] = set()
        rows: set[int] = set()
        for column in MATCH_COLUMNS[cfg.match]:
            prefix = COLUMNS[column]
            for oid, value in await self._target.walk(prefix):
                if len(oid) != len(prefix) + 1:
                    continue  # not a row of this one-index table
                text = render(value)
                rows.add(oid[-1])
                if text:
                    seen.add(text)
                if text == cfg.interface:
                    found.setdefault(oid[-1], []).append(column)
        if len(found) > 1:
            options = ", ".join(f"ifIndex {i} ({'/'.join(c)})" for i, c in sorted(found.items()))
            return Result(
                Status.UNKNOWN,
                f"interface {cfg.interface!r} is ambiguous on {self._target.address}: {options}; "
                'narrow it with match = "name", "descr" or "alias", or set if_index',
            )
        if not found:
            self._index = None
            if self._seen_at is not None:
                return Result(
                    Status.CRITICAL,
                    f"interface {cfg.interface!r} (was ifIndex {self._seen_at}) is gone from "
                    f"{self._target.address}",
                )
            close = difflib.get_close_matches(cfg.interface, sorted(seen), n=3)
            hint = f"; similar: {', '.join(close)}" if close else ""
            return Result(
                Status.UNKNOWN,
                f"no interface {cfg.interface!r} on {self._target.address} "
                f"(searched {'/'.join(MATCH_COLUMNS[cfg.match])} of {len(rows)} interfaces)"
                f"{hint}",
            )
        ((index, columns),) = found.items()
        self._index, self._column, self._seen_at = index, columns[0], index
        return None

    def _assess(self, values: dict[str, Any]) -> Result:
        cfg = self.config
        admin, oper = _int(values.get("ifAdminStatus")), _int(values.get("ifOperStatus"))
        measurements: dict[str, float] = {}
        if admin is not None:
            measurements["admin_status"] = float(admin)
        if oper is not None:
            measurements["oper_status"] = float(oper)
        sample = _sample(values, self._index or 0)
        measured: Rates | str | None = None
        if self._previous is not None:
            measured = rates(self._previous, sample)
        self._previous = sample
        label = self._label(values)
        return judge(
            label, judge_status(admin, oper), measured, self._speed(values), cfg, measurements
        )

    def _speed(self, values: dict[str, Any]) -> float | None:
        if self.config.speed_mbps is not None:
            return self.config.speed_mbps * 1e6
        high = _int(values.get("ifHighSpeed"))
        if high:
            return high * 1e6
        speed = _int(values.get("ifSpeed"))
        return float(speed) if speed else None

    async def close(self) -> None:
        await self._target.close()


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _sample(values: dict[str, Any], index: int) -> Sample:
    wide = values.get("ifHCInOctets") is not None and values.get("ifHCOutOctets") is not None
    return Sample(
        at=values["_at"],
        index=index,
        uptime=_int(values.get("sysUpTime")),
        width=64 if wide else 32,
        in_octets=_int(values.get("ifHCInOctets" if wide else "ifInOctets")),
        out_octets=_int(values.get("ifHCOutOctets" if wide else "ifOutOctets")),
        in_errors=_int(values.get("ifInErrors")),
        out_errors=_int(values.get("ifOutErrors")),
    )
