"""`escalatord nodes` shows each node's load: the daemon writes how far behind it runs with
every renewal of its row (monitor/cluster.py `load`, store/watch.py), so an overloaded node's
share is visible next to it (issue 17)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

from escalatord.store.db import Store
from escalatord.store.watch import StoreWatch
from tests.support.app import running_app
from tests.support.daemon import cli

BODY = """
[[check]]
name = "web"
type = "tcp"
host = "127.0.0.1"
port = 9
"""


def listed(config: Path) -> list[dict]:
    done = cli(config, "nodes", "--json")
    return json.loads(done.stdout)["nodes"]


async def test_a_daemon_keeping_up_says_so(tmp_path):
    """A running daemon's row carries a lateness of its own and no overload: `nodes` lists
    it running its one check and keeping up."""
    config = tmp_path / "escalatord.toml"
    async with running_app(tmp_path / "db.sqlite", BODY, config_file=config) as app:
        await app.watch.beat()
        [node] = await asyncio.to_thread(listed, config)
        text = (await asyncio.to_thread(cli, config, "nodes")).stdout
    assert node["checks"] == 1
    assert node["overload"] is None and node["behind_s"] >= 0
    assert "LOAD" in text and "keeps up" in text


async def test_an_overloaded_node_shows_how_far_behind_and_why(tmp_path):
    """A node whose renewal says it is overloaded is listed with how far behind it runs, and
    `--json` gives the reason in words."""
    config = tmp_path / "escalatord.toml"
    async with running_app(tmp_path / "db.sqlite", BODY, config_file=config) as app:
        url = app.config.daemon.database
    reason = "overloaded: checks are running 26.8 s behind schedule (2000 of at most 2000 runs)"
    async with Store(url, create=False) as store:
        busy = StoreWatch(store, node="busy-node", instance=uuid.uuid4().hex)
        busy.load = lambda: (26.8, reason)
        assert await busy.beat()
    nodes = {n["node"]: n for n in await asyncio.to_thread(listed, config)}
    assert (nodes["busy-node"]["behind_s"], nodes["busy-node"]["overload"]) == (26.8, reason)
    text = (await asyncio.to_thread(cli, config, "nodes")).stdout
    [row] = [line for line in text.splitlines() if line.startswith("busy-node")]
    assert "26.8 s behind" in row
