"""End to end with the daemon as a process and webhooks on loopback: an `ack_timeout`
re-triggers an acknowledged incident whose check still fails and pages level 0 again; `snooze`
acknowledges until its end, then the same; `reassign` (another process, as `ack` is) pages the
new owner through the daemon's dispatcher and makes them the owner."""

from __future__ import annotations

import json
import sqlite3
import textwrap
from pathlib import Path
from typing import Any

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
        retries = 1

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

        [[policy]]
        name = "network"
        ack_timeout = "3s"
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

        [[person]]
        name = "carol"
          [[person.contact]]
          notifier = "hook"
          to = "carol"
        """)
    )
    return config


def pages(target: HttpTarget, to: str) -> list[dict[str, Any]]:
    """The triggered pages the hook received for `to`."""
    found = [r.json() for r in list(target.requests) if r.path == "/hook"]
    return [p for p in found if p.get("to") == to and p["event"] == "triggered"]


def timeline(tmp_path: Path, kind: str) -> list[str]:
    with sqlite3.connect(tmp_path / "escalatord.db") as db:
        rows = db.execute("SELECT message FROM timeline WHERE kind = ? ORDER BY id", (kind,))
        return [message for (message,) in rows]


def incident(config: Path) -> dict[str, Any]:
    [shown] = json.loads(cli(config, "incidents", "--all", "--json").stdout)
    return shown


def test_ack_timeout_snooze_and_reassign_with_the_daemon(tmp_path):
    """bob's ack runs out after 3s with the check still failing: alice is paged again;
    alice's 2s snooze ends the same way; reassigning to carol pages carol and makes her the
    owner; none of it happens again once the check recovers."""
    with HttpTarget() as target:
        target.respond(200, "thanks", path="/hook")
        target.respond(500, "switch down", path="/health")
        port = free_port()
        config = write_config(tmp_path, target, port)
        daemon = DaemonProcess(config, port, tmp_path / "d.log").start()
        try:
            wait_until(lambda: pages(target, "alice"), 30, "alice's first page")
            incident_id = pages(target, "alice")[0]["incident"]["id"]

            acked = cli(config, "ack", incident_id, "--as", "bob", check=False)
            assert acked.returncode == 0, output(acked)
            wait_until(lambda: len(pages(target, "alice")) == 2, 20, "the ack_timeout's page")
            assert timeline(tmp_path, "retriggered")[0].startswith("acknowledged by bob 3s ago")
            shown = incident(config)
            assert (shown["status"], shown["acknowledged_by"]) == ("triggered", None)

            snoozed = cli(config, "snooze", incident_id, "2s", "--as", "alice", check=False)
            assert snoozed.returncode == 0, output(snoozed)
            assert f"incident {incident_id} snoozed by alice for 2s" in snoozed.stdout
            wait_until(lambda: len(pages(target, "alice")) == 3, 20, "the snooze's end")
            assert timeline(tmp_path, "retriggered")[1].startswith("snooze by alice ended")

            moved = cli(config, "reassign", incident_id, "--to", "carol", "--as", "bob")
            assert "reassigned to carol by bob" in moved.stdout
            wait_until(lambda: pages(target, "carol"), 20, "carol's page")
            assert pages(target, "carol")[0]["incident"]["owner"] == "carol"
            assert incident(config)["owner"] == "carol"

            target.respond(200, "fine", path="/health")
            wait_until(lambda: incident(config)["status"] == "resolved", 20, "the recovery")
        finally:
            daemon.stop()
        assert len(pages(target, "alice")) == 3
        assert not pages(target, "bob")
