"""End to end: three `escalatord run` processes on one throwaway PostgreSQL form a cluster.

One test walks the whole story, synchronised on what can be observed (webhooks received,
target hits, `escalatord nodes`, the database), never on fixed sleeps:
- each check runs on exactly one node (hits per check path; `nodes` and /metrics agree);
- ack from another node's CLI stops that incident's ladder;
- kill -9 of the node running a failing check between its levels: its checks run again
  elsewhere, `nodes` shows it lapsed, and each level is paged exactly once;
- a node cut off from PostgreSQL (its role refused, its connections terminated) stops probing
  before its lease lapses, and the last node takes its checks.
Each node connects as its own PostgreSQL role so one of them can be cut off alone.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from escalatord.core import rendezvous
from escalatord.store.db import Store
from escalatord.store.tables import incidents, nodes, outbox
from tests.support.daemon import DaemonProcess, cli, free_port, wait_until
from tests.support.http_target import HttpTarget, Request

pytestmark = pytest.mark.e2e

NAMES = ("esc-a", "esc-b", "esc-c")
HEALTHY = [f"svc-{i}" for i in range(9)]
ALL = [*HEALTHY, "pager", "pager2"]
FAILOVER = 6.0  # [cluster] failover in the config below: lease 4 s, renewed every 1 s
INTERVAL = 0.5  # every check's interval


@pytest.fixture
def target() -> Iterator[HttpTarget]:
    """Checks: each at its own path (all answer 200 until a test says otherwise); webhooks
    at /hook."""
    with HttpTarget() as t:
        yield t


def config(tmp_path: Path, name: str, url: str, port: int, target: HttpTarget) -> Path:
    checks = "".join(
        f'[[check]]\nname = "{c}"\ntype = "http"\nurl = "{target.url("/" + c)}"\n\n' for c in ALL
    )
    path = tmp_path / f"{name}.toml"
    path.write_text(
        textwrap.dedent(f"""
        [daemon]
        database = "{url}"
        listen = "127.0.0.1:{port}"
        tick = "200ms"

        [cluster]
        node = "{name}"
        failover = "{FAILOVER:g}s"
        lease = "4s"
        renew_every = "1s"

        [defaults]
        interval = "{INTERVAL}s"
        retry_interval = "{INTERVAL}s"
        timeout = "2s"
        retries = 1

        [[rule]]
        name = "pager"
        match = {{ check = "pager" }}
        severity = "critical"
        policy = "three-levels"

        [[rule]]
        name = "pager2"
        match = {{ check = "pager2" }}
        severity = "critical"
        policy = "two-levels"

        [[policy]]
        name = "three-levels"
          [[policy.level]]
          after = "0s"
          notify = ["hook"]
          [[policy.level]]
          after = "6s"
          notify = ["hook"]
          [[policy.level]]
          after = "14s"
          notify = ["hook"]

        [[policy]]
        name = "two-levels"
          [[policy.level]]
          after = "0s"
          notify = ["hook"]
          [[policy.level]]
          after = "8s"
          notify = ["hook"]

        [[notifier]]
        name = "hook"
        type = "webhook"
        url = "{target.url("/hook")}"
        timeout = "2s"
        """)
        + "\n"
        + checks
    )
    return path


def pages(target: HttpTarget, check: str) -> Counter[int]:
    """How many times each level of `check`'s incident was paged (not acks or resolutions)."""
    found: Counter[int] = Counter()
    for r in target.requests:
        if r.path == "/hook":
            body = r.json()
            if body["incident"]["check"] == check and body["event"] in ("triggered", "escalated"):
                found[body["level"]] += 1
    return found


def hits(target: HttpTarget, check: str, after: float = 0.0, until: float = 1e12) -> list[Request]:
    return [r for r in list(target.requests) if r.path == f"/{check}" and after < r.at <= until]


def listed(config_path: Path) -> dict[str, dict]:
    done = cli(config_path, "nodes", "--json")
    return {n["node"]: n for n in json.loads(done.stdout)["nodes"]}


def metrics(port: int) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    out = {}
    for line in text.splitlines():
        if line.startswith("escalatord_cluster_") and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def read(url: str, work):
    async def go():
        async with Store(url, create=False) as store, store.read() as conn:
            return await work(conn)

    return asyncio.run(go())


