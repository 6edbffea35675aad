"""How an SNMP request failed: `SnmpFailure` and its kinds, carrying the status and summary a
check reports. `SnmpTarget` (session.py) says which failure each situation raises."""

from __future__ import annotations

from escalatord.checks.snmp.mibnames import Oid, format_oid
from escalatord.core.status import Result, Status


class SnmpFailure(Exception):
    """A request failed; `status` and `summary` are what the check should report."""

    def __init__(self, status: Status, summary: str):
        super().__init__(summary)
        self.status = status
        self.summary = summary

    def result(self) -> Result:
        return Result(self.status, self.summary)


class NoResponse(SnmpFailure):
    """The agent did not answer any try."""


class MissingOid(SnmpFailure):
    """An SNMPv1 agent answered noSuchName for `oid`."""

    def __init__(self, oid: Oid):
        super().__init__(Status.UNKNOWN, f"{format_oid(oid)} does not exist on the agent")
        self.oid = oid
