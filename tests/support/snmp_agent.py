"""Real SNMP agents on loopback for tests: net-snmp's snmpd, and snmpsim with a recording.

`Snmpd` runs `snmpd -f -C -c CONF udp:127.0.0.1:PORT` on a free UDP port with:
- community `public` for v1 and v2c (read-only);
- SNMPv3 users `privuser` (authPriv, SHA/AES), `authuser` (authNoPriv, SHA) and `plainuser`
  (noAuthNoPriv), keys in `V3_AUTH_KEY`/`V3_PRIV_KEY`;
- sysUpTime, ifTable and ifXTable served by `snmp_passpersist.py` from a JSON file
  (`set_interfaces()`, `set_uptime()`), so a test can flip an interface, move it to another
  ifIndex or advance its counters between two polls; snmpd's own interface modules are off.
Persistent state (engine ID, users) goes to the test's directory, never /var/lib/snmp.

`Snmpsim` runs `snmpsim-command-responder` on a data directory holding one recording
(`<community>.snmprec`: `OID|type|value` lines) and answers v1/v2c with that community.
`RECORDED_ROUTER` is such a recording. Measured with snmpsim 1.2.2: a value recorded with the
`writecache` variation (`OID|2:writecache|value=1`) changes with an SNMP SET (`set()`), and a
rewritten .snmprec is re-read too, but only once its mtime moves to a later second; tests use
the SET.

`free_udp_port()` gives a port nobody listens on: a dead agent is that port on 127.0.0.1.
Both skip the test, naming the Debian package, where net-snmp's programs are not installed
(tests/support/programs.py).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest_asyncio

from escalatord.checks.base import CheckContext
from tests.support import programs

COMMUNITY = "public"
V3_AUTH_KEY = "authpass-2f9c"
V3_PRIV_KEY = "privpass-7d1e"
PASS_PERSIST = Path(__file__).with_name("snmp_passpersist.py")
SUBTREES = {  # registered subtree -> pass_persist priority (lower wins over snmpd's modules)
    ".1.3.6.1.2.1.1.3": 1,
    ".1.3.6.1.2.1.2": 127,
    ".1.3.6.1.2.1.31.1.1": 127,
}


def module_context() -> Any:
    """A fixture for a test module (`context = module_context()`): one CheckContext, so one SNMP
    session, for every check of the module, closed at the end."""

    @pytest_asyncio.fixture(loop_scope="module", scope="module")
    async def context() -> AsyncIterator[CheckContext]:
        shared = CheckContext()
        try:
            yield shared
        finally:
            await shared.aclose()

    return context


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 5 s."""
    if proc is None:
        return
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_udp_port(host: str = "127.0.0.1") -> int:
    """A UDP port free on `host` (an IPv4 or IPv6 address) right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class Iface:
    """One interface as the agent shows it; see snmp_passpersist.py for the columns."""

    index: int
    name: str
    descr: str = ""
    alias: str = ""
    admin: int = 1
    oper: int = 1
    speed: int = 1_000_000_000
    high_speed: int = 1000
    in_octets: int = 0
    out_octets: int = 0
    hc_in: int | None = 0
    hc_out: int | None = 0
    in_errors: int = 0
    out_errors: int = 0


def router_interfaces() -> list[Iface]:
    """A small router: loopback, two gigabit ports (HC counters), a 32-bit-only WAN port."""
    return [
        Iface(1, "lo0", "Loopback0", high_speed=0, speed=0),
        Iface(3, "ge-0/0/1", "GigabitEthernet0/0/1", alias="uplink to core"),
        Iface(4, "ge-0/0/2", "GigabitEthernet0/0/2", alias="boston office", oper=2),
        Iface(
            7,
            "se-0/1/0",
            "Serial0/1/0",
            alias="WAN backup",
            speed=2_000_000,
            high_speed=2,
            hc_in=None,
            hc_out=None,
        ),
    ]


@dataclass
class Snmpd:
    """net-snmp's snmpd on 127.0.0.1 (or `host="::1"`); `start()`, `stop()`, and the
    interface state file."""

    workdir: Path
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free one, chosen by start()
    proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """The agent as net-snmp writes it: udp:127.0.0.1:161, udp6:[::1]:161."""
        if ":" in self.host:
            return f"udp6:[{self.host}]:{self.port}"
        return f"udp:{self.host}:{self.port}"

    @property
    def state_path(self) -> Path:
        return self.workdir / "interfaces.json"

    def write_config(self) -> Path:
        lines = [
            f"rocommunity {COMMUNITY} 127.0.0.1",
            f"rocommunity6 {COMMUNITY} ::1",
            f'createUser privuser SHA "{V3_AUTH_KEY}" AES "{V3_PRIV_KEY}"',
            f'createUser authuser SHA "{V3_AUTH_KEY}"',
            "createUser plainuser",
            "rouser privuser priv",
            "rouser authuser auth",
            "rouser plainuser noauth",
            "sysDescr escalatord test router",
            "sysName test-router",
            "dontLogTCPWrappersConnects yes",
        ]
        for subtree, priority in SUBTREES.items():
            lines.append(
                f"pass_persist -p {priority} {subtree} {sys.executable} {PASS_PERSIST} "
                f"{self.state_path} {subtree}"
            )
        path = self.workdir / "snmpd.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def set_state(self, interfaces: list[Iface], uptime: int | None = None) -> None:
        """Replace what the agent serves (atomically: the helper never reads half a file)."""
        body = {"uptime": uptime, "interfaces": [asdict(i) for i in interfaces]}
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(body))
        os.replace(tmp, self.state_path)

    def start(self, timeout: float = 10.0) -> Snmpd:
        snmpd, snmpget = programs.require("snmpd", "snmpget")
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "mibs").mkdir(exist_ok=True)
        self.port = self.port or free_udp_port(self.host)
        self.set_state(router_interfaces())
        self.write_config()
        env = {
            **os.environ,
            # Only this directory's snmpd.conf (never /etc/snmp), and persistent state (engine
            # ID, engineBoots, users) kept across restarts here, as on a real device.
            "SNMPCONFPATH": f"{self.workdir}:{self.workdir / 'persist'}",
            "SNMP_PERSISTENT_DIR": str(self.workdir / "persist"),
            "MIBDIRS": str(self.workdir / "mibs"),  # no MIB files: no parse noise in the log
            "MIBS": "",
        }
        log = open(self.workdir / "snmpd.log", "ab")
        self.proc = subprocess.Popen(
            [
                snmpd,
                "-f",
                "-Lo",
                "-I",
                "-ifTable,ifXTable,interfaces",
                self.endpoint,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        log.close()
        self._wait_ready(snmpget, timeout)
        return self

    def _wait_ready(self, snmpget: str, timeout: float) -> None:
        """Until snmpd and its helper answer a GET of ifNumber (the helper starts lazily)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"snmpd exited {self.proc.returncode}: {self.log()}")
            probe = subprocess.run(
                [
                    snmpget,
                    "-v2c",
                    "-c",
                    COMMUNITY,
                    "-t",
                    "0.3",
                    "-r",
                    "0",
                    "-On",
                    self.endpoint,
                    ".1.3.6.1.2.1.2.1.0",
                ],
                capture_output=True,
                text=True,
                env={**os.environ, "MIBS": "", "MIBDIRS": str(self.workdir / "mibs")},
            )
            if probe.returncode == 0 and "INTEGER" in probe.stdout:
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"snmpd did not answer within {timeout}s: {self.log()}")

    def restart(self, new_engine_id: bool = False) -> None:
        """Stop and start again on the same port, as a rebooting device does: the same SNMPv3
        engine ID with engineBoots + 1; or, with `new_engine_id`, its persistent state wiped,
        as a replaced device (a new engine ID)."""
        self.stop()
        if new_engine_id:
            shutil.rmtree(self.workdir / "persist", ignore_errors=True)
        self.start()

    def engine_id(self) -> str:
        """The agent's SNMPv3 engine ID as snmpd stored it (0x… hex), after a stop."""
        for line in (self.workdir / "persist" / "snmpd.conf").read_text().splitlines():
            if line.startswith("oldEngineID "):
                return line.split()[1]
        return ""

    def log(self) -> str:
        path = self.workdir / "snmpd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None