def delivered_level(url: str, check: str, level: int) -> bool:
    async def work(conn) -> bool:
        stmt = (
            select(outbox.c.status)
            .join(incidents, incidents.c.id == outbox.c.incident_id)
            .where(incidents.c.check == check, outbox.c.level == level)
        )
        return "delivered" in (await conn.execute(stmt)).scalars().all()

    return read(url, work)


def lease_until(url: str, node: str) -> float:
    async def work(conn) -> datetime:
        stmt = select(nodes.c.lease_until).where(nodes.c.name == node)
        return (await conn.execute(stmt)).scalar_one()

    return read(url, work).timestamp()


def fenced_at(log: str) -> float:
    line = next(ln for ln in log.splitlines() if '"node_fenced"' in ln)
    return datetime.fromisoformat(json.loads(line)["timestamp"]).timestamp()


def healthy(daemon: DaemonProcess) -> bool:
    assert daemon.proc is not None and daemon.proc.poll() is None, daemon.logs()
    try:
        return daemon.health().get("status") == "ok"
    except (httpx.HTTPError, ValueError):
        return False


def incident_id(config_path: Path, check: str) -> int:
    shown = json.loads(cli(config_path, "incidents", "--json").stdout)
    return next(i["id"] for i in shown if i["check"] == check)


