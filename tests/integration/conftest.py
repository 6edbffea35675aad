"""Fixtures shared by integration modules; a module that needs one configured otherwise
defines its own.

- `sink`: an HttpTarget for the module's webhooks (pages), reused by its tests.
- `agent`: a net-snmp snmpd of the test's own (tests/support/snmp_agent.py), stopped after;
  the test is skipped, naming the package, where snmpd is not installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.http_target import HttpTarget
from tests.support.snmp_agent import Snmpd


@pytest.fixture(scope="module")
def sink() -> Iterator[HttpTarget]:
    with HttpTarget() as s:
        yield s


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Snmpd]:
    snmpd = Snmpd(tmp_path / "agent").start()
    try:
        yield snmpd
    finally:
        snmpd.stop()
