"""One benchmark session: a temporary directory, the targets, the SNMP agent if needed, the
config and the daemon, all stopped on exit (normal, Ctrl-C or SIGTERM)."""

from __future__ import annotations

import os
import platform
import shutil
import signal
import socket
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from daemon import Daemon
from targets import SnmpAgent, Targets
from workload import Workload, config_text, kinds_of


def free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def machine() -> dict:
    """What RESULTS.md records with every figure."""
    cpu = ""
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        with open("/proc/meminfo") as fh:
            ram_gb = round(int(fh.readline().split()[1]) / 1024**2, 1)
    except (OSError, ValueError, IndexError):
        ram_gb = None
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gb": ram_gb,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


class Session:
    """`with Session(workload, snmp_agent="snmpd") as s:` then `s.start_daemon()`."""

    def __init__(self, workload: Workload, *, snmp_agent: str = "snmpd", keep: bool = False):
        self.workload = workload
        self.snmp_kind = snmp_agent
        self.keep = keep
        self.targets: Targets | None = None
        self.snmp: SnmpAgent | None = None
        self.daemon: Daemon | None = None

    def __enter__(self) -> Session:
        # SIGTERM unwinds like Ctrl-C, through __exit__, which stops every child.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        self.workdir = Path(tempfile.mkdtemp(prefix="escalatord-bench-"))
        self.config = self.workdir / "escalatord.toml"
        self.database = self.workdir / "escalatord.db"
        self.port = free_tcp_port()
        self.targets = Targets()
        if "snmp" in kinds_of(self.workload.mix):
            self.snmp = SnmpAgent(self.snmp_kind)
        self.write_config(self.workload)
        return self

    def write_config(self, workload: Workload) -> None:
        assert self.targets is not None
        snmp_port = self.snmp.port if self.snmp else None
        text = config_text(workload, self.targets, self.workdir, self.port, snmp_port)
        tmp = self.config.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(self.config)  # atomic: a reload never reads half a file

    def start_daemon(self, *, uvloop: bool = False, pycache: str = "") -> Daemon:
        log = self.workdir / "daemon.log"
        self.daemon = Daemon(self.config, self.port, log, uvloop=uvloop, pycache=pycache)
        return self.daemon

    def stop_daemon(self) -> None:
        if self.daemon is not None:
            self.daemon.stop()

    def __exit__(self, *exc) -> None:
        try:
            self.stop_daemon()
        finally:
            try:
                if self.targets is not None:
                    self.targets.stop()
            finally:
                if self.snmp is not None:
                    self.snmp.stop()
                if self.keep:
                    print(f"kept {self.workdir}", file=sys.stderr)
                else:
                    shutil.rmtree(self.workdir, ignore_errors=True)