def _recorded_router() -> str:
    """A recorded router: Gi0/1 and Gi0/2 with 64-bit counters, Se0/0/0 with 32-bit only.

    Gi0/2's ifOperStatus uses the writecache variation, so a test can SET it down and up."""
    lines = [
        "1.3.6.1.2.1.1.1.0|4|Cisco IOS Software, C1900 (recorded)",
        "1.3.6.1.2.1.1.3.0|67|8640000",
        "1.3.6.1.2.1.1.5.0|4|branch-router",
        "1.3.6.1.2.1.2.1.0|2|3",
    ]
    ifaces = [  # index, ifDescr, ifName, ifAlias, ifSpeed, ifHighSpeed, in/out octets, HC
        (1, "GigabitEthernet0/1", "Gi0/1", "uplink to hq", 1000000000, 1000, 1500, 2500, True),
        (2, "GigabitEthernet0/2", "Gi0/2", "branch lan", 1000000000, 1000, 700, 900, True),
        (3, "Serial0/0/0", "Se0/0/0", "mpls to hq", 1544000, 2, 4000000000, 12, False),
    ]
    columns = {2: [], 5: [], 7: [], 8: [], 10: [], 14: [], 16: [], 20: []}
    xcolumns = {1: [], 6: [], 10: [], 15: [], 18: []}
    for i, descr, name, alias, speed, high, octets_in, octets_out, hc in ifaces:
        columns[2].append(f"1.3.6.1.2.1.2.2.1.2.{i}|4|{descr}")
        columns[5].append(f"1.3.6.1.2.1.2.2.1.5.{i}|66|{speed}")
        columns[7].append(f"1.3.6.1.2.1.2.2.1.7.{i}|2|1")
        oper = "2:writecache|value=1" if i == 2 else "2|1"
        columns[8].append(f"1.3.6.1.2.1.2.2.1.8.{i}|{oper}")
        columns[10].append(f"1.3.6.1.2.1.2.2.1.10.{i}|65|{octets_in}")
        columns[14].append(f"1.3.6.1.2.1.2.2.1.14.{i}|65|0")
        columns[16].append(f"1.3.6.1.2.1.2.2.1.16.{i}|65|{octets_out}")
        columns[20].append(f"1.3.6.1.2.1.2.2.1.20.{i}|65|0")
        xcolumns[1].append(f"1.3.6.1.2.1.31.1.1.1.1.{i}|4|{name}")
        if hc:
            xcolumns[6].append(f"1.3.6.1.2.1.31.1.1.1.6.{i}|70|{octets_in * 1000}")
            xcolumns[10].append(f"1.3.6.1.2.1.31.1.1.1.10.{i}|70|{octets_out * 1000}")
        xcolumns[15].append(f"1.3.6.1.2.1.31.1.1.1.15.{i}|66|{high}")
        xcolumns[18].append(f"1.3.6.1.2.1.31.1.1.1.18.{i}|4|{alias}")
    for group in (columns, xcolumns):
        for column in sorted(group):
            lines += group[column]
    return "\n".join(lines) + "\n"


