"""End to end with the daemon as a process and a webhook sink on loopback: `escalatord drill`
(another process, as `ack` is) opens a drill that the daemon pages by the real ladder with
DRILL titles and incident.drill = true; its ack link acknowledges it, the ack is recorded with
its time, and the report keeps it out of real MTTA."""

from __future__ import annotations

import json
import sqlite3
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.cli_output import output
from tests.support.daemon import DaemonProcess, cli, free_port, wait_until
from tests.support.http_target import HttpTarget

pytestmark = pytest.mark.e2e


def write_config(tmp_path: Path, target: HttpTarget, port: int) -> Path:
    config = tmp_path / "escalatord.toml"
    config.write_text(
        textwrap.dedent(f"""
        [daemon]
        database = "sqlite:///{tmp_path}/escalatord.db"
        listen = "127.0.0.1:{port}"
        tick = "200ms"

        [defaults]
        interval = "1s"
        timeout = "2s"

        [[check]]
        name = "core-switch"
        type = "http"
        url = "{target.url("/health")}"
        labels = {{ category = "network" }}

        [[rule]]
        name = "network"
        match = {{ category = "network" }}
        severity = "critical"
        policy = "network"
        owner = "network team"
        runbook = "https://wiki/core-switch"
        steps = ["Check the uplink"]

        [[rule]]
        name = "unrouted"
        match = {{ category = "none" }}

        [[policy]]
        name = "network"
          [[policy.level]]
          after = "0s"
          notify = ["alice"]
          [[policy.level]]
          after = "1h"
          notify = ["bob"]

        [[notifier]]
        name = "hook"
        type = "webhook"
        url = "{target.url("/hook")}"

        [[person]]
        name = "alice"
          [[person.contact]]
          notifier = "hook"
          to = "alice"

        [[person]]
        name = "bob"
          [[person.contact]]
          notifier = "hook"
          to = "bob"
        """)
    )
    return config


def messages(target: HttpTarget, event: str) -> list[dict[str, Any]]:
    found = [r.json() for r in list(target.requests) if r.path == "/hook"]
    return [p for p in found if p["event"] == event]


def test_a_drill_is_paged_acknowledged_and_recorded_by_the_running_daemon(tmp_path):
    """`drill --rule network` pages alice with a DRILL title and incident.drill = true while
    the check is healthy; her ack link acknowledges it, the timeline records who and after how
    long, and the report counts it as a drill, not as a real incident."""
    with HttpTarget() as target:
        target.respond(200, "thanks", path="/hook")
        target.respond(200, "fine", path="/health")
        port = free_port()
        config = write_config(tmp_path, target, port)
        daemon = DaemonProcess(config, port, tmp_path / "d.log").start()
        try:
            started = cli(config, "drill", "--rule", "network", "--as", "bob", check=False)
            assert started.returncode == 0, output(started)
            assert "drill incident 1 opened by bob: rule=network" in started.stdout
            assert "level 0 after 0s: alice" in started.stdout
            assert "level 1 after 1h: bob" in started.stdout

            wait_until(lambda: messages(target, "triggered"), 30, "alice's drill page")
            [page] = messages(target, "triggered")
            incident = page["incident"]
            assert page["to"] == "alice"
            assert incident["title"] == "DRILL: core-switch is CRITICAL"
            assert incident["drill"] is True
            assert incident["key"].startswith("drill:rule=network:")
            assert (incident["owner"], incident["steps"]) == ("network team", ["Check the uplink"])

            posted = httpx.post(incident["ack_url"], data={"name": "alice"})
            assert posted.status_code == 200, posted.text
            [shown] = json.loads(cli(config, "incidents", "--all", "--json").stdout)
            assert (shown["status"], shown["acknowledged_by"]) == ("acknowledged", "alice")
            assert shown["drill"] is True
            wait_until(lambda: messages(target, "acknowledged"), 20, "the ack notice")
            assert messages(target, "acknowledged")[0]["incident"]["drill"] is True
        finally:
            daemon.stop()

    with sqlite3.connect(tmp_path / "escalatord.db") as db:
        [(actor, data)] = db.execute(
            "SELECT actor, data FROM timeline WHERE kind = 'acknowledged'"
        ).fetchall()
    recorded = json.loads(data)
    assert actor == "alice"
    assert (recorded["drill"], recorded["by"], recorded["level"]) == (True, "alice", 0)
    assert 0 <= recorded["seconds"] < 30
    report = json.loads(cli(config, "report", "--format", "json").stdout)
    assert report["real"]["incidents"] == 0
    assert (report["drills"]["incidents"], report["drills"]["acknowledged"]) == (1, 1)


def test_drill_refuses_unknown_names_and_a_rule_without_policy(tmp_path):
    """Exit 2 for an unknown rule, policy or check (naming the configured ones), for a rule
    without a policy, and for not exactly one of --rule, --policy, --check."""
    with HttpTarget() as target:
        config = write_config(tmp_path, target, free_port())
        cases = [
            (("--rule", "nope"), "no rule named 'nope'", "network, unrouted"),
            (("--policy", "nope"), "no policy named 'nope'", "network"),
            (("--check", "nope"), "no check named 'nope'", "core-switch"),
            (("--rule", "unrouted"), "rule unrouted has no policy", ""),
            ((), "exactly one of", ""),
            (("--rule", "network", "--policy", "network"), "exactly one of", ""),
        ]
        for args, said, listed in cases:
            ran = cli(config, "drill", *args, check=False)
            assert ran.returncode == 2, output(ran)
            assert said in ran.stderr and listed in ran.stderr, output(ran)
