"""How SNMP answers become results (pure): several OIDs at once, and an interface's status."""

from __future__ import annotations

from typing import Any

import pytest

from escalatord.checks.snmp.counters import Rates
from escalatord.checks.snmp.get import Reading, SnmpConfig, judge
from escalatord.checks.snmp.interface import SnmpInterfaceConfig, judge_status
from escalatord.checks.snmp.interface import judge as judge_interface
from escalatord.core.status import Status

AGENT = "10.0.0.1:161"


def snmp(**keys: Any) -> SnmpConfig:
    base = {
        "name": "c",
        "type": "snmp",
        "host": "10.0.0.1",
        "community": "x",
        "oid": "1.3.6.1.2.1.1.3.0",
    }
    return SnmpConfig.model_validate({**base, **keys})


def test_the_worst_finding_decides_and_every_finding_is_listed():
    """critical beats unknown beats warning; the summary lists all of them, worst first."""
    readings = [
        Reading("a", "75", 75.0, None),
        Reading("b", "", None, "noSuchInstance"),
        Reading("c", "95", 95.0, None),
    ]
    result = judge(readings, snmp(warning="~:70", critical="~:90"), AGENT)
    assert result.status is Status.CRITICAL
    assert result.summary == (
        "c = 95 (critical: above 90); b does not exist on 10.0.0.1:161 (noSuchInstance); "
        "a = 75 (warning: above 70)"
    )
    assert result.measurements == {"a": 75.0, "c": 95.0}


def test_text_compared_with_thresholds_is_unknown_and_long_text_is_cut():
    """A string where a number is needed is unknown; long values are shortened in summaries."""
    long = "x" * 100
    result = judge([Reading("descr", long, None, None)], snmp(critical="10"), AGENT)
    assert result.status is Status.UNKNOWN
    assert result.summary == f"descr is '{'x' * 60}…', not a number to compare with thresholds"
    ok = judge([Reading("descr", long, None, None)], snmp(), AGENT)
    assert (ok.status, ok.summary) == (Status.OK, f"descr = {'x' * 60}…")


@pytest.mark.parametrize(
    ("admin", "oper", "expected"),
    [
        (1, 1, (Status.OK, "up")),
        (2, 1, (Status.OK, "admin down")),
        (3, 1, (Status.WARNING, "admin testing")),
        (1, 2, (Status.CRITICAL, "down (admin up)")),
        (1, 9, (Status.UNKNOWN, "unexpected ifOperStatus 9")),
    ],
)
def test_interface_status_table(admin, oper, expected):
    """ifAdminStatus/ifOperStatus pairs map to the documented statuses."""
    assert judge_status(admin, oper) == expected


def test_utilisation_thresholds_without_a_speed_are_unknown():
    """A utilisation threshold on an interface that reports no speed cannot be judged."""
    config = SnmpInterfaceConfig.model_validate(
        {
            "name": "c",
            "type": "snmp_interface",
            "host": "10.0.0.1",
            "community": "x",
            "interface": "tun0",
            "utilisation_warning": "80",
        }
    )
    rates = Rates(seconds=60, in_bps=1e6, out_bps=2e6, errors_per_s=0.0)
    result = judge_interface("tun0 (ifIndex 5)", (Status.OK, "up"), rates, None, config, {})
    assert result.status is Status.UNKNOWN
    assert result.summary == (
        "tun0 (ifIndex 5): up, utilisation unknown: the agent reports no speed "
        "(in 1 Mb/s, out 2 Mb/s, 0 errors/s)"
    )
