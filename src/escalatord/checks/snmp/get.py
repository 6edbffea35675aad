"""The `snmp` check: GET one or more OIDs and judge each value.

    [[check]]
    name = "boston-wan"
    type = "snmp"
    host = "10.20.0.1"
    oid = "1.3.6.1.2.1.2.2.1.8.3"          # or "IF-MIB::ifOperStatus.3"
    # oids = ["UCD-SNMP-MIB…", "…"]        # more OIDs, fetched in the same request
    expect = "1"                            # optional: every value must read exactly this
    # warning = "80"                        # optional: monitoring-plugins ranges on numbers
    # critical = "90"
    community = "${SNMP_COMMUNITY}"         # and the other keys of config.py

Every value is rendered as text (numbers in decimal, strings as they are, other octets as
0x…) and compared with `expect` exactly; numeric values are checked against `warning` and
`critical` and recorded as measurements under the OID as written. The worst finding decides
(critical, then unknown, then warning); every finding is in the summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from escalatord.checks.base import Check, CheckContext
from escalatord.checks.ranges import RangeField
from escalatord.checks.snmp.config import SnmpTargetConfig
from escalatord.checks.snmp.failures import MissingOid, SnmpFailure
from escalatord.checks.snmp.mibnames import resolve
from escalatord.checks.snmp.session import SnmpTarget
from escalatord.checks.snmp.values import missing, render
from escalatord.checks.snmp.values import number as as_number
from escalatord.core.status import Result, Status

MAX_OIDS = 50  # per request: beyond this some agents answer tooBig
SHOW_TEXT = 60  # characters of a string value shown in a summary
_ORDER = (Status.CRITICAL, Status.UNKNOWN, Status.WARNING)


def _oid(text: str) -> str:
    resolve(text)  # ValueError with the fix when the name or number is not an OID
    return text.strip()


def _expected(value: Any) -> Any:
    """`expect = 1` means "1": values are compared as the text they render to."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


OidText = Annotated[str, AfterValidator(_oid)]


class SnmpConfig(SnmpTargetConfig):
    oid: OidText | None = None
    oids: tuple[OidText, ...] = Field(default=(), max_length=MAX_OIDS)
    expect: Annotated[str, BeforeValidator(_expected)] | None = None
    warning: RangeField | None = None
    critical: RangeField | None = None

    @model_validator(mode="after")
    def _some_oid(self) -> SnmpConfig:
        if not self.targets:
            raise ValueError('set oid (or oids): what to GET, e.g. oid = "SNMPv2-MIB::sysUpTime.0"')
        numeric = [resolve(t) for t in self.targets]
        if len(set(numeric)) != len(numeric):
            raise ValueError("oid and oids name the same OID more than once")
        if len(numeric) > MAX_OIDS:
            raise ValueError(f"at most {MAX_OIDS} OIDs per check (one request)")
        return self

    @property
    def targets(self) -> tuple[str, ...]:
        """Every OID to GET, as written: `oid` first, then `oids`."""
        return ((self.oid,) if self.oid else ()) + self.oids


@dataclass(frozen=True)
class Reading:
    """One value as the judge sees it."""

    label: str  # the OID as configured
    text: str
    number: float | None
    missing: str | None  # noSuchObject, noSuchInstance, endOfMibView or noSuchName


def reading(label: str, value: Any) -> Reading:
    return Reading(label, render(value), as_number(value), missing(value))


def judge(readings: list[Reading], config: SnmpConfig, agent: str) -> Result:
    """The Result for one set of values (pure)."""
    findings: list[tuple[Status, str]] = []
    shown: list[str] = []
    measurements: dict[str, float] = {}
    thresholds = config.critical is not None or config.warning is not None
    for r in readings:
        if r.missing:
            findings.append((Status.UNKNOWN, f"{r.label} does not exist on {agent} ({r.missing})"))
            continue
        if r.number is not None:
            measurements[r.label] = r.number
        text = r.text if len(r.text) <= SHOW_TEXT else r.text[:SHOW_TEXT] + "…"
        shown.append(f"{r.label} = {text}")
        if config.expect is not None and r.text.strip() != config.expect.strip():
            findings.append((Status.CRITICAL, f"{r.label} is {text!r}, expected {config.expect!r}"))
        if thresholds and r.number is None:
            findings.append(
                (Status.UNKNOWN, f"{r.label} is {text!r}, not a number to compare with thresholds")
            )
        elif thresholds:
            findings += _limits(r.label, text, r.number, config)
    if not findings:
        return Result(Status.OK, ", ".join(shown), measurements)
    findings.sort(key=lambda f: _ORDER.index(f[0]))  # stable: config order within a status
    return Result(findings[0][0], "; ".join(text for _, text in findings), measurements)


def _limits(label: str, text: str, value: float, config: SnmpConfig) -> list[tuple[Status, str]]:
    for status, key, limit in (
        (Status.CRITICAL, "critical", config.critical),
        (Status.WARNING, "warning", config.warning),
    ):
        if limit is not None and limit.violates(value):
            return [(status, f"{label} = {text} ({key}: {limit.describe()})")]
    return []


class SnmpCheck(Check):
    """One GET of the configured OIDs per run; see the module docstring for the keys."""

    Config = SnmpConfig
    config: SnmpConfig

    def __init__(self, config: SnmpConfig, context: CheckContext):
        super().__init__(config, context)
        self._labels = config.targets
        self._oids = [resolve(t) for t in self._labels]  # cached: resolved at validation
        self._target = SnmpTarget(config, context)

    @property
    def host(self) -> str:
        return self.config.host

    async def probe(self) -> Result:
        try:
            values = await self._target.get(self._oids)
        except MissingOid as exc:
            label = self._labels[self._oids.index(exc.oid)]
            agent = self._target.address
            return Result(Status.UNKNOWN, f"{label} does not exist on {agent} (noSuchName)")
        except SnmpFailure as exc:
            return exc.result()
        pairs = zip(self._labels, values, strict=True)
        readings = [reading(label, value) for label, (_, value) in pairs]
        return judge(readings, self.config, self._target.address)

    async def close(self) -> None:
        await self._target.close()
