"""The system programs tests run (snmpd, initdb, curl, …): finding them, and skipping a test,
with the reason and the install hint, when one is missing.

`make test` passes on a fresh machine without these Debian packages: what needs a missing one is
skipped (`-rs` prints why), never an error. `.ci/run` installs every package named in PACKAGES,
so CI runs them all. Tests reach a program only through this module:

    pytestmark = programs.needs("curl")                 # a module or a test: a skipif mark
    snmpd, snmpget = programs.require("snmpd", "snmpget")   # in a fixture or a test: the paths

`.ci/without-system-programs CMD` runs CMD in a private mount namespace where everything
listed here is hidden, as on a fresh machine (`python -m tests.support.programs` prints what it
hides).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

# Program -> the Debian package that has it.
PACKAGES = {
    "snmpd": "snmpd",  # net-snmp's agent (tests/support/snmp_agent.py)
    "snmpget": "snmp",  # asks an agent whether it is ready
    "snmpset": "snmp",  # flips a value in snmpsim's recording
    "snmptrap": "snmp",  # the trap tests' real sender
    "curl": "curl",  # heartbeats from a curl-only client
    "openssl": "openssl",  # test certificates
    "ip": "iproute2",  # blackhole routes and network namespaces
    "prometheus-alertmanager": "prometheus-alertmanager",
    "amtool": "prometheus-alertmanager",
    "initdb": "postgresql",  # a throwaway cluster (tests/support/postgres.py)
    "pg_ctl": "postgresql",
    "psql": "postgresql",
    "check_dummy": "monitoring-plugins-basic",  # real monitoring plugins for the command check
    "setpriv": "util-linux",  # drops root's capabilities for a permission test
    "systemd-analyze": "systemd",  # checks the shipped unit and snippets
    "systemd-sysusers": "systemd",
    "systemd-tmpfiles": "systemd",
    "chromium": "chromium",  # the plan's HTML headless; the console's browser tests
}
# Directories packages fill outside PATH: found there by absolute path or by a glob.
PACKAGE_DIRS = {
    "/usr/lib/nagios/plugins": "monitoring-plugins-basic",
    "/usr/lib/postgresql": "postgresql",
}
# Where root's tools live (snmpd, ip): not on every user's PATH, looked in all the same.
SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def find(program: str) -> str | None:
    """The path of `program` (a name looked up on PATH and in SBIN, or an absolute path) when it
    is there and executable; None otherwise."""
    if os.path.isabs(program):
        return program if os.path.isfile(program) and os.access(program, os.X_OK) else None
    return shutil.which(program, path=os.pathsep.join((os.environ.get("PATH", ""), *SBIN)))


def missing_reason(*programs: str) -> str | None:
    """Why a test needing `programs` cannot run here, with the install hint; None if it can."""
    absent = [p for p in programs if find(p) is None]
    if not absent:
        return None
    packages = dict.fromkeys(PACKAGES.get(os.path.basename(p), "?") for p in absent)
    names = ", ".join(absent)
    one = len(absent) == 1
    return (
        f"{names} {'is' if one else 'are'} not installed: apt-get install "
        f"{' '.join(packages)} (.ci/run installs {'it' if len(packages) == 1 else 'them'})"
    )


def require(*programs: str) -> list[str]:
    """The paths of `programs`, in order; skips the calling test or fixture when one is
    missing, saying which and how to install it."""
    reason = missing_reason(*programs)
    if reason is not None:
        pytest.skip(reason)
    return [find(p) or p for p in programs]


def needs(*programs: str) -> pytest.MarkDecorator:
    """A mark that skips the test (or module, as `pytestmark`) when one of `programs` is missing."""
    reason = missing_reason(*programs)
    return pytest.mark.skipif(reason is not None, reason=reason or "")


def hideable() -> list[str]:
    """Every installed file of PACKAGES and every existing PACKAGE_DIRS entry: what
    .ci/without-system-programs hides."""
    places = [*os.environ.get("PATH", "").split(os.pathsep), *SBIN, "/usr/bin", "/bin"]
    found = [
        str(Path(place) / program)
        for program in PACKAGES
        for place in dict.fromkeys(places)
        if place and os.path.lexists(Path(place) / program)
    ]
    return [*dict.fromkeys(found), *(d for d in PACKAGE_DIRS if os.path.isdir(d))]


if __name__ == "__main__":
    sys.stdout.write("".join(f"{path}\n" for path in hideable()))