def test_three_nodes_share_checks_survive_kill_and_fence_a_cut_off_node(
    tmp_path, target, pg_cluster
):
    """Checks run once across three nodes; ack from another node stops a ladder; kill -9 and a
    cut-off database each move a node's checks, pages go out exactly once per level, and
    the cut-off node stops probing before its lease lapses."""
    admin = pg_cluster.create_database()
    database = admin.rsplit("/", 1)[1]
    daemons: dict[str, DaemonProcess] = {}
    configs: dict[str, Path] = {}
    for name in NAMES:
        role = name.replace("-", "_")
        pg_cluster.psql(f"CREATE ROLE {role} LOGIN SUPERUSER")
        url = f"postgresql://{role}@127.0.0.1:{pg_cluster.port}/{database}"
        port = free_port()
        configs[name] = config(tmp_path, name, url, port, target)
        daemons[name] = DaemonProcess(configs[name], port, tmp_path / f"{name}.log")
    try:
        daemons["esc-a"].start()  # the first migrates the new database; the others join it
        for name in NAMES[1:]:
            daemons[name].spawn()
        for name in NAMES[1:]:
            wait_until(lambda n=name: healthy(daemons[n]), what=f"{name} answering /healthz")
        a, b = configs[NAMES[0]], configs[NAMES[1]]
        total = len(ALL)
        wait_until(
            lambda: all(n["lease"] == "live" for n in listed(a).values()) and len(listed(a)) == 3,
            what="three live nodes in `escalatord nodes`",
        )
        # Each node's share, as `nodes` works it out, is what the node says it runs.
        wait_until(
            lambda: all(metrics(daemons[n].port).get("escalatord_cluster_nodes_live") == 3
                        for n in NAMES), what="every node seeing three live nodes",
        )  # fmt: skip
        shares = {n: v["checks"] for n, v in listed(b).items()}
        assert sum(shares.values()) == total and all(shares.values())
        for name in NAMES:
            assert metrics(daemons[name].port)["escalatord_cluster_checks_owned"] == shares[name]
            assert f'escalatord_cluster_node{{node="{name}"}}' in metrics(daemons[name].port)

        # Each check runs on exactly one node: over a window, every path is hit about as often
        # as one runner at INTERVAL hits it (two runners would hit it twice as often).
        since = time.time()
        wait_until(lambda: all(len(hits(target, ch, since)) >= 1 for ch in ALL),
                   what="every check run")  # fmt: skip
        start = time.time()
        wait_until(lambda: time.time() - start >= 10 * INTERVAL, what="a window of ten intervals")
        end = time.time()
        for check in ALL:
            assert 5 <= len(hits(target, check, start, end)) <= 12, check

        # The ladders: pager and pager2 fail; pager2's level 0 is acknowledged from a node
        # that does not run it.
        target.respond(500, "down", path="/pager")
        target.respond(500, "down", path="/pager2")
        wait_until(lambda: pages(target, "pager2")[0] == 1, what="pager2's level-0 page")
        not_running = next(n for n in NAMES if n != rendezvous.owner("pager2", NAMES))
        pager2 = incident_id(configs[not_running], "pager2")
        cli(configs[not_running], "ack", str(pager2), "--by", "carol")

        # kill -9 the node running `pager` once its level-0 page is recorded delivered.
        owner = rendezvous.owner("pager", NAMES)
        wait_until(lambda: delivered_level(admin, "pager", 0), what="pager's level 0 delivered")
        killed_at = time.time()
        daemons[owner].kill9()
        survivors = [n for n in NAMES if n != owner]
        wait_until(lambda: hits(target, "pager", killed_at), timeout=2 * FAILOVER,
                   what="pager run again on another node")  # fmt: skip
        wait_until(lambda: listed(configs[survivors[0]])[owner]["lease"] == "lapsed",
                   what="`nodes` showing the killed node lapsed")  # fmt: skip
        assert listed(configs[survivors[0]])[owner]["checks"] == 0
        wait_until(lambda: pages(target, "pager")[2] >= 1, timeout=30, what="pager's level 2")

        # A node cut off from PostgreSQL: its role may not log in, its connections are ended.
        cut, last = survivors
        cut_checks = rendezvous.owned(ALL, cut, survivors)
        role = cut.replace("-", "_")
        pg_cluster.psql(f"ALTER ROLE {role} NOLOGIN")
        pg_cluster.psql(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'"
        )
        wait_until(lambda: '"node_fenced"' in daemons[cut].logs(), timeout=2 * FAILOVER,
                   what="the cut-off node fencing itself")  # fmt: skip
        fenced = fenced_at(daemons[cut].logs())
        lapses = lease_until(admin, cut)
        assert fenced < lapses  # it stopped before its lease could be taken
        wait_until(lambda: time.time() > lapses and all(hits(target, ch, lapses)
                   for ch in cut_checks), timeout=3 * FAILOVER,
                   what="the last node running the cut-off node's checks")  # fmt: skip
        # Nothing probed those checks between the fence and the lapse (a probe already on the
        # wire at the fence is allowed 100 ms to arrive).
        for check in cut_checks:
            assert hits(target, check, fenced + 0.1, lapses) == [], check
        assert listed(configs[last])[cut]["lease"] == "lapsed"

        # Each level of pager paged exactly once; pager2 stopped at its ack (its level 1 was
        # due at 8 s, long before pager's level 2 at 14 s).
        assert pages(target, "pager") == Counter({0: 1, 1: 1, 2: 1})
        assert pages(target, "pager2") == Counter({0: 1})
    finally:
        for name in NAMES:
            daemons[name].stop()
        for name in NAMES:
            role = name.replace("-", "_")
            pg_cluster.psql(f"ALTER ROLE {role} LOGIN")


def test_nodes_on_a_single_node_lists_it_with_every_check(tmp_path, target):
    """Without [cluster] (SQLite) `nodes` lists the one daemon, no lease, running every check
    and keeping up."""
    port = free_port()
    path = tmp_path / "escalatord.toml"
    path.write_text(
        f'[daemon]\ndatabase = "sqlite:///{tmp_path}/escalatord.db"\nlisten = "127.0.0.1:{port}"\n'
        + "".join(
            f'[[check]]\nname = "{c}"\ntype = "http"\nurl = "{target.url("/" + c)}"\n'
            for c in HEALTHY[:3]
        )
    )
    daemon = DaemonProcess(path, port, tmp_path / "daemon.log").start()
    try:
        shown = cli(path, "nodes").stdout.splitlines()
    finally:
        daemon.stop()
    assert shown[0].split() == ["NODE", "INSTANCE", "STARTED", "LAST", "RENEWAL", "LEASE",
                                "CHECKS", "LOAD", "CONFIG"]  # fmt: skip
    assert len(shown) == 2
    assert "single node" in shown[1]
    assert shown[1].split()[-4:] == ["3", "keeps", "up", "same"]
