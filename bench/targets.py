"""Local targets for the benchmarks: HTTP, TCP, a webhook sink (one subprocess) and an SNMP agent.

`Targets()` binds every socket here, then starts `python bench/targets.py HTTP SINK TCP...`
with the bound descriptors, so nothing races for ports and everything accepts before the
subprocess is even up. In the subprocess (uvloop when installed):

- HTTP: a bare ASGI app answering `200 ok` on every path. Paths `/c/<n>` answer `500 down`
  while n is in the failing set, which the harness changes with
  `POST /_bench/fail {"fail": [n, ...], "ok": [n, ...]}` (the storm and pages scenarios).
- TCP: listeners that accept and hang up.
- Webhook sink: records the wall-clock time (`time.time()`) each POST arrives with the
  payload's event, check and `incident.opened_at`; `GET /_bench/pages` returns them all.

`SnmpAgent` runs net-snmp's `snmpd` (default) or snmpsim's `snmpsim-command-responder` on a
free loopback UDP port, answering v2c community `public` for a few system OIDs.

Everything is on 127.0.0.1. Every child gets SIGTERM from the kernel if the harness dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

TCP_LISTENERS = 4
COMMUNITY = "public"
# OIDs the agent answers (both agents), with the value a check can `expect`.
SNMP_OIDS = {
    "1.3.6.1.2.1.1.5.0": "bench-agent",  # sysName.0
    "1.3.6.1.2.1.1.4.0": "bench@localhost",  # sysContact.0
    "1.3.6.1.2.1.1.6.0": "bench-rack",  # sysLocation.0
}


def die_with_parent() -> None:
    """Runs in a child before exec: the kernel sends it SIGTERM when the harness dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


# --- the subprocess ---------------------------------------------------------------------------