RECORDED_ROUTER = _recorded_router()


@dataclass
class Snmpsim:
    """snmpsim's command responder serving `recording` (snmprec lines) for `community`."""

    workdir: Path
    recording: str
    community: str = "recorded"
    port: int = field(default_factory=free_udp_port)
    proc: subprocess.Popen[bytes] | None = None
    host: str = "127.0.0.1"

    def start(self, timeout: float = 20.0) -> Snmpsim:
        snmpget, _ = programs.require("snmpget", "snmpset")  # asks if ready; set() flips values
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        (data / f"{self.community}.snmprec").write_text(self.recording)
        responder = Path(sys.executable).with_name("snmpsim-command-responder")
        env = {**os.environ, "SNMPSIM_ALLOW_ROOT": "true"}
        log = open(self.workdir / "snmpsim.log", "ab")
        self.proc = subprocess.Popen(
            [
                str(responder),
                f"--data-dir={data}",
                f"--cache-dir={self.workdir / 'cache'}",
                f"--agent-udpv4-endpoint={self.host}:{self.port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"snmpsim exited {self.proc.returncode}")
            probe = subprocess.run(
                [
                    snmpget,
                    "-v2c",
                    "-c",
                    self.community,
                    "-t",
                    "0.3",
                    "-r",
                    "0",
                    "-On",
                    f"{self.host}:{self.port}",
                    ".1.3.6.1.2.1.1.3.0",
                ],
                capture_output=True,
                text=True,
                env={**os.environ, "MIBS": "", "MIBDIRS": str(self.workdir)},
            )
            if probe.returncode == 0 and "Timeticks" in probe.stdout:
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"snmpsim did not answer within {timeout}s")

    def set(self, oid: str, kind: str, value: str) -> None:
        """SNMP SET through net-snmp's snmpset (kind as snmpset takes it: i, s, …)."""
        [snmpset] = programs.require("snmpset")
        subprocess.run(
            [
                snmpset,
                "-v2c",
                "-c",
                self.community,
                "-On",
                f"{self.host}:{self.port}",
                oid,
                kind,
                value,
            ],
            check=True,
            capture_output=True,
            env={**os.environ, "MIBS": "", "MIBDIRS": str(self.workdir)},
        )

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None