def serve(http_fd: int, sink_fd: int, tcp_fds: list[int]) -> None:
    """Serve HTTP, the sink and TCP until stdin closes; then print counts as one JSON line."""
    import uvicorn

    counts: Counter[str] = Counter()
    failing: set[int] = set()
    pages: list[dict] = []

    async def body_of(receive) -> bytes:
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        return b"".join(chunks)

    async def reply(send, status: int, body: bytes, kind: bytes = b"text/plain") -> None:
        headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def http_app(scope, receive, send) -> None:  # bare ASGI: no routing cost
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/_bench/fail":
            change = json.loads(await body_of(receive))
            failing.update(change.get("fail", ()))
            failing.difference_update(change.get("ok", ()))
            await reply(send, 200, json.dumps({"failing": len(failing)}).encode())
            return
        counts["http_requests"] += 1
        if failing and path.startswith("/c/") and int(path[3:] or -1) in failing:
            await reply(send, 500, b"down")
        else:
            await reply(send, 200, b"ok")

    async def sink_app(scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] == "GET":
            await reply(send, 200, json.dumps(pages).encode(), b"application/json")
            return
        body = await body_of(receive)
        at = time.time()
        counts["webhooks"] += 1
        try:
            doc = json.loads(body)
            incident = doc["incident"]
            pages.append(
                {
                    "at": at,
                    "event": doc["event"],
                    "check": incident["check"],
                    "opened_at": incident["opened_at"],
                    "id": incident["id"],
                }
            )
        except (ValueError, KeyError, TypeError):
            counts["webhooks_unreadable"] += 1
        await reply(send, 200, b"ok")

    async def tcp_client(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        counts["tcp_connections"] += 1
        writer.close()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for fd in tcp_fds:
            await asyncio.start_server(tcp_client, sock=socket.socket(fileno=fd))
        servers = []
        for app, fd in ((http_app, http_fd), (sink_app, sink_fd)):
            # Keep-alive as long as nginx's default, so the daemon's pool is not cut every 5 s.
            config = uvicorn.Config(
                app, lifespan="off", access_log=False, log_level="warning", timeout_keep_alive=75
            )
            server = uvicorn.Server(config)
            task = asyncio.create_task(server.serve(sockets=[socket.socket(fileno=fd)]))
            servers.append((server, task))
        await loop.run_in_executor(None, sys.stdin.buffer.read)  # EOF: the harness is done
        for server, _ in servers:
            server.should_exit = True
        await asyncio.wait_for(asyncio.gather(*(t for _, t in servers)), 10)

    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
    cpu = os.times()
    print(json.dumps({**counts, "cpu_s": round(cpu.user + cpu.system, 2)}), flush=True)


# --- the harness side -------------------------------------------------------------------------


class Targets:
    """The targets subprocess: `http_port`, `sink_port`, `tcp_ports`; `report` after stop()."""

    def __init__(self) -> None:
        socks = []
        for _ in range(2 + TCP_LISTENERS):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sock.listen(4096)
            sock.set_inheritable(True)
            socks.append(sock)
        ports = [s.getsockname()[1] for s in socks]
        self.http_port, self.sink_port, self.tcp_ports = ports[0], ports[1], ports[2:]
        fds = [s.fileno() for s in socks]
        self.proc = subprocess.Popen(
            [sys.executable, __file__, *map(str, fds)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            pass_fds=fds,
            preexec_fn=die_with_parent,
            start_new_session=True,  # Ctrl-C reaches the harness only; it stops the children
        )
        for sock in socks:  # the child has its copies
            sock.close()
        self.report: dict[str, float] = {}
        self._client = httpx.Client(timeout=10)

    @property
    def sink_url(self) -> str:
        return f"http://127.0.0.1:{self.sink_port}/hook"

    def http_url(self, n: int) -> str:
        return f"http://127.0.0.1:{self.http_port}/c/{n}"

    def set_failing(self, fail: list[int] = (), ok: list[int] = ()) -> None:
        """Make `/c/<n>` answer 500 for every n in `fail`, 200 again for every n in `ok`."""
        url = f"http://127.0.0.1:{self.http_port}/_bench/fail"
        self._client.post(url, json={"fail": list(fail), "ok": list(ok)}).raise_for_status()

    def pages(self) -> list[dict]:
        """Every webhook the sink received: at (epoch s), event, check, opened_at, id."""
        return self._client.get(f"http://127.0.0.1:{self.sink_port}/_bench/pages").json()

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.proc.pid}/stat") as fh:
            f = fh.read().rpartition(")")[2].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """Close its stdin (it stops and prints its counts); kill it if it does not."""
        self._client.close()
        try:
            out, _ = self.proc.communicate(timeout=15)
            self.report = json.loads(out.decode().strip().splitlines()[-1])
        except (subprocess.TimeoutExpired, ValueError, IndexError):
            self.proc.kill()
            self.proc.wait(5)


def free_udp_port() -> int:
    """A UDP port free on 127.0.0.1 now (the agents bind their own, so there is a tiny race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SnmpAgent:
    """An SNMP v2c agent on 127.0.0.1:`port`: "snmpd" (net-snmp, C) or "snmpsim" (Python)."""

    def __init__(self, kind: str = "snmpd", ready_timeout: float = 15.0):
        self.kind = kind
        self.port = free_udp_port()
        self.dir = Path(tempfile.mkdtemp(prefix="escalatord-bench-snmp-"))
        if kind == "snmpd":
            conf = self.dir / "snmpd.conf"
            conf.write_text(
                f"rocommunity {COMMUNITY} 127.0.0.1\n"
                f"sysName {SNMP_OIDS['1.3.6.1.2.1.1.5.0']}\n"
                f"sysContact {SNMP_OIDS['1.3.6.1.2.1.1.4.0']}\n"
                f"sysLocation {SNMP_OIDS['1.3.6.1.2.1.1.6.0']}\n"
            )
            argv = [
                shutil.which("snmpd") or "/usr/sbin/snmpd",
                "-f",  # foreground
                "-C",  # only our config file
                "-c",
                str(conf),
                "-Lf",
                str(self.dir / "snmpd.log"),
                "-p",
                str(self.dir / "snmpd.pid"),
                f"udp:127.0.0.1:{self.port}",
            ]
            env = None
        elif kind == "snmpsim":
            data = self.dir / "data"
            data.mkdir()
            lines = [f"{oid}|4|{value}" for oid, value in sorted(SNMP_OIDS.items())]
            (data / f"{COMMUNITY}.snmprec").write_text("\n".join(lines) + "\n")
            argv = [
                str(Path(sys.executable).parent / "snmpsim-command-responder"),
                f"--data-dir={data}",
                f"--cache-dir={self.dir / 'cache'}",
                f"--agent-udpv4-endpoint=127.0.0.1:{self.port}",
                f"--logging-method=file:{self.dir / 'snmpsim.log'}",
            ]
            env = {**os.environ, "SNMPSIM_ALLOW_ROOT": "true"}
        else:
            raise ValueError(f"unknown SNMP agent {kind!r}: snmpd or snmpsim")
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            preexec_fn=die_with_parent,
            start_new_session=True,
        )
        self._wait_ready(ready_timeout)

    def _wait_ready(self, timeout: float) -> None:
        """Poll with a raw v2c GET of sysName.0 until the agent answers."""
        deadline = time.monotonic() + timeout
        packet = _v2c_get(COMMUNITY, "1.3.6.1.2.1.1.5.0")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.kind} exited with {self.proc.returncode}")
                s.sendto(packet, ("127.0.0.1", self.port))
                with contextlib.suppress(TimeoutError):
                    if s.recv(2048):
                        return
        self.stop()
        raise RuntimeError(f"{self.kind} did not answer on 127.0.0.1:{self.port} in {timeout} s")

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.proc.pid}/stat") as fh:
            f = fh.read().rpartition(")")[2].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)


def _ber(tag: int, payload: bytes) -> bytes:
    n = len(payload)
    length = (
        bytes([n]) if n < 128 else bytes([0x81, n]) if n < 256 else bytes([0x82]) + n.to_bytes(2)
    )
    return bytes([tag]) + length + payload


def _v2c_get(community: str, oid: str) -> bytes:
    """A minimal SNMPv2c GetRequest (BER), for the readiness probe only."""
    parts = [int(x) for x in oid.split(".")]
    body = bytes([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        while p := p >> 7:
            chunk.insert(0, 0x80 | (p & 0x7F))
        body += bytes(chunk)
    varbind = _ber(0x30, _ber(0x06, body) + b"\x05\x00")
    pdu = _ber(0xA0, _ber(0x02, b"\x01") + _ber(0x02, b"\x00") * 2 + _ber(0x30, varbind))
    return _ber(0x30, _ber(0x02, b"\x01") + _ber(0x04, community.encode()) + pdu)


if __name__ == "__main__":
    fds = [int(x) for x in sys.argv[1:]]
    serve(fds[0], fds[1], fds[2:])
